// Condition polling with a deadline: how tests wait for a cluster to converge without bare sleeps.

export class WaitTimeoutError extends Error {
  constructor(what: string, timeoutMs: number, lastError?: unknown) {
    super(`timed out after ${timeoutMs} ms waiting for ${what}` + (lastError ? `: ${String(lastError)}` : ''));
    this.name = 'WaitTimeoutError';
  }
}

/**
 * Resolves once `cond` returns true (or a promise of true); throws WaitTimeoutError at the deadline.
 * A condition that throws counts as false, and its last error is reported on timeout.
 */
export async function waitFor(
  cond: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what = 'condition',
  pollMs = 20,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      if (await cond()) return;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) throw new WaitTimeoutError(what, timeoutMs, lastError);
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

export class InvariantBrokenError extends Error {
  constructor(what: string, afterMs: number) {
    super(`${what} stopped holding after ${afterMs} ms`);
    this.name = 'InvariantBrokenError';
  }
}

/**
 * Checks that `cond` keeps holding for `durationMs`, failing the moment it does not: how a test proves that
 * something (a false suspicion, a resurrection) does not happen within a window.
 */
export async function holdsFor(
  cond: () => boolean,
  durationMs: number,
  what = 'invariant',
  pollMs = 20,
  explain: () => string = () => '',
): Promise<void> {
  const start = Date.now();
  for (;;) {
    if (!cond()) throw new InvariantBrokenError(`${what} ${explain()}`.trim(), Date.now() - start);
    if (Date.now() - start >= durationMs) return;
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}
