// Checks on what a client sends, done before anything reaches the log so a bad request changes nothing.
import { RecordTooLargeError, validateTopic } from '../log/index.js';
import { InvalidRequestError } from './errors.js';

export interface ServerLimits {
  /** Largest record value accepted, in bytes (INVALID_ARGUMENT beyond). */
  maxRecordBytes: number;
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
  for (const value of values) checkValue(value, limits);
  return values;
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
