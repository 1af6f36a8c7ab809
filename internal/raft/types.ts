// The Raft core's public data types. Everything here is plain data (numbers, strings, booleans,
// Uint8Array, arrays and nested plain objects) so the runtime can encode it with a simple binary codec.
// These shapes are a published contract: add fields, never rename or remove them.

/** A node id. The empty string means "nobody" (no vote, no known leader). */
export type NodeId = string;
export const NONE: NodeId = '';

/**
 * What an entry carries. The core treats `normal` data as opaque bytes; `confChange` data is an encoded
 * ConfChange (see confchange.ts: encodeConfChange / decodeConfChange); `empty` is the no-op entry a new
 * leader appends to commit entries of earlier terms (its data is empty).
 */
export type EntryType = 'normal' | 'confChange' | 'empty';

export interface Entry {
  /** Position in the log, from 1. */
  index: number;
  /** Term of the leader that created the entry. */
  term: number;
  type: EntryType;
  data: Uint8Array;
}

/** What must be on stable storage before any message that depends on it is sent. */
export interface HardState {
  term: number;
  /** Who this node voted for in `term`; NONE if nobody. */
  vote: NodeId;
  /** Highest index known committed. Persisting it is an optimization (it can be relearned), never required for safety. */
  commit: number;
}

/** The membership of the cluster: voters form quorums; learners (non-voters) only receive the log. */
export interface ConfState {
  voters: NodeId[];
  learners: NodeId[];
}

export type ConfChangeType = 'addVoter' | 'addLearner' | 'removeNode';

/**
 * One-server-at-a-time membership change. `addVoter` on an existing learner promotes it.
 * `context` is carried untouched for the runtime (e.g. the new node's address).
 */
export interface ConfChange {
  type: ConfChangeType;
  nodeId: NodeId;
  context: string;
}

export interface SnapshotMeta {
  /** Last index covered by the snapshot. */
  index: number;
  /** Term of the entry at `index`. */
  term: number;
  /** Membership as of `index`. */
  confState: ConfState;
}

export interface Snapshot {
  meta: SnapshotMeta;
  /** The state machine's serialized state; opaque to the core. */
  data: Uint8Array;
}

/** Role of a node. `preCandidate` runs the pre-vote round without bumping its term. */
export type Role = 'follower' | 'preCandidate' | 'candidate' | 'leader';

// ---- Messages (all travel between nodes; each has from, to, term) ----

interface MessageBase {
  from: NodeId;
  to: NodeId;
  /** Sender's term (for a granted preVote response: the term the candidate asked for). */
  term: number;
}

/** Leader → follower: append `entries` after (index, logTerm); also carries the leader's commit. */
export interface AppendMessage extends MessageBase {
  type: 'append';
  /** Index of the entry just before `entries`. */
  index: number;
  /** Term of the entry at `index`. */
  logTerm: number;
  entries: Entry[];
  commit: number;
}

/** Follower → leader: the result of an append. */
export interface AppendResponse extends MessageBase {
  type: 'appendResponse';
  /** Accepted: the follower's last index matching the leader. Rejected: the `index` of the rejected append. */
  index: number;
  reject: boolean;
  /** Rejected only: an index at or below which the follower's log may match (conflict hint). */
  rejectHint: number;
  /** Rejected only: the follower's term at `rejectHint`, so the leader can skip a whole term at once. */
  logTerm: number;
}

/** Candidate → voters: a request for a (pre-)vote for `term` by a log ending at (index, logTerm). */
export interface VoteMessage extends MessageBase {
  type: 'vote' | 'preVote';
  /** Candidate's last log index. */
  index: number;
  /** Term of the candidate's last entry. */
  logTerm: number;
  /** The vote follows a leadership transfer: voters must not ignore it because they know a live leader. */
  transfer: boolean;
}

export interface VoteResponse extends MessageBase {
  type: 'voteResponse' | 'preVoteResponse';
  reject: boolean;
}

/** Leader → follower: liveness and commit; `context` non-empty when it confirms a ReadIndex round. */
export interface HeartbeatMessage extends MessageBase {
  type: 'heartbeat';
  commit: number;
  context: string;
}

export interface HeartbeatResponse extends MessageBase {
  type: 'heartbeatResponse';
  context: string;
}

/**
 * Leader → follower: one chunk of a snapshot. Chunks are sent one at a time, each after the previous is
 * acknowledged; `offset` is the byte position of `data` in the whole snapshot, `done` marks the last chunk.
 */
export interface SnapshotMessage extends MessageBase {
  type: 'snapshot';
  meta: SnapshotMeta;
  offset: number;
  data: Uint8Array;
  done: boolean;
}

/** Follower → leader: chunk acknowledgement. `offset` is the next byte the follower expects. */
export interface SnapshotResponse extends MessageBase {
  type: 'snapshotResponse';
  /** Index of the snapshot being transferred (identifies the transfer). */
  snapshotIndex: number;
  offset: number;
  /** The follower cannot use this transfer (e.g. a chunk out of order); the leader restarts or probes. */
  reject: boolean;
}

/** Leader → transfer target: campaign now, skipping the election timeout and pre-vote. */
export interface TimeoutNowMessage extends MessageBase {
  type: 'timeoutNow';
}

export type Message =
  | AppendMessage
  | AppendResponse
  | VoteMessage
  | VoteResponse
  | HeartbeatMessage
  | HeartbeatResponse
  | SnapshotMessage
  | SnapshotResponse
  | TimeoutNowMessage;

export type MessageType = Message['type'];

// ---- What the runtime consumes ----

/** Volatile state, reported when it changes; never persisted. */
export interface SoftState {
  leader: NodeId;
  role: Role;
}

/** A ReadIndex result: reads issued with `context` are linearizable once `index` is applied. */
export interface ReadState {
  index: number;
  context: string;
}

/**
 * One batch of work for the runtime, handled strictly in this order:
 *  1. persist `snapshot` (if any), then `entries`, then `hardState` (if any) — fsync when `mustSync`;
 *  2. send `messages`;
 *  3. apply `snapshot` (restore the state machine) then `committedEntries`, in order;
 *  4. call `advance()`.
 */
export interface Ready {
  softState: SoftState | null;
  hardState: HardState | null;
  /** A snapshot received from the leader, to persist and restore. */
  snapshot: Snapshot | null;
  /** Entries to append to stable storage (they may overwrite a conflicting suffix). */
  entries: Entry[];
  messages: Message[];
  /** Entries committed and not yet applied, in index order. */
  committedEntries: Entry[];
  readStates: ReadState[];
  /** True when hardState's term/vote or entries changed: the write must be durable before sending. */
  mustSync: boolean;
}

/** Per-peer replication state as the leader sees it (see tracker/progress.ts). */
export type ProgressState = 'probe' | 'replicate' | 'snapshot';

export interface ProgressStatus {
  match: number;
  next: number;
  state: ProgressState;
  learner: boolean;
  recentActive: boolean;
  inflight: number;
}

export interface Status {
  id: NodeId;
  hardState: HardState;
  softState: SoftState;
  applied: number;
  lastIndex: number;
  confState: ConfState;
  /** Leader only: its view of every peer, keyed by node id (empty object otherwise). */
  progress: Record<NodeId, ProgressStatus>;
  leadTransferee: NodeId;
}
