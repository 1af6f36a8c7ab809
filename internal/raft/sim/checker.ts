// Raft's safety properties, checked incrementally after every step of a simulation:
//  - election safety: at most one leader per term;
//  - a node never votes twice in a term, and its term never goes back;
//  - log matching: two entries with the same index and term hold the same data and follow the same term;
//  - leader completeness: a new leader's log holds every entry committed so far;
//  - state machine safety: no two nodes apply different entries at the same index;
//  - durability of commits: an entry once committed never changes;
//  - a leader's view of what followers hold is true (else it could count replicas it lacks);
//  - linearizable reads: a ReadIndex result is at or after every write acknowledged before the read began.
import type { RawNode } from '../raw-node.js';
import type { Entry, HardState, NodeId } from '../types.js';
import { NONE } from '../types.js';

export class SafetyViolation extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SafetyViolation';
  }
}

/** A short fingerprint of an entry's content (FNV-1a over type and data). */
export function fingerprint(e: Entry): number {
  let h = 0x811c9dc5;
  h = Math.imul(h ^ (e.type === 'normal' ? 1 : e.type === 'confChange' ? 2 : 3), 0x01000193);
  const d = e.data;
  for (let i = 0; i < d.length; i++) h = Math.imul(h ^ d[i]!, 0x01000193);
  return h >>> 0;
}

interface LoggedEntry {
  prevTerm: number | undefined;
  fp: number;
}

export class SafetyChecker {
  private readonly leaderOfTerm = new Map<number, NodeId>();
  private readonly hard = new Map<NodeId, HardState>();
  /** index → term → what an entry with that index and term holds. */
  private readonly logged = new Map<number, Map<number, LoggedEntry>>();
  /** index → state machine hash after applying it. */
  private readonly appliedHash = new Map<number, number>();
  /** index → term of the entry committed there. */
  private readonly committedTerm = new Map<number, number>();
  private readonly checkedCommit = new Map<NodeId, number>();
  /** Highest index any node has applied: every write up to it has been acknowledged. */
  maxApplied = 0;
  maxCommitted = 0;
  leaderElections = 0;
  readsChecked = 0;

  committedTermAt(index: number): number | undefined {
    return this.committedTerm.get(index);
  }

  fail(msg: string): never {
    throw new SafetyViolation(msg);
  }

  onHardState(id: NodeId, hs: HardState): void {
    const prev = this.hard.get(id);
    if (prev) {
      if (hs.term < prev.term) this.fail(`${id}: term went back from ${prev.term} to ${hs.term}`);
      if (hs.term === prev.term && prev.vote !== NONE && hs.vote !== prev.vote) {
        this.fail(`${id}: voted for ${prev.vote} and then ${hs.vote} in term ${hs.term}`);
      }
    }
    this.hard.set(id, { ...hs });
  }

  /** `termBefore(i)` reads the node's persisted log right after the append. */
  onPersistEntries(id: NodeId, ents: Entry[], termBefore: (i: number) => number | undefined): void {
    for (const e of ents) {
      const prevTerm = termBefore(e.index - 1);
      const fp = fingerprint(e);
      let byTerm = this.logged.get(e.index);
      if (!byTerm) {
        byTerm = new Map();
        this.logged.set(e.index, byTerm);
      }
      const seen = byTerm.get(e.term);
      if (!seen) {
        byTerm.set(e.term, { prevTerm, fp });
        continue;
      }
      if (seen.fp !== fp) this.fail(`${id}: log matching: two different entries at index ${e.index} term ${e.term}`);
      if (seen.prevTerm !== undefined && prevTerm !== undefined && seen.prevTerm !== prevTerm) {
        this.fail(`${id}: log matching: entry ${e.index}/${e.term} follows term ${prevTerm} here but ${seen.prevTerm} elsewhere`);
      }
      if (seen.prevTerm === undefined) seen.prevTerm = prevTerm;
    }
  }

  onApply(id: NodeId, index: number, hash: number): void {
    const h = this.appliedHash.get(index);
    if (h === undefined) this.appliedHash.set(index, hash);
    else if (h !== hash) this.fail(`${id}: state machine safety: applied a different entry (or history) at index ${index}`);
    if (index > this.maxApplied) this.maxApplied = index;
  }

  /** A node restored its state machine from a snapshot at `index` whose state hash is `hash`. */
  onRestore(id: NodeId, index: number, hash: number): void {
    if (index === 0) return;
    const h = this.appliedHash.get(index);
    if (h === undefined) this.fail(`${id}: restored a snapshot at ${index} that no node ever applied`);
    if (h !== hash) this.fail(`${id}: restored a snapshot at ${index} that differs from the applied history`);
  }

  /** Records what `node` now considers committed and checks it against what was committed before. */
  onCommit(node: RawNode): void {
    const r = node.raft;
    const from = (this.checkedCommit.get(node.id) ?? 0) + 1;
    const to = r.log.committed;
    const first = r.log.firstIndex();
    for (let i = Math.max(from, first); i <= to; i++) {
      const t = r.log.term(i);
      const known = this.committedTerm.get(i);
      if (known === undefined) this.committedTerm.set(i, t);
      else if (known !== t) this.fail(`${node.id}: committed entry ${i} has term ${t}, but term ${known} was committed there`);
    }
    if (to > this.maxCommitted) this.maxCommitted = to;
    this.checkedCommit.set(node.id, to);
  }

  /** A node restarted: its commit index is relearned from what it persisted. */
  onRestart(id: NodeId): void {
    this.checkedCommit.delete(id);
  }

  onLeader(node: RawNode): void {
    const r = node.raft;
    const holder = this.leaderOfTerm.get(r.term);
    if (holder !== undefined && holder !== node.id) this.fail(`election safety: ${holder} and ${node.id} both lead term ${r.term}`);
    if (holder !== undefined) return;
    this.leaderOfTerm.set(r.term, node.id);
    this.leaderElections++;
    const last = r.log.lastIndex();
    if (last < this.maxCommitted) this.fail(`leader completeness: ${node.id} leads term ${r.term} with ${last} entries, ${this.maxCommitted} are committed`);
    for (let i = Math.max(r.log.firstIndex(), 1); i <= this.maxCommitted; i++) {
      const t = this.committedTerm.get(i);
      if (t !== undefined && r.log.term(i) !== t) {
        this.fail(`leader completeness: ${node.id} leads term ${r.term} without committed entry ${i} (term ${t})`);
      }
    }
  }

  /**
   * The leader's belief that a follower's log matches its own up to `match` must be true while the follower is
   * in the leader's term (a follower in a later term may have been rewritten by a newer leader). A wrong belief
   * lets a leader count a replica it does not have toward commit.
   */
  onLeaderView(leader: RawNode, follower: (id: NodeId) => RawNode | null): void {
    const r = leader.raft;
    for (const [id, pr] of r.tracker.progress) {
      if (id === leader.id || pr.match === 0) continue;
      const f = follower(id)?.raft;
      if (!f || f.term !== r.term) continue;
      // A follower that crashed mid-write may be back in our term with entries from a newer leader already on
      // disk (its new term never made it): our old acknowledgement from it is stale, and harmless, because that
      // newer leader was elected by a majority that will not acknowledge us.
      if (f.log.lastTerm() > r.term) continue;
      const m = pr.match;
      if (m < f.log.firstIndex() - 1 || m < r.log.firstIndex() - 1) continue;
      if (m > f.log.lastIndex()) this.fail(`${leader.id} believes ${id} holds ${m} entries, it has ${f.log.lastIndex()}`);
      if (f.log.term(m) !== r.log.term(m)) {
        this.fail(`${leader.id} believes ${id} matches it up to ${m}, but ${id} has term ${f.log.term(m)} there, not ${r.log.term(m)}`);
      }
    }
  }

  /** A read that began when `ackedAtStart` writes were acknowledged must observe at least that index. */
  onReadState(id: NodeId, index: number, ackedAtStart: number): void {
    this.readsChecked++;
    if (index < ackedAtStart) this.fail(`${id}: stale read: ReadIndex ${index} is below ${ackedAtStart}, acknowledged before the read`);
  }
}
