import { jest } from '@jest/globals';
import fs from 'node:fs';
import path from 'node:path';
import {
  InvalidConfigError,
  LogClosedError,
  LogIOError,
  OffsetOutOfRangeError,
  RecordTooLargeError,
} from './errors.js';
import { Log } from './log.js';
import { FRAME_HEADER_BYTES } from './record-frame.js';
import { decodeStoredRecords } from './stored-records.js';
import { payload, removeDir, tempDir } from './test-support.js';

const SIZE = 16;
const FRAME = FRAME_HEADER_BYTES + SIZE;
// Three 16-byte records per segment.
const small = { segment: { maxStoreBytes: 3 * FRAME, maxIndexBytes: 1024 } };

let dir: string;
const open: Log[] = [];
async function openLog(config: Parameters<typeof Log.open>[1] = {}): Promise<Log> {
  const log = await Log.open(dir, { sync: 'never', ...config });
  open.push(log);
  return log;
}
async function fill(log: Log, from: number, to: number): Promise<void> {
  for (let i = from; i < to; i++) await log.append(payload(i, SIZE));
}
function bytes(v: Uint8Array): Buffer {
  return Buffer.from(v);
}
const segmentFiles = (): string[] => fs.readdirSync(dir).filter((n) => n.endsWith('.store')).sort();

beforeEach(async () => {
  dir = await tempDir();
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((l) => l.close().catch(() => {})));
  await removeDir(dir);
});

describe('Log: append and read', () => {
  test('appends get dense offsets from the initial offset and read back', async () => {
    const log = await openLog({ segment: { initialOffset: 100 } });
    expect(log.highestOffset()).toBe(log.lowestOffset() - 1);
    expect(await log.append(payload(0))).toBe(100);
    expect(await log.append(payload(1))).toBe(101);
    expect(bytes(await log.read(101))).toEqual(bytes(payload(1)));
    expect([log.lowestOffset(), log.highestOffset(), log.nextOffset()]).toEqual([100, 101, 102]);
  });

  test('offsets are 64-bit: a log based past 2^32 appends, reads and reopens', async () => {
    const base = 2 ** 40 + 7;
    const a = await openLog({ ...small, segment: { ...small.segment, initialOffset: base } });
    await fill(a, 0, 5);
    expect(a.highestOffset()).toBe(base + 4);
    await a.close();
    const b = await openLog(small);
    expect([b.lowestOffset(), b.highestOffset()]).toEqual([base, base + 4]);
    expect(bytes(await b.read(base + 4))).toEqual(bytes(payload(4)));
    expect((await b.readRange(base + 1, { maxRecords: 2 })).map((r) => r.offset)).toEqual([base + 1, base + 2]);
  });

  test('an empty record is a record', async () => {
    const log = await openLog();
    expect(await log.append(new Uint8Array(0))).toBe(0);
    expect((await log.read(0)).length).toBe(0);
  });

  test('reading outside [lowest, highest] throws OffsetOutOfRangeError carrying the offset', async () => {
    const log = await openLog();
    await expect(log.read(0)).rejects.toThrow(OffsetOutOfRangeError);
    await fill(log, 0, 2);
    for (const bad of [2, -1, 1.5, Number.NaN]) {
      const err = await log.read(bad).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OffsetOutOfRangeError);
      expect(err).toMatchObject({ offset: bad, lowest: 0, highest: 1, code: 'OFFSET_OUT_OF_RANGE' });
    }
  });

  test('arguments that cannot be offsets are refused with OffsetOutOfRangeError, changing nothing', async () => {
    const log = await openLog();
    await fill(log, 0, 3);
    for (const bad of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      await expect(log.truncateSuffix(bad)).rejects.toThrow(OffsetOutOfRangeError);
      await expect(log.truncatePrefix(bad)).rejects.toThrow(OffsetOutOfRangeError);
      await expect(log.waitFor(bad)).rejects.toThrow(OffsetOutOfRangeError);
    }
    expect([log.lowestOffset(), log.highestOffset()]).toEqual([0, 2]);
  });

  test('a record over maxRecordBytes is refused with RecordTooLargeError and leaves nothing behind', async () => {
    const log = await openLog({ maxRecordBytes: 8 });
    await expect(log.append(new Uint8Array(9))).rejects.toMatchObject({ size: 9, max: 8 });
    await expect(log.appendBatch([payload(0, 8), new Uint8Array(9)])).rejects.toThrow(RecordTooLargeError);
    expect(log.nextOffset()).toBe(0);
    expect(log.sizeBytes()).toBe(0);
  });

  test('the segment rolls before a record would overflow it, and reads span segments', async () => {
    const log = await openLog(small);
    await fill(log, 0, 7);
    expect(segmentFiles().length).toBe(3);
    for (let i = 0; i < 7; i++) expect(bytes(await log.read(i))).toEqual(bytes(payload(i)));
    for (const f of segmentFiles()) expect(fs.statSync(path.join(dir, f)).size).toBeLessThanOrEqual(3 * FRAME);
  });

  test('appendBatch writes many records and resolves with the first offset', async () => {
    const log = await openLog(small);
    await fill(log, 0, 2);
    expect(await log.appendBatch([3, 4, 5, 6, 7].map((i) => payload(i)))).toBe(2);
    expect(await log.appendBatch([])).toBe(7);
    expect(log.nextOffset()).toBe(7);
    expect(bytes(await log.read(6))).toEqual(bytes(payload(7)));
  });

  test('a record given as parts is stored as their concatenation, buffered or (past the write buffer) direct', async () => {
    const big = Buffer.alloc(1536 * 1024, 7);
    const records = [[Buffer.from('ab'), Buffer.alloc(0), Buffer.from('cde')], Buffer.from('whole'), [Buffer.from('hdr'), big], []];
    const whole = records.map((r) => (r instanceof Uint8Array ? r : Buffer.concat(r)));
    const log = await openLog({ maxRecordBytes: 2 * 1024 * 1024 });
    expect(await log.appendBatch(records)).toBe(0);
    expect(await log.append([Buffer.from('x'), Buffer.from('y')])).toBe(4);
    whole.push(Buffer.from('xy'));
    for (let i = 0; i < whole.length; i++) expect(bytes(await log.read(i))).toEqual(whole[i]);
    await log.close();
    // Reopening checks every frame's checksum: those computed over parts verify as if over the whole.
    const reopened = await openLog({ maxRecordBytes: 2 * 1024 * 1024 });
    expect(reopened.nextOffset()).toBe(whole.length);
    for (let i = 0; i < whole.length; i++) expect(bytes(await reopened.read(i))).toEqual(whole[i]);
  });

  test('a batch that fails part-way (the next segment cannot be created) leaves nothing behind', async () => {
    const log = await openLog({ ...small, sync: 'always' });
    await fill(log, 0, 2);
    const sizeBefore = log.sizeBytes();
    const blocker = path.join(dir, `${(3).toString().padStart(20, '0')}.store`);
    fs.mkdirSync(blocker);
    const err = await log.appendBatch([2, 3, 4].map((i) => payload(i))).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LogIOError);
    expect([log.nextOffset(), log.sizeBytes(), log.stats().segments]).toEqual([2, sizeBefore, 1]);
    fs.rmdirSync(blocker);
    expect(await log.appendBatch([2, 3, 4].map((i) => payload(i)))).toBe(2);
    await log.close();
    const again = await openLog(small);
    expect(again.highestOffset()).toBe(4);
    for (let i = 0; i < 5; i++) expect(bytes(await again.read(i))).toEqual(bytes(payload(i)));
  });

  test('only the recently read sealed indexes stay in memory; the others load again on demand', async () => {
    const a = await openLog(small);
    await fill(a, 0, 60); // 20 segments
    expect(a.stats().loadedSealedIndexes).toBeLessThanOrEqual(8);
    await a.close();
    const b = await openLog(small);
    expect(b.stats().loadedSealedIndexes).toBe(0);
    for (let i = 0; i < 60; i++) expect(bytes(await b.read(i))).toEqual(bytes(payload(i)));
    expect(b.stats().loadedSealedIndexes).toBe(8);
    const page = await b.readRange(0, { maxRecords: 60 });
    expect(page.map((r) => r.offset)).toEqual(Array.from({ length: 60 }, (_, i) => i));
    expect(b.stats().loadedSealedIndexes).toBe(8);
  });

  test('reopen keeps every record and appends continue at the next offset', async () => {
    const a = await openLog({ ...small, sync: 'always' });
    await fill(a, 0, 8);
    await a.close();
    const b = await openLog(small);
    expect([b.lowestOffset(), b.highestOffset()]).toEqual([0, 7]);
    for (let i = 0; i < 8; i++) expect(bytes(await b.read(i))).toEqual(bytes(payload(i)));
    expect(await b.append(payload(8))).toBe(8);
  });

  test('the configured initial offset applies to a new log only', async () => {
    const a = await openLog({ segment: { initialOffset: 7 } });
    await fill(a, 0, 1);
    await a.close();
    const b = await openLog({ segment: { initialOffset: 1000 } });
    expect(b.lowestOffset()).toBe(7);
  });

  test('configs that cannot work are refused with InvalidConfigError', async () => {
    await expect(Log.open(dir, { segment: { maxIndexBytes: 11 } })).rejects.toThrow(InvalidConfigError);
    await expect(Log.open(dir, { sync: 'sometimes' as 'always' })).rejects.toThrow(InvalidConfigError);
    await expect(Log.open(dir, { segment: { initialOffset: -1 } })).rejects.toThrow(InvalidConfigError);
  });

  test('a record too large for a segment is refused even under maxRecordBytes', async () => {
    const log = await openLog({ segment: { maxStoreBytes: 64 } });
    await expect(log.append(new Uint8Array(57))).rejects.toMatchObject({ size: 57, max: 56 });
    expect(await log.append(new Uint8Array(56))).toBe(0);
  });
});

describe('Log: readRange', () => {
  test('pages by maxRecords across segments', async () => {
    const log = await openLog(small);
    await fill(log, 0, 10);
    const page = await log.readRange(2, { maxRecords: 5 });
    expect(page.map((r) => r.offset)).toEqual([2, 3, 4, 5, 6]);
    page.forEach((r) => expect(bytes(r.value)).toEqual(bytes(payload(r.offset))));
    expect((await log.readRange(8, { maxRecords: 100 })).map((r) => r.offset)).toEqual([8, 9]);
  });

  test('pages by maxBytes, but always returns at least one record', async () => {
    const log = await openLog(small);
    await fill(log, 0, 10);
    expect((await log.readRange(0, { maxBytes: 3 * SIZE })).length).toBe(3);
    expect((await log.readRange(0, { maxBytes: 3 * SIZE + 1 })).length).toBe(3);
    expect((await log.readRange(4, { maxBytes: 1 })).map((r) => r.offset)).toEqual([4]);
  });

  test('maxOffset caps a page, e.g. at stableOffset() for consumers', async () => {
    const log = await openLog(small);
    await fill(log, 0, 10);
    expect((await log.readRange(2, { maxOffset: 4 })).map((r) => r.offset)).toEqual([2, 3, 4]);
    expect(await log.readRange(5, { maxOffset: 4 })).toEqual([]);
    expect((await log.readRange(0, { maxOffset: log.stableOffset() })).length).toBe(10);
  });

  test('an offset past the end is out of range', async () => {
    const log = await openLog();
    await fill(log, 0, 3);
    await expect(log.readRange(3)).rejects.toThrow(OffsetOutOfRangeError);
  });
});

describe('Log: reader and waitFor', () => {
  test('reader streams the stored bytes of every segment in order', async () => {
    const log = await openLog(small);
    await fill(log, 0, 8);
    const chunks: Buffer[] = [];
    for await (const c of log.reader()) chunks.push(c as Buffer);
    const all = Buffer.concat(chunks);
    const expected = Buffer.concat(segmentFiles().map((f) => fs.readFileSync(path.join(dir, f))));
    expect(all).toEqual(expected);
    const values: Buffer[] = [];
    for await (const v of decodeStoredRecords(log.reader())) values.push(Buffer.from(v));
    expect(values).toEqual([0, 1, 2, 3, 4, 5, 6, 7].map((i) => bytes(payload(i))));
  });

  test('a reader keeps streaming the segments it started with, even after they are removed', async () => {
    const log = await openLog(small);
    await fill(log, 0, 9);
    const stream = log.reader();
    await log.truncatePrefix(6);
    const values: Buffer[] = [];
    for await (const v of decodeStoredRecords(stream)) values.push(Buffer.from(v));
    expect(values.length).toBe(9);
  });

  test('a reader destroyed unread closes the files it opened', async () => {
    const log = await openLog(small);
    await fill(log, 0, 9);
    const openFds = (): number => fs.readdirSync('/proc/self/fd').length;
    const before = openFds();
    const stream = log.reader();
    expect(openFds()).toBe(before + 3);
    stream.destroy();
    await new Promise((r) => stream.once('close', r));
    expect(openFds()).toBe(before);
  });

  test('decoding a damaged or cut snapshot stream throws CorruptRecordError', async () => {
    const log = await openLog();
    await fill(log, 0, 3);
    const chunks: Buffer[] = [];
    for await (const c of log.reader()) chunks.push(c as Buffer);
    const whole = Buffer.concat(chunks);
    const decodeAll = async (bytes: Buffer): Promise<number> => {
      let n = 0;
      for await (const _ of decodeStoredRecords([bytes.subarray(0, 5), bytes.subarray(5)], 100)) n++;
      return n;
    };
    expect(await decodeAll(whole)).toBe(3);
    const flipped = Buffer.from(whole);
    flipped[FRAME + FRAME_HEADER_BYTES + 1]! ^= 4;
    await expect(decodeAll(flipped)).rejects.toMatchObject({ code: 'CORRUPT_RECORD', offset: 101 });
    await expect(decodeAll(whole.subarray(0, whole.length - 1))).rejects.toMatchObject({ offset: 102 });
  });

  test('waitFor resolves at once for an existing offset and on the append that creates it', async () => {
    const log = await openLog();
    await fill(log, 0, 1);
    await log.waitFor(0);
    let resolved = false;
    const waiting = log.waitFor(2).then(() => (resolved = true));
    await log.append(payload(1));
    await new Promise((r) => setImmediate(r));
    expect(resolved).toBe(false);
    await log.append(payload(2));
    await waiting;
    expect(resolved).toBe(true);
  });

  test('after truncateSuffix a removed offset is waited for again until it is re-appended', async () => {
    const log = await openLog();
    await fill(log, 0, 3);
    expect(log.stableOffset()).toBe(2);
    await log.truncateSuffix(1);
    expect(log.stableOffset()).toBe(0);
    let resolved = false;
    const waiting = log.waitFor(1).then(() => (resolved = true));
    await new Promise((r) => setImmediate(r));
    expect(resolved).toBe(false);
    await log.append(payload(9));
    await waiting;
  });

  test('waitFor rejects with the abort reason when aborted, and with LogClosedError on close', async () => {
    const log = await openLog();
    const ac = new AbortController();
    const aborted = log.waitFor(5, ac.signal);
    ac.abort(new Error('consumer left'));
    await expect(aborted).rejects.toThrow('consumer left');
    const closing = log.waitFor(5);
    await log.close();
    await expect(closing).rejects.toThrow(LogClosedError);
  });
});

describe('Log: removing records', () => {
  test('truncatePrefix drops only whole segments entirely below the offset', async () => {
    const log = await openLog(small);
    await fill(log, 0, 8); // segments [0..2] [3..5] [6..7]
    await log.truncatePrefix(5);
    expect(log.lowestOffset()).toBe(3);
    await log.truncatePrefix(6);
    expect(log.lowestOffset()).toBe(6);
    await expect(log.read(5)).rejects.toThrow(OffsetOutOfRangeError);
    expect(bytes(await log.read(7))).toEqual(bytes(payload(7)));
    expect(segmentFiles().length).toBe(1);
  });

  test('truncatePrefix past every record leaves an empty log at the next offset', async () => {
    const log = await openLog(small);
    await fill(log, 0, 4);
    await log.truncatePrefix(4);
    expect([log.lowestOffset(), log.highestOffset()]).toEqual([4, 3]);
    expect(await log.append(payload(4))).toBe(4);
  });

  test('truncateSuffix removes every record at or above the offset, and appends reuse it', async () => {
    const log = await openLog(small);
    await fill(log, 0, 8);
    await log.truncateSuffix(4);
    expect(log.highestOffset()).toBe(3);
    expect(segmentFiles().length).toBe(2);
    await expect(log.read(4)).rejects.toThrow(OffsetOutOfRangeError);
    expect(await log.append(payload(40))).toBe(4);
    expect(bytes(await log.read(4))).toEqual(bytes(payload(40)));
    expect(bytes(await log.read(3))).toEqual(bytes(payload(3)));
  });

  test('truncateSuffix survives a reopen (the records do not come back)', async () => {
    const a = await openLog({ ...small, sync: 'always' });
    await fill(a, 0, 8);
    await a.truncateSuffix(2);
    await a.close();
    const b = await openLog(small);
    expect(b.highestOffset()).toBe(1);
  });

  test('truncateSuffix at or below the lowest offset empties the log', async () => {
    const log = await openLog({ ...small, segment: { ...small.segment, initialOffset: 10 } });
    await fill(log, 0, 5);
    await log.truncateSuffix(10);
    expect([log.lowestOffset(), log.highestOffset()]).toEqual([10, 9]);
    expect(await log.append(payload(0))).toBe(10);
  });

  test('retention by size drops the oldest sealed segments, never the active one', async () => {
    const log = await openLog({ ...small, retention: { maxLogBytes: 1 } });
    await fill(log, 0, 8);
    expect(await log.applyRetention()).toBe(2);
    expect(log.lowestOffset()).toBe(6);
    expect(await log.applyRetention()).toBe(0);
    expect(log.highestOffset()).toBe(7);
  });

  test('retention by size keeps the log under the limit with the fewest deletions', async () => {
    const segmentBytes = 3 * FRAME + 3 * 12;
    const log = await openLog({ ...small, retention: { maxLogBytes: 2 * segmentBytes } });
    await fill(log, 0, 9); // three full segments
    expect(await log.applyRetention()).toBe(1);
    expect(log.sizeBytes()).toBeLessThanOrEqual(2 * segmentBytes);
  });

  test('retention also runs by itself every checkIntervalMs', async () => {
    const log = await openLog({ ...small, retention: { maxLogBytes: 1, checkIntervalMs: 5 } });
    await fill(log, 0, 8);
    const deadline = Date.now() + 5000;
    while (log.lowestOffset() !== 6 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    expect(log.lowestOffset()).toBe(6);
  });

  test('retention by age drops sealed segments last written before now - maxAgeMs', async () => {
    const log = await openLog({ ...small, retention: { maxAgeMs: 60_000 } });
    await fill(log, 0, 8);
    expect(await log.applyRetention(Date.now())).toBe(0);
    expect(await log.applyRetention(Date.now() + 61_000)).toBe(2);
    expect(log.lowestOffset()).toBe(6);
  });
});

describe('Log: lifecycle', () => {
  test('every call after close gets LogClosedError', async () => {
    const log = await openLog();
    await fill(log, 0, 1);
    await log.close();
    await log.close();
    await expect(log.append(payload(1))).rejects.toThrow(LogClosedError);
    await expect(log.appendBatch([payload(1)])).rejects.toThrow(LogClosedError);
    await expect(log.read(0)).rejects.toThrow(LogClosedError);
    await expect(log.readRange(0)).rejects.toThrow(LogClosedError);
    await expect(log.waitFor(0)).rejects.toThrow(LogClosedError);
    await expect(log.truncatePrefix(0)).rejects.toThrow(LogClosedError);
    await expect(log.truncateSuffix(0)).rejects.toThrow(LogClosedError);
    await expect(log.applyRetention()).rejects.toThrow(LogClosedError);
    await expect(log.reset()).rejects.toThrow(LogClosedError);
    expect(() => log.reader()).toThrow(LogClosedError);
  });

  test('appends in flight when close is called are written before it resolves', async () => {
    const log = await openLog({ sync: 'always' });
    const pending = [0, 1, 2].map((i) => log.append(payload(i)));
    await log.close();
    expect(await Promise.all(pending)).toEqual([0, 1, 2]);
    const again = await openLog();
    expect(again.highestOffset()).toBe(2);
  });

  test('reset empties the log and starts over at the initial offset', async () => {
    const log = await openLog({ ...small, segment: { ...small.segment, initialOffset: 5 } });
    await fill(log, 0, 7);
    await log.reset();
    expect([log.lowestOffset(), log.highestOffset()]).toEqual([5, 4]);
    expect(segmentFiles().length).toBe(1);
    expect(await log.append(payload(0))).toBe(5);
    await log.reset(1000);
    expect(log.nextOffset()).toBe(1000);
    await expect(log.reset(-1)).rejects.toThrow(InvalidConfigError);
  });

  test('remove closes the log and deletes its directory', async () => {
    const log = await openLog();
    await fill(log, 0, 3);
    await log.remove();
    expect(fs.existsSync(dir)).toBe(false);
    await expect(log.append(payload(0))).rejects.toThrow(LogClosedError);
  });
});

describe('a new log folder', () => {
  let root: string;
  beforeEach(async () => {
    root = await tempDir();
  });
  afterEach(async () => {
    jest.restoreAllMocks();
    await removeDir(root);
  });

  it('is made durable up to the first folder that already existed, so a crash cannot lose it with its records', async () => {
    const dir = path.join(root, 'a', 'b', 'topic');
    const opened: string[] = [];
    const openSync = fs.openSync;
    jest.spyOn(fs, 'openSync').mockImplementation((p, ...rest) => {
      if (rest[0] === 'r') opened.push(String(p));
      return openSync(p, ...rest);
    });
    const log = await Log.open(dir, { sync: 'always' });
    expect(opened).toEqual([dir, path.join(root, 'a', 'b'), path.join(root, 'a'), root]);
    opened.length = 0;
    await log.append(Buffer.from('x'));
    await log.close();
    // Reopening finds the folder: nothing new to make durable.
    const again = await Log.open(dir, { sync: 'always' });
    expect(opened).toEqual([]);
    await again.close();
  });
});
