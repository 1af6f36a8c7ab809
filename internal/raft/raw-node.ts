// The handshake between the core and its runtime: the runtime drives the node (tick, step, propose, ...),
// collects a Ready of everything to persist, send and apply, does it in that order, then calls advance().
import { decodeConfChange, encodeConfChange } from './confchange.js';
import type { Config } from './config.js';
import { Raft } from './raft.js';
import type { ConfChange, HardState, Message, NodeId, Ready, SoftState, Status } from './types.js';

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

export class RawNode {
  readonly raft: Raft;
  private prevSoft: SoftState;
  private prevHard: HardState;

  constructor(config: Config) {
    this.raft = new Raft(config);
    this.prevSoft = this.raft.softState();
    this.prevHard = this.raft.hardState();
  }

  get id(): NodeId {
    return this.raft.id;
  }

  tick(): void {
    this.raft.tick();
  }

  /** Starts an election now (e.g. to bootstrap a single-node cluster without waiting a timeout). */
  campaign(): void {
    this.raft.hup(false);
  }

  /** A follower stops honoring its leader's lease, without campaigning (see Raft.forgetLeader). */
  forgetLeader(): void {
    this.raft.forgetLeader();
  }

  step(m: Message): void {
    this.raft.step(m);
  }

  /** Proposes one entry; returns its index. Throws NotLeaderError (naming the leader) on a non-leader. */
  propose(data: Uint8Array): number {
    return this.raft.propose([data]);
  }

  /** Proposes many entries as one append; returns the index of the last. */
  proposeBatch(datas: Uint8Array[]): number {
    return this.raft.propose(datas);
  }

  /** Proposes a membership change; returns its index. */
  proposeConfChange(cc: ConfChange): number {
    return this.raft.proposeConfChange(cc, encodeConfChange(cc));
  }

  readIndex(context: string): void {
    this.raft.readIndex(context);
  }

  transferLeadership(to: NodeId): void {
    this.raft.transferLeadership(to);
  }

  status(): Status {
    return this.raft.status();
  }

  hasReady(): boolean {
    const r = this.raft;
    if (r.msgs.length > 0 || r.readStates.length > 0) return true;
    if (r.log.unstable.entries.length > 0 || r.log.unstable.snapshot) return true;
    if (r.log.hasNextCommittedEntries()) return true;
    const soft = r.softState();
    if (soft.leader !== this.prevSoft.leader || soft.role !== this.prevSoft.role) return true;
    return !sameHardState(r.hardState(), this.prevHard);
  }

  /** Everything the runtime must do now. Call advance(rd) when done, before the next ready(). */
  ready(): Ready {
    const r = this.raft;
    const soft = r.softState();
    const hard = r.hardState();
    const softChanged = soft.leader !== this.prevSoft.leader || soft.role !== this.prevSoft.role;
    const hardChanged = !sameHardState(hard, this.prevHard);
    const entries = r.log.unstableEntries().slice();
    const snapshot = r.log.unstable.snapshot;
    const rd: Ready = {
      softState: softChanged ? soft : null,
      hardState: hardChanged ? hard : null,
      snapshot,
      entries,
      messages: r.msgs,
      committedEntries: r.log.nextCommittedEntries(),
      readStates: r.readStates,
      mustSync: entries.length > 0 || snapshot !== null || hard.term !== this.prevHard.term || hard.vote !== this.prevHard.vote,
    };
    r.msgs = [];
    r.readStates = [];
    return rd;
  }

  /** The runtime has persisted, sent and applied everything in `rd`. */
  advance(rd: Ready): void {
    const r = this.raft;
    if (rd.softState) this.prevSoft = rd.softState;
    if (rd.hardState) this.prevHard = rd.hardState;
    if (rd.snapshot) {
      r.log.stableSnapTo(rd.snapshot.meta.index);
      if (rd.snapshot.meta.index > r.log.applied) r.log.applied = rd.snapshot.meta.index;
    }
    if (rd.entries.length > 0) {
      const last = rd.entries[rd.entries.length - 1]!;
      r.log.stableTo(last.index, last.term);
    }
    r.reduceUncommitted(rd.committedEntries);
    // A snapshot restored while the runtime handled rd (messages are stepped meanwhile) already holds the
    // membership its entries lead to: applying rd's older changes on top of it would undo newer ones.
    const restoredAt = r.log.unstable.snapshot?.meta.index ?? 0;
    for (const e of rd.committedEntries) {
      r.log.appliedTo(e.index);
      if (e.type === 'confChange' && e.index > restoredAt) r.applyConfChange(decodeConfChange(e.data));
    }
  }
}
