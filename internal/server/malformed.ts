// Requests whose bytes do not decode (truncated, garbage, or an offset beyond 2^53 that a JS number cannot hold)
// are the caller's error. grpc-js answers a decoding failure with INTERNAL and no reason, so decoding is wrapped:
// a failure becomes a marked request that the handler rejects as INVALID_ARGUMENT with the decoder's message.
// The same mark carries the refusal of a precheck: a limit that must hold before decoding, because decoding is
// the cost it bounds.
import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js';
import { InvalidRequestError } from './errors.js';

const REFUSED = Symbol('proglog.refusedRequest');

interface RefusedRequest {
  [REFUSED]: InvalidRequestError;
}

/** Looks at a request's bytes before they are decoded; throws an InvalidRequestError to refuse the request. */
export type RequestPrecheck = (bytes: Buffer) => void;

/**
 * The same service definition, with every request decoder made tolerant of bad bytes, and the methods named in
 * `prechecks` refusing requests their precheck refuses without decoding them.
 */
export function tolerantDefinition<D extends ServiceDefinition>(
  definition: D,
  prechecks: Partial<Record<keyof D & string, RequestPrecheck>> = {},
): D {
  const tolerant: Record<string, MethodDefinition<unknown, unknown>> = {};
  const checks: Partial<Record<string, RequestPrecheck>> = prechecks;
  for (const [name, method] of Object.entries(definition) as Array<[string, MethodDefinition<unknown, unknown>]>) {
    const precheck = checks[name];
    tolerant[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer): unknown => {
        try {
          precheck?.(bytes);
          return method.requestDeserialize(bytes);
        } catch (err) {
          const refusal =
            err instanceof InvalidRequestError
              ? err
              : new InvalidRequestError(`malformed request: ${err instanceof Error ? err.message : String(err)}`);
          const marked: RefusedRequest = { [REFUSED]: refusal };
          return marked;
        }
      },
    };
  }
  return tolerant as D;
}

/** Throws InvalidRequestError for a request whose bytes did not decode or that a precheck refused. */
export function checkWellFormed(request: unknown): void {
  if (typeof request === 'object' && request !== null && REFUSED in request) {
    throw (request as RefusedRequest)[REFUSED];
  }
}
