import { crc32 } from 'node:zlib';

// A stored record is [u32 length][u32 crc][bytes], little-endian.
// The CRC-32 runs over the bytes, seeded from the length: a flipped length bit then fails the check even when
// the shorter or longer byte range happens to be readable, and a zero-filled header (length 0, crc 0, what a
// crash can leave at a file's tail) never verifies as an empty record.

export const FRAME_HEADER_BYTES = 8;

const LENGTH_SEED = 0x50524f47; // "PROG"

function checksumSeed(length: number): number {
  return (length ^ LENGTH_SEED) >>> 0;
}

export function frameChecksum(bytes: Uint8Array, length: number): number {
  const seed = checksumSeed(length);
  // The CRC of no bytes is the seed. zlib.crc32 is not asked: for an empty view whose data pointer is null,
  // zlib returns 0 whatever the seed (seen with Buffer.alloc(0) after a write), which would make it vary.
  return bytes.length === 0 ? seed : crc32(bytes, seed);
}

/**
 * A record's bytes, whole or as consecutive parts: a caller that puts a small header before a body it already
 * holds (a Raft entry's term before its command) hands both over instead of copying them into a new Buffer.
 */
export type RecordBytes = Uint8Array | readonly Uint8Array[];

export function recordLength(value: RecordBytes): number {
  if (value instanceof Uint8Array) return value.length;
  let n = 0;
  for (const part of value) n += part.length;
  return n;
}

/** frameChecksum of the parts' concatenation (CRC-32 continues from one part to the next). */
function recordChecksum(value: RecordBytes, length: number): number {
  if (value instanceof Uint8Array) return frameChecksum(value, length);
  let crc = checksumSeed(length);
  for (const part of value) if (part.length > 0) crc = crc32(part, crc);
  return crc;
}

/** Writes the frame of `value` into `into` at `at`; returns the frame's size. */
export function encodeFrame(value: RecordBytes, into: Buffer, at: number): number {
  const length = recordLength(value);
  into.writeUInt32LE(length, at);
  into.writeUInt32LE(recordChecksum(value, length), at + 4);
  if (value instanceof Uint8Array) {
    into.set(value, at + FRAME_HEADER_BYTES);
  } else {
    let pos = at + FRAME_HEADER_BYTES;
    for (const part of value) {
      into.set(part, pos);
      pos += part.length;
    }
  }
  return FRAME_HEADER_BYTES + length;
}

export function encodeHeader(value: RecordBytes): Buffer {
  const length = recordLength(value);
  const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  header.writeUInt32LE(length, 0);
  header.writeUInt32LE(recordChecksum(value, length), 4);
  return header;
}

export type FrameCheck = 'ok' | 'short' | 'length' | 'checksum';

/**
 * Checks the frame at `at` in `buf`, expected to end no later than `end`.
 * 'short': not even a header fits; 'length': the length runs past `end`; 'checksum': the bytes do not match.
 */
export function checkFrame(buf: Buffer, at: number, end: number): FrameCheck {
  if (end - at < FRAME_HEADER_BYTES) return 'short';
  const length = buf.readUInt32LE(at);
  if (length > end - at - FRAME_HEADER_BYTES) return 'length';
  const body = buf.subarray(at + FRAME_HEADER_BYTES, at + FRAME_HEADER_BYTES + length);
  return frameChecksum(body, length) === buf.readUInt32LE(at + 4) ? 'ok' : 'checksum';
}
