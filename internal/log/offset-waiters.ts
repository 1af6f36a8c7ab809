interface Waiter {
  offset: number;
  resolve: () => void;
  reject: (err: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

/**
 * Long-poll support: promises that resolve when an offset comes to exist. Appends call `reached` with the new
 * highest offset; when nobody waits for an offset that low it is one comparison, so the hot path stays cheap.
 */
export class OffsetWaiters {
  private waiters: Waiter[] = [];
  private lowestWanted = Infinity;

  wait(offset: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const w: Waiter = { offset, resolve, reject, signal, onAbort: undefined };
      if (signal) {
        w.onAbort = () => {
          this.drop(w);
          reject(signal.reason);
        };
        signal.addEventListener('abort', w.onAbort, { once: true });
      }
      this.waiters.push(w);
      if (offset < this.lowestWanted) this.lowestWanted = offset;
    });
  }

  get size(): number {
    return this.waiters.length;
  }

  /** Resolves every waiter for an offset at or below `highest`. */
  reached(highest: number): void {
    if (highest < this.lowestWanted) return;
    const still: Waiter[] = [];
    let lowest = Infinity;
    for (const w of this.waiters) {
      if (w.offset <= highest) {
        this.detach(w);
        w.resolve();
      } else {
        still.push(w);
        if (w.offset < lowest) lowest = w.offset;
      }
    }
    this.waiters = still;
    this.lowestWanted = lowest;
  }

  /** Rejects every waiter (the log is closing). */
  rejectAll(err: unknown): void {
    const all = this.waiters;
    this.waiters = [];
    this.lowestWanted = Infinity;
    for (const w of all) {
      this.detach(w);
      w.reject(err);
    }
  }

  private drop(w: Waiter): void {
    const i = this.waiters.indexOf(w);
    if (i >= 0) this.waiters.splice(i, 1);
    if (this.waiters.length === 0) this.lowestWanted = Infinity;
  }

  private detach(w: Waiter): void {
    if (w.signal && w.onAbort) w.signal.removeEventListener('abort', w.onAbort);
  }
}
