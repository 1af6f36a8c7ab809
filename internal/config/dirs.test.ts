import { existsSync } from 'node:fs';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UnusableDirError, ensureDir } from './dirs.js';

describe('ensureDir', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'proglog-dirs-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('creates a directory and its missing ancestors, with the mode asked for, and accepts one that exists', async () => {
    const deep = join(dir, 'a', 'b', 'c');
    await ensureDir(deep, 'data dir', 0o700);
    expect((await stat(deep)).isDirectory()).toBe(true);
    expect((await stat(join(dir, 'a'))).mode & 0o777).toBe(0o700);
    await expect(ensureDir(deep, 'data dir')).resolves.toBeUndefined();
  });

  it('says which part of the path is a file', async () => {
    const file = join(dir, 'file');
    await writeFile(file, 'x');
    await expect(ensureDir(file, 'data dir')).rejects.toThrow(new UnusableDirError(file, `data dir ${file} is not a directory`));
    await expect(ensureDir(join(file, 'x', 'y'), 'data dir')).rejects.toThrow(`data dir ${join(file, 'x', 'y')} cannot be created: ${file} is not a directory`);
  });

  // mkdir's own `recursive` never returns there (Node 20): mkdir fails ENOENT under an existing /proc.
  (existsSync('/proc/self') ? it : it.skip)('fails, rather than hangs, where the file system refuses directories', async () => {
    await expect(ensureDir('/proc/proglog-no-such-dir', 'data dir')).rejects.toBeInstanceOf(UnusableDirError);
  });
});
