// A cluster of Raft nodes in one process, each with its own "disk" (a MemoryStorage that survives crashes)
// and a tiny state machine (a hash chain over applied entries), joined by a SimNetwork. The cluster plays the
// runtime's part exactly as the contract in ../index.ts says: persist, then send, then apply, then advance.
import { NotLeaderError } from '../errors.js';
import { SeededRandom } from '../random.js';
import { RawNode } from '../raw-node.js';
import { MemoryStorage } from '../storage.js';
import type { ConfState, Message, NodeId, Snapshot } from '../types.js';
import { chain, SafetyChecker, SafetyViolation } from './checker.js';
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
};

/** The state machine: how many entries it applied, and a hash of all of them in order. */
interface Fsm {
  index: number;
  hash: number;
}

export class SimNode {
  /** Null while crashed. */
  raw: RawNode | null = null;
  fsm: Fsm = { index: 0, hash: 0 };
  snapshotsTaken = 0;
  snapshotsInstalled = 0;
  constructor(
    readonly id: NodeId,
    readonly disk: MemoryStorage,
    readonly rng: SeededRandom,
  ) {}
}

function encodeFsm(f: Fsm, padding: number): Uint8Array {
  const out = new Uint8Array(12 + padding);
  const v = new DataView(out.buffer);
  v.setFloat64(0, f.index);
  v.setUint32(8, f.hash);
  for (let i = 0; i < padding; i++) out[12 + i] = (f.hash + i) & 0xff;
  return out;
}

function decodeFsm(s: Snapshot): Fsm {
  if (s.meta.index === 0) return { index: 0, hash: 0 };
  const v = new DataView(s.data.buffer, s.data.byteOffset, s.data.byteLength);
  return { index: v.getFloat64(0), hash: v.getUint32(8) };
}

export class Cluster {
  readonly nodes = new Map<NodeId, SimNode>();
  readonly net: SimNetwork;
  readonly checker = new SafetyChecker();
  now = 0;
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
    const n = new SimNode(id, disk, this.rng.fork());
    this.nodes.set(id, n);
    this.start(n);
    return n;
  }

  private start(n: SimNode): void {
    const snap = n.disk.snapshot();
    n.fsm = decodeFsm(snap);
    this.checker.onRestore(n.id, n.fsm.index, n.fsm.hash);
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
      if (e instanceof Error && e.name === 'LeadershipTransferInProgressError') return false;
      if (e instanceof Error && e.name === 'NotMemberError') return false;
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

  /** Plays the runtime: persist, send, apply, advance; then check safety. */
  handleReady(n: SimNode): void {
    const raw = n.raw!;
    for (let guard = 0; guard < 1000 && raw.hasReady(); guard++) {
      const rd = raw.ready();
      const disk = n.disk;
      // 1. persist
      if (rd.snapshot) disk.applySnapshot(rd.snapshot);
      if (rd.entries.length > 0) {
        disk.append(rd.entries);
        this.checker.onPersistEntries(n.id, rd.entries, (i) => {
          try {
            return disk.term(i);
          } catch {
            return undefined;
          }
        });
      }
      if (rd.hardState) {
        disk.setHardState(rd.hardState);
        this.checker.onHardState(n.id, rd.hardState);
      }
      // 2. send
      for (const m of rd.messages) this.net.send(m, this.now);
      // 3. apply
      if (rd.snapshot) {
        n.snapshotsInstalled++;
        n.fsm = decodeFsm(rd.snapshot);
        this.checker.onRestore(n.id, n.fsm.index, n.fsm.hash);
      }
      for (const e of rd.committedEntries) {
        if (e.index !== n.fsm.index + 1) this.checker.fail(`${n.id}: applied ${e.index} after ${n.fsm.index}`);
        n.fsm = { index: e.index, hash: chain(n.fsm.hash, e) };
        this.checker.onApply(n.id, e.index, n.fsm.hash);
      }
      for (const rs of rd.readStates) {
        const acked = this.reads.get(rs.context);
        if (acked === undefined) throw new SafetyViolation(`${n.id}: ReadState for unknown context ${rs.context}`);
        this.reads.delete(rs.context);
        this.checker.onReadState(n.id, rs.index, acked);
      }
      // 4. advance
      raw.advance(rd);
      this.checker.onCommit(raw);
      if (raw.raft.role === 'leader') this.checker.onLeader(raw);
      this.maybeCompact(n, raw.raft.tracker.confState());
    }
  }

  private maybeCompact(n: SimNode, cs: ConfState): void {
    const every = this.opts.compactEvery;
    if (every <= 0) return;
    const snapIndex = n.disk.snapshot().meta.index;
    if (n.fsm.index - snapIndex < every) return;
    n.disk.createSnapshot(n.fsm.index, cs, encodeFsm(n.fsm, this.opts.snapshotPadding));
    n.snapshotsTaken++;
    const compactTo = n.fsm.index - this.opts.compactKeep;
    if (compactTo >= n.disk.firstIndex()) n.disk.compact(compactTo);
  }
}
