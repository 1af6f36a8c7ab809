// The membership runtime: SWIM-style probing, suspicion and refutation over a MembershipTransport, with every
// claim signed under the cluster CA. member-table.ts decides; this file does the I/O and keeps the timers.
import {
  resolveTimings,
  validateConfig,
  type MembershipConfig,
  type MembershipTimings,
} from './config.js';
import { ClusterTrust, NodeIdentity, type Envelope, type Signed } from './envelope.js';
import {
  DiscoveryError,
  ExchangeRefusedError,
  JoinError,
  MalformedMessageError,
  MembershipConfigError,
  MembershipStoppedError,
  RejectedMessageError,
  SignerMismatchError,
} from './errors.js';
import {
  decodeAck,
  decodeRequest,
  decodeSyncResponse,
  encode,
  isHelloRef,
  type ExchangeRequest,
  type Hello,
  type IntroduceResponse,
  type SyncResponse,
  type WireEntry,
} from './exchange.js';
import { Awareness } from './awareness.js';
import { Libp2pTransport, type Libp2pTransportOptions } from './libp2p-transport.js';
import { MemberTable, type MemberRecord, type SyncEntry, type TableEvent, type Verdict } from './member-table.js';
import type { Member, MemberTags, MembershipHandler } from './member.js';
import type { AliveClaim, Claim } from './message.js';
import { loadOrCreatePeerKey, nextIncarnation, saveIncarnation } from './peer-key.js';
import type { GossipVerdict, MembershipTransport, PeerAddress } from './transport.js';

/** The seam to the network: libp2p in production, an in-memory network in protocol tests. */
export type TransportFactory = (options: Libp2pTransportOptions) => Promise<MembershipTransport>;

function shuffle<T>(xs: T[]): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [xs[i], xs[j]] = [xs[j]!, xs[i]!];
  }
  return xs;
}

function addressOf(r: MemberRecord): PeerAddress {
  return { addr: r.alive.claim.addr, peerId: r.alive.claim.peerId };
}

function wire(e: SyncEntry): WireEntry {
  return e.verdict ? { alive: e.alive.envelope, verdict: e.verdict.envelope } : { alive: e.alive.envelope };
}

export class Membership {
  private readonly table: MemberTable;
  private readonly timers: NodeJS.Timeout[] = [];
  private stopped = false;
  private probeQueue: string[] = [];
  private handlerChain: Promise<void> = Promise.resolve();
  private persistChain: Promise<void> = Promise.resolve();
  private readonly inFlight = new Set<Promise<unknown>>();
  /** Bounds for one direct exchange; joins and syncs carry the whole member list. */
  private readonly exchangeTimeoutMs: number;
  private readonly awareness = new Awareness();
  private readonly tickMs: number;
  private lastTick = Date.now();

  private constructor(
    private readonly cfg: MembershipConfig,
    private readonly timings: MembershipTimings,
    private readonly trust: ClusterTrust,
    private readonly identity: NodeIdentity,
    private readonly transport: MembershipTransport,
    self: Signed<AliveClaim>,
  ) {
    this.table = new MemberTable(cfg.nodeName, self, timings, Date.now());
    this.exchangeTimeoutMs = Math.max(5000, 4 * timings.probeIntervalMs);
    this.tickMs = Math.max(10, Math.min(100, Math.floor(timings.suspicionTimeoutMs / 10)));
  }

  /**
   * Starts the node, joins through `startJoinAddrs` (state sync with each), and starts probing.
   * `openTransport` is for tests: everything else in proglog uses the libp2p default.
   */
  static async start(cfg: MembershipConfig, openTransport: TransportFactory = (o) => Libp2pTransport.start(o)): Promise<Membership> {
    validateConfig(cfg);
    const timings = resolveTimings(cfg.timings);
    const trust = new ClusterTrust(cfg.tls.caPem);
    const identity = new NodeIdentity(cfg.nodeName, cfg.tls.certPem, cfg.tls.keyPem, trust);
    const privateKey = await loadOrCreatePeerKey(cfg.dataDir);
    const incarnation = await nextIncarnation(cfg.dataDir);

    // The transport asks who a peer is (for link faults) before the table exists; answer from it once it does.
    let table: MemberTable | undefined;
    const transport = await openTransport({
      bindAddr: cfg.bindAddr,
      privateKey,
      gossipIntervalMs: timings.gossipIntervalMs,
      connectTimeoutMs: timings.probeIntervalMs,
      ...(cfg.preSharedKey ? { preSharedKey: cfg.preSharedKey } : {}),
      ...(cfg.faults ? { faults: cfg.faults } : {}),
      directory: {
        nameOf: (peerId) => table?.others('alive', 'suspect', 'failed', 'left').find((r) => r.alive.claim.peerId === peerId)?.name,
        peerIdOf: (name) => table?.get(name)?.alive.claim.peerId,
      },
    }).catch((err: unknown) => {
      throw new MembershipConfigError(`cannot listen on ${cfg.bindAddr}: ${(err as Error).message}`, { cause: err });
    });
    const self = identity.seal<AliveClaim>({
      type: 'alive',
      name: cfg.nodeName,
      incarnation,
      tags: { ...cfg.tags },
      addr: transport.boundAddr(),
      peerId: transport.peerId,
    });
    const m = new Membership(cfg, timings, trust, identity, transport, self);
    table = m.table;
    transport.onGossip((data) => m.judgeGossip(data));
    transport.onRequest((data, from) => m.serve(data, from));
    try {
      await m.join(cfg.startJoinAddrs);
    } catch (err) {
      // With retryJoin the timers keep trying the seeds (see startTimers).
      if (!(cfg.retryJoin && err instanceof JoinError)) {
        await m.stop();
        throw err;
      }
    }
    void m.broadcast(self.envelope);
    m.startTimers();
    return m;
  }

  /** Every known member, this node included, with its status; tombstones stay until reaped. */
  members(): Member[] {
    return this.table.members();
  }

  /** host:port this node's gossip endpoint listens on (useful with port 0). */
  boundAddr(): string {
    return this.transport.boundAddr();
  }

  /** Publishes new tags (members get handler.update); raises the incarnation so the change wins everywhere. */
  async setTags(tags: MemberTags): Promise<void> {
    if (this.stopped) throw new MembershipStoppedError('membership stopped');
    validateConfig({ ...this.cfg, tags });
    const self = this.table.self.alive.claim;
    await this.announce({ ...self, tags: { ...tags }, incarnation: self.incarnation + 1 });
  }

  /** Graceful leave: tells the cluster (gossip, and directly to each live member), then stops. */
  async leave(): Promise<void> {
    if (this.stopped) return;
    const self = this.table.self;
    const left = this.identity.seal({ type: 'left', name: this.cfg.nodeName, incarnation: self.incarnation });
    this.table.leaveSelf(left, Date.now());
    const entry: WireEntry = { alive: self.alive.envelope, verdict: left.envelope };
    await Promise.allSettled([
      this.broadcast(left.envelope),
      ...this.table.others('alive', 'suspect').map((r) => this.push(addressOf(r), [entry])),
    ]);
    await this.stop();
  }

  /** Stops without a word, like a crash: the others will probe, suspect, and declare this node failed. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    await this.transport.stop();
    await Promise.allSettled([...this.inFlight]);
    await this.handlerChain;
    await this.persistChain;
  }

  // ---- joining and anti-entropy -------------------------------------------------------------------------

  private async join(addrs: string[]): Promise<void> {
    const own = this.boundAddr();
    const targets = addrs.filter((a) => a !== own);
    if (targets.length === 0) return;
    const results = await Promise.allSettled(targets.map((addr) => this.sync({ addr }, false)));
    if (results.every((r) => r.status === 'rejected')) {
      throw new JoinError(targets, results.map((r) => (r as PromiseRejectedResult).reason));
    }
  }

  /** Push-pull: send our digest, take what the other knows better, then push what it lacks. */
  private async sync(to: PeerAddress, rebroadcast: boolean): Promise<void> {
    const table = this.table;
    // Dialed by bare address (joining): we must learn, signed, who answered.
    const introduce = to.peerId === undefined;
    const response = await this.ask(
      to,
      (hello) => (introduce ? { kind: 'sync', hello, digest: table.digest(), introduce } : { kind: 'sync', hello, digest: table.digest() }),
      decodeSyncResponse,
    );
    let pushTo = to;
    if (introduce) {
      const hello = response.hello === undefined ? undefined : this.open(response.hello);
      if (!hello || hello.claim.type !== 'alive') throw new SignerMismatchError(`the member at ${to.addr} did not introduce itself`);
      this.absorb([hello], rebroadcast);
      pushTo = { addr: hello.claim.addr, peerId: hello.claim.peerId };
    }
    this.absorbEntries(response.entries, rebroadcast);
    const missing = table.newerThan(response.digest);
    if (missing.length > 0) await this.push(pushTo, missing.map(wire));
  }

  private async push(to: PeerAddress, entries: WireEntry[]): Promise<void> {
    await this.ask(to, (hello) => ({ kind: 'push', hello, entries }), decodeAck);
  }

  /**
   * One exchange. To a known member the hello goes by reference; if the member asks for an introduction the
   * request is repeated with our full signed claim (see exchange.ts).
   */
  private async ask<R extends { kind: string }>(
    to: PeerAddress,
    build: (hello: Hello) => ExchangeRequest,
    decode: (data: Uint8Array) => R | IntroduceResponse,
    timeoutMs = this.exchangeTimeoutMs,
  ): Promise<R> {
    const self = this.table.self.alive;
    if (to.peerId !== undefined) {
      const ref = { name: self.claim.name, incarnation: self.claim.incarnation };
      const answer = decode(await this.transport.request(to, encode(build(ref)), timeoutMs));
      if (answer.kind !== 'introduce') return answer as R;
    }
    const answer = decode(await this.transport.request(to, encode(build(self.envelope)), timeoutMs));
    if (answer.kind === 'introduce') throw new ExchangeRefusedError(`${to.addr} refused our introduction`);
    return answer as R;
  }

  /** Who sent this request: a verified alive claim bound to the connection's peer id, or undefined to ask. */
  private introduction(hello: Hello, fromPeerId: string): Signed<AliveClaim> | undefined {
    if (isHelloRef(hello)) {
      const known = hello.name === this.cfg.nodeName ? undefined : this.table.get(hello.name)?.alive;
      return known && known.claim.incarnation === hello.incarnation && known.claim.peerId === fromPeerId ? known : undefined;
    }
    const signed = this.open(hello);
    if (signed.claim.type !== 'alive' || signed.claim.peerId !== fromPeerId) {
      throw new SignerMismatchError(`peer ${fromPeerId} presented the introduction of ${signed.claim.name}`);
    }
    return signed as Signed<AliveClaim>;
  }

  private async serve(data: Uint8Array, fromPeerId: string): Promise<Uint8Array> {
    if (this.stopped) throw new MembershipStoppedError('membership stopped');
    let request: ExchangeRequest;
    let hello: Signed<AliveClaim> | undefined;
    try {
      request = decodeRequest(data);
      hello = this.introduction(request.hello, fromPeerId);
    } catch (err) {
      if (err instanceof RejectedMessageError) this.cfg.onRejected?.(err);
      throw err;
    }
    if (!hello) return encode({ kind: 'introduce' });
    if (!isHelloRef(request.hello)) this.absorb([hello], true);
    switch (request.kind) {
      case 'sync': {
        const entries = this.table.newerThan(request.digest).map(wire);
        const response: SyncResponse = request.introduce
          ? { kind: 'sync', hello: this.table.self.alive.envelope, entries, digest: this.table.digest() }
          : { kind: 'sync', entries, digest: this.table.digest() };
        return encode(response);
      }
      case 'push':
        this.absorbEntries(request.entries, true);
        return encode({ kind: 'ack', ok: true });
      case 'ping-req': {
        const target = this.table.get(request.target);
        let ok = false;
        if (target && target.name !== this.cfg.nodeName) {
          ok = await this.transport.ping(addressOf(target), this.awareness.scale(this.timings.probeTimeoutMs)).then(
            () => true,
            () => false,
          );
        }
        return encode({ kind: 'ack', ok });
      }
    }
  }

  // ---- believing claims ---------------------------------------------------------------------------------

  private open(raw: Envelope | unknown): Signed {
    return this.trust.open(raw);
  }

  /** Gossip arrives here once per message; verifying and applying here means each claim is verified once. */
  private judgeGossip(data: Uint8Array): GossipVerdict {
    if (this.stopped) return 'ignore';
    let signed: Signed;
    try {
      let raw: unknown;
      try {
        raw = JSON.parse(Buffer.from(data).toString('utf8'));
      } catch (err) {
        throw new MalformedMessageError('gossip is not JSON', { cause: err });
      }
      signed = this.open(raw);
    } catch (err) {
      if (err instanceof RejectedMessageError) {
        this.cfg.onRejected?.(err);
        return 'reject';
      }
      throw err;
    }
    this.absorb([signed], false);
    return 'accept';
  }

  private absorbEntries(entries: WireEntry[], rebroadcast: boolean): void {
    for (const e of entries) {
      try {
        const alive = this.open(e.alive);
        const verdict = e.verdict === undefined ? undefined : this.open(e.verdict);
        if (alive.claim.type !== 'alive' || (verdict && (verdict.claim.type === 'alive' || verdict.claim.name !== alive.claim.name))) {
          throw new MalformedMessageError(`sync entry for ${alive.claim.name} mixes up its claims`);
        }
        const entry: SyncEntry = verdict
          ? { alive: alive as Signed<AliveClaim>, verdict: verdict as Signed<Verdict> }
          : { alive: alive as Signed<AliveClaim> };
        const before = this.table.get(alive.claim.name);
        this.react(this.table.merge(entry, Date.now()));
        if (rebroadcast && this.table.get(alive.claim.name) !== before && alive.claim.name !== this.cfg.nodeName) {
          const now = this.table.get(alive.claim.name);
          if (now?.alive !== before?.alive) void this.broadcast(alive.envelope);
          if (verdict && now?.verdict === verdict) void this.broadcast(verdict.envelope);
        }
      } catch (err) {
        if (!(err instanceof RejectedMessageError)) throw err;
        this.cfg.onRejected?.(err);
      }
    }
  }

  /**
   * Applies verified claims. Claims learned through a direct exchange are re-gossiped when they changed
   * something, so a joiner announced only to its seed still reaches everyone at once.
   */
  private absorb(claims: Signed[], rebroadcast: boolean): void {
    for (const signed of claims) {
      const before = this.table.get(signed.claim.name);
      this.react(this.table.apply(signed, Date.now()));
      if (rebroadcast && signed.claim.name !== this.cfg.nodeName && this.table.get(signed.claim.name) !== before) {
        void this.broadcast(signed.envelope);
      }
    }
  }

  private react(events: TableEvent[]): void {
    const h: MembershipHandler | undefined = this.cfg.handler;
    for (const e of events) {
      switch (e.kind) {
        case 'refute':
          this.refute(e.incarnation);
          break;
        case 'join':
          this.notify(() => h?.join(e.name, { ...e.tags }));
          this.warmUp(e.name);
          break;
        case 'update':
          this.notify(() => h?.update?.(e.name, { ...e.tags }));
          break;
        case 'suspect':
          this.notify(() => h?.suspect?.(e.name));
          break;
        case 'failed':
          this.notify(() => h?.failed(e.name));
          break;
        case 'leave':
          this.notify(() => h?.leave(e.name));
          break;
      }
    }
  }

  /**
   * Connects to a new member at once rather than at its first probe: gossip published by either side then
   * reaches the other directly instead of waiting for the mesh to graft it (a heartbeat or more).
   */
  private warmUp(name: string): void {
    const r = this.table.get(name);
    if (!r || this.stopped) return;
    void this.track(this.transport.ping(addressOf(r), this.exchangeTimeoutMs)).catch(() => undefined);
  }

  // Handler calls run one at a time, in order; a throwing handler does not stop the ones after it.
  private notify(call: () => void | Promise<void> | undefined): void {
    this.handlerChain = this.handlerChain.then(call).then(
      () => undefined,
      () => undefined,
    );
  }

  /** Someone thinks we are suspect, failed, or older than we are: announce ourselves above that. */
  private refute(incarnation: number): void {
    if (this.stopped || incarnation <= this.table.self.incarnation) return;
    // Being suspected wrongly hints that this node is the slow one.
    this.awareness.degraded();
    void this.announce({ ...this.table.self.alive.claim, incarnation });
  }

  /** Adopts a new alive claim of our own, persists its incarnation (so a restart goes above it), gossips it. */
  private async announce(claim: AliveClaim): Promise<void> {
    const signed = this.identity.seal(claim);
    this.table.announceSelf(signed, Date.now());
    const dataDir = this.cfg.dataDir;
    this.persistChain = this.persistChain.then(() => saveIncarnation(dataDir, claim.incarnation)).catch(() => undefined);
    await this.broadcast(signed.envelope);
  }

  private async broadcast(envelope: Envelope): Promise<void> {
    if (this.stopped) return;
    await this.track(this.transport.broadcast(Buffer.from(JSON.stringify(envelope), 'utf8'))).catch(() => undefined);
  }

  /** Seals a claim of ours about another member, applies it, and gossips it. */
  private declare(claim: Claim): void {
    const signed = this.identity.seal(claim);
    this.react(this.table.apply(signed, Date.now()));
    void this.broadcast(signed.envelope);
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inFlight.add(p);
    const done = (): void => {
      this.inFlight.delete(p);
    };
    p.then(done, done);
    return p;
  }

  // ---- timers -------------------------------------------------------------------------------------------

  private startTimers(): void {
    this.every(() => this.awareness.scale(this.timings.probeIntervalMs), () => this.probeNext());
    this.every(() => this.timings.syncIntervalMs, () => this.antiEntropy());
    this.lastTick = Date.now();
    this.every(() => this.tickMs, () => this.tick());
    if (this.cfg.retryJoin && this.cfg.startJoinAddrs.length > 0) {
      this.every(() => this.timings.probeIntervalMs, () => this.retryJoin());
    }
  }

  /** Alone (no other member alive or suspect): try the start-join addresses again. */
  private async retryJoin(): Promise<void> {
    if (this.table.others('alive', 'suspect').length > 0) return;
    await this.join(this.cfg.startJoinAddrs);
  }

  /** Runs `task` every `ms()`, never two at once: the next run is scheduled when this one ends. */
  private every(ms: () => number, task: () => Promise<void> | void): void {
    const slot = this.timers.length;
    const run = async (): Promise<void> => {
      const started = Date.now();
      try {
        await this.track(Promise.resolve().then(task));
      } catch {
        // A failed round is retried on the next one.
      }
      if (!this.stopped) this.timers[slot] = setTimeout(run, Math.max(0, ms() - (Date.now() - started)));
    };
    this.timers.push(setTimeout(run, ms()));
  }

  private tick(): void {
    if (this.stopped) return;
    const now = Date.now();
    const stalled = now - this.lastTick - this.tickMs;
    this.lastTick = now;
    // Timers firing far too late mean this process was frozen; see MemberTable.postponeSuspicions.
    if (stalled > Math.max(50, 2 * this.tickMs)) {
      this.table.postponeSuspicions(stalled);
      this.awareness.degraded();
    }
    for (const { name, incarnation } of this.table.tick(Date.now())) {
      this.declare({ type: 'failed', name, incarnation, from: this.cfg.nodeName });
    }
  }

  /** Round robin over a shuffled list of live members, reshuffled each round, as SWIM prescribes. */
  private nextProbeTarget(): MemberRecord | undefined {
    for (let attempts = 0; attempts < 2; attempts++) {
      while (this.probeQueue.length > 0) {
        const r = this.table.get(this.probeQueue.shift()!);
        if (r && (r.status === 'alive' || r.status === 'suspect') && r.name !== this.cfg.nodeName) return r;
      }
      this.probeQueue = shuffle(this.table.others('alive', 'suspect').map((r) => r.name));
    }
    return undefined;
  }

  private async probeNext(): Promise<void> {
    const target = this.nextProbeTarget();
    if (!target || this.stopped) return;
    const started = Date.now();
    const probeTimeoutMs = this.awareness.scale(this.timings.probeTimeoutMs);
    const reached = await this.transport.ping(addressOf(target), probeTimeoutMs).then(
      () => true,
      () => false,
    );
    if (this.stopped) return;
    if (reached) {
      this.awareness.succeeded();
      return;
    }
    // Helpers need a probe timeout of their own plus two hops; give them at least that, or the rest of the round.
    const remaining = this.awareness.scale(this.timings.probeIntervalMs) - (Date.now() - started);
    if (await this.probeIndirectly(target, Math.max(remaining, 3 * probeTimeoutMs))) {
      this.awareness.succeeded();
      return;
    }
    this.awareness.degraded();
    const now = this.table.get(target.name);
    // Only accuse what we probed: a refutation that arrived meanwhile made this probe stale. If someone else
    // suspects it already, our accusation is an independent confirmation (see suspicion.ts).
    const self = this.cfg.nodeName;
    if (
      !this.stopped &&
      now &&
      now.incarnation === target.incarnation &&
      (now.status === 'alive' || (now.status === 'suspect' && !this.table.hasAccused(now.name, now.incarnation, self)))
    ) {
      this.declare({ type: 'suspect', name: target.name, incarnation: target.incarnation, from: self });
    }
  }

  private async probeIndirectly(target: MemberRecord, timeoutMs: number): Promise<boolean> {
    const helpers = shuffle(this.table.others('alive').filter((r) => r.name !== target.name)).slice(0, this.timings.indirectProbes);
    if (helpers.length === 0) return false;
    const asks = helpers.map(async (h) => {
      const ack = await this.ask(addressOf(h), (hello) => ({ kind: 'ping-req', hello, target: target.name }), decodeAck, timeoutMs);
      if (!ack.ok) throw new DiscoveryError(`${h.name} could not reach ${target.name} either`);
    });
    return Promise.any(asks).then(
      () => true,
      () => false,
    );
  }

  /** Reconciles with one live member, and tries one failed member in case a partition healed. */
  private async antiEntropy(): Promise<void> {
    const live = shuffle(this.table.others('alive', 'suspect'))[0];
    const failed = shuffle(this.table.others('failed'))[0];
    await Promise.allSettled([live, failed].filter((r) => r !== undefined).map((r) => this.sync(addressOf(r), true)));
  }
}
