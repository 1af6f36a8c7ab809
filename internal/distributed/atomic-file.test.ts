import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CorruptFileError, readFileAtomic, writeFileAtomic } from './atomic-file.js';
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

  test('hard state round-trips through its file', async () => {
    const hs = new HardStateFile(dir);
    expect(await hs.read()).toBeUndefined();
    await hs.write({ term: 9, vote: 'b#1', commit: 120 });
    expect(await new HardStateFile(dir).read()).toEqual({ term: 9, vote: 'b#1', commit: 120 });
  });
});
