// The membership the leader replicates to, one Progress per member, and the votes of the current election.
import { committedIndex, hasQuorum, voteResult, type VoteResult } from '../quorum.js';
import type { ConfState, NodeId, ProgressStatus } from '../types.js';
import { Progress } from './progress.js';

export class ProgressTracker {
  voters: NodeId[] = [];
  learners: NodeId[] = [];
  readonly progress = new Map<NodeId, Progress>();
  readonly votes = new Map<NodeId, boolean>();

  constructor(readonly maxInflight: number, readonly maxInflightBytes: number) {}

  confState(): ConfState {
    return { voters: [...this.voters], learners: [...this.learners] };
  }

  isVoter(id: NodeId): boolean {
    return this.voters.includes(id);
  }

  isLearner(id: NodeId): boolean {
    return this.learners.includes(id);
  }

  isMember(id: NodeId): boolean {
    return this.isVoter(id) || this.isLearner(id);
  }

  /** Switches to a membership; progress of kept members survives, new members start probing at `next`. */
  setConf(cs: ConfState, next: number): void {
    this.voters = [...cs.voters].sort();
    this.learners = [...cs.learners].sort();
    const keep = new Set([...this.voters, ...this.learners]);
    for (const id of [...this.progress.keys()]) if (!keep.has(id)) this.progress.delete(id);
    for (const id of keep) {
      const learner = this.learners.includes(id);
      const p = this.progress.get(id);
      if (p) p.learner = learner;
      else this.progress.set(id, new Progress(next, this.maxInflight, this.maxInflightBytes, learner));
    }
  }

  /** Forgets all progress, as a new leader does: everyone probes from `next`, `self` matches `selfMatch`. */
  resetProgress(next: number, self: NodeId, selfMatch: number): void {
    for (const [id, p] of this.progress) {
      const fresh = new Progress(next, this.maxInflight, this.maxInflightBytes, p.learner);
      if (id === self) {
        fresh.match = selfMatch;
        fresh.next = selfMatch + 1;
        fresh.recentActive = true;
      }
      this.progress.set(id, fresh);
    }
  }

  committed(): number {
    return committedIndex(this.voters, (id) => this.progress.get(id)?.match ?? 0);
  }

  resetVotes(): void {
    this.votes.clear();
  }

  recordVote(id: NodeId, granted: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, granted);
  }

  tallyVotes(): VoteResult {
    return voteResult(this.voters, this.votes);
  }

  /** Whether a majority of voters was heard from recently (`self` always counts). */
  quorumActive(self: NodeId): boolean {
    return hasQuorum(this.voters, (id) => id === self || (this.progress.get(id)?.recentActive ?? false));
  }

  status(): Record<NodeId, ProgressStatus> {
    const out: Record<NodeId, ProgressStatus> = {};
    for (const [id, p] of this.progress) out[id] = p.status();
    return out;
  }
}
