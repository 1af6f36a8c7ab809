// The Raft state machine: one step function per role (follower, pre-candidate/candidate, leader).
// Input is a tick, a message, or a local request; output is appended to `msgs`, the log and the hard state.
// No I/O, no clock, no randomness of its own: the same state plus the same input gives the same output.
import { applyConfChange, decodeConfChange, validateConfChange } from './confchange.js';
import { resolveConfig, type Config, type ResolvedConfig } from './config.js';
import {
  CompactedError,
  ConfChangePendingError,
  InvalidConfigError,
  LeadershipTransferInProgressError,
  LearnerNotCaughtUpError,
  NotLeaderError,
  NotMemberError,
  ProposalDroppedError,
} from './errors.js';
import { RaftLog } from './log.js';
import { ReadOnly } from './read-only.js';
import { entrySize } from './storage.js';
import { validateMessage, validateProposal } from './validate.js';
import { ProgressTracker } from './tracker/tracker.js';
import type { Progress } from './tracker/progress.js';
import {
  NONE,
  type AppendMessage,
  type ConfChange,
  type ConfState,
  type Entry,
  type EntryType,
  type HardState,
  type HeartbeatMessage,
  type Message,
  type NodeId,
  type ReadState,
  type Role,
  type Snapshot,
  type SnapshotMessage,
  type SoftState,
  type Status,
  type VoteMessage,
} from './types.js';

const EMPTY = new Uint8Array(0);

/** A snapshot being received in chunks. */
interface SnapshotReceipt {
  meta: Snapshot['meta'];
  chunks: Uint8Array[];
  received: number;
}

export class Raft {
  readonly id: NodeId;
  readonly cfg: ResolvedConfig;
  readonly log: RaftLog;
  readonly tracker: ProgressTracker;
  term = 0;
  vote: NodeId = NONE;
  role: Role = 'follower';
  lead: NodeId = NONE;
  leadTransferee: NodeId = NONE;
  /** Leader: index of the latest membership change proposed; another may be proposed once it is applied. */
  pendingConfIndex = 0;
  msgs: Message[] = [];
  readStates: ReadState[] = [];

  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  private readonly readOnly = new ReadOnly();
  /** Reads requested before the leader committed an entry of its term; served once it has. */
  private pendingReads: string[] = [];
  private receipt: SnapshotReceipt | null = null;
  /** Leader: bytes of entries proposed in this term and not yet applied (back-pressure). */
  private uncommittedBytes = 0;

  constructor(config: Config) {
    this.cfg = resolveConfig(config);
    this.id = this.cfg.id;
    const storage = this.cfg.storage;
    this.log = new RaftLog(storage, this.cfg.maxApplyBytes);
    this.tracker = new ProgressTracker(this.cfg.maxInflightMsgs, this.cfg.maxInflightBytes);
    const { hardState, confState } = storage.initialState();

    // confState is the membership as of the snapshot, which may lie above the compaction point.
    const snapIndex = Math.max(storage.snapshot().meta.index, storage.firstIndex() - 1);
    const applied = this.cfg.applied ?? snapIndex;
    if (applied < snapIndex || applied > Math.max(hardState.commit, snapIndex)) {
      throw new InvalidConfigError(`applied index ${applied} outside [${snapIndex}, ${hardState.commit}]`);
    }
    // The membership is the snapshot's plus every change the state machine already applied after it.
    let cs: ConfState = confState;
    if (applied > snapIndex) {
      for (const e of this.log.slice(snapIndex + 1, applied + 1, Infinity)) {
        if (e.type === 'confChange') cs = applyConfChange(cs, decodeConfChange(e.data));
      }
    }
    this.tracker.setConf(cs, this.log.lastIndex() + 1);

    if (hardState.commit > this.log.lastIndex()) {
      throw new InvalidConfigError(`commit ${hardState.commit} is beyond the last index ${this.log.lastIndex()}`);
    }
    this.term = hardState.term;
    this.vote = hardState.vote;
    this.log.committed = Math.max(hardState.commit, snapIndex);
    this.log.applied = applied;
    this.becomeFollower(this.term, NONE);
  }

  // ---- State snapshots for the runtime ----

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  softState(): SoftState {
    return { leader: this.lead, role: this.role };
  }

  status(): Status {
    return {
      id: this.id,
      hardState: this.hardState(),
      softState: this.softState(),
      applied: this.log.applied,
      lastIndex: this.log.lastIndex(),
      confState: this.tracker.confState(),
      progress: this.role === 'leader' ? this.tracker.status() : {},
      leadTransferee: this.leadTransferee,
    };
  }

  promotable(): boolean {
    return this.tracker.isVoter(this.id);
  }

  get electionTimeout(): number {
    return this.cfg.electionTick;
  }

  // ---- Role transitions ----

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = NONE;
      this.receipt = null;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTimeout = this.electionTimeout + this.cfg.random.int(this.electionTimeout);
    this.leadTransferee = NONE;
    this.tracker.resetVotes();
    this.tracker.resetProgress(this.log.lastIndex() + 1, this.id, this.log.lastIndex());
    this.readOnly.reset();
    this.pendingReads = [];
    this.uncommittedBytes = 0;
  }

  becomeFollower(term: number, lead: NodeId): void {
    this.reset(term);
    this.role = 'follower';
    this.lead = lead;
  }

  private becomePreCandidate(): void {
    // A pre-candidate keeps its term and vote: the pre-vote round must not disturb anyone.
    this.tracker.resetVotes();
    this.lead = NONE;
    this.role = 'preCandidate';
  }

  private becomeCandidate(): void {
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = 'candidate';
  }

  private becomeLeader(): void {
    this.reset(this.term);
    this.role = 'leader';
    this.lead = this.id;
    // Changes proposed by earlier leaders may still be unapplied; wait for them before allowing another.
    this.pendingConfIndex = this.log.lastIndex();
    // An entry of our own term lets us commit (and learn the commit index of) everything before it.
    this.appendEntries([{ index: 0, term: 0, type: 'empty', data: EMPTY }]);
  }

  // ---- Ticks ----

  tick(): void {
    if (this.role === 'leader') this.tickLeader();
    else this.tickElection();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.hup(false);
    }
  }

  private tickLeader(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.electionTimeout) {
      this.electionElapsed = 0;
      if (this.cfg.checkQuorum) {
        if (!this.tracker.quorumActive(this.id)) {
          this.becomeFollower(this.term, NONE);
          return;
        }
        for (const [id, pr] of this.tracker.progress) pr.recentActive = id === this.id;
      }
      // A transfer that did not finish within an election timeout is abandoned.
      this.leadTransferee = NONE;
    }
    for (const [id, pr] of this.tracker.progress) {
      if (id === this.id || pr.state !== 'snapshot' || !pr.snapshotChunkSent) continue;
      if (++pr.snapshotStall >= this.electionTimeout) {
        // The chunk or its acknowledgement was lost: send it again.
        pr.snapshotChunkSent = false;
        this.sendSnapshotChunk(id, pr);
      }
    }
    if (this.heartbeatElapsed >= this.cfg.heartbeatTick) {
      this.heartbeatElapsed = 0;
      this.bcastHeartbeat(this.readOnly.lastContext());
    }
  }

  // ---- Elections ----

  /**
   * A follower that knows its leader is gone but cannot campaign (it is not a voter in the configuration it has
   * applied) stops honoring the leader's lease, so it answers the (pre-)votes of whoever does campaign. It stays
   * a follower in its term; the next message from a leader makes it follow again. Leaders and candidates ignore
   * this (etcd raft's ForgetLeader).
   */
  forgetLeader(): void {
    if (this.role === 'follower') this.lead = NONE;
  }

  /** Starts an election (a pre-vote round first, unless `transfer` or pre-vote is off). */
  hup(transfer: boolean): void {
    if (this.role === 'leader' || !this.promotable()) return;
    // A node must not lead before it has applied every membership change it knows committed.
    if (this.hasUnappliedConfChanges()) return;
    if (this.cfg.preVote && !transfer) this.campaign('preVote', false);
    else this.campaign('vote', transfer);
  }

  private hasUnappliedConfChanges(): boolean {
    if (this.log.committed <= this.log.applied) return false;
    const lo = Math.max(this.log.applied + 1, this.log.firstIndex());
    for (const e of this.log.slice(lo, this.log.committed + 1, Infinity)) if (e.type === 'confChange') return true;
    return false;
  }

  private campaign(kind: 'vote' | 'preVote', transfer: boolean): void {
    let term: number;
    if (kind === 'preVote') {
      this.becomePreCandidate();
      term = this.term + 1;
    } else {
      this.becomeCandidate();
      term = this.term;
    }
    this.tracker.recordVote(this.id, true);
    if (this.tracker.tallyVotes() === 'won') {
      if (kind === 'preVote') this.campaign('vote', false);
      else this.becomeLeader();
      return;
    }
    const index = this.log.lastIndex();
    const logTerm = this.log.lastTerm();
    for (const id of this.tracker.voters) {
      if (id === this.id) continue;
      this.send({ type: kind, from: this.id, to: id, term, index, logTerm, transfer });
    }
  }

  // ---- Messages ----

  step(m: Message): void {
    validateMessage(m, this.id);

    if (m.term > this.term) {
      if (m.type === 'vote' || m.type === 'preVote') {
        // Leader lease: while we hear from a live leader, a vote request is a disruption, not an election.
        const inLease = this.cfg.checkQuorum && this.lead !== NONE && this.electionElapsed < this.electionTimeout;
        if (inLease && !m.transfer) return;
      }
      if (m.type === 'preVote') {
        // Answering a pre-vote never changes our term.
      } else if (m.type === 'preVoteResponse' && !m.reject) {
        // A granted pre-vote carries the future term the pre-candidate asked for.
      } else if (m.type === 'append' || m.type === 'heartbeat' || m.type === 'snapshot') {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, NONE);
      }
    } else if (m.term < this.term) {
      if (m.type === 'append' || m.type === 'heartbeat' || m.type === 'snapshot') {
        // A stale leader (e.g. one that was partitioned away): tell it our term so it steps down.
        this.send({ type: 'appendResponse', from: this.id, to: m.from, term: this.term, index: 0, reject: false, rejectHint: 0, logTerm: 0 });
      } else if (m.type === 'preVote') {
        this.send({ type: 'preVoteResponse', from: this.id, to: m.from, term: this.term, reject: true });
      }
      return;
    }

    if (m.type === 'vote' || m.type === 'preVote') {
      this.handleVote(m);
      return;
    }
    switch (this.role) {
      case 'leader':
        this.stepLeader(m);
        return;
      case 'candidate':
      case 'preCandidate':
        this.stepCandidate(m);
        return;
      case 'follower':
        this.stepFollower(m);
        return;
    }
  }

  private handleVote(m: VoteMessage): void {
    const canVote =
      this.vote === m.from ||
      (this.vote === NONE && this.lead === NONE) ||
      (m.type === 'preVote' && m.term > this.term);
    const respType = m.type === 'vote' ? 'voteResponse' : 'preVoteResponse';
    if (canVote && this.log.isUpToDate(m.index, m.logTerm)) {
      this.send({ type: respType, from: this.id, to: m.from, term: m.term, reject: false });
      if (m.type === 'vote') {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.send({ type: respType, from: this.id, to: m.from, term: this.term, reject: true });
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case 'append':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppend(m);
        return;
      case 'heartbeat':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleHeartbeat(m);
        return;
      case 'snapshot':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshot(m);
        return;
      case 'timeoutNow':
        // The leader hands over to us: campaign at once, past any lease the others honor.
        this.hup(true);
        return;
      default:
        return;
    }
  }

  private stepCandidate(m: Message): void {
    const myResponse = this.role === 'preCandidate' ? 'preVoteResponse' : 'voteResponse';
    switch (m.type) {
      case 'append':
        this.becomeFollower(m.term, m.from);
        this.handleAppend(m);
        return;
      case 'heartbeat':
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        return;
      case 'snapshot':
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        return;
      case 'voteResponse':
      case 'preVoteResponse': {
        if (m.type !== myResponse) return;
        this.tracker.recordVote(m.from, !m.reject);
        const result = this.tracker.tallyVotes();
        if (result === 'won') {
          if (this.role === 'preCandidate') this.campaign('vote', false);
          else {
            this.becomeLeader();
            this.bcastAppend();
          }
        } else if (result === 'lost') {
          this.becomeFollower(this.term, NONE);
        }
        return;
      }
      default:
        return;
    }
  }

  private stepLeader(m: Message): void {
    const pr = this.tracker.progress.get(m.from);
    if (!pr || m.from === this.id) return;
    switch (m.type) {
      case 'appendResponse':
        pr.recentActive = true;
        this.handleAppendResponse(m.from, pr, m.index, m.reject, m.rejectHint, m.logTerm);
        return;
      case 'heartbeatResponse':
        pr.recentActive = true;
        pr.probeSent = false;
        // A lost append would otherwise keep a full window full forever; freeing one slot lets us find out.
        if (pr.state === 'replicate' && pr.inflights.full) pr.inflights.freeFirstOne();
        if (pr.match < this.log.lastIndex()) this.sendAppend(m.from, true);
        if (m.context !== '') this.ackRead(m.context, m.from);
        return;
      case 'snapshotResponse':
        pr.recentActive = true;
        if (pr.state !== 'snapshot' || pr.pendingSnapshot !== m.snapshotIndex) return;
        if (m.reject) {
          pr.becomeProbe();
          return;
        }
        // A late acknowledgement of an earlier chunk tells us nothing new.
        if (m.offset < pr.snapshotOffset) return;
        pr.snapshotOffset = m.offset;
        pr.snapshotChunkSent = false;
        pr.snapshotStall = 0;
        this.sendSnapshotChunk(m.from, pr);
        return;
      default:
        return;
    }
  }

  private handleAppendResponse(from: NodeId, pr: Progress, index: number, reject: boolean, hint: number, hintTerm: number): void {
    if (reject) {
      // Skip every entry the follower cannot possibly match: all of ours above the hint with a larger term.
      let next = hint;
      if (hintTerm > 0) next = this.log.findConflictByTerm(hint, hintTerm).index;
      if (pr.maybeDecrTo(index, next)) {
        if (pr.state === 'replicate') pr.becomeProbe();
        this.sendAppend(from, true);
      }
      return;
    }
    const wasPaused = pr.isPaused();
    const updated = pr.maybeUpdate(index);
    if (!updated && !(pr.match === index && pr.state === 'probe')) return;
    if (pr.state === 'probe') {
      pr.becomeReplicate();
    } else if (pr.state === 'snapshot') {
      if (pr.match >= pr.pendingSnapshot || pr.match + 1 >= this.log.firstIndex()) {
        pr.becomeProbe();
        if (pr.match + 1 >= this.log.firstIndex()) pr.becomeReplicate();
      }
    } else {
      pr.inflights.freeLE(index);
    }
    const committedBefore = this.log.committed;
    const committed = this.maybeCommit();
    if (committed && committedBefore < this.pendingConfIndex && this.pendingConfIndex <= this.log.committed) {
      // A configuration change is committed: every follower hears of it now, as a leader that removed itself
      // steps down when it applies the change and sends no heartbeat after.
      this.bcastAppend();
    } else {
      if (wasPaused) this.sendAppend(from, true);
      // Followers learn a new commit index from the next append, which carries it, and at the latest from the
      // next heartbeat (one tick). An empty append to each of them now (what etcd raft does) doubled a loaded
      // leader's messages and their answers, for nothing safety needs: only the leader acknowledges writes, and a
      // follower's linearizable read waits on a heartbeat round, which carries the index too.
      if (committed) for (const id of this.tracker.progress.keys()) if (id !== this.id && id !== from) this.sendAppend(id, false);
    }
    // Pipelining: keep the window full while there is something to send.
    while (this.sendAppend(from, false)) {
      /* each call sends one batch */
    }
    if (from === this.leadTransferee && pr.match === this.log.lastIndex()) {
      this.send({ type: 'timeoutNow', from: this.id, to: from, term: this.term });
    }
  }

  private handleAppend(m: AppendMessage): void {
    if (m.index < this.log.committed) {
      this.sendAppendResponse(m.from, this.log.committed, false, 0, 0);
      return;
    }
    const lastNew = this.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (lastNew >= 0) {
      this.sendAppendResponse(m.from, lastNew, false, 0, 0);
      return;
    }
    // Tell the leader where our log might match: the last entry at or below its index with a term no larger.
    const hint = this.log.findConflictByTerm(Math.min(m.index, this.log.lastIndex()), m.logTerm);
    this.sendAppendResponse(m.from, m.index, true, hint.index, hint.term);
  }

  private sendAppendResponse(to: NodeId, index: number, reject: boolean, rejectHint: number, logTerm: number): void {
    this.send({ type: 'appendResponse', from: this.id, to, term: this.term, index, reject, rejectHint, logTerm });
  }

  private handleHeartbeat(m: HeartbeatMessage): void {
    this.log.commitTo(Math.min(m.commit, this.log.lastIndex()));
    this.send({ type: 'heartbeatResponse', from: this.id, to: m.from, term: this.term, context: m.context });
  }

  private handleSnapshot(m: SnapshotMessage): void {
    const meta = m.meta;
    if (meta.index <= this.log.committed) {
      // We already have everything it covers.
      this.receipt = null;
      this.sendAppendResponse(m.from, this.log.committed, false, 0, 0);
      return;
    }
    const r = this.receipt;
    // Snapshots with the same index and term hold the same bytes, so a transfer restarted (or a late duplicate
    // of its first chunk) resumes where we are instead of starting over.
    const same = r !== null && r.meta.index === meta.index && r.meta.term === meta.term;
    if (m.offset === 0 && !(same && r.received > 0)) {
      this.receipt = { meta, chunks: [], received: 0 };
    } else if (!same || m.offset > r.received) {
      this.send({ type: 'snapshotResponse', from: this.id, to: m.from, term: this.term, snapshotIndex: meta.index, offset: 0, reject: true });
      return;
    } else if (m.offset < r.received) {
      // A chunk we have: tell the leader where to continue.
      this.send({ type: 'snapshotResponse', from: this.id, to: m.from, term: this.term, snapshotIndex: meta.index, offset: r.received, reject: false });
      return;
    }
    const rec = this.receipt!;
    rec.chunks.push(m.data);
    rec.received += m.data.length;
    if (!m.done) {
      this.send({ type: 'snapshotResponse', from: this.id, to: m.from, term: this.term, snapshotIndex: meta.index, offset: rec.received, reject: false });
      return;
    }
    this.receipt = null;
    const data = new Uint8Array(rec.received);
    let at = 0;
    for (const c of rec.chunks) {
      data.set(c, at);
      at += c.length;
    }
    if (this.restore({ meta, data })) {
      this.sendAppendResponse(m.from, this.log.lastIndex(), false, 0, 0);
    } else {
      this.sendAppendResponse(m.from, this.log.committed, false, 0, 0);
    }
  }

  /** Installs a snapshot from the leader. Returns false if it is not needed. */
  restore(s: Snapshot): boolean {
    if (s.meta.index <= this.log.committed) return false;
    if (this.log.matchTerm(s.meta.index, s.meta.term)) {
      // Our log already holds the snapshot's last entry: just learn that it is committed.
      this.log.commitTo(s.meta.index);
      return false;
    }
    this.log.restore(s);
    this.tracker.setConf(s.meta.confState, this.log.lastIndex() + 1);
    return true;
  }

  // ---- Leader: replication ----

  private send(m: Message): void {
    this.msgs.push(m);
  }

  bcastAppend(): void {
    for (const id of this.tracker.progress.keys()) if (id !== this.id) this.sendAppend(id, true);
  }

  private bcastHeartbeat(context: string): void {
    for (const [id, pr] of this.tracker.progress) {
      if (id === this.id) continue;
      // Never tell a follower to commit beyond what it is known to hold.
      const commit = Math.min(pr.match, this.log.committed);
      this.send({ type: 'heartbeat', from: this.id, to: id, term: this.term, commit, context });
    }
  }

  /** Sends the next batch of entries to `to` if its progress allows. Returns whether something was sent. */
  private sendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.tracker.progress.get(to);
    if (!pr || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    let logTerm: number;
    let entries: Entry[];
    try {
      logTerm = this.log.term(prevIndex);
      entries = this.log.entriesFrom(pr.next, this.cfg.maxSizePerMsg);
    } catch (e) {
      if (!(e instanceof CompactedError)) throw e;
      this.startSnapshot(to, pr);
      return false;
    }
    if (entries.length === 0 && !sendIfEmpty) return false;
    if (entries.length > this.cfg.maxEntriesPerMsg) entries = entries.slice(0, this.cfg.maxEntriesPerMsg);
    let bytes = 0;
    for (const e of entries) bytes += entrySize(e);
    const m: AppendMessage = { type: 'append', from: this.id, to, term: this.term, index: prevIndex, logTerm, entries, commit: this.log.committed };
    this.send(m);
    pr.sentEntries(prevIndex + entries.length, entries.length, bytes);
    return true;
  }

  private startSnapshot(to: NodeId, pr: Progress): void {
    pr.becomeSnapshot(this.log.snapshot().meta.index);
    this.sendSnapshotChunk(to, pr);
  }

  private sendSnapshotChunk(to: NodeId, pr: Progress): void {
    if (pr.snapshotChunkSent) return;
    const snap = this.log.snapshot();
    if (snap.meta.index !== pr.pendingSnapshot) {
      // The log was compacted again since the transfer began: start over with the newer snapshot.
      pr.becomeSnapshot(snap.meta.index);
    }
    const size = snap.data.length;
    if (pr.snapshotOffset > size || (pr.snapshotOffset === size && size > 0)) return;
    const end = Math.min(size, pr.snapshotOffset + this.cfg.maxSnapshotChunkBytes);
    this.send({
      type: 'snapshot',
      from: this.id,
      to,
      term: this.term,
      meta: snap.meta,
      offset: pr.snapshotOffset,
      data: snap.data.subarray(pr.snapshotOffset, end),
      done: end === size,
    });
    pr.snapshotChunkSent = true;
    pr.snapshotStall = 0;
  }

  /** Advances the commit index to what a quorum holds, but only by counting entries of the current term (§5.4.2). */
  maybeCommit(): boolean {
    const mci = this.tracker.committed();
    if (mci === Infinity || mci <= this.log.committed) return false;
    if (this.log.termOrZero(mci) !== this.term) return false;
    const firstOfTerm = this.log.termOrZero(this.log.committed) !== this.term;
    this.log.commitTo(mci);
    if (firstOfTerm) this.releasePendingReads();
    return true;
  }

  private appendEntries(ents: { index: number; term: number; type: EntryType; data: Uint8Array }[]): void {
    let li = this.log.lastIndex();
    for (const e of ents) {
      e.term = this.term;
      e.index = ++li;
    }
    this.log.append(ents);
    this.tracker.progress.get(this.id)?.maybeUpdate(li);
    this.maybeCommit();
  }

  // ---- Local requests (leader only) ----

  private checkCanPropose(): void {
    if (this.role !== 'leader') throw new NotLeaderError(this.lead);
    if (this.leadTransferee !== NONE) throw new LeadershipTransferInProgressError(this.leadTransferee);
    if (!this.tracker.progress.has(this.id)) throw new NotMemberError(`${this.id} was removed from the cluster`);
  }

  /** Appends opaque entries; returns the index of the last one. */
  propose(datas: Uint8Array[]): number {
    validateProposal(datas);
    this.checkCanPropose();
    if (datas.length === 0) return this.log.lastIndex();
    const ents: Entry[] = new Array(datas.length);
    let bytes = 0;
    for (let i = 0; i < datas.length; i++) {
      ents[i] = { index: 0, term: 0, type: 'normal', data: datas[i]! };
      bytes += datas[i]!.length;
    }
    const limit = this.cfg.maxUncommittedBytes;
    // An idle leader always takes one proposal, however large, so that nothing is refused forever.
    if (this.uncommittedBytes > 0 && this.uncommittedBytes + bytes > limit) throw new ProposalDroppedError(this.uncommittedBytes + bytes, limit);
    this.uncommittedBytes += bytes;
    this.appendEntries(ents);
    this.bcastAppend();
    return this.log.lastIndex();
  }

  proposeConfChange(cc: ConfChange, encoded: Uint8Array): number {
    this.checkCanPropose();
    if (this.pendingConfIndex > this.log.applied) throw new ConfChangePendingError(this.pendingConfIndex);
    validateConfChange(this.tracker.confState(), cc);
    if (cc.type === 'addVoter' && this.tracker.isLearner(cc.nodeId)) {
      const pr = this.tracker.progress.get(cc.nodeId);
      const match = pr?.match ?? 0;
      if (match < this.log.committed) throw new LearnerNotCaughtUpError(cc.nodeId, match, this.log.committed);
    }
    this.appendEntries([{ index: 0, term: 0, type: 'confChange', data: encoded }]);
    this.pendingConfIndex = this.log.lastIndex();
    this.bcastAppend();
    return this.pendingConfIndex;
  }

  /** The runtime applied these entries: they no longer count against maxUncommittedBytes. */
  reduceUncommitted(applied: Entry[]): void {
    if (this.role !== 'leader' || this.uncommittedBytes === 0) return;
    let bytes = 0;
    for (const e of applied) if (e.type === 'normal' && e.term === this.term) bytes += e.data.length;
    this.uncommittedBytes = Math.max(0, this.uncommittedBytes - bytes);
  }

  /** Called as the runtime applies a committed membership change. */
  applyConfChange(cc: ConfChange): ConfState {
    const cs = applyConfChange(this.tracker.confState(), cc);
    this.tracker.setConf(cs, this.log.lastIndex() + 1);
    if (this.role !== 'leader') return cs;
    if (!this.tracker.progress.has(this.id)) {
      // A removed leader steps down; the remaining voters elect a new one.
      this.becomeFollower(this.term, NONE);
      return cs;
    }
    if (this.leadTransferee !== NONE && !this.tracker.isVoter(this.leadTransferee)) this.leadTransferee = NONE;
    // A smaller quorum may commit more; new members need their first probe.
    if (this.maybeCommit()) this.bcastAppend();
    else for (const id of this.tracker.progress.keys()) if (id !== this.id) this.sendAppend(id, false);
    return cs;
  }

  readIndex(context: string): void {
    if (this.role !== 'leader') throw new NotLeaderError(this.lead);
    if (this.readOnly.has(context) || this.pendingReads.includes(context)) return;
    if (this.log.termOrZero(this.log.committed) !== this.term) {
      // Our commit index may lag the true one until an entry of our term commits.
      this.pendingReads.push(context);
      return;
    }
    this.startRead(context);
  }

  private startRead(context: string): void {
    if (this.tracker.voters.length === 1 && this.tracker.isVoter(this.id)) {
      this.readStates.push({ index: this.log.committed, context });
      return;
    }
    this.readOnly.add(this.log.committed, context, this.id);
    this.bcastHeartbeat(context);
  }

  private releasePendingReads(): void {
    const reads = this.pendingReads;
    this.pendingReads = [];
    for (const c of reads) this.startRead(c);
  }

  private ackRead(context: string, from: NodeId): void {
    for (const rs of this.readOnly.ack(context, from, this.tracker.voters)) this.readStates.push(rs);
  }

  transferLeadership(to: NodeId): void {
    if (this.role !== 'leader') throw new NotLeaderError(this.lead);
    if (to === this.id) return;
    if (!this.tracker.isVoter(to)) throw new NotMemberError(`${to} is not a voter; only voters can lead`);
    if (this.leadTransferee === to) return;
    this.leadTransferee = to;
    // The transfer must finish within an election timeout, or it is abandoned (see tickLeader).
    this.electionElapsed = 0;
    const pr = this.tracker.progress.get(to)!;
    if (pr.match === this.log.lastIndex()) {
      this.send({ type: 'timeoutNow', from: this.id, to, term: this.term });
    } else {
      this.sendAppend(to, true);
    }
  }
}
