// The leader's view of one peer's log. States:
//  - probe:     we do not know where the follower's log matches; send one append per heartbeat interval
//               until an acknowledgement tells us.
//  - replicate: the follower is in sync; stream appends optimistically, bounded by the inflight window.
//  - snapshot:  the follower needs a snapshot; send it in chunks and nothing else until it lands.
import type { ProgressState, ProgressStatus } from '../types.js';
import { Inflights } from './inflights.js';

export class Progress {
  match = 0;
  next: number;
  state: ProgressState = 'probe';
  /** Probe only: an append was sent and we wait (for a response or the next heartbeat) before sending another. */
  probeSent = false;
  /** Snapshot only: index of the snapshot being sent, and the next byte to send. */
  pendingSnapshot = 0;
  snapshotOffset = 0;
  /** Snapshot only: a chunk is in flight. */
  snapshotChunkSent = false;
  /** Ticks since the last chunk was sent, to resend a lost one. */
  snapshotStall = 0;
  /** Heard from since the last check-quorum round. */
  recentActive = false;
  readonly inflights: Inflights;

  constructor(next: number, maxInflight: number, maxInflightBytes: number, public learner: boolean) {
    this.next = next;
    this.inflights = new Inflights(maxInflight, maxInflightBytes);
  }

  private reset(state: ProgressState): void {
    this.state = state;
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.snapshotOffset = 0;
    this.snapshotChunkSent = false;
    this.snapshotStall = 0;
    this.inflights.reset();
  }

  becomeProbe(): void {
    if (this.state === 'snapshot') {
      // The snapshot may have landed; probing just after it avoids re-sending what it covered.
      const snap = this.pendingSnapshot;
      this.reset('probe');
      this.next = Math.max(this.match + 1, snap + 1);
    } else {
      this.reset('probe');
      this.next = this.match + 1;
    }
  }

  becomeReplicate(): void {
    this.reset('replicate');
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.reset('snapshot');
    this.pendingSnapshot = snapshotIndex;
  }

  /** Records an acknowledgement up to n. Returns false if it told us nothing new. */
  maybeUpdate(n: number): boolean {
    let updated = false;
    if (this.match < n) {
      this.match = n;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, n + 1);
    return updated;
  }

  /** Records that entries up to lastIndex were just sent. */
  sentEntries(lastIndex: number, entries: number, bytes: number): void {
    if (this.state === 'replicate') {
      if (entries > 0) {
        this.next = lastIndex + 1;
        this.inflights.add(lastIndex, bytes);
      }
    } else if (this.state === 'probe') {
      this.probeSent = true;
    }
  }

  /**
   * Handles a rejected append for `rejected` with the follower's hint. Returns false if the rejection is stale
   * (it answers an append we have since moved past).
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1, 1);
    this.probeSent = false;
    return true;
  }

  /** Whether sending more appends must wait. */
  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent;
      case 'replicate':
        return this.inflights.full;
      case 'snapshot':
        return true;
    }
  }

  status(): ProgressStatus {
    return {
      match: this.match,
      next: this.next,
      state: this.state,
      learner: this.learner,
      recentActive: this.recentActive,
      inflight: this.inflights.count,
    };
  }
}
