// Replicated log throughput and latency: three replicas over TLS on loopback, 256-byte records, each produce
// acknowledged only once a quorum has fsynced it (and the leader applied it). Beside it, in the same run: the
// single-node durable log (sync 'always', group commit) and a plain write+fdatasync loop.
//
//   node dist/bench/distributed.bench.js            (BENCH_JSON=1 for one JSON object per figure)
//   BENCH_SECONDS=3 sets the time per measurement.

import '../internal/polyfills.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Log } from '../internal/log/index.js';
import { TestCluster } from '../internal/distributed/testing/cluster.js';
import { percentile, progress, report } from './report.js';

const RECORD_BYTES = 256;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const CONCURRENCY = (process.env.BENCH_CONCURRENCY ?? '1,16,256').split(',').map(Number);
const record = Buffer.alloc(RECORD_BYTES, 0x61);

interface Run {
  recordsPerSec: number;
  p50Ms: number;
  p99Ms: number;
}

/** `producers` loops each awaiting one append at a time for SECONDS; every latency is recorded. */
async function drive(producers: number, append: () => Promise<unknown>): Promise<Run> {
  const latencies: number[] = [];
  const deadline = performance.now() + SECONDS * 1000;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: producers }, async () => {
      while (performance.now() < deadline) {
        const t0 = performance.now();
        await append();
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const elapsed = (performance.now() - start) / 1000;
  return { recordsPerSec: latencies.length / elapsed, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99) };
}

function fsyncLoop(dir: string): number {
  const file = path.join(dir, 'fsync-loop');
  const fd = fs.openSync(file, 'w');
  const deadline = performance.now() + SECONDS * 1000;
  const start = performance.now();
  let n = 0;
  try {
    while (performance.now() < deadline) {
      fs.writeSync(fd, record);
      fs.fdatasyncSync(fd);
      n++;
    }
  } finally {
    fs.closeSync(fd);
  }
  return n / ((performance.now() - start) / 1000);
}

async function main(): Promise<void> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'proglog-bench-distributed-'));
  try {
    progress(`plain write+fdatasync loop, ${SECONDS}s`);
    const fsyncRate = fsyncLoop(root);

    const single = new Map<number, Run>();
    for (const c of CONCURRENCY) {
      const log = await Log.open(path.join(root, `single-${c}`), { sync: 'always' });
      progress(`single-node durable log, ${c} producers`);
      single.set(c, await drive(c, () => log.append(record)));
      await log.remove();
    }

    const cluster = await TestCluster.create({ tickMs: 50 });
    const replicated = new Map<number, Run>();
    try {
      progress('starting three replicas');
      await cluster.startCluster(['r1', 'r2', 'r3']);
      const leader = cluster.leader().log;
      for (const c of CONCURRENCY) {
        progress(`replicated log (3 replicas), ${c} producers`);
        replicated.set(c, await drive(c, () => leader.produce('bench', [record])));
      }
    } finally {
      await cluster.close();
    }

    for (const c of CONCURRENCY) {
      const r = replicated.get(c)!;
      const s = single.get(c)!;
      report({
        bench: 'distributed',
        figure: `records/s, 3 replicas, ${c} producers`,
        value: r.recordsPerSec,
        unit: 'records/s',
        baseline: 'single-node durable log',
        baselineValue: s.recordsPerSec,
        target: c === 256 ? '>= 30000' : undefined,
      });
      report({
        bench: 'distributed',
        figure: `records/s, 3 replicas, ${c} producers`,
        value: r.recordsPerSec,
        unit: 'records/s',
        baseline: 'plain fsync loop',
        baselineValue: fsyncRate,
      });
      report({
        bench: 'distributed',
        figure: `p50 latency, 3 replicas, ${c} producers`,
        value: r.p50Ms,
        unit: 'ms',
        baseline: 'single-node durable log p50',
        baselineValue: s.p50Ms,
      });
      report({
        bench: 'distributed',
        figure: `p99 latency, 3 replicas, ${c} producers`,
        value: r.p99Ms,
        unit: 'ms',
        baseline: 'single-node durable log p99',
        baselineValue: s.p99Ms,
      });
    }
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
