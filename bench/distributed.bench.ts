// Replicated log throughput and latency: three replicas over mutual TLS on loopback, each in its own worker
// thread (its own event loop, as separate processes would have), 256-byte records, every produce acknowledged
// only once a quorum has fsynced it and the leader has applied it. Beside it, in the same run: the single-node
// durable log (sync 'always', group commit) and a plain write+fdatasync loop.
//
//   node dist/bench/distributed.bench.js        BENCH_JSON=1: one JSON object per figure
//   BENCH_SECONDS=3 (time per measurement)       BENCH_CONCURRENCY=1,16,256

import '../internal/polyfills.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { Log } from '../internal/log/index.js';
import { listenLater } from '../internal/distributed/peer-listener.js';
import { ReplicatedLog } from '../internal/distributed/replicated-log.js';
import { peerTls } from '../internal/distributed/testing/test-certs.js';
import type { PeerTlsConfig } from '../internal/distributed/tls-transport.js';
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

interface ReplicaData {
  name: string;
  dataDir: string;
  tls: PeerTlsConfig;
  bootstrap: boolean;
}

type Command = { cmd: 'join'; name: string; addr: string } | { cmd: 'drive'; producers: number } | { cmd: 'close' };
type Reply = { kind: 'started'; addr: string } | { kind: 'joined' } | { kind: 'drove'; run: Run } | { kind: 'closed' } | { kind: 'error'; message: string };

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

// ---- a replica, in a worker thread ----

async function replicaMain(data: ReplicaData): Promise<void> {
  const port = parentPort!;
  const { listener, attach } = await listenLater();
  const log = await ReplicatedLog.open({ id: data.name, dataDir: data.dataDir, advertiseAddr: listener.addr, peerTls: data.tls, bootstrap: data.bootstrap });
  attach(log);
  if (data.bootstrap) await log.waitForLeader(10_000);
  const reply = (r: Reply): void => port.postMessage(r);
  port.on('message', (c: Command) => {
    const run = async (): Promise<void> => {
      if (c.cmd === 'join') {
        await log.join(c.name, c.addr);
        reply({ kind: 'joined' });
      } else if (c.cmd === 'drive') {
        reply({ kind: 'drove', run: await drive(c.producers, () => log.produce('bench', [record])) });
      } else {
        await log.close();
        await listener.close();
        reply({ kind: 'closed' });
        port.close();
      }
    };
    run().catch((err: unknown) => reply({ kind: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) }));
  });
  reply({ kind: 'started', addr: listener.addr });
}

class ReplicaWorker {
  private readonly worker: Worker;
  private readonly replies: Reply[] = [];
  private waiting: ((r: Reply) => void) | undefined;

  constructor(data: ReplicaData) {
    this.worker = new Worker(new URL(import.meta.url), { workerData: data });
    this.worker.on('message', (r: Reply) => {
      if (this.waiting) {
        const w = this.waiting;
        this.waiting = undefined;
        w(r);
      } else this.replies.push(r);
    });
    this.worker.on('error', (err) => this.waiting?.({ kind: 'error', message: err.stack ?? err.message }));
  }

  async next<K extends Reply['kind']>(kind: K): Promise<Extract<Reply, { kind: K }>> {
    const r = this.replies.shift() ?? (await new Promise<Reply>((resolve) => (this.waiting = resolve)));
    if (r.kind === 'error') throw new Error(`replica failed: ${r.message}`);
    if (r.kind !== kind) throw new Error(`expected ${kind}, got ${r.kind}`);
    return r as Extract<Reply, { kind: K }>;
  }

  send(c: Command): void {
    this.worker.postMessage(c);
  }

  terminate(): Promise<number> {
    return this.worker.terminate();
  }
}

// ---- the benchmark ----

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

async function replicated(root: string): Promise<Map<number, Run>> {
  const names = ['r1', 'r2', 'r3'];
  const workers: ReplicaWorker[] = [];
  const results = new Map<number, Run>();
  try {
    const addrs: string[] = [];
    for (const name of names) {
      const w = new ReplicaWorker({ name, dataDir: path.join(root, name), tls: await peerTls(name), bootstrap: name === 'r1' });
      workers.push(w);
      addrs.push((await w.next('started')).addr);
    }
    const leader = workers[0]!;
    for (let i = 1; i < names.length; i++) {
      leader.send({ cmd: 'join', name: names[i]!, addr: addrs[i]! });
      await leader.next('joined');
    }
    for (const c of CONCURRENCY) {
      progress(`replicated log (3 replicas), ${c} producers`);
      leader.send({ cmd: 'drive', producers: c });
      results.set(c, (await leader.next('drove')).run);
    }
    for (const w of workers) w.send({ cmd: 'close' });
    for (const w of workers) await w.next('closed');
  } finally {
    for (const w of workers) await w.terminate();
  }
  return results;
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
    progress('starting three replicas (one worker thread each)');
    const repl = await replicated(root);

    for (const c of CONCURRENCY) {
      const r = repl.get(c)!;
      const s = single.get(c)!;
      const figure = (name: string): string => `${name}, 3 replicas, ${c} producers`;
      report({
        bench: 'distributed',
        figure: figure('records/s'),
        value: r.recordsPerSec,
        unit: 'records/s',
        baseline: 'single-node durable log',
        baselineValue: s.recordsPerSec,
        target: c === 256 ? '>= 30000' : undefined,
      });
      report({ bench: 'distributed', figure: figure('records/s'), value: r.recordsPerSec, unit: 'records/s', baseline: 'plain fsync loop', baselineValue: fsyncRate });
      report({ bench: 'distributed', figure: figure('p50 latency'), value: r.p50Ms, unit: 'ms', baseline: 'single-node durable log p50', baselineValue: s.p50Ms });
      report({ bench: 'distributed', figure: figure('p99 latency'), value: r.p99Ms, unit: 'ms', baseline: 'single-node durable log p99', baselineValue: s.p99Ms });
    }
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

if (isMainThread) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
} else {
  replicaMain(workerData as ReplicaData).catch((err: unknown) => {
    parentPort!.postMessage({ kind: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) } satisfies Reply);
  });
}
