import fs from 'node:fs';
import { Readable } from 'node:stream';
import { CorruptRecordError, LogError } from './errors.js';
import { FRAME_HEADER_BYTES, checkFrame } from './record-frame.js';

// A log's stored bytes, as a stream: what Log.reader() returns for snapshots, and how they decode back.

const CHUNK_BYTES = 1024 * 1024;

export interface StoredFile {
  path: string;
  /** Bytes to stream: the size when the stream was made, so later appends are not part of it. */
  size: number;
}

/**
 * Streams the first `size` bytes of each file in order. The files are opened when this is constructed, so a
 * segment removed meanwhile still streams; one shortened under the stream (a suffix truncation) errors it.
 * The descriptors close when the stream ends or is destroyed, read or not.
 */
export class StoredBytesReader extends Readable {
  private readonly fds: number[] = [];
  private file = 0;
  private position = 0;

  constructor(private readonly files: readonly StoredFile[]) {
    super();
    try {
      for (const f of files) this.fds.push(fs.openSync(f.path, 'r'));
    } catch (err) {
      this.closeFiles();
      throw err;
    }
  }

  override _read(): void {
    while (this.file < this.files.length && this.position >= this.files[this.file]!.size) {
      this.file++;
      this.position = 0;
    }
    if (this.file >= this.files.length) {
      this.push(null);
      return;
    }
    const f = this.files[this.file]!;
    const buf = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, f.size - this.position));
    fs.read(this.fds[this.file]!, buf, 0, buf.length, this.position, (err, n) => {
      if (err) return this.destroy(err);
      if (n === 0) return this.destroy(new LogError('SNAPSHOT_CHANGED', `${f.path} was truncated while being read`));
      this.position += n;
      this.push(n === buf.length ? buf : buf.subarray(0, n));
    });
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.closeFiles();
    callback(err);
  }

  private closeFiles(): void {
    for (const fd of this.fds.splice(0)) fs.closeSync(fd);
  }
}

/**
 * Decodes the stored bytes that `Log.reader()` streams (a snapshot) back into record values, verifying every
 * frame. `firstOffset` only labels errors: the record at the start of the stream has that offset.
 * Throws CorruptRecordError on a bad checksum or a stream that ends inside a frame.
 */
export async function* decodeStoredRecords(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  firstOffset = 0,
): AsyncGenerator<Uint8Array> {
  let pending = Buffer.alloc(0);
  let offset = firstOffset;
  for await (const chunk of source) {
    pending = pending.length === 0 ? Buffer.from(chunk) : Buffer.concat([pending, chunk]);
    let at = 0;
    while (pending.length - at >= FRAME_HEADER_BYTES) {
      const end = at + FRAME_HEADER_BYTES + pending.readUInt32LE(at);
      if (end > pending.length) break;
      if (checkFrame(pending, at, end) !== 'ok') throw new CorruptRecordError(offset, 'snapshot stream', 'checksum mismatch');
      yield pending.subarray(at + FRAME_HEADER_BYTES, end);
      offset++;
      at = end;
    }
    pending = pending.subarray(at);
  }
  if (pending.length > 0) {
    throw new CorruptRecordError(offset, 'snapshot stream', `stream ends inside a frame (${pending.length} bytes left)`);
  }
}
