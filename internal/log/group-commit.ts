/**
 * Group commit: callers that ask for durability while a sync runs share the next one, so one fdatasync makes
 * every append that arrived during the previous one durable. A round starts on the next turn of the event loop
 * (setImmediate) so that appenders woken by the previous round, whose continuations run as microtasks, all
 * join it. A caller that knows nobody else is about to append (the Raft runtime writes one batch per Ready, and
 * waits for it) asks for a round at once instead: the turn would gather nothing and only delay the fsync, by
 * far more than a turn when the process loses its CPU right then.
 */
export class GroupCommit {
  private waiting: Array<{ resolve: () => void; reject: (err: unknown) => void }> = [];
  private running: Promise<void> | null = null;
  private scheduled = false;
  private paused = 0;
  private roundsRun = 0;

  /** `round` must write everything appended so far before it returns its first promise tick, then sync it. */
  constructor(private readonly round: () => Promise<void>) {}

  /**
   * Resolves after a round that began after this call has completed. `atOnce`: when no round is running, start
   * one now rather than on the next turn of the event loop.
   */
  request(atOnce = false): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      if (atOnce && this.running === null && this.paused === 0) this.start();
      else this.schedule();
    });
  }

  /** How many rounds (syncs) have started. */
  get rounds(): number {
    return this.roundsRun;
  }

  /** Resolves once no round is requested, scheduled or running; only ends if requests stop coming. */
  async drain(): Promise<void> {
    while (this.running !== null || this.scheduled || this.waiting.length > 0) {
      if (this.running !== null) await this.running;
      else await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  /**
   * Runs `fn` with no round in flight: waits for the running round, holds new ones back (requests keep queueing)
   * while `fn` runs, then lets them go. Under constant load this still gets its turn, unlike waiting for idle.
   */
  async exclusive<T>(fn: () => T | Promise<T>): Promise<T> {
    this.paused++;
    try {
      while (this.running !== null) await this.running;
      return await fn();
    } finally {
      this.paused--;
      if (this.paused === 0 && this.waiting.length > 0) this.schedule();
    }
  }

  private schedule(): void {
    if (this.running !== null || this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.start();
    });
  }

  private start(): void {
    if (this.running !== null || this.paused > 0 || this.waiting.length === 0) return;
    const batch = this.waiting;
    this.waiting = [];
    this.roundsRun++;
    this.running = this.round().then(
      () => {
        for (const w of batch) w.resolve();
      },
      (err: unknown) => {
        for (const w of batch) w.reject(err);
      },
    );
    void this.running.finally(() => {
      this.running = null;
      if (this.waiting.length > 0) this.schedule();
    });
  }
}
