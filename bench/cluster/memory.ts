// Resident memory of the node processes while the log grows: a node that buffers what it stores would grow with
// the log; ours should stay flat.
import { readFile } from 'node:fs/promises';
import * as grpc from '@grpc/grpc-js';
import type { LogClient } from '../../api/v1/log.js';
import { progress } from '../report.js';

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

/** Writes `totalBytes` of `value`-sized records with batch produce and `concurrency` callers. Returns seconds. */
export async function writeVolume(client: LogClient, totalBytes: number, value: Buffer, batch = 100, concurrency = 8): Promise<number> {
  const values = Array.from({ length: batch }, () => value);
  const requests = Math.ceil(totalBytes / (value.length * batch));
  let issued = 0;
  let done = 0;
  const t0 = performance.now();
  const ticker = setInterval(() => progress(`writing ${((done * batch * value.length) / 2 ** 20).toFixed(0)} MB of ${(totalBytes / 2 ** 20).toFixed(0)} MB`), 2000);
  try {
    const worker = async (): Promise<void> => {
      while (issued < requests) {
        issued++;
        // A leader change mid-write fails some requests; the volume, not each request, is what is measured.
        for (let failures = 0; ; failures++) {
          const err = await new Promise<grpc.ServiceError | null>((resolve) =>
            client.produceBatch({ topic: '', values }, new grpc.Metadata(), { deadline: Date.now() + 30_000 }, (e) => resolve(e)),
          );
          if (!err) break;
          if (failures >= 50) throw err;
          await new Promise((r) => setTimeout(r, 100));
        }
        done++;
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    clearInterval(ticker);
  }
  return (performance.now() - t0) / 1000;
}
