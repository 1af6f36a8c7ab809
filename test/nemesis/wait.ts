// Waiting on a condition with a deadline: the only way tests and the campaign wait for the system.

export class DeadlineExceededError extends Error {
  constructor(what: string, ms: number) {
    super(`timed out after ${ms} ms waiting for ${what}`);
    this.name = 'DeadlineExceededError';
  }
}

/** Polls `cond` every `intervalMs` until it returns a value that is not undefined/false, or the deadline passes. */
export async function waitUntil<T>(
  what: string,
  cond: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs: number,
  intervalMs = 10,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await cond();
    if (v !== undefined && v !== false) return v;
    if (Date.now() >= deadline) throw new DeadlineExceededError(what, timeoutMs);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
