// The cluster benchmark: every figure of a three-node cluster of real agent processes (mTLS, fsync on), beside
// the same figure measured in the same run against the no-op ceiling server, through the same public client.
// The load shapes run in rounds (five in full mode), each against the ceiling and then the cluster back to back;
// a figure is the median round, and a share of the ceiling the median of the rounds' own shares. Each run also
// reports its CPU per record over the load generator and the servers (`cpu.ts`), so that a figure can be read
// against what the machine's cores would allow at that cost.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createClient } from '../../internal/loadbalance/index.js';
import { Cluster } from '../../test/nemesis/cluster.js';
import { writeClusterCerts, type ClusterCerts } from '../../test/nemesis/cluster-certs.js';
import { median, percentile, progress, report } from '../report.js';
import { cpuBoundCeiling, measureCpu, type CpuPerRecord, type MeasuredProcess } from './cpu.js';
import { measureFailover } from './failover.js';
import { batchProduce, STREAM_CONSUME_BATCH, streamConsume, streamProduce, unaryProduce, type LoadResult } from './load.js';
import { MemoryReadError, MemoryWatch, readMemory, writeVolume, type Memory } from './memory.js';

export interface SuiteOptions {
  short: boolean;
  json: boolean;
  /** Bytes written before measuring resident memory (default 1 GiB, 64 MiB when short). */
  volumeBytes?: number;
}

const BENCH = 'cluster';
const RECORD_BYTES = 256;
// The batch scenario's shape. The memory section's write uses it too, so that the write's MB/s has a baseline of
// the same shape: this scenario's no-op run, already measured in every round (a no-op run at the write's former x8
// would have added rounds to the bench; writing at x4 adds nothing).
const BATCH_RECORDS = 100;
const BATCH_CALLERS = 4;
const BATCH_SCENARIO = `ProduceBatch ${BATCH_RECORDS}/request x${BATCH_CALLERS}`;

interface Scenario {
  name: string;
  target?: string;
  run: (client: ReturnType<typeof createClient>, ms: number, upTo: number) => Promise<LoadResult>;
}

function scenarios(value: Buffer): Scenario[] {
  return [
    { name: 'unary Produce x1', run: (c, ms) => unaryProduce(c, 1, ms, value) },
    { name: 'unary Produce x16', target: '>= 70% of noop', run: (c, ms) => unaryProduce(c, 16, ms, value) },
    { name: 'unary Produce x64', run: (c, ms) => unaryProduce(c, 64, ms, value) },
    { name: 'ProduceStream 256 in flight', target: '>= 20,000', run: (c, ms) => streamProduce(c, 256, ms, value) },
    { name: BATCH_SCENARIO, target: '>= 200,000', run: (c, ms) => batchProduce(c, BATCH_RECORDS, BATCH_CALLERS, ms, value) },
    // A consumer reads what the cluster holds, from offset 0, and from offset 0 again until the time is up.
    { name: 'ConsumeStream (follower)', target: '>= 150,000', run: (c, ms, upTo) => streamConsume(c, ms, upTo, STREAM_CONSUME_BATCH, { reread: true }) },
    // As a book client reads: one record per message.
    { name: 'ConsumeStream, 1 record/msg', run: (c, ms, upTo) => streamConsume(c, ms, upTo, 0, { reread: true }) },
  ];
}

async function startNoop(certs: ClusterCerts): Promise<{ addr: string; child: ChildProcess }> {
  const main = path.join(path.dirname(fileURLToPath(import.meta.url)), 'noop-server-main.js');
  const child = spawn(process.execPath, [main, certs.caFile, certs.server.certFile, certs.server.keyFile], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  const addr = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('noop server did not start within 20 s')), 20_000);
    lines.on('line', (l) => {
      const m = /^listening (\S+)$/.exec(l);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once('exit', (code) => reject(new Error(`noop server exited with ${code}`)));
  });
  return { addr, child };
}

/** One run of a scenario: what the load generator saw, and what it cost the processes in CPU. */
interface Run {
  result: LoadResult;
  cpu: CpuPerRecord;
}

/**
 * The results of one scenario over the rounds: the run with the median records/s stands for it, and the ratio
 * to the ceiling is the median of each round's own ratio (a cluster run and the no-op run just before it see
 * the same machine, which on a shared host does not stay the same for a whole bench).
 */
interface Measured {
  cluster: Run;
  noop: Run;
  ratios: number[];
}

function medianRun(runs: Run[]): Run {
  const sorted = [...runs].sort((a, b) => a.result.recordsPerSec - b.result.recordsPerSec);
  return sorted[(sorted.length - 1) >> 1]!;
}

interface Target {
  client: ReturnType<typeof createClient>;
  /** The processes whose CPU a run of this target costs: the load generator (this process) and the server(s). */
  processes: () => MeasuredProcess[];
}

/** Each scenario against the ceiling and then the cluster, back to back, `rounds` times. */
async function runRounds(
  targets: { noop: Target; cluster: Target },
  list: Scenario[],
  ms: number,
  rounds: number,
  rss: () => Promise<string>,
): Promise<Map<string, Measured>> {
  const runs = new Map(list.map((s) => [s.name, { cluster: [] as Run[], noop: [] as Run[] }]));
  const written = { noop: 0, cluster: 0 };
  for (let round = 1; round <= rounds; round++) {
    for (const s of list) {
      for (const target of ['noop', 'cluster'] as const) {
        progress(`round ${round}/${rounds}, ${target}: ${s.name}`);
        const { client, processes } = targets[target];
        const run = await measureCpu(processes, () => s.run(client, ms, written[target]), (r) => r.records);
        written[target] = Math.max(written[target], run.result.lastOffset + 1);
        runs.get(s.name)![target].push(run);
      }
      progress(`cluster RSS MB after ${s.name}: ${await rss()}`);
    }
  }
  const out = new Map<string, Measured>();
  for (const [name, r] of runs) {
    out.set(name, { cluster: medianRun(r.cluster), noop: medianRun(r.noop), ratios: r.cluster.map((c, i) => c.result.recordsPerSec / r.noop[i]!.result.recordsPerSec) });
  }
  return out;
}

/** The nodes' VmRSS for progress lines, which go on past a node that cannot be read (the figures do not). */
async function rssLine(cluster: Cluster): Promise<string> {
  const mbs = await Promise.all(cluster.nodes.map((n) => readMemory(n.name, n.proc.pid).then((m) => m.rssMB.toFixed(0), () => `${n.name} unreadable`)));
  return mbs.join(', ');
}

/** A node's memory that cannot be read is a reason given in place of its figures, not NaN; other errors are the bench's. */
function unlessUnreadable<T>(p: Promise<T>): Promise<T | MemoryReadError> {
  return p.catch((err: unknown) => {
    if (err instanceof MemoryReadError) return err;
    throw err;
  });
}

/** One node's memory across the write: at its start, at its end (with the peak in between), and 3 s later. */
interface AcrossWrite {
  start: Memory;
  after: Memory;
  settled: Memory;
}

function megabytesPerSec(r: LoadResult): number {
  return (r.recordsPerSec * RECORD_BYTES) / 2 ** 20;
}

/**
 * CPU per record of each process in each scenario's median run, cluster and no-op side by side, with the
 * records/s each side's cost would allow on this machine's cores if they were all busy.
 */
function cpuTable(list: Scenario[], measured: Map<string, Measured>, cores: number): string[][] {
  const first = measured.get(list[0]!.name)!;
  const clusterNames = first.cluster.cpu.byProcess.map((p) => p.name);
  const noopNames = first.noop.cpu.byProcess.map((p) => p.name);
  const head = [
    'CPU us per record (median run)',
    ...clusterNames,
    'cluster all',
    `ceiling on ${cores} cores`,
    ...noopNames.map((n) => `noop: ${n}`),
    'noop all',
    `noop ceiling`,
    'rec/s of ceiling',
  ];
  const us = (cpu: CpuPerRecord, name: string): string => fmt(cpu.byProcess.find((p) => p.name === name)?.us ?? NaN);
  const rows = list.map((s) => {
    const { cluster, noop } = measured.get(s.name)!;
    const ceiling = cpuBoundCeiling(cluster.cpu.totalUs, cores);
    return [
      s.name,
      ...clusterNames.map((n) => us(cluster.cpu, n)),
      fmt(cluster.cpu.totalUs),
      fmt(ceiling),
      ...noopNames.map((n) => us(noop.cpu, n)),
      fmt(noop.cpu.totalUs),
      fmt(cpuBoundCeiling(noop.cpu.totalUs, cores)),
      `${fmt((100 * cluster.result.recordsPerSec) / ceiling)}%`,
    ];
  });
  return [head, ...rows];
}

/** Columns padded to their widest cell, the first left-aligned. */
function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((cells) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')).join('\n');
}

function fmt(n: number, digits = 0): string {
  return Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : '-';
}

export async function runClusterBench(opts: SuiteOptions): Promise<number> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'proglog-cluster-bench-'));
  const value = Buffer.alloc(RECORD_BYTES, 0x62);
  const ms = opts.short ? 1000 : 3000;
  const failoverRepeats = opts.short ? 2 : 5;
  const volumeBytes = opts.volumeBytes ?? (opts.short ? 64 * 2 ** 20 : 2 ** 30);
  const list = scenarios(value);
  const rounds = opts.short ? 1 : 5;
  let noop: ChildProcess | undefined;
  let cluster: Cluster | undefined;
  try {
    const certs = await writeClusterCerts(path.join(dir, 'noop-certs'), []);
    const started = await startNoop(certs);
    noop = started.child;
    const noopClient = createClient({ addr: started.addr, ca: certs.ca, cert: certs.client.cert, key: certs.client.key });

    progress('starting a three-node cluster (mTLS, fsync always)');
    cluster = await Cluster.start({ nodes: 3, rootDir: path.join(dir, 'cluster'), faults: false, sync: 'always', logLevel: 'warn' });
    const client = cluster.client();
    const rss = (): Promise<string> => rssLine(cluster!);
    const self: MeasuredProcess = { name: 'client', pid: process.pid };
    const targets = {
      noop: { client: noopClient, processes: () => [self, { name: 'noop server', pid: started.child.pid }] },
      cluster: { client, processes: () => [self, ...cluster!.nodes.map((n) => ({ name: n.name, pid: n.proc.pid }))] },
    };
    const measured = await runRounds(targets, list, ms, rounds, rss);
    noopClient.close();
    noop.stdin!.end();

    const cores = os.availableParallelism();
    for (const s of list) {
      const { cluster: { result: r, cpu: rc }, noop: { result: b, cpu: bc }, ratios: paired } = measured.get(s.name)!;
      report({ bench: BENCH, figure: `${s.name} records/s`, value: r.recordsPerSec, unit: 'records/s', baseline: 'noop', baselineValue: b.recordsPerSec, ...(s.target ? { target: s.target } : {}) });
      report({ bench: BENCH, figure: `${s.name} share of noop, median of ${paired.length} paired rounds`, value: 100 * median(paired), unit: '%', baseline: 'noop', baselineValue: 100, ...(s.target?.includes('of noop') ? { target: s.target } : {}) });
      report({ bench: BENCH, figure: `${s.name} p50`, value: r.p50Ms, unit: 'ms', baseline: 'noop', baselineValue: b.p50Ms });
      report({ bench: BENCH, figure: `${s.name} p99`, value: r.p99Ms, unit: 'ms', baseline: 'noop', baselineValue: b.p99Ms });
      // What bounds the figure: CPU per record over the client and the server processes, and the records/s that
      // this machine's cores, all busy, would give at that cost (a run below its ceiling is waiting, not full).
      report({ bench: BENCH, figure: `${s.name} CPU per record, client + servers`, value: rc.totalUs, unit: 'us', baseline: 'noop', baselineValue: bc.totalUs });
      report({ bench: BENCH, figure: `${s.name} CPU-bound ceiling on ${cores} cores`, value: cpuBoundCeiling(rc.totalUs, cores), unit: 'records/s', baseline: 'noop', baselineValue: cpuBoundCeiling(bc.totalUs, cores) });
    }

    const failovers: number[] = [];
    let failoversMissed = 0;
    for (let i = 0; i < failoverRepeats; i++) {
      progress(`failover ${i + 1}/${failoverRepeats}: SIGKILL the leader`);
      const ms = await measureFailover(cluster, client, value).catch((err: unknown) => {
        progress(`failover ${i + 1}: the cluster did not recover: ${err instanceof Error ? err.message : String(err)}`);
        return undefined;
      });
      if (ms === undefined) failoversMissed++;
      else failovers.push(ms);
      progress(`failover ${i + 1}: ${ms === undefined ? 'no write acknowledged within 30 s' : `${ms.toFixed(0)} ms`}; RSS MB ${await rss()}`);
    }
    const electionTimeout = 500;
    report({ bench: BENCH, figure: `failover p50 (${failoverRepeats} leader kills)`, value: median(failovers), unit: 'ms', baseline: 'election timeout', baselineValue: electionTimeout, target: '< 1000' });
    report({ bench: BENCH, figure: `failover max (${failoverRepeats} leader kills)`, value: percentile(failovers, 100), unit: 'ms', baseline: 'election timeout', baselineValue: electionTimeout });
    report({ bench: BENCH, figure: 'failovers with no ack within 30 s', value: failoversMissed, unit: 'count', baseline: 'leader kills', baselineValue: failoverRepeats, target: '0' });

    progress(`writing ${(volumeBytes / 2 ** 20).toFixed(0)} MB`);
    // "Flat while the log grows": the kernel's high-water mark over the whole write, not samples of VmRSS, which
    // miss spikes shorter than their interval. Measured on the processes that do the write: the failover section
    // restarted some nodes, so the processes of the cluster's start are gone.
    const nodes = cluster.nodes;
    const watches = await Promise.all(nodes.map((n) => unlessUnreadable(MemoryWatch.start(n.name, n.proc.pid))));
    const readNodes = (): Promise<Array<Memory | MemoryReadError>> =>
      Promise.all(nodes.map((n, i) => {
        const w = watches[i]!;
        return w instanceof MemoryReadError ? Promise.resolve(w) : unlessUnreadable(w.read(n.proc.pid));
      }));
    const written = await writeVolume(client, volumeBytes, value, BATCH_RECORDS, BATCH_CALLERS);
    const after = await readNodes();
    const noopBatch = measured.get(BATCH_SCENARIO)!.noop.result;
    // Acknowledged records only: a request that failed is asked again and not counted, even if the cluster had in
    // fact stored it (so the log may hold more than the figure says, never less).
    report({ bench: BENCH, figure: `write ${(volumeBytes / 2 ** 20).toFixed(0)} MB (${BATCH_SCENARIO}) acknowledged MB/s`, value: megabytesPerSec(written), unit: 'MB/s', baseline: `noop ${BATCH_SCENARIO} MB/s`, baselineValue: megabytesPerSec(noopBatch) });
    report({ bench: BENCH, figure: `write ${(volumeBytes / 2 ** 20).toFixed(0)} MB failed requests, asked again`, value: written.errors, unit: 'requests', baseline: `noop ${BATCH_SCENARIO} failed requests`, baselineValue: noopBatch.errors });
    // And once the node has had a moment to collect the write's garbage (V8 frees dead buffers lazily).
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const settled = await readNodes();
    const memory = nodes.map((_, i): AcrossWrite | MemoryReadError => {
      const [w, a, s] = [watches[i]!, after[i]!, settled[i]!];
      if (w instanceof MemoryReadError) return w;
      if (a instanceof MemoryReadError) return a;
      if (s instanceof MemoryReadError) return s;
      return { start: w.start, after: a, settled: s };
    });
    const startBaseline = 'RSS at the start of the write';
    nodes.forEach((n, i) => {
      const m = memory[i]!;
      if (m instanceof MemoryReadError) {
        progress(`no memory figures for ${n.name}: ${m.message}`);
        return;
      }
      report({ bench: BENCH, figure: `${n.name} RSS after ${(volumeBytes / 2 ** 20).toFixed(0)} MB written`, value: m.after.rssMB, unit: 'MB', baseline: startBaseline, baselineValue: m.start.rssMB, target: '< 150' });
      report({ bench: BENCH, figure: `${n.name} RSS peak while writing (VmHWM)`, value: m.after.peakMB, unit: 'MB', baseline: startBaseline, baselineValue: m.start.rssMB, target: '< 150' });
      report({ bench: BENCH, figure: `${n.name} RSS 3 s after writing`, value: m.settled.rssMB, unit: 'MB', baseline: startBaseline, baselineValue: m.start.rssMB });
    });
    const unreadable = memory.filter((m): m is MemoryReadError => m instanceof MemoryReadError);

    if (!opts.json) {
      const rows = list.map((s) => {
        const { cluster: { result: r }, noop: { result: b }, ratios } = measured.get(s.name)!;
        const each = ratios.map((x) => `${fmt(100 * x)}%`).join(' ');
        return [s.name, fmt(r.recordsPerSec), fmt(b.recordsPerSec), `${fmt(100 * median(ratios))}%`, each, `${fmt(r.p50Ms, 2)} / ${fmt(r.p99Ms, 2)}`, `${fmt(b.p50Ms, 2)} / ${fmt(b.p99Ms, 2)}`, String(r.errors)];
      });
      const head = ['scenario (256-byte records)', 'cluster rec/s', 'noop rec/s', 'of noop', 'each round', 'cluster p50/p99 ms', 'noop p50/p99 ms', 'errors'];
      console.log('');
      console.log(table([head, ...rows]));
      console.log('');
      console.log(table(cpuTable(list, measured, cores)));
      console.log(`failover ms: ${failovers.map((f) => f.toFixed(0)).join(', ')} (p50 ${median(failovers).toFixed(0)}); no recovery within 30 s: ${failoversMissed}`);
      console.log(
        `write: ${fmt((written.records * RECORD_BYTES) / 2 ** 20)} MB acknowledged in ${fmt(written.seconds, 1)} s (${fmt(megabytesPerSec(written), 1)} MB/s, noop ${fmt(megabytesPerSec(noopBatch), 1)} MB/s at the same ${BATCH_SCENARIO}); ` +
          `${written.errors} failed requests were asked again, and any of those the cluster stored anyway is not counted`,
      );
      const nodeLine = (name: string, m: AcrossWrite | MemoryReadError): string =>
        m instanceof MemoryReadError ? `${name} none (${m.message})` : `${name} ${m.start.rssMB.toFixed(0)} -> ${m.after.rssMB.toFixed(0)} (${m.after.peakMB.toFixed(0)}; ${m.settled.rssMB.toFixed(0)})`;
      console.log(`RSS MB at the write's start -> after (peak while writing; 3 s later): ${nodes.map((n, i) => nodeLine(n.name, memory[i]!)).join(', ')}`);
    }
    // A node whose memory could not be read has no figures, so the run did not measure what it is for.
    return unreadable.length === 0 ? 0 : 1;
  } finally {
    if (noop && noop.exitCode === null) noop.kill('SIGKILL');
    await cluster?.close();
    await rm(dir, { recursive: true, force: true });
  }
}
