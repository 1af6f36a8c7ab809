// The streams a server is serving right now. Long-lived streams (a ConsumeStream waiting at the head) would keep
// a graceful shutdown waiting forever, so shutdown aborts them all; each stream also deregisters itself when it
// ends, which lets tests prove a cancelled stream released what it held.
import { ServerShuttingDownError } from './errors.js';

export class StreamRegistry {
  private readonly open = new Set<AbortController>();
  private closing = false;

  /** A controller aborted when the server shuts down; call the returned release when the stream ends. */
  register(): { signal: AbortSignal; abort: (reason: unknown) => void; release: () => void } {
    const controller = new AbortController();
    if (this.closing) controller.abort(new ServerShuttingDownError());
    this.open.add(controller);
    return {
      signal: controller.signal,
      abort: (reason) => controller.abort(reason),
      release: () => {
        this.open.delete(controller);
      },
    };
  }

  get size(): number {
    return this.open.size;
  }

  abortAll(): void {
    this.closing = true;
    for (const controller of this.open) controller.abort(new ServerShuttingDownError());
  }
}

/**
 * Runs `fn` once `signal` aborts, or soon if it already has: a stream registered while the server is closing gets
 * an aborted signal, and an abort listener added then never fires.
 */
export function whenAborted(signal: AbortSignal, fn: () => void): void {
  if (signal.aborted) queueMicrotask(fn);
  else signal.addEventListener('abort', fn, { once: true });
}

/** Resolves when a writable stream drains, or when `signal` aborts (the caller then checks the signal). */
export function drained(stream: NodeJS.EventEmitter, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      stream.off('drain', done);
      stream.off('close', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
    signal.addEventListener('abort', done, { once: true });
  });
}
