import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { AtomicFile, CorruptFileError, readFileAtomic, removeStaleTempFiles, writeFileAtomic } from './atomic-file.js';
import { HardStateFile } from './hard-state-file.js';

let dir: string;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'proglog-atomic-'));
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('atomic files', () => {
  test('a missing file reads as undefined; a written one reads back; rewriting replaces it whole', async () => {
    const f = path.join(dir, 'x');
    expect(await readFileAtomic(f)).toBeUndefined();
    await writeFileAtomic(f, Buffer.from('one'));
    await writeFileAtomic(f, Buffer.from('two!'));
    expect((await readFileAtomic(f))?.toString()).toBe('two!');
    expect(await fs.readdir(dir)).toEqual(['x']);
  });

  test('a flipped bit or a torn file is detected, never trusted', async () => {
    const f = path.join(dir, 'x');
    await writeFileAtomic(f, Buffer.from('important'));
    const bytes = await fs.readFile(f);
    bytes[bytes.length - 1]! ^= 1;
    await fs.writeFile(f, bytes);
    await expect(readFileAtomic(f)).rejects.toBeInstanceOf(CorruptFileError);
    await fs.writeFile(f, bytes.subarray(0, 5));
    await expect(readFileAtomic(f)).rejects.toBeInstanceOf(CorruptFileError);
  });

  test('concurrent writes to one file never fail, and the file reads back as the last one issued', async () => {
    for (let round = 0; round < 20; round++) {
      const f = new AtomicFile(path.join(dir, `f${round}`));
      const writes = Array.from({ length: 8 }, (_, i) => f.write(Buffer.from(`value ${i} `.repeat(1 + ((i * 7) % 5)))));
      const outcomes = await Promise.allSettled(writes);
      expect(outcomes.filter((o) => o.status === 'rejected')).toEqual([]);
      expect((await f.read())?.toString()).toBe('value 7 '.repeat(1 + ((7 * 7) % 5)));
    }
    // No temp file is left behind.
    expect((await fs.readdir(dir)).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `f${i}`).sort());
  });

  test('concurrent hard state writes: the file always holds the last one', async () => {
    const hs = new HardStateFile(dir);
    const writes = [hs.write({ term: 7, vote: 'a#1', commit: 1 }), hs.write({ term: 7, vote: 'a#1', commit: 2 }), hs.write({ term: 8, vote: '', commit: 2 })];
    await Promise.all(writes);
    expect(await new HardStateFile(dir).read()).toEqual({ term: 8, vote: '', commit: 2 });
  });

  test('a failed write removes its temp file and does not stop the writes after it', async () => {
    const f = new AtomicFile(path.join(dir, 'x'));
    // A non-empty directory where the file should be: the rename fails.
    await fs.mkdir(path.join(dir, 'x'));
    await fs.writeFile(path.join(dir, 'x', 'inside'), '');
    await expect(f.write(Buffer.from('no'))).rejects.toThrow();
    expect(await fs.readdir(dir)).toEqual(['x']);
    await fs.rm(path.join(dir, 'x'), { recursive: true });
    await f.write(Buffer.from('yes'));
    expect((await f.read())?.toString()).toBe('yes');
  });

  test('temp files a crash left behind are removed, the file itself is kept', async () => {
    const f = path.join(dir, 'hardstate');
    await writeFileAtomic(f, Buffer.from('kept'));
    await fs.writeFile(`${f}.tmp`, 'torn');
    await fs.writeFile(`${f}.tmp-123-4`, 'torn');
    await fs.writeFile(path.join(dir, 'other.tmp-1-1'), 'not ours');
    await removeStaleTempFiles(f);
    expect((await fs.readdir(dir)).sort()).toEqual(['hardstate', 'other.tmp-1-1']);
    expect((await readFileAtomic(f))?.toString()).toBe('kept');
  });

  test('hard state round-trips through its file', async () => {
    const hs = new HardStateFile(dir);
    expect(await hs.read()).toBeUndefined();
    await hs.write({ term: 9, vote: 'b#1', commit: 120 });
    expect(await new HardStateFile(dir).read()).toEqual({ term: 9, vote: 'b#1', commit: 120 });
  });
});
