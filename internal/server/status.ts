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
  UnknownTopicError,
} from '../log/index.js';
import { InvalidRequestError, ServerShuttingDownError, UnauthenticatedError } from './errors.js';
import { NotLeaderError } from './log-service.js';

export const LEADER_ID_METADATA = 'proglog-leader-id';
export const LEADER_ADDR_METADATA = 'proglog-leader-addr';

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

/** Whether a failure is the server's own fault (worth logging) rather than the caller's or the cluster's. */
export function isUnexpected(err: unknown): boolean {
  const { code } = toStatus(err);
  return code === Code.INTERNAL || code === Code.UNKNOWN;
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
  if (err instanceof CorruptRecordError) return new StatusError(Code.DATA_LOSS, err.message);
  // A closed log or one that refuses writes after an I/O failure: another node may serve the call.
  if (err instanceof LogClosedError || err instanceof ServerShuttingDownError) {
    return new StatusError(Code.UNAVAILABLE, err.message);
  }
  if (err instanceof LogIOError) return new StatusError(Code.UNAVAILABLE, err.message);
  if (isAbort(err)) return new StatusError(Code.CANCELLED, 'the call was cancelled');
  return new StatusError(Code.INTERNAL, `internal error: ${err instanceof Error ? err.message : String(err)}`);
}

function isAbort(err: unknown): boolean {
  return err instanceof Error && err.name === 'AbortError';
}
