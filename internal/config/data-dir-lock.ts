// One agent per data dir. Two processes writing the same commit logs and Raft state would interleave records
// and forget each other's votes, and nothing on disk would show it until the replicas disagreed.
//
// The lock is the kernel's: an open-file-description lock on Linux (fs-native-extensions; flock-like elsewhere),
// as etcd locks its WAL and Kafka its log dirs. The kernel drops it when the holder's file is closed or its
// process dies, so a crash, SIGKILL included, never leaves a lock for someone to delete by hand; and unlike a
// classic POSIX record lock it also keeps out a second agent in the same process.
import fs from 'node:fs';
import path from 'node:path';
import { tryLock } from 'fs-native-extensions';
import { UnusableDirError, ensureDir } from './dirs.js';

export const LOCK_FILE = 'LOCK';

export class DataDirLockedError extends Error {
  readonly code = 'DATA_DIR_LOCKED';
  constructor(
    readonly dataDir: string,
    /** What the holder wrote in the lock file (its pid), or '' if nothing could be read. */
    readonly holder: string,
  ) {
    super(`data dir ${dataDir} is in use by another agent${holder ? ` (${holder})` : ''}: stop it, or give this one its own data dir`);
    this.name = 'DataDirLockedError';
  }
}

export class DataDirLock {
  private constructor(private fd: number | null) {}

  /**
   * Creates `dataDir` if needed and locks it; DataDirLockedError if another holder has it, UnusableDirError if
   * it cannot be a data dir (a file, under a file, not writable).
   */
  static async acquire(dataDir: string): Promise<DataDirLock> {
    await ensureDir(dataDir, 'data dir');
    const fd = openLockFile(dataDir);
    try {
      if (!tryLock(fd)) throw new DataDirLockedError(path.resolve(dataDir), holderOf(fd));
      // Only for the message a second agent prints: the lock is the kernel's, not this text.
      fs.ftruncateSync(fd, 0);
      fs.writeSync(fd, `pid ${process.pid}\n`, 0);
      return new DataDirLock(fd);
    } catch (err) {
      fs.closeSync(fd);
      throw err;
    }
  }

  get held(): boolean {
    return this.fd !== null;
  }

  /**
   * Closing the file drops the lock. The file stays: deleting it would let one agent lock a file another has
   * already unlinked while a third creates a new one, and both would think they hold the dir.
   */
  release(): void {
    if (this.fd === null) return;
    const fd = this.fd;
    this.fd = null;
    fs.closeSync(fd);
  }
}

function openLockFile(dataDir: string): number {
  try {
    return fs.openSync(path.join(dataDir, LOCK_FILE), fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
      throw new UnusableDirError(dataDir, `data dir ${dataDir} is not writable (${code})`, { cause: err });
    }
    throw err;
  }
}

function holderOf(fd: number): string {
  try {
    const buf = Buffer.alloc(64);
    const n = fs.readSync(fd, buf, 0, buf.length, 0);
    return buf.subarray(0, n).toString('utf8').trim();
  } catch {
    return '';
  }
}
