import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { DataDirLock, DataDirLockedError, LOCK_FILE } from './data-dir-lock.js';

/** A separate process that locks `dir` the same way and says "locked" once it holds it. */
async function lockInChild(dir: string): Promise<ChildProcess> {
  // The child takes the same kind of lock through the same library, so what is tested is the kernel's lock
  // between two processes, not this module against itself.
  const script = `
    const fs = require('node:fs');
    const { tryLock } = require('fs-native-extensions');
    const fd = fs.openSync(${JSON.stringify(path.join(dir, LOCK_FILE))}, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
    if (!tryLock(fd)) { console.log('busy'); process.exit(1); }
    fs.ftruncateSync(fd, 0); fs.writeSync(fd, 'pid ' + process.pid + '\\n', 0);
    console.log('locked');
    setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['-e', script], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'inherit'] });
  const first = await new Promise<string>((resolve) => createInterface({ input: child.stdout! }).once('line', resolve));
  if (first !== 'locked') throw new Error(`child could not lock: ${first}`);
  return child;
}

describe('DataDirLock', () => {
  let dir: string;
  const children: ChildProcess[] = [];
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'proglog-lock-'));
  });
  afterEach(async () => {
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  it('creates a missing data dir and writes its pid in the lock file', async () => {
    const data = path.join(dir, 'a', 'b');
    const lock = await DataDirLock.acquire(data);
    try {
      expect(lock.held).toBe(true);
      expect(await readFile(path.join(data, LOCK_FILE), 'utf8')).toBe(`pid ${process.pid}\n`);
    } finally {
      lock.release();
    }
  });

  it('keeps out a second holder in the same process until the first releases', async () => {
    const first = await DataDirLock.acquire(dir);
    const second = DataDirLock.acquire(dir);
    await expect(second).rejects.toBeInstanceOf(DataDirLockedError);
    await expect(second).rejects.toThrow(`data dir ${dir} is in use by another agent (pid ${process.pid})`);
    first.release();
    expect(first.held).toBe(false);
    first.release(); // twice is harmless
    const third = await DataDirLock.acquire(dir);
    third.release();
    // The file stays (see release), only the lock goes.
    expect(existsSync(path.join(dir, LOCK_FILE))).toBe(true);
  });

  it('keeps out a second process, and the lock goes with a holder killed by SIGKILL', async () => {
    const child = await lockInChild(dir);
    children.push(child);
    const refused = await DataDirLock.acquire(dir).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(DataDirLockedError);
    expect((refused as DataDirLockedError).holder).toBe(`pid ${child.pid}`);

    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    // Nobody cleaned up: the kernel dropped the lock with the process.
    const lock = await DataDirLock.acquire(dir);
    expect(await readFile(path.join(dir, LOCK_FILE), 'utf8')).toBe(`pid ${process.pid}\n`);
    lock.release();
  });

  it('does not touch the holder’s lock file when refused', async () => {
    const child = await lockInChild(dir);
    children.push(child);
    await expect(DataDirLock.acquire(dir)).rejects.toBeInstanceOf(DataDirLockedError);
    expect(await readFile(path.join(dir, LOCK_FILE), 'utf8')).toBe(`pid ${child.pid}\n`);
  });
});
