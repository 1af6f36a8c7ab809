// Resident memory of the node processes while the log grows: a node that buffers what it stores would grow with
// the log; ours should stay flat.
import { readFile } from 'node:fs/promises';
import type { LogClient } from '../../api/v1/log.js';
import { batchProduce, type LoadResult } from './load.js';

/** VmRSS of a process in MB, from /proc (NaN when it cannot be read). */
export async function residentMB(pid: number): Promise<number> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = /VmRSS:\s+(\d+)\s+kB/.exec(status);
    return kb ? Number(kb[1]) / 1024 : NaN;
  } catch {
    return NaN;
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
