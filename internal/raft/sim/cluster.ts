// A cluster of Raft nodes in one process, each with its own "disk" (a MemoryStorage that survives crashes)
// and a tiny state machine (a hash chain over applied entries), joined by a SimNetwork. The cluster plays the
// runtime's part in one of two ways: 'strict', exactly as the contract in ../index.ts says (persist, then send,
// then apply, then advance); or 'pipelined', as the real runtime (internal/distributed/replicated-log.ts) takes
// the liberties the contract allows: a leader's appends leave before its own write, committed entries it does
// not write are applied while the write is in flight, peers' messages are stepped into the core while a Ready is
// being handled, and the commit index reaches the disk only with a term or vote change or before a membership
// change is applied; a leader also takes proposals in that window, and the node's timer can fire there (a tick
// taken mid-Ready is that node's next tick, taken early: its clock runs no faster than the others').
import { NotLeaderError, RaftError, RaftInvariantError } from '../errors.js';
import { SeededRandom } from '../random.js';
import { RawNode } from '../raw-node.js';
import { MemoryStorage } from '../storage.js';
import { applyConfChange, decodeConfChange } from '../confchange.js';
import type { ConfState, Entry, Message, NodeId, Ready, Snapshot } from '../types.js';
import { HashStateMachine } from '../state-machine.js';
import { SafetyChecker, SafetyViolation } from './checker.js';
import { SimNetwork } from './network.js';

export interface ClusterOptions {
  electionTick: number;
  heartbeatTick: number;
  maxSizePerMsg: number;
  maxEntriesPerMsg: number;
  maxInflightMsgs: number;
  maxSnapshotChunkBytes: number;
  /** Take a snapshot and compact once this many entries were applied since the last one (0 = never). */
  compactEvery: number;
  /** Entries kept in the log below a snapshot, so that slightly lagging followers still get appends. */
  compactKeep: number;
  /** Bytes of filler in each snapshot, so that snapshots travel in several chunks. */
  snapshotPadding: number;
  preVote: boolean;
  checkQuorum: boolean;
  runtime: 'strict' | 'pipelined';
  /** Pipelined: the chance that one more message is stepped in at each point where the runtime awaits. */
  stepWhileBusy: number;
}

export const DEFAULT_CLUSTER_OPTIONS: ClusterOptions = {
  electionTick: 10,
  heartbeatTick: 1,
  maxSizePerMsg: 512,
  maxEntriesPerMsg: 8,
  maxInflightMsgs: 4,
  maxSnapshotChunkBytes: 48,
  compactEvery: 0,
  compactKeep: 2,
  snapshotPadding: 100,
  preVote: true,
  checkQuorum: true,
  runtime: 'strict',
  stepWhileBusy: 0.3,
};

const busyEncoder = new TextEncoder();

export class SimNode {
  /** Null while crashed. */
  raw: RawNode | null = null;
  readonly fsm: HashStateMachine;
  snapshotsTaken = 0;
  snapshotsInstalled = 0;
  /** Crash during the next write, after persisting only part of it (a torn write across files). */
  tornWriteArmed = false;
  tornWrites = 0;
  /** The tick of this node's last proposal taken while its runtime was busy. */
  busyProposalTick = -1;
  /** The global tick this node has already taken while its runtime was busy (Cluster.tick skips it then). */
  tickedAheadFor = -1;
  /** The membership the applied log leads to (from the last snapshot restored plus the changes applied since). */
  membership: ConfState = { voters: [], learners: [] };
  constructor(
    readonly id: NodeId,
    readonly disk: MemoryStorage,
    readonly rng: SeededRandom,
    snapshotPadding: number,
  ) {
    this.fsm = new HashStateMachine(snapshotPadding);
  }
}

export class Cluster {
  readonly nodes = new Map<NodeId, SimNode>();
  readonly net: SimNetwork;
  readonly checker = new SafetyChecker();
  now = 0;
  /** Messages stepped into a node while its (pipelined) runtime was busy with a Ready. */
  steppedWhileBusy = 0;
  /** Proposals a leader took while its (pipelined) runtime was busy with a Ready. */
  proposedWhileBusy = 0;
  /** Ticks a node's timer fired while its (pipelined) runtime was busy with a Ready. */
  ticksWhileBusy = 0;
  /** Reads in flight: context → acknowledged index when the read began. */
  private readonly reads = new Map<string, number>();
  private readSeq = 0;

  constructor(
    readonly rng: SeededRandom,
    founders: NodeId[],
    readonly opts: ClusterOptions = DEFAULT_CLUSTER_OPTIONS,
  ) {
    this.net = new SimNetwork(rng.fork());
    for (const id of founders) this.addNode(id, MemoryStorage.bootstrap(founders));
  }

  /** Creates a node: founders are bootstrapped, later ones start empty and learn everything from the leader. */
  addNode(id: NodeId, disk: MemoryStorage = new MemoryStorage()): SimNode {
    const n = new SimNode(id, disk, this.rng.fork(), this.opts.snapshotPadding);
    this.nodes.set(id, n);
    this.start(n);
    return n;
  }

  private start(n: SimNode): void {
    // The state machine is rebuilt from the last snapshot; the log after it is applied again.
    const snap = n.disk.snapshot();
    n.fsm.restore(snap);
    n.membership = snap.meta.confState;
    this.checker.onRestore(n.id, n.fsm.appliedIndex(), n.fsm.hash);
    const o = this.opts;
    n.raw = new RawNode({
      id: n.id,
      storage: n.disk,
      random: n.rng,
      applied: snap.meta.index,
      electionTick: o.electionTick,
      heartbeatTick: o.heartbeatTick,
      maxSizePerMsg: o.maxSizePerMsg,
      maxEntriesPerMsg: o.maxEntriesPerMsg,
      maxInflightMsgs: o.maxInflightMsgs,
      maxSnapshotChunkBytes: o.maxSnapshotChunkBytes,
      preVote: o.preVote,
      checkQuorum: o.checkQuorum,
    });
    this.checker.onRestart(n.id);
    this.handleReady(n);
  }

  /** Loses everything the node had not persisted: its in-memory state and the messages on their way to it. */
  crash(id: NodeId): void {
    const n = this.nodes.get(id);
    if (!n || !n.raw) return;
    n.raw = null;
    this.net.dropTo(id);
  }

  /** Restarts a crashed node from its disk alone. */
  restart(id: NodeId): void {
    const n = this.nodes.get(id);
    if (!n || n.raw) return;
    this.start(n);
  }

  live(): SimNode[] {
    return [...this.nodes.values()].filter((n) => n.raw !== null);
  }

  /** The leader with the highest term among live nodes, if any. */
  leader(): SimNode | null {
    let best: SimNode | null = null;
    for (const n of this.nodes.values()) {
      const r = n.raw?.raft;
      if (r && r.role === 'leader' && (!best || r.term > best.raw!.raft.term)) best = n;
    }
    return best;
  }

  /** Advances simulated time by one tick and delivers every message due. */
  tick(): void {
    this.now++;
    for (const n of this.nodes.values()) {
      if (!n.raw) continue;
      // Its timer already fired for this tick, while the runtime was busy with a Ready.
      if (n.tickedAheadFor === this.now) continue;
      n.raw.tick();
      this.handleReady(n);
    }
    this.deliver();
  }

  deliver(): void {
    // A bound that a healthy run never reaches; hitting it means a message storm, itself a bug.
    for (let i = 0; i < 100_000; i++) {
      const m = this.net.next(this.now);
      if (!m) return;
      this.stepInto(m);
    }
    throw new Error(`message storm: more than 100000 deliveries in tick ${this.now}`);
  }

  private stepInto(m: Message): void {
    const n = this.nodes.get(m.to);
    if (!n || !n.raw) return;
    n.raw.step(m);
    this.handleReady(n);
  }

  /** Proposes on `id`; returns false (checking the error names the known leader) if it is not the leader. */
  propose(id: NodeId, datas: Uint8Array[]): boolean {
    const n = this.nodes.get(id);
    if (!n?.raw) return false;
    try {
      n.raw.proposeBatch(datas);
    } catch (e) {
      if (e instanceof NotLeaderError) {
        if (e.leader !== n.raw.raft.lead) this.checker.fail(`${id}: NotLeaderError names ${e.leader}, but the node knows ${n.raw.raft.lead}`);
        return false;
      }
      // Other refusals (a transfer under way, the leader removed) are expected; anything else is a bug.
      if (e instanceof RaftError) return false;
      throw e;
    }
    this.handleReady(n);
    return true;
  }

  readIndex(id: NodeId): boolean {
    const n = this.nodes.get(id);
    if (!n?.raw || n.raw.raft.role !== 'leader') return false;
    const ctx = `${id}/${++this.readSeq}`;
    this.reads.set(ctx, this.checker.maxApplied);
    n.raw.readIndex(ctx);
    this.handleReady(n);
    return true;
  }

  /** Plays the runtime (see the top of this file for the two ways), then checks safety. */
  handleReady(n: SimNode): void {
    if (this.opts.runtime === 'pipelined') this.handleReadyPipelined(n);
    else this.handleReadyStrict(n);
  }

  /** Persist, send, apply, advance. */
  private handleReadyStrict(n: SimNode): void {
    const raw = n.raw;
    if (!raw) return;
    for (let guard = 0; guard < 1000 && raw.hasReady(); guard++) {
      const rd = raw.ready();
      const disk = n.disk;
      // 1. persist (in the contract's order), or crash part-way through when a torn write is armed
      const writes = (rd.snapshot ? 1 : 0) + rd.entries.length + (rd.hardState ? 1 : 0);
      const budget = n.tornWriteArmed && writes > 0 ? this.rng.int(writes) : Infinity;
      let done = 0;
      if (rd.snapshot && done++ < budget) disk.applySnapshot(rd.snapshot);
      const ents = rd.entries.slice(0, Math.max(0, Math.min(rd.entries.length, budget - done)));
      done += rd.entries.length;
      if (ents.length > 0) {
        disk.append(ents);
        this.checker.onPersistEntries(n.id, ents, (i) => {
          try {
            return disk.term(i);
          } catch {
            return undefined;
          }
        });
      }
      if (rd.hardState && done++ < budget) {
        disk.setHardState(rd.hardState);
        this.checker.onHardState(n.id, rd.hardState);
      }
      if (budget !== Infinity) {
        // Nothing of this Ready was sent or applied: the node dies with a partial write on disk.
        n.tornWriteArmed = false;
        n.tornWrites++;
        this.crash(n.id);
        return;
      }
      // 2. send
      for (const m of rd.messages) this.net.send(m, this.now);
      // 3. apply
      if (rd.snapshot) this.restoreSnapshot(n, rd.snapshot);
      for (const e of rd.committedEntries) this.apply(n, e);
      // 4. advance
      this.finishReady(n, raw, rd);
    }
  }

  /** Read states, advance, then the checks that follow every Ready. */
  private finishReady(n: SimNode, raw: RawNode, rd: Ready): void {
    for (const rs of rd.readStates) {
      const acked = this.reads.get(rs.context);
      if (acked === undefined) throw new SafetyViolation(`${n.id}: ReadState for unknown context ${rs.context}`);
      this.reads.delete(rs.context);
      this.checker.onReadState(n.id, rs.index, acked);
    }
    raw.advance(rd);
    this.checkMembership(n, raw);
    this.checker.onCommit(raw);
    if (raw.raft.role === 'leader') {
      this.checker.onLeader(raw);
      this.checker.onLeaderView(raw, (id) => this.nodes.get(id)?.raw ?? null);
    }
    this.maybeCompact(n, raw.raft.tracker.confState());
  }

  /** What replicated-log.ts does with a Ready (its handleReady, persist and applyEntry), step by step. */
  private handleReadyPipelined(n: SimNode): void {
    const raw = n.raw;
    if (!raw) return;
    for (let guard = 0; guard < 1000 && n.raw === raw && raw.hasReady(); guard++) {
      const rd = raw.ready();
      // Appends leave first, their commit index capped below the entries this Ready writes.
      const durable = rd.entries.length > 0 ? rd.entries[0]!.index - 1 : Infinity;
      const later: Message[] = [];
      for (const m of rd.messages) {
        if (m.type === 'append') this.net.send(m.commit > durable ? { ...m, commit: durable } : m, this.now);
        else later.push(m);
      }
      const committed = rd.committedEntries;
      let applied = 0;
      if (!rd.snapshot) {
        // Committed entries this Ready does not write are applied while its write is in flight.
        const firstWritten = rd.entries[0]?.index ?? Infinity;
        while (applied < committed.length && committed[applied]!.index < firstWritten) {
          this.stepWhileBusy(n, raw);
          this.applyPipelined(n, committed[applied++]!);
        }
      }
      this.stepWhileBusy(n, raw);
      if (!this.persistPipelined(n, rd)) return;
      for (const m of later) this.net.send(m, this.now);
      if (rd.snapshot) this.restoreSnapshot(n, rd.snapshot);
      while (applied < committed.length) {
        this.stepWhileBusy(n, raw);
        this.applyPipelined(n, committed[applied++]!);
      }
      this.finishReady(n, raw, rd);
    }
  }

  /** Messages that reach the node while its runtime awaits a write or an apply are stepped, not handled. */
  private stepWhileBusy(n: SimNode, raw: RawNode): void {
    // The runtime's batcher proposes whenever calls arrive, busy or not (here at most once a tick per node: calls
    // come from clients, at their own pace, not from the messages a proposal itself sets off).
    if (raw.raft.role === 'leader' && n.busyProposalTick !== this.now && this.rng.chance(this.opts.stepWhileBusy / 3)) {
      n.busyProposalTick = this.now;
      try {
        raw.proposeBatch([busyEncoder.encode(`${n.id}-busy-${++this.proposedWhileBusy}`)]);
      } catch (e) {
        if (!(e instanceof RaftError)) throw e;
      }
    }
    // The runtime's timer fires whenever its interval is up, a Ready in hand or not: here, the node's next tick
    // comes early (at most one ahead, so that its clock keeps pace with the others').
    if (n.tickedAheadFor <= this.now && this.rng.chance(this.opts.stepWhileBusy / 6)) {
      n.tickedAheadFor = this.now + 1;
      this.ticksWhileBusy++;
      raw.tick();
    }
    while (this.rng.chance(this.opts.stepWhileBusy)) {
      const m = this.net.nextFor(n.id, this.now);
      if (!m) return;
      this.steppedWhileBusy++;
      try {
        raw.step(m);
      } catch (e) {
        // The runtime drops what the core refuses (see replicated-log.ts onFrame); a broken invariant is a bug.
        if (!(e instanceof RaftError) || e instanceof RaftInvariantError) throw e;
      }
    }
  }

  /**
   * RaftStorage's writes: snapshot, entries (one write, one sync), and the hard state only when its term or vote
   * changed (the commit index alone can be relearned). Returns false if the node crashed part-way.
   */
  private persistPipelined(n: SimNode, rd: Ready): boolean {
    const disk = n.disk;
    const prev = disk.initialState().hardState;
    const hs = rd.hardState && (rd.hardState.term !== prev.term || rd.hardState.vote !== prev.vote) ? { ...rd.hardState, commit: Math.max(rd.hardState.commit, prev.commit) } : null;
    const writes = (rd.snapshot ? 1 : 0) + (rd.entries.length > 0 ? 1 : 0) + (hs ? 1 : 0);
    const budget = n.tornWriteArmed && writes > 0 ? this.rng.int(writes) : Infinity;
    let done = 0;
    if (rd.snapshot && done++ < budget) disk.applySnapshot(rd.snapshot);
    if (rd.entries.length > 0 && done++ < budget) {
      disk.append(rd.entries);
      this.checker.onPersistEntries(n.id, rd.entries, (i) => {
        try {
          return disk.term(i);
        } catch {
          return undefined;
        }
      });
    }
    if (hs && done++ < budget) {
      disk.setHardState(hs);
      this.checker.onHardState(n.id, hs);
    }
    if (budget === Infinity) return true;
    n.tornWriteArmed = false;
    n.tornWrites++;
    this.crash(n.id);
    return false;
  }

  /** Applies one committed entry; before a membership change, the commit index covering it is made durable. */
  private applyPipelined(n: SimNode, e: Entry): void {
    if (e.type === 'confChange') {
      const hs = n.disk.initialState().hardState;
      if (hs.commit < e.index) {
        const next = { ...hs, commit: e.index };
        n.disk.setHardState(next);
        this.checker.onHardState(n.id, next);
      }
    }
    this.apply(n, e);
  }

  private restoreSnapshot(n: SimNode, snap: Snapshot): void {
    n.snapshotsInstalled++;
    n.fsm.restore(snap);
    n.membership = snap.meta.confState;
    this.checker.onRestore(n.id, n.fsm.appliedIndex(), n.fsm.hash);
  }

  private apply(n: SimNode, e: Entry): void {
    if (e.index !== n.fsm.appliedIndex() + 1) this.checker.fail(`${n.id}: applied ${e.index} after ${n.fsm.appliedIndex()}`);
    n.fsm.apply(e);
    if (e.type === 'confChange') n.membership = applyConfChange(n.membership, decodeConfChange(e.data));
    this.checker.onApply(n.id, e.index, n.fsm.hash);
  }

  /** After advance: the core's membership is the one its applied log leads to (unless a restore is pending). */
  private checkMembership(n: SimNode, raw: RawNode): void {
    if (raw.raft.log.unstable.snapshot) return;
    const key = (cs: ConfState): string => `voters ${[...cs.voters].sort().join(',')} learners ${[...cs.learners].sort().join(',')}`;
    const core = key(raw.raft.tracker.confState());
    const log = key(n.membership);
    if (core !== log) this.checker.fail(`${n.id}: membership is ${core}, but its applied log (to ${n.fsm.appliedIndex()}) leads to ${log}`);
  }

  private maybeCompact(n: SimNode, cs: ConfState): void {
    const every = this.opts.compactEvery;
    if (every <= 0) return;
    const snapIndex = n.disk.snapshot().meta.index;
    const applied = n.fsm.appliedIndex();
    if (applied - snapIndex < every) return;
    n.disk.createSnapshot(applied, cs, n.fsm.snapshot());
    n.snapshotsTaken++;
    const compactTo = applied - this.opts.compactKeep;
    if (compactTo >= n.disk.firstIndex()) n.disk.compact(compactTo);
  }
}
