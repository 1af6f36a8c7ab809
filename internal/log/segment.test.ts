import { jest } from '@jest/globals';
import fs from 'node:fs';
import path from 'node:path';
import { CorruptRecordError } from './errors.js';
import { INDEX_ENTRY_BYTES, OffsetIndex } from './offset-index.js';
import { Log } from './log.js';
import { FRAME_HEADER_BYTES } from './record-frame.js';
import { Segment, listSegmentBases, segmentFileName } from './segment.js';
import { Store } from './store.js';
import { payload, removeDir, tempDir } from './test-support.js';

let dir: string;
beforeEach(async () => {
  dir = await tempDir();
});
afterEach(async () => {
  jest.restoreAllMocks();
  await removeDir(dir);
});

describe('Segment', () => {
  test('appends get offsets from the base offset and read back', () => {
    const s = Segment.create(dir, 16, { maxStoreBytes: 1024, maxIndexBytes: 1024 });
    expect(s.append(payload(0))).toBe(16);
    expect(s.append(payload(1))).toBe(17);
    expect(s.nextOffset).toBe(18);
    expect(Buffer.from(s.read(17))).toEqual(Buffer.from(payload(1)));
    s.close();
  });

  test('is maxed by its index limit, which need not be a multiple of the entry size', () => {
    const s = Segment.create(dir, 0, { maxStoreBytes: 1 << 20, maxIndexBytes: 3 * INDEX_ENTRY_BYTES + 5 });
    for (let i = 0; i < 3; i++) {
      expect(s.fits(16)).toBe(true);
      s.append(payload(i));
    }
    expect(s.fits(16)).toBe(false);
    expect(s.isMaxed).toBe(true);
    s.close();
  });

  test('is maxed by its store limit: a record that would overflow it does not fit', () => {
    const frame = FRAME_HEADER_BYTES + 16;
    const s = Segment.create(dir, 0, { maxStoreBytes: 2 * frame + 3, maxIndexBytes: 1024 });
    s.append(payload(0));
    s.append(payload(1));
    expect(s.fits(16)).toBe(false);
    expect(s.fits(0)).toBe(false);
    expect(s.isMaxed).toBe(true);
    s.close();
  });

  test('recover reopens with the same records', () => {
    const limits = { maxStoreBytes: 1024, maxIndexBytes: 1024 };
    const s = Segment.create(dir, 5, limits);
    for (let i = 0; i < 4; i++) s.append(payload(i));
    s.close();
    const { segment, repaired } = Segment.recover(dir, 5, limits);
    expect(repaired).toBe(false);
    expect(segment.nextOffset).toBe(9);
    expect(Buffer.from(segment.read(8))).toEqual(Buffer.from(payload(3)));
    segment.close();
  });

  test('a sealed segment with a damaged store opens, and its lost records read as corrupt, never as data', () => {
    const limits = { maxStoreBytes: 1024, maxIndexBytes: 1024 };
    const s = Segment.create(dir, 0, limits);
    for (let i = 0; i < 4; i++) s.append(payload(i));
    s.close();
    const storePath = path.join(dir, segmentFileName(0, '.store'));
    fs.truncateSync(storePath, 2 * (FRAME_HEADER_BYTES + 16) + 5);
    const sealed = Segment.openSealed(dir, 0, 4, limits);
    expect(sealed.nextOffset).toBe(4);
    expect(Buffer.from(sealed.read(1))).toEqual(Buffer.from(payload(1)));
    expect(() => sealed.read(2)).toThrow(CorruptRecordError);
    expect(() => sealed.read(3)).toThrow(CorruptRecordError);
    sealed.close();
  });

  test('cutTo removes records at and above an offset', () => {
    const s = Segment.create(dir, 10, { maxStoreBytes: 1024, maxIndexBytes: 1024 });
    for (let i = 0; i < 5; i++) s.append(payload(i));
    s.cutTo(12);
    expect(s.nextOffset).toBe(12);
    expect(s.storeBytes).toBe(2 * (FRAME_HEADER_BYTES + 16));
    expect(s.append(payload(9))).toBe(12);
    expect(Buffer.from(s.read(12))).toEqual(Buffer.from(payload(9)));
    s.close();
  });

  test('listing finds segments by base and discards an index left without its store', () => {
    Segment.create(dir, 0, { maxStoreBytes: 64, maxIndexBytes: 64 }).close();
    Segment.create(dir, 100, { maxStoreBytes: 64, maxIndexBytes: 64 }).close();
    fs.writeFileSync(path.join(dir, segmentFileName(200, '.index')), '');
    expect(listSegmentBases(dir)).toEqual([0, 100]);
    expect(fs.existsSync(path.join(dir, segmentFileName(200, '.index')))).toBe(false);
  });
});

// Descriptors are counted in /proc (Linux): a leak shows as one or two more per failed open.
const openFds = (): number => fs.readdirSync('/proc/self/fd').length;
const onLinux = fs.existsSync('/proc/self/fd') ? describe : describe.skip;

onLinux('a segment that fails to open closes the files it had opened', () => {
  const limits = { maxStoreBytes: 64, maxIndexBytes: 1024 };

  /** Three segments of two records each, then the log closed. */
  async function threeSegments(): Promise<number[]> {
    const log = await Log.open(dir, { sync: 'never', segment: limits });
    for (let i = 0; i < 6; i++) await log.append(payload(i, 20));
    await log.close();
    const bases = listSegmentBases(dir);
    expect(bases).toHaveLength(3);
    return bases;
  }

  function unopenableIndex(base: number): void {
    // A directory where the index file goes: opening it fails after the store is open.
    const file = path.join(dir, segmentFileName(base, '.index'));
    fs.rmSync(file);
    fs.mkdirSync(file);
  }

  async function failedOpensLeakNothing(): Promise<void> {
    const before = openFds();
    for (let i = 0; i < 10; i++) await expect(Log.open(dir, { sync: 'never', segment: limits })).rejects.toThrow();
    expect(openFds()).toBe(before);
  }

  test('the newest segment (recover): its index cannot be opened', async () => {
    const bases = await threeSegments();
    unopenableIndex(bases[2]!);
    await failedOpensLeakNothing();
  });

  test('an older segment (openSealed): its index cannot be opened', async () => {
    const bases = await threeSegments();
    unopenableIndex(bases[1]!);
    await failedOpensLeakNothing();
  });

  test('loading the index fails (the index was opened inside OffsetIndex.open)', async () => {
    await threeSegments();
    jest.spyOn(OffsetIndex.prototype, 'load').mockImplementation(() => {
      throw new Error('injected: index load failed');
    });
    await failedOpensLeakNothing();
  });

  test('a failure after both files are open', async () => {
    await threeSegments();
    jest.spyOn(Store.prototype, 'scan').mockImplementation(() => {
      throw new Error('injected: scan failed');
    });
    await failedOpensLeakNothing();
  });
});
