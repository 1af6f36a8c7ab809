// The seam between the gRPC server and storage. The server serves any LogService: the single-node one wraps
// TopicLogs (local-log-service.ts); the replicated one (internal/distributed) implements the same interface, so the
// server does not change when replication arrives.
import type { LogRecord, ReadLimits } from '../log/index.js';

export interface ServerInfo {
  id: string;
  rpcAddr: string;
  isLeader: boolean;
  /** Replicates and serves reads but does not vote (yet): a joining node until it is caught up and promoted. */
  isLearner: boolean;
}

export interface ReadOptions {
  /** Reflect every write acknowledged before the read began (a replicated service confirms leadership first). */
  linearizable?: boolean;
}

export interface LogService {
  /** Appends the values in order at consecutive offsets; resolves with the first offset of the batch. */
  produce(topic: string, values: Uint8Array[]): Promise<number>;
  read(topic: string, offset: number, opts?: ReadOptions): Promise<Uint8Array>;
  /** At least one record when `offset` exists, even if it alone exceeds limits.maxBytes. */
  readRange(topic: string, offset: number, limits?: ReadLimits, opts?: ReadOptions): Promise<LogRecord[]>;
  /** Long-polls at the head: resolves once `offset` exists, rejects when `signal` aborts or the log closes. */
  waitFor(topic: string, offset: number, signal?: AbortSignal): Promise<void>;
  topics(): string[];
  getServers(): Promise<ServerInfo[]>;
}

/**
 * Thrown by a replicated LogService on a node that cannot serve the request because it is not the leader. The
 * server maps it to a status carrying metadata `proglog-leader-id` / `proglog-leader-addr` so clients can redirect.
 * A write failing with it was never proposed: sending it to the leader cannot store it twice.
 */
export class NotLeaderError extends Error {
  override readonly name = 'NotLeaderError';
  readonly code = 'NOT_LEADER';

  constructor(
    public readonly leaderId?: string,
    public readonly leaderAddr?: string,
  ) {
    super(
      leaderId === undefined
        ? 'this node is not the leader and no leader is known'
        : `this node is not the leader; the leader is ${leaderId}${leaderAddr === undefined ? '' : ` at ${leaderAddr}`}`,
    );
  }
}

/**
 * Thrown by a replicated LogService for a write it handed to Raft but could not see through: the node stopped
 * leading (or closed) before the entry was applied here. The entry may still commit under the next leader, so
 * the write may or may not have happened. Unlike NotLeaderError it is no redirect: a client that resends the
 * records may store them twice. The server maps it to UNAVAILABLE with metadata `proglog-outcome: unknown`.
 */
export class ProposalOutcomeUnknownError extends Error {
  override readonly name = 'ProposalOutcomeUnknownError';
  readonly code = 'OUTCOME_UNKNOWN';

  constructor(readonly reason: string) {
    super(`the write's outcome is unknown: ${reason}; it may or may not be stored, and resending it may store it twice`);
  }
}
