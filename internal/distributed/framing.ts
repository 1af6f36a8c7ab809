// Length-prefixed frames on a byte stream: [u32 big-endian length][payload].
// The decoder keeps partial frames across chunks so that a TCP/TLS stream can be cut anywhere.

export const FRAME_HEADER_BYTES = 4;
/** A frame larger than this is a protocol error: nothing we send comes close (snapshots are chunked). */
export const DEFAULT_MAX_FRAME_BYTES = 64 * 1024 * 1024;

export class FrameTooLargeError extends Error {
  readonly code = 'FRAME_TOO_LARGE';
  constructor(
    readonly size: number,
    readonly max: number,
  ) {
    super(`frame of ${size} bytes exceeds the limit of ${max} bytes`);
    this.name = 'FrameTooLargeError';
  }
}

export function frameHeader(length: number): Buffer {
  const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  header.writeUInt32BE(length, 0);
  return header;
}

/** Header and payload as one buffer; used where one write per frame is simpler than two. */
export function encodeFrame(payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  out.writeUInt32BE(payload.length, 0);
  out.set(payload, FRAME_HEADER_BYTES);
  return out;
}

export class FrameDecoder {
  private pending: Buffer = Buffer.alloc(0);

  constructor(private readonly maxFrameBytes = DEFAULT_MAX_FRAME_BYTES) {}

  /**
   * Feeds a chunk and returns every frame it completes. Frames are views into the received chunks;
   * Node never reuses a 'data' chunk, so keeping a view is safe.
   */
  push(chunk: Buffer): Buffer[] {
    let buf = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const frames: Buffer[] = [];
    let pos = 0;
    while (buf.length - pos >= FRAME_HEADER_BYTES) {
      const length = buf.readUInt32BE(pos);
      if (length > this.maxFrameBytes) throw new FrameTooLargeError(length, this.maxFrameBytes);
      const end = pos + FRAME_HEADER_BYTES + length;
      if (end > buf.length) break;
      frames.push(buf.subarray(pos + FRAME_HEADER_BYTES, end));
      pos = end;
    }
    buf = buf.subarray(pos);
    // Copy a small leftover so a large chunk is not pinned in memory by a few trailing bytes.
    this.pending = buf.length > 0 && buf.length < 4096 ? Buffer.from(buf) : buf;
    return frames;
  }

  /** Bytes received that do not yet form a whole frame. */
  bufferedBytes(): number {
    return this.pending.length;
  }
}
