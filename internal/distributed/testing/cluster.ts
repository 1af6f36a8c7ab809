// Replicas in one process over real TLS on loopback, for tests and the benchmark.

import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { listenLater, type PeerListener } from '../peer-listener.js';
import { ReplicatedLog, type ReplicatedLogConfig } from '../replicated-log.js';
import { peerTls } from './test-certs.js';
import { waitUntil } from './wait.js';

export interface Replica {
  name: string;
  dataDir: string;
  port: number;
  log: ReplicatedLog;
  listener: PeerListener;
}

export type ReplicaOptions = Partial<Omit<ReplicatedLogConfig, 'id' | 'dataDir' | 'advertiseAddr' | 'peerTls'>>;

export class TestCluster {
  readonly replicas = new Map<string, Replica>();
  private constructor(
    readonly rootDir: string,
    private readonly defaults: ReplicaOptions,
  ) {}

  static async create(defaults: ReplicaOptions = {}): Promise<TestCluster> {
    const root = await fs.mkdtemp(path.join(os.tmpdir(), 'proglog-distributed-'));
    return new TestCluster(root, { tickMs: 20, electionTicks: 10, ...defaults });
  }

  /** Starts (or restarts, on its old port and data) replica `name`. */
  async start(name: string, options: ReplicaOptions & { port?: number } = {}): Promise<Replica> {
    const previous = this.replicas.get(name);
    const dataDir = previous?.dataDir ?? path.join(this.rootDir, name);
    const { listener, attach } = await listenLater('127.0.0.1', options.port ?? previous?.port ?? 0);
    let log: ReplicatedLog;
    try {
      log = await ReplicatedLog.open({
        ...this.defaults,
        ...options,
        id: name,
        dataDir,
        advertiseAddr: listener.addr,
        peerTls: await peerTls(name),
      });
    } catch (err) {
      await listener.close();
      throw err;
    }
    attach(log);
    const replica: Replica = { name, dataDir, port: Number(listener.addr.split(':')[1]), log, listener };
    this.replicas.set(name, replica);
    return replica;
  }

  async stop(name: string): Promise<void> {
    const r = this.replicas.get(name);
    if (!r) return;
    await r.log.close();
    await r.listener.close();
  }

  get(name: string): Replica {
    const r = this.replicas.get(name);
    if (!r) throw new Error(`no replica ${name}`);
    return r;
  }

  /** Bootstraps `first`, then has the leader add the others. */
  async startCluster(names: string[], options: ReplicaOptions = {}): Promise<void> {
    const [first, ...rest] = names;
    const leader = await this.start(first!, { ...options, bootstrap: true });
    await leader.log.waitForLeader(5000);
    for (const name of rest) {
      const r = await this.start(name, options);
      await this.leader().log.join(name, r.listener.addr);
    }
  }

  leader(): Replica {
    for (const r of this.replicas.values()) if (!isClosed(r) && r.log.isLeader()) return r;
    throw new Error('no leader');
  }

  async waitForLeader(exclude: string[] = [], timeoutMs = 10_000): Promise<Replica> {
    let found: Replica | undefined;
    await waitUntil(
      'a leader',
      () => {
        for (const r of this.replicas.values()) {
          if (!exclude.includes(r.name) && !isClosed(r) && r.log.isLeader()) {
            found = r;
            return true;
          }
        }
        return false;
      },
      timeoutMs,
    );
    return found!;
  }

  async close(): Promise<void> {
    for (const name of this.replicas.keys()) await this.stop(name);
    await fs.rm(this.rootDir, { recursive: true, force: true });
  }
}

function isClosed(r: Replica): boolean {
  return !r.log.isOpen();
}
