// A local cluster of Membership nodes for tests and benches: one CA, temp data dirs, port 0, small timings,
// and a recording handler per node. `close()` stops every node and removes every directory.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MembershipTimings, MembershipTls } from '../config.js';
import { LinkFaults } from '../link-faults.js';
import type { MemberStatus, MemberTags, MembershipHandler } from '../member.js';
import { Membership, type TransportFactory } from '../membership.js';
import type { RejectedMessageError } from '../errors.js';
import { createTestCa, type TestCa } from './certs.js';

export type RecordedEvent =
  | { kind: 'join'; name: string; tags: MemberTags }
  | { kind: 'update'; name: string; tags: MemberTags }
  | { kind: 'leave' | 'failed' | 'suspect'; name: string };

/** A handler that remembers every call, in order. */
export class EventRecorder implements MembershipHandler {
  readonly events: RecordedEvent[] = [];
  join(name: string, tags: MemberTags): void {
    this.events.push({ kind: 'join', name, tags });
  }
  leave(name: string): void {
    this.events.push({ kind: 'leave', name });
  }
  failed(name: string): void {
    this.events.push({ kind: 'failed', name });
  }
  update(name: string, tags: MemberTags): void {
    this.events.push({ kind: 'update', name, tags });
  }
  suspect(name: string): void {
    this.events.push({ kind: 'suspect', name });
  }
  of(kind: RecordedEvent['kind'], name?: string): RecordedEvent[] {
    return this.events.filter((e) => e.kind === kind && (name === undefined || e.name === name));
  }
}

// Fast enough for a suite of seconds, slow enough that a loaded 2-core CI machine running several suites at
// once does not miss probe deadlines and produce false suspicions.
export const fastTimings: Partial<MembershipTimings> = {
  probeIntervalMs: 400,
  probeTimeoutMs: 200,
  suspicionTimeoutMs: 1500,
  reapTimeoutMs: 30_000,
  gossipIntervalMs: 250,
  syncIntervalMs: 1000,
};

export interface TestNode {
  name: string;
  membership: Membership;
  events: EventRecorder;
  faults: LinkFaults;
  dataDir: string;
  rejected: RejectedMessageError[];
}

export interface StartOptions {
  /** Defaults to the address of the first running node. */
  join?: string[];
  tags?: Partial<MemberTags>;
  tls?: MembershipTls;
  timings?: Partial<MembershipTimings>;
  /** Reuse a data dir, to restart a node with its old peer id and incarnation. */
  dataDir?: string;
  preSharedKey?: Uint8Array;
  /** Defaults to 127.0.0.1:0. */
  bindAddr?: string;
  retryJoin?: boolean;
}

let sharedCa: Promise<TestCa> | undefined;

function memoizeIssue(ca: TestCa): TestCa {
  const issued = new Map<string, Promise<MembershipTls>>();
  return {
    ...ca,
    issue(name: string, validDays?: number): Promise<MembershipTls> {
      if (validDays !== undefined) return ca.issue(name, validDays);
      let tls = issued.get(name);
      if (!tls) issued.set(name, (tls = ca.issue(name)));
      return tls;
    },
  };
}

export class TestCluster {
  readonly nodes = new Map<string, TestNode>();
  private readonly dirs: string[] = [];

  private constructor(
    readonly ca: TestCa,
    private readonly timings: Partial<MembershipTimings>,
    private readonly openTransport?: TransportFactory,
  ) {}

  /** Clusters share one CA and reuse each node name's certificate: RSA key generation dominates start-up. */
  static async create(timings: Partial<MembershipTimings> = fastTimings, openTransport?: TransportFactory): Promise<TestCluster> {
    sharedCa ??= createTestCa().then(memoizeIssue);
    return new TestCluster(await sharedCa, timings, openTransport);
  }

  /** Issues certificates for all names at once (key generation runs in parallel off the event loop). */
  async prepare(...names: string[]): Promise<void> {
    await Promise.all(names.map((n) => this.ca.issue(n)));
  }

  async start(name: string, opts: StartOptions = {}): Promise<TestNode> {
    const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), `proglog-discovery-${name}-`)));
    if (!opts.dataDir) this.dirs.push(dataDir);
    const first = [...this.nodes.values()].find((n) => n.name !== name);
    const joinAddrs = opts.join ?? (first ? [first.membership.boundAddr()] : []);
    const events = new EventRecorder();
    const faults = new LinkFaults();
    const rejected: RejectedMessageError[] = [];
    const membership = await Membership.start(
      {
      nodeName: name,
      bindAddr: opts.bindAddr ?? '127.0.0.1:0',
      tags: { rpc_addr: `127.0.0.1:${8400 + this.nodes.size}`, ...opts.tags } as MemberTags,
      startJoinAddrs: joinAddrs,
      tls: opts.tls ?? (await this.ca.issue(name)),
      dataDir,
      timings: { ...this.timings, ...opts.timings },
      handler: events,
      faults,
      onRejected: (e) => rejected.push(e),
      ...(opts.preSharedKey ? { preSharedKey: opts.preSharedKey } : {}),
      ...(opts.retryJoin ? { retryJoin: true } : {}),
      },
      ...(this.openTransport ? [this.openTransport] : []),
    );
    const node = { name, membership, events, faults, dataDir, rejected };
    this.nodes.set(name, node);
    return node;
  }

  node(name: string): TestNode {
    const n = this.nodes.get(name);
    if (!n) throw new Error(`no node ${name}`);
    return n;
  }

  /** Stops a node like a crash; its data dir stays for a restart. */
  async crash(name: string): Promise<string> {
    const n = this.node(name);
    this.nodes.delete(name);
    await n.membership.stop();
    return n.dataDir;
  }

  async leave(name: string): Promise<void> {
    const n = this.node(name);
    this.nodes.delete(name);
    await n.membership.leave();
  }

  statusAt(observer: string, member: string): MemberStatus | undefined {
    return this.node(observer).membership.members().find((m) => m.name === member)?.status;
  }

  /** True when every running node sees exactly `expected` as alive (and nothing else alive). */
  allSeeAlive(expected: string[]): boolean {
    const want = [...expected].sort().join(',');
    return [...this.nodes.values()].every(
      (n) =>
        n.membership
          .members()
          .filter((m) => m.status === 'alive')
          .map((m) => m.name)
          .join(',') === want,
    );
  }

  /** Cuts the links between two groups in both directions. */
  partition(a: string[], b: string[]): void {
    for (const x of a) this.nodes.get(x)?.faults.cutLinksTo(...b);
    for (const y of b) this.nodes.get(y)?.faults.cutLinksTo(...a);
  }

  healAll(): void {
    for (const n of this.nodes.values()) n.faults.heal();
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.nodes.values()].map((n) => n.membership.stop()));
    this.nodes.clear();
    await Promise.all(this.dirs.map((d) => rm(d, { recursive: true, force: true })));
  }
}
