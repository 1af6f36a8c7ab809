// Typed failures of the Raft core: one class per kind, so the runtime can map each to a gRPC code.
import type { NodeId } from './types.js';

export class RaftError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A proposal or read reached a node that is not the leader; `leader` is the known leader or NONE (''). */
export class NotLeaderError extends RaftError {
  constructor(readonly leader: NodeId) {
    super(leader ? `not the leader; the leader is ${leader}` : 'not the leader; no leader is known');
  }
}

/** The leader is handing leadership to another node and refuses new proposals until that ends. */
export class LeadershipTransferInProgressError extends RaftError {
  constructor(readonly transferee: NodeId) {
    super(`leadership transfer to ${transferee} in progress`);
  }
}

/** A membership change is already in flight; only one may be pending at a time. */
export class ConfChangePendingError extends RaftError {
  constructor(readonly pendingIndex: number) {
    super(`a membership change is pending at index ${pendingIndex} (or not yet applied)`);
  }
}

/** The membership change makes no sense against the current configuration. */
export class InvalidConfChangeError extends RaftError {}

/** A learner may be promoted only once its log has caught up with the leader's. */
export class LearnerNotCaughtUpError extends RaftError {
  constructor(readonly nodeId: NodeId, readonly match: number, readonly lastIndex: number) {
    super(`learner ${nodeId} has ${match} of ${lastIndex} entries; promote it once it has caught up`);
  }
}

/** The requested log index was compacted into a snapshot. */
export class CompactedError extends RaftError {
  constructor(readonly index: number, readonly firstIndex: number) {
    super(`index ${index} is compacted (first available index is ${firstIndex})`);
  }
}

/** The requested log index is beyond the last index. */
export class UnavailableError extends RaftError {
  constructor(readonly index: number, readonly lastIndex: number) {
    super(`index ${index} is unavailable (last index is ${lastIndex})`);
  }
}

/** A snapshot older than what storage already holds. */
export class SnapshotOutOfDateError extends RaftError {
  constructor(readonly index: number, readonly current: number) {
    super(`snapshot at ${index} is older than the current snapshot at ${current}`);
  }
}

/** The configuration given to the core is unusable. */
export class InvalidConfigError extends RaftError {}

/** A message that cannot be stepped (e.g. addressed to another node, or with a malformed field). */
export class InvalidMessageError extends RaftError {}

/** A proposal that is not a list of byte arrays. */
export class InvalidProposalError extends RaftError {}

/** The leader holds more uncommitted bytes than maxUncommittedBytes allows: retry once the cluster catches up. */
export class ProposalDroppedError extends RaftError {
  constructor(readonly uncommittedBytes: number, readonly limit: number) {
    super(`proposal dropped: ${uncommittedBytes} uncommitted bytes would exceed the limit of ${limit}`);
  }
}

/** Compaction may not pass the latest snapshot: the entries would exist nowhere. */
export class CompactionBeyondSnapshotError extends RaftError {
  constructor(readonly index: number, readonly snapshotIndex: number) {
    super(`cannot compact to ${index}: the latest snapshot is at ${snapshotIndex}`);
  }
}

/** The node was removed from the cluster or never part of it, so it cannot do what was asked. */
export class NotMemberError extends RaftError {}

/**
 * The core found its own state contradicting Raft's invariants (say, a peer's append conflicts with an entry at
 * or below the commit index): a bug or corrupted storage, never a message to shrug off. The node must stop.
 */
export class RaftInvariantError extends RaftError {
  constructor(detail: string) {
    super(`raft invariant: ${detail}`);
  }
}
