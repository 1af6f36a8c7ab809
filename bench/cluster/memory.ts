// Resident memory of the node processes while the log grows: a node that buffers what it stores would grow with
// the log; ours should stay flat.
import { writeFile } from 'node:fs/promises';
import type { LogClient } from '../../api/v1/log.js';
import { batchProduce, type LoadResult } from './load.js';
import { errorReason, ProcessReadError, readProcFile } from './proc.js';

/** Resident memory of one process, MB: now (VmRSS) and the most since the last resetPeak (VmHWM). */
export interface Memory {
  rssMB: number;
  peakMB: number;
}

/** A process whose memory cannot be read: a figure for it would be a guess, so there is none. */
export class MemoryReadError extends ProcessReadError {
  constructor(name: string, pid: number | undefined, reason: string) {
    super('memory', name, pid, reason);
    this.name = 'MemoryReadError';
  }
}

/**
 * VmRSS and VmHWM from the text of /proc/<pid>/status. Throws when either is missing, as it is for a process that
 * exited and was not yet reaped (its status has no memory lines), rather than let a missing figure turn into NaN.
 */
export function parseMemory(status: string): Memory {
  const kB = (field: string): number => {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status);
    if (!m) throw new Error(`no ${field} in its status (has it exited?)`);
    return Number(m[1]) / 1024;
  };
  return { rssMB: kB('VmRSS'), peakMB: kB('VmHWM') };
}

export function readMemory(name: string, pid: number | undefined): Promise<Memory> {
  return readProcFile(pid, 'status', parseMemory, (reason) => new MemoryReadError(name, pid, reason));
}

/**
 * Sets the process's VmHWM back to its VmRSS (Linux >= 4.0; the process must be ours), so that VmHWM read later is
 * the true peak since now, where sampling VmRSS would miss any spike shorter than the sampling interval.
 */
export async function resetPeak(name: string, pid: number | undefined): Promise<void> {
  if (pid === undefined) throw new MemoryReadError(name, pid, 'not running');
  try {
    await writeFile(`/proc/${pid}/clear_refs`, '5');
  } catch (err) {
    throw new MemoryReadError(name, pid, `cannot reset its peak: ${errorReason(err)}`);
  }
}

/**
 * One process's memory across a stretch of work, from a peak reset at its start. `read` is given the node's pid
 * at the time, so a node restarted meanwhile is an error rather than a figure of a process that did not do the work.
 */
export class MemoryWatch {
  private constructor(
    readonly name: string,
    readonly pid: number,
    readonly start: Memory,
  ) {}

  static async start(name: string, pid: number | undefined): Promise<MemoryWatch> {
    if (pid === undefined) throw new MemoryReadError(name, pid, 'not running');
    await resetPeak(name, pid);
    return new MemoryWatch(name, pid, await readMemory(name, pid));
  }

  async read(pidNow: number | undefined): Promise<Memory> {
    if (pidNow !== this.pid) throw new MemoryReadError(this.name, this.pid, pidNow === undefined ? 'no longer running' : `restarted since the start (now pid ${pidNow})`);
    return readMemory(this.name, this.pid);
  }
}

/** Failed requests stop the write only after this many in a row from one caller, 100 ms apart (a leader change takes less). */
const WRITE_RETRY = { maxConsecutiveErrors: 50, retryPauseMs: 100 };

/**
 * Writes at least `totalBytes` of `value`-sized records, `batch` to a request from `concurrency` callers: the
 * timed batch scenario's load, run to a volume, so its records/s compares with that scenario's no-op figure.
 * Counts only what the cluster acknowledged (see batchProduce for failed requests).
 */
export function writeVolume(client: LogClient, totalBytes: number, value: Buffer, batch: number, concurrency: number): Promise<LoadResult> {
  return batchProduce(client, batch, concurrency, Infinity, value, { records: Math.ceil(totalBytes / value.length), ...WRITE_RETRY });
}
