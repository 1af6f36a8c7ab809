// Requests whose bytes do not decode (truncated, garbage, or an offset beyond 2^53 that a JS number cannot hold)
// are the caller's error. grpc-js answers a decoding failure with INTERNAL and no reason, so decoding is wrapped:
// a failure becomes a marked request that the handler rejects as INVALID_ARGUMENT with the decoder's message.
import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js';
import { InvalidRequestError } from './errors.js';

const MALFORMED = Symbol('proglog.malformedRequest');

interface MalformedRequest {
  [MALFORMED]: string;
}

/** The same service definition, with every request decoder made tolerant of bad bytes. */
export function tolerantDefinition<D extends ServiceDefinition>(definition: D): D {
  const tolerant: Record<string, MethodDefinition<unknown, unknown>> = {};
  for (const [name, method] of Object.entries(definition) as Array<[string, MethodDefinition<unknown, unknown>]>) {
    tolerant[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer): unknown => {
        try {
          return method.requestDeserialize(bytes);
        } catch (err) {
          const marked: MalformedRequest = { [MALFORMED]: err instanceof Error ? err.message : String(err) };
          return marked;
        }
      },
    };
  }
  return tolerant as D;
}

/** Throws InvalidRequestError for a request whose bytes did not decode. */
export function checkWellFormed(request: unknown): void {
  if (typeof request === 'object' && request !== null && MALFORMED in request) {
    throw new InvalidRequestError(`malformed request: ${(request as MalformedRequest)[MALFORMED]}`);
  }
}
