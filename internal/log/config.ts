import { InvalidConfigError } from './errors.js';
import { FRAME_HEADER_BYTES } from './record-frame.js';

export type SyncPolicy = 'always' | 'interval' | 'never';

export interface SegmentConfig {
  maxStoreBytes: number;
  maxIndexBytes: number;
  initialOffset: number;
}

export interface RetentionConfig {
  maxLogBytes?: number;
  maxAgeMs?: number;
  /** How often retention runs by itself; only when maxLogBytes or maxAgeMs is set. Default 60 s. */
  checkIntervalMs?: number;
}

export interface LogConfig {
  segment: SegmentConfig;
  sync: SyncPolicy;
  syncIntervalMs: number;
  retention: RetentionConfig;
  maxRecordBytes: number;
}

/** What callers may pass: every field optional, nested objects merged with the defaults. */
export type LogConfigInput = Partial<Omit<LogConfig, 'segment' | 'retention'>> & {
  segment?: Partial<SegmentConfig>;
  retention?: RetentionConfig;
};

export const MiB = 1024 * 1024;

export const DEFAULT_LOG_CONFIG: Readonly<LogConfig> = Object.freeze({
  segment: Object.freeze({ maxStoreBytes: 64 * MiB, maxIndexBytes: 8 * MiB, initialOffset: 0 }),
  sync: 'always',
  syncIntervalMs: 100,
  retention: Object.freeze({}),
  maxRecordBytes: 1 * MiB,
});

export const DEFAULT_RETENTION_CHECK_MS = 60_000;

/** The longest delay Node's timers run: above it, setInterval warns and fires every millisecond instead. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

function positiveInteger(field: string, v: number, min = 1): void {
  if (!Number.isSafeInteger(v) || v < min) throw new InvalidConfigError(field, `${v} must be an integer >= ${min}`);
}

function timerInterval(field: string, v: number): void {
  positiveInteger(field, v);
  if (v > MAX_TIMER_MS) throw new InvalidConfigError(field, `${v} ms is longer than a timer can wait: at most ${MAX_TIMER_MS} (about 24.8 days)`);
}

/** Merges `input` over the defaults and rejects values that cannot work. */
export function resolveConfig(input: LogConfigInput | Partial<LogConfig> = {}): LogConfig {
  const c: LogConfig = {
    segment: { ...DEFAULT_LOG_CONFIG.segment, ...(input.segment ?? {}) },
    sync: input.sync ?? DEFAULT_LOG_CONFIG.sync,
    syncIntervalMs: input.syncIntervalMs ?? DEFAULT_LOG_CONFIG.syncIntervalMs,
    retention: { ...(input.retention ?? {}) },
    maxRecordBytes: input.maxRecordBytes ?? DEFAULT_LOG_CONFIG.maxRecordBytes,
  };
  // A store holds at least one header; an index at least one 12-byte entry.
  positiveInteger('segment.maxStoreBytes', c.segment.maxStoreBytes, 9);
  positiveInteger('segment.maxIndexBytes', c.segment.maxIndexBytes, 12);
  if (Math.floor(c.segment.maxIndexBytes / 12) > 2 ** 32) {
    throw new InvalidConfigError('segment.maxIndexBytes', 'index entries hold 32-bit relative offsets: at most 2^32 entries');
  }
  positiveInteger('segment.initialOffset', c.segment.initialOffset, 0);
  if (!['always', 'interval', 'never'].includes(c.sync)) {
    throw new InvalidConfigError('sync', `${String(c.sync)} is not one of always, interval, never`);
  }
  timerInterval('syncIntervalMs', c.syncIntervalMs);
  positiveInteger('maxRecordBytes', c.maxRecordBytes, 0);
  const r = c.retention;
  if (r.maxLogBytes !== undefined) positiveInteger('retention.maxLogBytes', r.maxLogBytes);
  if (r.maxAgeMs !== undefined) positiveInteger('retention.maxAgeMs', r.maxAgeMs);
  if (r.checkIntervalMs !== undefined) timerInterval('retention.checkIntervalMs', r.checkIntervalMs);
  return c;
}

/**
 * Refuses a segment that cannot hold a record of maxRecordBytes. A log on its own refuses such a record with a
 * RecordTooLargeError at append; a replicated state machine cannot: every replica would have committed the
 * record before its log refused it, and would stop on it again after every restart.
 */
export function requireMaxRecordFitsSegment(c: LogConfig): void {
  const needed = c.maxRecordBytes + FRAME_HEADER_BYTES;
  if (c.segment.maxStoreBytes < needed) {
    throw new InvalidConfigError(
      'segment.maxStoreBytes',
      `${c.segment.maxStoreBytes} cannot hold a record of maxRecordBytes (${c.maxRecordBytes}) plus its ${FRAME_HEADER_BYTES}-byte header: ` +
        `set segment.maxStoreBytes to at least ${needed} or lower maxRecordBytes`,
    );
  }
}
