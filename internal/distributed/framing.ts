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
  // The start of a frame still incomplete, as the chunks it came in: they are joined once, when the frame is
  // whole. (Joining on every chunk would copy a large frame once per chunk and churn the allocator.)
  private parts: Buffer[] = [];
  private partsBytes = 0;
  /** Bytes the parts must reach to hold the whole frame, or 0 while its header is still incomplete. */
  private needed = 0;

  constructor(private readonly maxFrameBytes = DEFAULT_MAX_FRAME_BYTES) {}

  /**
   * Feeds a chunk and returns every frame it completes. Frames are views into the received chunks;
   * Node never reuses a 'data' chunk, so keeping a view is safe.
   */
  push(chunk: Buffer): Buffer[] {
    let buf = chunk;
    if (this.parts.length > 0) {
      this.parts.push(chunk);
      this.partsBytes += chunk.length;
      if (this.needed === 0 && this.partsBytes >= FRAME_HEADER_BYTES) this.needed = this.frameEnd(this.header());
      if (this.needed === 0 || this.partsBytes < this.needed) return [];
      buf = Buffer.concat(this.parts, this.partsBytes);
      this.parts = [];
      this.partsBytes = 0;
    }
    const frames: Buffer[] = [];
    let pos = 0;
    while (buf.length - pos >= FRAME_HEADER_BYTES) {
      const end = pos + this.frameEnd(buf.readUInt32BE(pos));
      if (end > buf.length) break;
      frames.push(buf.subarray(pos + FRAME_HEADER_BYTES, end));
      pos = end;
    }
    const rest = buf.subarray(pos);
    if (rest.length > 0) {
      // Copy a small leftover so a large chunk is not pinned in memory by a few trailing bytes.
      this.parts = [rest.length < 4096 ? Buffer.from(rest) : rest];
      this.partsBytes = rest.length;
      this.needed = rest.length >= FRAME_HEADER_BYTES ? this.frameEnd(rest.readUInt32BE(0)) : 0;
    }
    return frames;
  }

  /** Header plus payload bytes of a frame whose header says `length`. */
  private frameEnd(length: number): number {
    if (length > this.maxFrameBytes) throw new FrameTooLargeError(length, this.maxFrameBytes);
    return FRAME_HEADER_BYTES + length;
  }

  /** The pending frame's length, from a header that may be cut across parts. */
  private header(): number {
    const head = Buffer.concat(this.parts.map((p) => p.subarray(0, FRAME_HEADER_BYTES)));
    return head.readUInt32BE(0);
  }

  /** Bytes received that do not yet form a whole frame. */
  bufferedBytes(): number {
    return this.partsBytes;
  }
}
