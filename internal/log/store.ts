import fs from 'node:fs';
import { FRAME_HEADER_BYTES, checkFrame, encodeFrame, encodeHeader, recordLength, type FrameCheck, type RecordBytes } from './record-frame.js';
import { openReadWrite } from './open-file.js';

const MAX_WRITE_BUFFER_BYTES = 1024 * 1024;
const SCAN_CHUNK_BYTES = 1024 * 1024;
const READ_AHEAD_BYTES = 64 * 1024;

/** Where a scan of a store stopped, and why. */
export interface StoreScan {
  /** Positions of the frames found, in order. */
  positions: number[];
  /** Bytes up to the end of the last frame kept. */
  validBytes: number;
  /** Why the scan stopped before the end of the file, or 'end'. */
  stop: 'end' | FrameCheck;
}

/**
 * The records of one segment, as framed bytes in one file.
 * Appends go to an in-memory buffer that is written in large positional writes, so the hot path makes no system
 * call; reads of bytes not yet written are served from that buffer.
 */
export class Store {
  private buffer: Buffer | null = null;
  private buffered = 0;
  // Read-ahead for sequential single-record reads: one block read from the file, never modified once read
  // (bytes before flushedBytes only change by truncation, which drops it), so callers may keep views into it.
  private readAhead: Buffer | null = null;
  private readAheadStart = 0;
  private lastReadEnd = -1;

  private constructor(
    readonly path: string,
    private fd: number,
    private flushedBytes: number,
    private readonly bufferCapacity: number,
  ) {}

  /** Opens (creating if needed) the file; its current size is taken as is, recovery is the segment's call. */
  static open(path: string, maxStoreBytes: number): Store {
    const { fd, size } = openReadWrite(path);
    return new Store(path, fd, size, Math.min(MAX_WRITE_BUFFER_BYTES, maxStoreBytes));
  }

  get size(): number {
    return this.flushedBytes + this.buffered;
  }

  get fileDescriptor(): number {
    return this.fd;
  }

  /** True when bytes are buffered and not yet written to the file. */
  get dirty(): boolean {
    return this.buffered > 0;
  }

  /** Appends the frame of `value`; returns its position. */
  append(value: RecordBytes): number {
    const position = this.size;
    const frameBytes = FRAME_HEADER_BYTES + recordLength(value);
    if (frameBytes > this.bufferCapacity) {
      this.flush();
      const header = encodeHeader(value);
      writevAll(this.fd, value instanceof Uint8Array ? [header, value] : [header, ...value], position);
      this.flushedBytes += frameBytes;
      return position;
    }
    if (this.buffered + frameBytes > this.bufferCapacity) this.flush();
    this.buffer ??= Buffer.allocUnsafe(this.bufferCapacity);
    encodeFrame(value, this.buffer, this.buffered);
    this.buffered += frameBytes;
    return position;
  }

  /** Writes the buffered bytes to the file (to the OS, not necessarily to the disk). */
  flush(): void {
    if (this.buffered === 0) return;
    writeAll(this.fd, this.buffer!, this.buffered, this.flushedBytes);
    this.flushedBytes += this.buffered;
    this.buffered = 0;
  }

  /** Copies `length` bytes at `position` into `into` at `at`. The range must lie within `size`. */
  readInto(position: number, length: number, into: Buffer, at: number): void {
    if (position >= this.flushedBytes) {
      const from = position - this.flushedBytes;
      this.buffer!.copy(into, at, from, from + length);
      return;
    }
    const fromFile = Math.min(length, this.flushedBytes - position);
    readAll(this.fd, into, at, fromFile, position);
    if (fromFile < length) this.buffer!.copy(into, at + fromFile, 0, length - fromFile);
  }

  /**
   * The `length` bytes at `position` as a Buffer the caller may keep. Sequential reads (each starting where the
   * previous one ended) are served from a read-ahead block, so a scan makes one system call per block, not per
   * record; other reads read exactly what they need.
   */
  view(position: number, length: number): Buffer {
    const end = position + length;
    const ahead = this.readAhead;
    if (ahead !== null && position >= this.readAheadStart && end <= this.readAheadStart + ahead.length) {
      this.lastReadEnd = end;
      return ahead.subarray(position - this.readAheadStart, end - this.readAheadStart);
    }
    const sequential = position === this.lastReadEnd;
    this.lastReadEnd = end;
    if (sequential && end <= this.flushedBytes && length < READ_AHEAD_BYTES / 4) {
      const blockLength = Math.min(READ_AHEAD_BYTES, this.flushedBytes - position);
      const block = Buffer.allocUnsafeSlow(blockLength);
      readAll(this.fd, block, 0, blockLength, position);
      this.readAhead = block;
      this.readAheadStart = position;
      return block.subarray(0, length);
    }
    const out = Buffer.allocUnsafe(length);
    this.readInto(position, length, out, 0);
    return out;
  }

  /** Frees the read-ahead block (a segment that is not being read any more). */
  dropReadAhead(): void {
    this.readAhead = null;
  }

  /** Cuts the file to `size` bytes (a torn tail, or a suffix truncation). */
  truncate(size: number): void {
    this.readAhead = null;
    this.lastReadEnd = -1;
    if (size >= this.flushedBytes) {
      // Only buffered bytes go: no system call, so this cannot fail (what rolls back a failed batch).
      this.buffered = Math.min(this.buffered, size - this.flushedBytes);
      return;
    }
    this.buffered = 0;
    fs.ftruncateSync(this.fd, size);
    this.flushedBytes = size;
  }

  datasyncNow(): void {
    fs.fdatasyncSync(this.fd);
  }

  /** Drops the write buffer: a sealed store is only read. */
  seal(): void {
    this.flush();
    this.buffer = null;
  }

  close(): void {
    if (this.fd < 0) return;
    try {
      this.flush();
    } finally {
      fs.closeSync(this.fd);
      this.fd = -1;
      this.buffer = null;
    }
  }

  /**
   * Walks the frames from the start. With `stopAtCorrupt` the scan ends at the first frame that does not verify
   * (crash recovery of the active segment); without it a frame with a bad checksum but a plausible length is
   * kept (a read of it reports the corruption) and the walk goes on.
   */
  scan(stopAtCorrupt: boolean): StoreScan {
    this.flush();
    const size = this.flushedBytes;
    const positions: number[] = [];
    let chunk = Buffer.allocUnsafe(Math.min(SCAN_CHUNK_BYTES, Math.max(size, FRAME_HEADER_BYTES)));
    let chunkStart = 0;
    let chunkLen = 0;
    // Makes bytes [pos, pos + n) available in `chunk`; n never exceeds size - pos here.
    const ensure = (pos: number, n: number): number => {
      if (pos >= chunkStart && pos + n <= chunkStart + chunkLen) return pos - chunkStart;
      if (n > chunk.length) chunk = Buffer.allocUnsafe(n);
      chunkStart = pos;
      chunkLen = Math.min(chunk.length, size - pos);
      readAll(this.fd, chunk, 0, chunkLen, pos);
      return 0;
    };
    let pos = 0;
    let stop: StoreScan['stop'] = 'end';
    while (pos < size) {
      if (size - pos < FRAME_HEADER_BYTES) {
        stop = 'short';
        break;
      }
      const h = ensure(pos, FRAME_HEADER_BYTES);
      const length = chunk.readUInt32LE(h);
      if (length > size - pos - FRAME_HEADER_BYTES) {
        stop = 'length';
        break;
      }
      const at = ensure(pos, FRAME_HEADER_BYTES + length);
      const check = checkFrame(chunk, at, at + FRAME_HEADER_BYTES + length);
      if (check !== 'ok' && stopAtCorrupt) {
        stop = check;
        break;
      }
      positions.push(pos);
      pos += FRAME_HEADER_BYTES + length;
    }
    return { positions, validBytes: pos, stop };
  }
}

function writeAll(fd: number, buf: Buffer, length: number, position: number): void {
  let done = 0;
  while (done < length) done += fs.writeSync(fd, buf, done, length - done, position + done);
}

function writevAll(fd: number, bufs: Uint8Array[], position: number): void {
  const total = bufs.reduce((n, b) => n + b.length, 0);
  const written = fs.writevSync(fd, bufs, position);
  if (written === total) return;
  const all = Buffer.concat(bufs);
  writeAll(fd, all.subarray(written), total - written, position + written);
}

function readAll(fd: number, into: Buffer, at: number, length: number, position: number): void {
  let done = 0;
  while (done < length) {
    const n = fs.readSync(fd, into, at + done, length - done, position + done);
    if (n === 0) throw new Error(`unexpected end of file reading ${length} bytes at ${position}`);
    done += n;
  }
}
