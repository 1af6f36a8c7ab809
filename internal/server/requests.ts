// Checks on what a client sends, done before anything reaches the log so a bad request changes nothing.
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import { RecordTooLargeError, validateTopic } from '../log/index.js';
import { InvalidRequestError } from './errors.js';

export interface ServerLimits {
  /** Largest record value accepted, in bytes (INVALID_ARGUMENT beyond). */
  maxRecordBytes: number;
  /**
   * Most records one ProduceBatch may carry (INVALID_ARGUMENT beyond). The message size limit alone does not bound
   * the work: an empty value is two bytes on the wire but a Buffer, an index entry and a frame in the log, so a
   * 4 MiB request of two million empty values cost seconds of CPU and a gigabyte of memory.
   */
  maxBatchRecords: number;
  /** ConsumeRange page bounds: the defaults when a request leaves them 0, and the most a request may ask for. */
  defaultPageRecords: number;
  maxPageRecords: number;
  defaultPageBytes: number;
  maxPageBytes: number;
  /** How many ProduceStream requests may wait to be written before the server stops reading the stream. */
  produceStreamWindow: number;
}

export const DEFAULT_MAX_RECORD_BYTES = 1024 * 1024;

export const DEFAULT_LIMITS: Readonly<ServerLimits> = Object.freeze({
  maxRecordBytes: DEFAULT_MAX_RECORD_BYTES,
  // As many as one ConsumeRange page may return, so a batch read back by page fits in one.
  maxBatchRecords: 10_000,
  defaultPageRecords: 100,
  maxPageRecords: 10_000,
  defaultPageBytes: 1024 * 1024,
  // Under grpc's default 4 MiB receive limit, so a page always reaches a client with default options.
  maxPageBytes: 3 * 1024 * 1024,
  produceStreamWindow: 1024,
});

export function checkTopic(topic: string): string {
  validateTopic(topic);
  return topic;
}

export function checkOffset(offset: number): number {
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw new InvalidRequestError(`offset ${offset} is not a valid offset (a non-negative safe integer)`);
  }
  return offset;
}

export function checkValue(value: Uint8Array | undefined, limits: ServerLimits): Uint8Array {
  if (value === undefined) throw new InvalidRequestError('the request carries no record');
  if (value.byteLength > limits.maxRecordBytes) throw new RecordTooLargeError(value.byteLength, limits.maxRecordBytes);
  return value;
}

export function checkBatch(values: Uint8Array[], limits: ServerLimits): Uint8Array[] {
  if (values.length === 0) throw new InvalidRequestError('a batch needs at least one record');
  if (values.length > limits.maxBatchRecords) throw batchTooLarge(String(values.length), limits);
  for (const value of values) checkValue(value, limits);
  return values;
}

function batchTooLarge(count: string, limits: ServerLimits): InvalidRequestError {
  return new InvalidRequestError(
    `a batch may hold at most ${limits.maxBatchRecords} records (the server's maxBatchRecords); this one holds ${count}`,
  );
}

/** ProduceBatchRequest.values (field 2, length-delimited) as its tag appears on the wire. */
const BATCH_VALUE_TAG = (2 << 3) | WireType.LengthDelimited;

/**
 * Refuses a ProduceBatch of more than maxBatchRecords values from its bytes, before they are decoded: decoding is
 * most of what the limit is there to bound (a Buffer per value; two million empty values took 3 s of CPU and
 * ~1 GB before checkBatch could see them). It reads tags as the generated decoder does and stops at the first
 * value over the limit, so it costs at most maxBatchRecords steps and allocates nothing per value it counts.
 * Bytes that do not parse are left to the decoder, which refuses them.
 */
export function precheckBatch(bytes: Uint8Array, limits: ServerLimits): void {
  const reader = new BinaryReader(bytes);
  let count = 0;
  try {
    while (reader.pos < reader.len && count <= limits.maxBatchRecords) {
      const tag = reader.uint32();
      if (tag === BATCH_VALUE_TAG) {
        reader.skip(WireType.LengthDelimited);
        count++;
        continue;
      }
      // Where the generated decoder stops reading (and ignores the rest).
      if ((tag & 7) === WireType.EndGroup || tag === 0) break;
      reader.skip(tag & 7);
    }
  } catch {
    return;
  }
  if (count > limits.maxBatchRecords) throw batchTooLarge('more', limits);
}

/** A page size a client asked for (0 = the default), clamped to what the server allows. */
export function pageLimit(requested: number, defaultValue: number, max: number): number {
  return Math.min(requested > 0 ? requested : defaultValue, max);
}

/**
 * The most records one batched ConsumeStream message carries, whatever a client asks: enough to spread gRPC's
 * per-message cost over many records, few enough that a message (256 KiB of 256-byte records) is built quickly and
 * a slow reader's flow control holds little, so cancellation and back-pressure stay responsive.
 */
export const MAX_STREAM_BATCH_RECORDS = 1024;

/**
 * Records per ConsumeStream message for a request's max_batch_records: 0 (unset or 0) for the book's one record
 * per message in `record`, otherwise the request clamped to MAX_STREAM_BATCH_RECORDS and the server's page limit.
 * Asking for more is not an error: like ConsumeRange's page sizes, it is a ceiling the server may lower.
 */
export function streamBatchRecords(requested: number | undefined, limits: ServerLimits): number {
  if (requested === undefined || requested <= 0) return 0;
  return Math.min(requested, MAX_STREAM_BATCH_RECORDS, limits.maxPageRecords);
}

/** A view of stored bytes as the Buffer the generated messages carry, without copying. */
export function asBuffer(value: Uint8Array): Buffer {
  return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}
