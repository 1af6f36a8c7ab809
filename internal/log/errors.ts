// Every failure of the commit log is a LogError with a stable `code`, so the gRPC layer can map kinds of
// failure to status codes in one place without matching on messages.

export class LogError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

export class OffsetOutOfRangeError extends LogError {
  constructor(
    readonly offset: number,
    readonly lowest: number,
    readonly highest: number,
  ) {
    super(
      'OFFSET_OUT_OF_RANGE',
      highest < lowest
        ? `offset ${offset} is out of range: the log is empty (next offset ${lowest})`
        : `offset ${offset} is out of range [${lowest}, ${highest}]`,
    );
  }
}

export class LogClosedError extends LogError {
  constructor(what = 'log') {
    super('LOG_CLOSED', `the ${what} is closed`);
  }
}

export class CorruptRecordError extends LogError {
  constructor(
    readonly offset: number,
    readonly file: string,
    detail: string,
  ) {
    super('CORRUPT_RECORD', `record ${offset} in ${file} is corrupt: ${detail}`);
  }
}

export class RecordTooLargeError extends LogError {
  constructor(
    readonly size: number,
    readonly max: number,
  ) {
    super('RECORD_TOO_LARGE', `record of ${size} bytes exceeds the maximum of ${max} bytes`);
  }
}

export class InvalidTopicError extends LogError {
  constructor(readonly topic: string) {
    super(
      'INVALID_TOPIC',
      `invalid topic ${JSON.stringify(topic)}: use '' or 1-249 characters of [A-Za-z0-9._-] starting with a letter or digit`,
    );
  }
}

export class UnknownTopicError extends LogError {
  constructor(readonly topic: string) {
    super('UNKNOWN_TOPIC', `unknown topic ${JSON.stringify(topic)}`);
  }
}

/** Creating a topic would take the topic count past its configured maximum. */
export class TooManyTopicsError extends LogError {
  constructor(
    readonly topic: string,
    readonly max: number,
  ) {
    super('TOO_MANY_TOPICS', `cannot create topic ${JSON.stringify(topic)}: the server holds its maximum of ${max} topics (maxTopics)`);
  }
}

/** A configuration value that cannot work (e.g. an index too small for one entry). */
export class InvalidConfigError extends LogError {
  constructor(
    readonly field: string,
    /** What is wrong, without the field: a caller that names the setting its own way (a CLI flag) uses this. */
    readonly detail: string,
  ) {
    super('INVALID_CONFIG', `invalid log config ${field}: ${detail}`);
  }
}

/**
 * A write or fsync failed. The log refuses further writes afterwards: what reached the disk is unknown, and
 * reopening recovers the valid prefix (the lesson of "fsyncgate": never retry an fsync and trust it).
 */
export class LogIOError extends LogError {
  constructor(message: string, cause: unknown) {
    super('LOG_IO', message, { cause });
  }
}
