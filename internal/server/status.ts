// The one place where a failure becomes a gRPC status. Every handler funnels errors through toStatus, so a
// kind of failure has the same code and shape of message on every RPC.
import { Metadata, status as Code, type StatusObject } from '@grpc/grpc-js';
import { PermissionDeniedError } from '../auth/index.js';
import {
  CorruptRecordError,
  InvalidTopicError,
  LogClosedError,
  LogIOError,
  OffsetOutOfRangeError,
  RecordTooLargeError,
  TooManyTopicsError,
  UnknownTopicError,
} from '../log/index.js';
import { InvalidRequestError, ServerShuttingDownError, UnauthenticatedError } from './errors.js';
import { NotLeaderError, ProposalOutcomeUnknownError } from './log-service.js';

export const LEADER_ID_METADATA = 'proglog-leader-id';
export const LEADER_ADDR_METADATA = 'proglog-leader-addr';
/** Set to "unknown" on a write that may or may not have been stored (ProposalOutcomeUnknownError). */
export const OUTCOME_METADATA = 'proglog-outcome';

/** An Error carrying a gRPC status, the shape grpc-js reads from callbacks and stream 'error' events. */
export class StatusError extends Error implements StatusObject {
  override readonly name = 'StatusError';

  constructor(
    readonly code: Code,
    readonly details: string,
    readonly metadata: Metadata = new Metadata(),
  ) {
    super(details);
  }
}

/**
 * Whether a failure is worth logging: the server's own fault rather than the caller's or the cluster's, or the
 * server running out of a resource (an operator has to act on that; the caller can only wait).
 */
export function isUnexpected(err: unknown): boolean {
  const { code } = toStatus(err);
  return code === Code.INTERNAL || code === Code.UNKNOWN || exhaustedResource(err) !== undefined;
}

/** System errors that mean the server is out of something, not broken: a later call may succeed. */
const EXHAUSTED_RESOURCES: Readonly<Record<string, string>> = {
  EMFILE: 'the server process has too many open files',
  ENFILE: 'the server host has too many open files',
  ENOSPC: 'the server is out of disk space',
  EDQUOT: 'the server is over its disk quota',
};

/** What `err` says the server ran out of, for a Node system error (e.g. from creating a topic's files). */
function exhaustedResource(err: unknown): string | undefined {
  if (!(err instanceof Error) || !('code' in err) || typeof err.code !== 'string') return undefined;
  const what = EXHAUSTED_RESOURCES[err.code];
  if (what === undefined) return undefined;
  const syscall = 'syscall' in err && typeof err.syscall === 'string' ? ` in ${err.syscall}` : '';
  return `${what} (${err.code}${syscall})`;
}

export function toStatus(err: unknown): StatusError {
  if (err instanceof StatusError) return err;
  if (err instanceof OffsetOutOfRangeError) return new StatusError(Code.OUT_OF_RANGE, err.message);
  if (err instanceof UnknownTopicError) return new StatusError(Code.NOT_FOUND, err.message);
  if (err instanceof InvalidTopicError || err instanceof RecordTooLargeError || err instanceof InvalidRequestError) {
    return new StatusError(Code.INVALID_ARGUMENT, err.message);
  }
  if (err instanceof PermissionDeniedError) return new StatusError(Code.PERMISSION_DENIED, err.message);
  if (err instanceof UnauthenticatedError) return new StatusError(Code.UNAUTHENTICATED, err.message);
  if (err instanceof NotLeaderError) {
    const metadata = new Metadata();
    if (err.leaderId !== undefined) metadata.set(LEADER_ID_METADATA, err.leaderId);
    if (err.leaderAddr !== undefined) metadata.set(LEADER_ADDR_METADATA, err.leaderAddr);
    return new StatusError(Code.UNAVAILABLE, err.message, metadata);
  }
  // UNAVAILABLE, as the cluster may take the next write, but without the leader metadata: that says "not
  // written, go there", and a client following it would store these records twice if the entry commits.
  if (err instanceof ProposalOutcomeUnknownError) {
    const metadata = new Metadata();
    metadata.set(OUTCOME_METADATA, 'unknown');
    return new StatusError(Code.UNAVAILABLE, err.message, metadata);
  }
  if (err instanceof CorruptRecordError) return new StatusError(Code.DATA_LOSS, err.message);
  // A closed log or one that refuses writes after an I/O failure: another node may serve the call.
  if (err instanceof LogClosedError || err instanceof ServerShuttingDownError) {
    return new StatusError(Code.UNAVAILABLE, err.message);
  }
  if (err instanceof LogIOError) return new StatusError(Code.UNAVAILABLE, err.message);
  if (err instanceof TooManyTopicsError) return new StatusError(Code.RESOURCE_EXHAUSTED, err.message);
  // Not INTERNAL: nothing is wrong with the server or the request, and a retry after a while may succeed. The
  // file path in the system error's message stays in the server's log; the caller learns what ran out.
  const exhausted = exhaustedResource(err);
  if (exhausted !== undefined) return new StatusError(Code.RESOURCE_EXHAUSTED, `resource exhausted: ${exhausted}`);
  if (isAbort(err)) return new StatusError(Code.CANCELLED, 'the call was cancelled');
  return new StatusError(Code.INTERNAL, `internal error: ${err instanceof Error ? err.message : String(err)}`);
}

function isAbort(err: unknown): boolean {
  return err instanceof Error && err.name === 'AbortError';
}
