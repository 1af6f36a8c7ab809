// Commit-log benchmark (make bench-log): every figure beside a baseline measured in the same run.
// Ceilings: raw fs.writeSync / fs.readSync of the same framed bytes. Durable floor: write + fdatasync per record.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FRAME_HEADER_BYTES, Log, type LogConfigInput } from '../internal/log/index.js';
import { median, progress, report } from './report.js';

const BENCH = 'log';
const RECORD_BYTES = 256;
const FRAME_BYTES = FRAME_HEADER_BYTES + RECORD_BYTES;
const BUFFERED_RECORDS = 400_000;
const DURABLE_SECONDS = 1.5;
const NAIVE_DURABLE_SECONDS = 0.5;
const REPEATS = 3;

const value = new Uint8Array(RECORD_BYTES).map((_, i) => i & 0xff);
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'proglog-bench-log-'));
let runs = 0;
const freshDir = (): string => path.join(root, `run-${runs++}`);

function seconds(since: bigint): number {
  return Number(process.hrtime.bigint() - since) / 1e9;
}

async function withLog<T>(config: LogConfigInput, fn: (log: Log) => Promise<T>): Promise<T> {
  const dir = freshDir();
  const log = await Log.open(dir, config);
  try {
    return await fn(log);
  } finally {
    await log.remove();
  }
}

/** The physical ceiling: the same framed bytes written with fs.writeSync in 1 MiB writes, records/s. */
function rawWriteCeiling(records: number): number {
  const file = freshDir();
  const fd = fs.openSync(file, 'w');
  const perChunk = Math.floor((1 << 20) / FRAME_BYTES);
  const chunk = Buffer.alloc(perChunk * FRAME_BYTES);
  for (let i = 0; i < perChunk; i++) chunk.set(value, i * FRAME_BYTES + FRAME_HEADER_BYTES);
  const t = process.hrtime.bigint();
  let position = 0;
  for (let done = 0; done < records; done += perChunk) {
    const n = Math.min(perChunk, records - done) * FRAME_BYTES;
    position += fs.writeSync(fd, chunk, 0, n, position);
  }
  const rate = records / seconds(t);
  fs.closeSync(fd);
  fs.rmSync(file);
  return rate;
}

/** The durable floor: one write + fdatasync per record (what a naive append log does), records/s. */
function naiveDurableFloor(duration: number): number {
  const file = freshDir();
  const fd = fs.openSync(file, 'w');
  const frame = Buffer.alloc(FRAME_BYTES);
  frame.set(value, FRAME_HEADER_BYTES);
  const t = process.hrtime.bigint();
  let records = 0;
  while (seconds(t) < duration) {
    fs.writeSync(fd, frame, 0, FRAME_BYTES, records * FRAME_BYTES);
    fs.fdatasyncSync(fd);
    records++;
  }
  const rate = records / seconds(t);
  fs.closeSync(fd);
  fs.rmSync(file);
  return rate;
}

async function bufferedAppends(records: number): Promise<number> {
  return withLog({ sync: 'never' }, async (log) => {
    const t = process.hrtime.bigint();
    for (let i = 0; i < records; i++) await log.append(value);
    return records / seconds(t);
  });
}

async function batchedAppends(records: number, batch: number): Promise<number> {
  const values = Array.from({ length: batch }, () => value);
  return withLog({ sync: 'never' }, async (log) => {
    const t = process.hrtime.bigint();
    for (let i = 0; i < records; i += batch) await log.appendBatch(values);
    return records / seconds(t);
  });
}

/** `appenders` concurrent callers, each awaiting its durable append before the next, for `duration` seconds. */
async function durableAppends(appenders: number, duration: number): Promise<number> {
  return withLog({ sync: 'always' }, async (log) => {
    const t = process.hrtime.bigint();
    const deadline = t + BigInt(Math.round(duration * 1e9));
    let count = 0;
    await Promise.all(
      Array.from({ length: appenders }, async () => {
        while (process.hrtime.bigint() < deadline) {
          await log.append(value);
          count++;
        }
      }),
    );
    return count / seconds(t);
  });
}

/**
 * Medians of a figure and its baseline over `REPEATS` runs, alternating them so that both see the same machine
 * (other load, disk write-back) rather than one of them an unlucky stretch.
 */
async function paired(
  baseline: () => number | Promise<number>,
  figure: () => number | Promise<number>,
): Promise<{ baseline: number; figure: number }> {
  const baselines: number[] = [];
  const figures: number[] = [];
  for (let i = 0; i < REPEATS; i++) {
    baselines.push(await baseline());
    figures.push(await figure());
  }
  return { baseline: median(baselines), figure: median(figures) };
}

async function main(): Promise<void> {
  progress(`records of ${RECORD_BYTES} bytes, median of ${REPEATS} runs, temp dir ${root}`);
  const readDir = freshDir();
  try {
    // Enough calls for the JIT to settle on optimized code before anything is measured.
    progress('warm-up');
    await bufferedAppends(200_000);
    await batchedAppends(200_000, 100);

    progress('buffered appends');
    const single = await paired(() => rawWriteCeiling(BUFFERED_RECORDS), () => bufferedAppends(BUFFERED_RECORDS));
    report({
      bench: BENCH,
      figure: 'append, sync never (buffered)',
      value: single.figure,
      unit: 'records/s',
      baseline: 'raw fs.writeSync 1 MiB',
      baselineValue: single.baseline,
      target: '>= 1,000,000',
    });
    const batched = await paired(() => rawWriteCeiling(BUFFERED_RECORDS), () => batchedAppends(BUFFERED_RECORDS, 100));
    report({
      bench: BENCH,
      figure: 'appendBatch of 100, sync never',
      value: batched.figure,
      unit: 'records/s',
      baseline: 'raw fs.writeSync 1 MiB',
      baselineValue: batched.baseline,
    });

    progress('durable appends');
    const durable1 = await paired(() => naiveDurableFloor(NAIVE_DURABLE_SECONDS), () => durableAppends(1, DURABLE_SECONDS));
    report({
      bench: BENCH,
      figure: 'append, sync always, 1 appender',
      value: durable1.figure,
      unit: 'records/s',
      baseline: 'write+fdatasync per record',
      baselineValue: durable1.baseline,
    });
    const durable64 = await paired(() => naiveDurableFloor(NAIVE_DURABLE_SECONDS), () => durableAppends(64, DURABLE_SECONDS));
    report({
      bench: BENCH,
      figure: 'append, sync always, 64 appenders',
      value: durable64.figure,
      unit: 'records/s',
      baseline: 'write+fdatasync per record',
      baselineValue: durable64.baseline,
      target: '>= 100,000 and >= 20x baseline',
    });

    progress('reads');
    const records = BUFFERED_RECORDS;
    const writer = await Log.open(readDir, { sync: 'never' });
    const values = Array.from({ length: 1000 }, () => value);
    for (let i = 0; i < records; i += 1000) await writer.appendBatch(values);
    await writer.close();
    const log = await Log.open(readDir, { sync: 'never' });
    const storeFile = path.join(readDir, fs.readdirSync(readDir).find((n) => n.endsWith('.store'))!);
    const rawFd = fs.openSync(storeFile, 'r');
    const rawRecordReads = (): number => {
      const buf = Buffer.allocUnsafe(FRAME_BYTES);
      const t = process.hrtime.bigint();
      for (let i = 0; i < records; i++) fs.readSync(rawFd, buf, 0, FRAME_BYTES, i * FRAME_BYTES);
      return records / seconds(t);
    };
    const reads = async (): Promise<number> => {
      const t = process.hrtime.bigint();
      for (let i = 0; i < records; i++) await log.read(i);
      return records / seconds(t);
    };
    const rawPageReads = (): number => {
      const page = 1000 * FRAME_BYTES;
      const buf = Buffer.allocUnsafe(page);
      const t = process.hrtime.bigint();
      for (let i = 0; i < records; i += 1000) fs.readSync(rawFd, buf, 0, page, i * FRAME_BYTES);
      return records / seconds(t);
    };
    const ranges = async (): Promise<number> => {
      const t = process.hrtime.bigint();
      let next = 0;
      while (next < records) {
        const page = await log.readRange(next, { maxRecords: 1000 });
        next = page[page.length - 1]!.offset + 1;
      }
      return records / seconds(t);
    };
    await reads();
    await ranges();
    const sequential = await paired(rawRecordReads, reads);
    report({
      bench: BENCH,
      figure: 'read, sequential',
      value: sequential.figure,
      unit: 'records/s',
      baseline: 'raw fs.readSync per record',
      baselineValue: sequential.baseline,
      target: '>= 300,000',
    });
    const paged = await paired(rawPageReads, ranges);
    report({
      bench: BENCH,
      figure: 'readRange of 1000, sequential',
      value: paged.figure,
      unit: 'records/s',
      baseline: 'raw fs.readSync of 1000 records',
      baselineValue: paged.baseline,
      target: '>= 2,000,000',
    });
    fs.closeSync(rawFd);
    await log.close();
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

await main();
