import { CorruptRecordError } from './errors.js';
import { FRAME_HEADER_BYTES, checkFrame } from './record-frame.js';

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
