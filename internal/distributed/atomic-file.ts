// Small files replaced atomically and checksummed: a reader sees the old content or the new, never a mix,
// and a torn or bit-rotted file is detected instead of trusted.
//   write temp -> fsync temp -> rename over the target -> fsync the directory (so the rename itself is durable)
// Layout: [u32 magic][u32 crc32 of body][body].

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

export async function writeFileAtomic(file: string, body: Uint8Array): Promise<void> {
  const out = Buffer.allocUnsafe(8 + body.length);
  out.writeUInt32BE(MAGIC, 0);
  out.writeUInt32BE(zlib.crc32(body), 4);
  out.set(body, 8);
  const tmp = `${file}.tmp`;
  const handle = await fs.open(tmp, 'w');
  try {
    await handle.writeFile(out);
    await handle.datasync();
  } finally {
    await handle.close();
  }
  await fs.rename(tmp, file);
  await fsyncDir(path.dirname(file));
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
