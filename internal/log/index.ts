// The commit log's public API: everything other parts of proglog use comes from here.
export {
  DEFAULT_LOG_CONFIG,
  MAX_TIMER_MS,
  requireMaxRecordFitsSegment,
  resolveConfig,
  type LogConfig,
  type LogConfigInput,
  type RetentionConfig,
  type SegmentConfig,
  type SyncPolicy,
} from './config.js';
export {
  CorruptRecordError,
  InvalidConfigError,
  InvalidTopicError,
  LogClosedError,
  LogError,
  LogIOError,
  OffsetOutOfRangeError,
  RecordTooLargeError,
  TooManyTopicsError,
  UnknownTopicError,
} from './errors.js';
export { DEFAULT_READ_LIMITS, Log, type LogDeps, type LogRecord, type LogStats, type ReadLimits } from './log.js';
export { FRAME_HEADER_BYTES, recordLength, type RecordBytes } from './record-frame.js';
export { decodeStoredRecords } from './stored-records.js';
export { DEFAULT_TOPIC, TopicLogs, validateTopic } from './topics.js';
