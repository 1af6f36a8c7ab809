// Small files replaced atomically and checksummed: a reader sees the old content or the new, never a mix,
// and a torn or bit-rotted file is detected instead of trusted.
//   write temp -> fsync temp -> rename over the target -> fsync the directory (so the rename itself is durable)
// Layout: [u32 magic][u32 crc32 of body][body].
// Every write has a temp file of its own: two writes sharing one would rename each other's half-written bytes
// into place, or find their temp already renamed away. Writes to one file through an AtomicFile also run one
// at a time in the order issued, so the last write issued is the one that stays.

import fs from 'node:fs/promises';
import path from 'node:path';
import zlib from 'node:zlib';

const MAGIC = 0x70726c67; // "prlg"

export class CorruptFileError extends Error {
  readonly code = 'CORRUPT_FILE';
  constructor(
    readonly file: string,
    detail: string,
  ) {
    super(`${file} is corrupt: ${detail}`);
    this.name = 'CorruptFileError';
  }
}

export async function fsyncDir(dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

let tempSeq = 0;

function isTempOf(file: string, name: string): boolean {
  const base = path.basename(file);
  // `${base}.tmp` is the name every write used before temp names were unique.
  return name === `${base}.tmp` || name.startsWith(`${base}.tmp-`);
}

export async function writeFileAtomic(file: string, body: Uint8Array): Promise<void> {
  const out = Buffer.allocUnsafe(8 + body.length);
  out.writeUInt32BE(MAGIC, 0);
  out.writeUInt32BE(zlib.crc32(body), 4);
  out.set(body, 8);
  const tmp = `${file}.tmp-${process.pid}-${++tempSeq}`;
  try {
    const handle = await fs.open(tmp, 'w');
    try {
      await handle.writeFile(out);
      await handle.datasync();
    } finally {
      await handle.close();
    }
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true }).catch(() => {});
    throw err;
  }
  await fsyncDir(path.dirname(file));
}

/** Deletes the temp files of `file` that a crash left behind (before anything writes it: call on open). */
export async function removeStaleTempFiles(file: string): Promise<void> {
  let names: string[];
  try {
    names = await fs.readdir(path.dirname(file));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  for (const name of names) {
    if (isTempOf(file, name)) await fs.rm(path.join(path.dirname(file), name), { force: true });
  }
}

/** One atomic file whose writes are serialised: they complete in the order issued, the last one stays. */
export class AtomicFile {
  private tail: Promise<unknown> = Promise.resolve();

  constructor(readonly file: string) {}

  /** Reads after the writes issued before it. */
  read(): Promise<Buffer | undefined> {
    return this.enqueue(() => readFileAtomic(this.file));
  }

  write(body: Uint8Array): Promise<void> {
    return this.enqueue(() => writeFileAtomic(this.file, body));
  }

  removeStaleTempFiles(): Promise<void> {
    return this.enqueue(() => removeStaleTempFiles(this.file));
  }

  private enqueue<T>(op: () => Promise<T>): Promise<T> {
    const run = this.tail.then(op);
    // A failed write is its caller's to handle; the next one still runs.
    this.tail = run.catch(() => {});
    return run;
  }
}

/** The body, or undefined when the file does not exist. Throws CorruptFileError when it fails its checksum. */
export async function readFileAtomic(file: string): Promise<Buffer | undefined> {
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  if (bytes.length < 8 || bytes.readUInt32BE(0) !== MAGIC) throw new CorruptFileError(file, 'bad header');
  const body = bytes.subarray(8);
  if (zlib.crc32(body) !== bytes.readUInt32BE(4)) throw new CorruptFileError(file, 'checksum mismatch');
  return body;
}
