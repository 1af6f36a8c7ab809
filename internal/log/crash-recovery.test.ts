import fs from 'node:fs';
import path from 'node:path';
import { CorruptRecordError } from './errors.js';
import { Log } from './log.js';
import { INDEX_ENTRY_BYTES } from './offset-index.js';
import { FRAME_HEADER_BYTES } from './record-frame.js';
import { segmentFileName } from './segment.js';
import { copyDir, payload, removeDir, rng, tempDir } from './test-support.js';

// Records of random sizes in segments of at most 400 store bytes: the last segment ends up with several records.
const config = { sync: 'never' as const, segment: { maxStoreBytes: 400, maxIndexBytes: 1024 } };
// At least this many records, and then enough for the last segment to hold several: set in beforeAll.
const MIN_RECORDS = 60;
let RECORDS = 0;
const TRIALS = 150;
// Replay or explore with LOG_CRASH_SEED=<n> (a failure prints the seed it ran with).
const BASE_SEED = Number(process.env.LOG_CRASH_SEED ?? 20261121);

let root: string;
let pristine: string;
let sizes: number[];

beforeAll(async () => {
  root = await tempDir('proglog-crash-');
  pristine = path.join(root, 'pristine');
  const next = rng(BASE_SEED);
  sizes = [];
  const log = await Log.open(pristine, config);
  const lastBase = (): number =>
    Math.max(...fs.readdirSync(pristine).filter((n) => n.endsWith('.store')).map((n) => Number(n.slice(0, 20))));
  // The first records are never empty: the tests below damage the body of record 1.
  while (sizes.length < MIN_RECORDS || log.nextOffset() - lastBase() < 4) {
    const i = sizes.length;
    sizes.push(i < 3 ? 10 + i : Math.floor(next() * 40));
    await log.append(payload(i, sizes[i]));
  }
  RECORDS = sizes.length;
  await log.close();
});
afterAll(async () => {
  await removeDir(root);
});

/** The last segment's base offset and the end position of each of its frames. */
function lastSegment(): { base: number; frameEnds: number[] } {
  const bases = fs
    .readdirSync(pristine)
    .filter((n) => n.endsWith('.store'))
    .map((n) => Number(n.slice(0, -'.store'.length)))
    .sort((a, b) => a - b);
  const base = bases[bases.length - 1]!;
  const frameEnds: number[] = [];
  let end = 0;
  for (let i = base; i < RECORDS; i++) frameEnds.push((end += FRAME_HEADER_BYTES + sizes[i]!));
  return { base, frameEnds };
}

type Damage = { describe: string; apply: (store: string, index: string) => void; keptInLast: number };

function randomDamage(next: () => number, frameEnds: number[], store: string, index: string): Damage {
  const storeSize = fs.statSync(store).size;
  const indexSize = fs.statSync(index).size;
  const all = frameEnds.length;
  const framesEndingBy = (k: number): number => frameEnds.filter((e) => e <= k).length;
  const pick = (n: number): number => Math.floor(next() * n);
  switch (pick(6)) {
    case 0: {
      const cut = pick(storeSize + 1);
      return { describe: `cut store at ${cut}`, apply: (s) => fs.truncateSync(s, cut), keptInLast: framesEndingBy(cut) };
    }
    case 1: {
      const bit = pick(storeSize * 8);
      const byte = bit >> 3;
      return {
        describe: `flip store bit ${bit}`,
        apply: (s) => flipBit(s, bit),
        keptInLast: frameEnds.filter((e) => e <= byte).length,
      };
    }
    case 2: {
      const cut = pick(indexSize + 1);
      return { describe: `cut index at ${cut}`, apply: (_s, i) => fs.truncateSync(i, cut), keptInLast: all };
    }
    case 3: {
      const bit = pick(indexSize * 8);
      return { describe: `flip index bit ${bit}`, apply: (_s, i) => flipBit(i, bit), keptInLast: all };
    }
    case 4: {
      const zeros = 1 + pick(3 * INDEX_ENTRY_BYTES);
      return {
        describe: `zero-fill ${zeros} bytes after store and index`,
        apply: (s, i) => {
          fs.appendFileSync(s, Buffer.alloc(zeros));
          fs.appendFileSync(i, Buffer.alloc(zeros));
        },
        keptInLast: all,
      };
    }
    default: {
      const cut = pick(storeSize + 1);
      const bit = pick(indexSize * 8);
      return {
        describe: `cut store at ${cut} and flip index bit ${bit}`,
        apply: (s, i) => {
          fs.truncateSync(s, cut);
          flipBit(i, bit);
        },
        keptInLast: framesEndingBy(cut),
      };
    }
  }
}

function flipBit(file: string, bit: number): void {
  const bytes = fs.readFileSync(file);
  bytes[bit >> 3]! ^= 1 << (bit & 7);
  fs.writeFileSync(file, bytes);
}

async function expectRecords(log: Log, count: number): Promise<void> {
  expect(log.highestOffset()).toBe(count - 1);
  const wrong: number[] = [];
  for (let i = 0; i < count; i++) {
    if (!Buffer.from(payload(i, sizes[i])).equals(await log.read(i))) wrong.push(i);
  }
  expect(wrong).toEqual([]);
}

describe('crash recovery of the last segment', () => {
  test(`${TRIALS} random cuts, bit flips and zero fills reopen to exactly the valid prefix, and appends continue`, async () => {
    const { base, frameEnds } = lastSegment();
    expect(frameEnds.length).toBeGreaterThan(3);
    const next = rng(BASE_SEED + 1);
    for (let trial = 0; trial < TRIALS; trial++) {
      const dir = path.join(root, `trial-${trial}`);
      copyDir(pristine, dir);
      const store = path.join(dir, segmentFileName(base, '.store'));
      const index = path.join(dir, segmentFileName(base, '.index'));
      const damage = randomDamage(next, frameEnds, store, index);
      damage.apply(store, index);
      const expected = base + damage.keptInLast;
      try {
        const log = await Log.open(dir, config);
        await expectRecords(log, expected);
        expect(await log.append(payload(expected, 5))).toBe(expected);
        await log.close();
        const again = await Log.open(dir, config);
        expect(again.highestOffset()).toBe(expected);
        expect(Buffer.from(await again.read(expected))).toEqual(Buffer.from(payload(expected, 5)));
        await again.close();
      } catch (err) {
        throw new Error(
          `trial ${trial} (LOG_CRASH_SEED=${BASE_SEED}): ${damage.describe}: ${(err as Error).message}`,
        );
      }
      await removeDir(dir);
    }
  });
});

describe('a crash right after a roll', () => {
  test('an empty newest segment is dropped and the torn tail before it is cut, leaving no hole', async () => {
    const dir = path.join(root, 'after-roll');
    copyDir(pristine, dir);
    const { base, frameEnds } = lastSegment();
    fs.writeFileSync(path.join(dir, segmentFileName(RECORDS, '.store')), '');
    fs.writeFileSync(path.join(dir, segmentFileName(RECORDS, '.index')), '');
    fs.truncateSync(path.join(dir, segmentFileName(base, '.store')), frameEnds[1]! + 3);
    const log = await Log.open(dir, config);
    await expectRecords(log, base + 2);
    expect(await log.append(payload(base + 2, 3))).toBe(base + 2);
    await log.close();
  });
});

describe('damage in an older segment', () => {
  test('a corrupt record does not stop the open, reads as CorruptRecordError, and others read fine', async () => {
    const dir = path.join(root, 'older-store');
    copyDir(pristine, dir);
    // Flip a bit in the body of the second record of the first segment.
    flipBit(path.join(dir, segmentFileName(0, '.store')), (FRAME_HEADER_BYTES + sizes[0]! + FRAME_HEADER_BYTES) * 8 + 1);
    const log = await Log.open(dir, config);
    expect(log.highestOffset()).toBe(RECORDS - 1);
    const err = await log.read(1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CorruptRecordError);
    expect(err).toMatchObject({ offset: 1, code: 'CORRUPT_RECORD' });
    expect(Buffer.from(await log.read(0))).toEqual(Buffer.from(payload(0, sizes[0])));
    expect(Buffer.from(await log.read(2))).toEqual(Buffer.from(payload(2, sizes[2])));
    expect((await log.readRange(0, { maxRecords: 10 })).map((r) => r.offset)).toEqual([0]);
    await expect(log.readRange(1)).rejects.toThrow(CorruptRecordError);
    await log.close();
  });

  test('a damaged index of a sealed segment is rebuilt from its store', async () => {
    const dir = path.join(root, 'older-index');
    copyDir(pristine, dir);
    flipBit(path.join(dir, segmentFileName(0, '.index')), INDEX_ENTRY_BYTES * 8 + 3);
    fs.appendFileSync(path.join(dir, segmentFileName(0, '.index')), Buffer.alloc(7));
    const log = await Log.open(dir, config);
    await expectRecords(log, RECORDS);
    await log.close();
  });

  test('any single bit flip in any sealed index loses nothing: the store rebuilds it', async () => {
    const next = rng(BASE_SEED + 2);
    const indexes = fs.readdirSync(pristine).filter((n) => n.endsWith('.index')).sort().slice(0, -1);
    for (let trial = 0; trial < 40; trial++) {
      const dir = path.join(root, `sealed-index-${trial}`);
      copyDir(pristine, dir);
      const file = path.join(dir, indexes[Math.floor(next() * indexes.length)]!);
      const bit = Math.floor(next() * fs.statSync(file).size * 8);
      flipBit(file, bit);
      try {
        const log = await Log.open(dir, config);
        await expectRecords(log, RECORDS);
        expect((await log.readRange(0, { maxRecords: RECORDS })).length).toBe(RECORDS);
        await log.close();
      } catch (err) {
        throw new Error(
          `trial ${trial} (LOG_CRASH_SEED=${BASE_SEED}): flip bit ${bit} of ${file}: ${(err as Error).message}`,
        );
      }
      await removeDir(dir);
    }
  });

  test('damage inside a sealed index that the cheap open check cannot see is caught when the index loads', async () => {
    const dir = path.join(root, 'older-index-lazy');
    copyDir(pristine, dir);
    // The position of entry 1: the file keeps its size and its last entry, so the segment opens as trusted.
    flipBit(path.join(dir, segmentFileName(0, '.index')), (INDEX_ENTRY_BYTES + 4) * 8 + 2);
    const log = await Log.open(dir, config);
    await expectRecords(log, RECORDS);
    await log.close();
  });

  test('a sealed store cut short opens; its missing records are corrupt, later segments still read', async () => {
    const dir = path.join(root, 'older-cut');
    copyDir(pristine, dir);
    fs.truncateSync(path.join(dir, segmentFileName(0, '.store')), FRAME_HEADER_BYTES + sizes[0]! + 3);
    const log = await Log.open(dir, config);
    expect(log.highestOffset()).toBe(RECORDS - 1);
    expect(Buffer.from(await log.read(0))).toEqual(Buffer.from(payload(0, sizes[0])));
    await expect(log.read(1)).rejects.toThrow(CorruptRecordError);
    expect(Buffer.from(await log.read(RECORDS - 1))).toEqual(Buffer.from(payload(RECORDS - 1, sizes[RECORDS - 1])));
    await log.close();
  });
});
