// Figures read from another process's /proc files (its memory, its CPU time). A process that is not running, or
// a file that cannot be read or parsed, is an error naming the process: never a guessed figure, never NaN.
import { readFile } from 'node:fs/promises';

/** A figure of a process that could not be read. */
export class ProcessReadError extends Error {
  constructor(what: string, name: string, pid: number | undefined, reason: string) {
    super(`cannot read the ${what} of ${name}${pid === undefined ? '' : ` (pid ${pid})`}: ${reason}`);
    this.name = 'ProcessReadError';
  }
}

// Not `instanceof Error`: errors from node's own modules come from another realm under jest's VM modules.
export function errorReason(err: unknown): string {
  return typeof err === 'object' && err !== null && 'message' in err && typeof err.message === 'string' ? err.message : String(err);
}

/** Parses /proc/<pid>/<file>; any failure, a process that is not running included, becomes `fail(reason)`. */
export async function readProcFile<T>(pid: number | undefined, file: string, parse: (text: string) => T, fail: (reason: string) => Error): Promise<T> {
  if (pid === undefined) throw fail('not running');
  try {
    return parse(await readFile(`/proc/${pid}/${file}`, 'utf8'));
  } catch (err) {
    throw fail(errorReason(err));
  }
}
