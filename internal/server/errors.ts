// Failures the server itself detects, before a request reaches the log. status.ts maps them to gRPC codes.

/** The request is malformed: a missing record, an empty batch, an offset that is not a safe integer. */
export class InvalidRequestError extends Error {
  override readonly name = 'InvalidRequestError';
  readonly code = 'INVALID_REQUEST';
}

/** The connection carries no usable client identity: no certificate verified by our CA, or one without a CN. */
export class UnauthenticatedError extends Error {
  override readonly name = 'UnauthenticatedError';
  readonly code = 'UNAUTHENTICATED';
}

/** The server is shutting down and ends the streams it was serving. */
export class ServerShuttingDownError extends Error {
  override readonly name = 'ServerShuttingDownError';
  readonly code = 'SHUTTING_DOWN';

  constructor() {
    super('the server is shutting down');
  }
}
