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

/** The client cancelled a stream (or its deadline passed): the server stops serving it and reports nothing. */
export class ClientCancelledError extends Error {
  // An abort reason: code that treats aborts generically (AbortSignal users) recognises it by this name.
  override readonly name = 'AbortError';
  readonly code = 'CANCELLED';

  constructor() {
    super('the client cancelled the call');
  }
}
