import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { DEFAULT_RETENTION_CHECK_MS, resolveConfig, type LogConfig, type LogConfigInput } from './config.js';
import {
  InvalidConfigError,
  LogClosedError,
  LogError,
  LogIOError,
  OffsetOutOfRangeError,
  RecordTooLargeError,
} from './errors.js';
import { GroupCommit } from './group-commit.js';
import { OffsetWaiters } from './offset-waiters.js';
import { FRAME_HEADER_BYTES, recordLength, type RecordBytes } from './record-frame.js';
import { Segment, listSegmentBases, type LogRecord, type SegmentLimits } from './segment.js';
import { StoredBytesReader } from './stored-records.js';

export interface ReadLimits {
  maxRecords?: number;
  maxBytes?: number;
  /** The last offset to return, e.g. stableOffset() for consumers; nothing is returned if `offset` is above it. */
  maxOffset?: number;
}

/** What readRange returns when a limit is not given. */
export const DEFAULT_READ_LIMITS: Readonly<Required<Omit<ReadLimits, 'maxOffset'>>> = Object.freeze({
  maxRecords: 1000,
  maxBytes: 4 * 1024 * 1024,
});

/** The seam for durability: how a file descriptor is made durable (tests inject gates and failures; the agent times it). */
export interface LogDeps {
  datasync: (fd: number) => Promise<void>;
}

export interface LogStats {
  /** Sync rounds (fdatasync calls on the active store) so far: fewer than appends when group commit works. */
  syncs: number;
  segments: number;
  /** Sealed segments whose index is in memory (bounded; the others load on demand). */
  loadedSealedIndexes: number;
}

/**
 * Sealed segments whose index stays in memory (the most recently read ones): the rest are loaded on demand, so
 * memory does not grow with the length of the log.
 */
const LOADED_SEALED_INDEXES = 8;

const realDatasync = (fd: number): Promise<void> =>
  new Promise((resolve, reject) => fs.fdatasync(fd, (err) => (err ? reject(err) : resolve())));

function syncDirectory(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Makes folders just created (`top` and those under it, down to `dir`) durable: until its parent's entry for
 * it is on disk, a crash can lose a new folder, and with it every record acknowledged in it.
 */
function syncNewFolders(top: string, dir: string): void {
  for (let d = path.dirname(dir); d.length >= top.length; d = path.dirname(d)) syncDirectory(d);
  syncDirectory(path.dirname(top));
}

/**
 * The commit log: ordered segments, appends to the newest. Offsets are assigned synchronously when an append is
 * called, so they are dense and unique however many callers append at once; bytes are buffered and written in
 * large writes; with sync 'always' an append resolves after the fdatasync that covers it (group commit).
 * A record is visible to reads and waitFor as soon as it is appended, before it is durable.
 */
export class Log {
  private segments: Segment[];
  private active: Segment;
  private readonly waiters = new OffsetWaiters();
  private readonly commit: GroupCommit;
  private readonly limits: SegmentLimits;
  private readonly durableRolls: boolean;
  private readonly maxValueBytes: number;
  private closed = false;
  private closing: Promise<void> | null = null;
  private filesClosed = false;
  private failed: LogIOError | null = null;
  private flushScheduled = false;
  private unsynced = false;
  /** Offsets below this are stable: fsynced under 'always', appended otherwise. */
  private stableNext: number;
  private exclusiveTail: Promise<unknown> = Promise.resolve();
  private readonly timers: NodeJS.Timeout[] = [];
  /** Sealed segments with a loaded index, least recently read first. */
  private readonly loadedSealed = new Set<Segment>();
  private lastReadSealed: Segment | null = null;

  private constructor(
    readonly dir: string,
    readonly config: LogConfig,
    segments: Segment[],
    private readonly deps: LogDeps,
  ) {
    this.segments = segments;
    this.active = segments[segments.length - 1]!;
    for (const s of segments) if (s !== this.active && s.indexLoaded) this.readingSealed(s);
    this.stableNext = this.active.nextOffset;
    this.limits = { maxStoreBytes: config.segment.maxStoreBytes, maxIndexBytes: config.segment.maxIndexBytes };
    this.durableRolls = config.sync !== 'never';
    this.maxValueBytes = Math.min(config.maxRecordBytes, config.segment.maxStoreBytes - FRAME_HEADER_BYTES);
    this.commit = new GroupCommit(() => this.syncRound());
    if (config.sync === 'interval') {
      this.timers.push(
        setInterval(() => {
          if (this.unsynced && !this.closed) this.commit.request().catch(() => {});
        }, config.syncIntervalMs).unref(),
      );
    }
    const r = config.retention;
    if (r.maxLogBytes !== undefined || r.maxAgeMs !== undefined) {
      this.timers.push(
        setInterval(() => {
          if (!this.closed) this.applyRetention().catch(() => {});
        }, r.checkIntervalMs ?? DEFAULT_RETENTION_CHECK_MS).unref(),
      );
    }
  }

  /**
   * Opens the log in `dir` (created if missing). Older segments open from their indexes; the newest is scanned
   * and cut back to its last valid record, so whatever a crash left reopens as a valid prefix.
   */
  static async open(dir: string, config?: LogConfigInput | Partial<LogConfig>, deps?: Partial<LogDeps>): Promise<Log> {
    const c = resolveConfig(config);
    const created = await fs.promises.mkdir(dir, { recursive: true });
    const limits = { maxStoreBytes: c.segment.maxStoreBytes, maxIndexBytes: c.segment.maxIndexBytes };
    const bases = listSegmentBases(dir);
    // An empty newest segment (a crash right after a roll) is dropped, so that the one before it is recovered
    // as the newest: its tail, if torn, is cut instead of leaving a hole before an empty segment.
    while (bases.length > 1 && Segment.isEmptyOnDisk(dir, bases[bases.length - 1]!)) {
      Segment.removeFiles(dir, bases.pop()!);
    }
    const segments: Segment[] = [];
    try {
      if (bases.length === 0) {
        segments.push(Segment.create(dir, c.segment.initialOffset, limits));
        if (c.sync !== 'never') {
          syncDirectory(dir);
          if (created !== undefined) syncNewFolders(created, dir);
        }
      } else {
        for (let i = 0; i < bases.length - 1; i++) {
          segments.push(Segment.openSealed(dir, bases[i]!, bases[i + 1]!, limits));
        }
        segments.push(Segment.recover(dir, bases[bases.length - 1]!, limits).segment);
      }
    } catch (err) {
      for (const s of segments) s.close();
      throw err;
    }
    return new Log(dir, c, segments, { datasync: deps?.datasync ?? realDatasync });
  }

  // ---- appends ----

  /** Appends one record; resolves with its offset (after it is fsynced when sync is 'always'). */
  append(value: RecordBytes): Promise<number> {
    const refused = this.refuseWrite(recordLength(value));
    if (refused) return Promise.reject(refused);
    let offset: number;
    try {
      offset = this.place(value);
    } catch (err) {
      // Nothing of this record was placed; bytes buffered before it stay buffered and are written by the next
      // flush (positional writes make the retry idempotent), so the log stays usable.
      return Promise.reject(this.appendFailed(err));
    }
    return this.acknowledge(offset);
  }

  /**
   * Appends many records, written together; resolves with the first offset. All or nothing. `syncAtOnce` (sync
   * 'always'): the caller is the only appender, so its fsync need not wait a turn for others to join (see
   * GroupCommit.request).
   */
  appendBatch(values: readonly RecordBytes[], opts: { syncAtOnce?: boolean } = {}): Promise<number> {
    for (const v of values) {
      const refused = this.refuseWrite(recordLength(v));
      if (refused) return Promise.reject(refused);
    }
    const first = this.active.nextOffset;
    if (values.length === 0) return Promise.resolve(first);
    const segmentsBefore = this.segments.length;
    try {
      for (const v of values) this.place(v);
    } catch (err) {
      try {
        this.rollBackTo(first, segmentsBefore);
      } catch (rollbackErr) {
        return Promise.reject(this.writeFailed(rollbackErr));
      }
      return Promise.reject(this.appendFailed(err));
    }
    return this.acknowledge(first, opts.syncAtOnce);
  }

  /**
   * Resolves once every record appended before the call is durable (one group-commit round, shared with any
   * other waiter). For a log whose sync policy is not 'always' but whose owner needs a durable point now, as a
   * replicated state machine does before its snapshot is recorded.
   */
  sync(): Promise<void> {
    if (this.closed) return Promise.reject(new LogClosedError());
    if (this.failed) return Promise.reject(this.failed);
    return this.commit.request();
  }

  private refuseWrite(size: number): LogError | null {
    if (this.closed) return new LogClosedError();
    if (this.failed) return this.failed;
    if (size > this.maxValueBytes) return new RecordTooLargeError(size, this.maxValueBytes);
    return null;
  }

  private place(value: RecordBytes): number {
    if (!this.active.fits(recordLength(value))) this.roll();
    return this.active.append(value);
  }

  /** Seals the active segment (durably, so that no later segment exists before its bytes do) and starts a new one. */
  private roll(): void {
    // Sealed (fsynced) before the next segment exists: a crash never leaves a newer segment after a torn one.
    try {
      this.active.seal(this.durableRolls);
    } catch (err) {
      throw this.writeFailed(err);
    }
    const next = Segment.create(this.dir, this.active.nextOffset, this.limits);
    try {
      if (this.durableRolls) syncDirectory(this.dir);
    } catch (err) {
      next.remove();
      throw err;
    }
    this.segments.push(next);
    const sealed = this.active;
    this.active = next;
    this.readingSealed(sealed);
  }

  /** Undoes a partly placed batch: drops segments it created and cuts the rest back to `offset`. */
  private rollBackTo(offset: number, segmentCount: number): void {
    while (this.segments.length > segmentCount) this.removeSegment(this.segments.pop()!);
    this.setActive(this.segments[this.segments.length - 1]!);
    this.active.cutTo(offset);
  }

  /** An append that failed without a trace (nothing of it was placed): reported, but the log goes on. */
  private appendFailed(err: unknown): LogError {
    if (err instanceof LogError) return err;
    return new LogIOError(`append failed, nothing was written: ${(err as Error).message}`, err);
  }

  /**
   * A failure after which what is on disk is unknown (a failed fsync, a failed flush whose records were already
   * acknowledged as failed): fatal for this instance (see LogIOError); typed log errors pass through.
   */
  private writeFailed(err: unknown): LogError {
    if (err instanceof LogError) return err;
    this.failed ??= new LogIOError(`write failed; reopen the log to recover: ${(err as Error).message}`, err);
    return this.failed;
  }

  private acknowledge(offset: number, syncAtOnce = false): Promise<number> {
    this.unsynced = true;
    if (this.config.sync === 'always') return this.commit.request(syncAtOnce).then(() => offset);
    this.becameStable(this.active.nextOffset);
    this.scheduleFlush();
    return Promise.resolve(offset);
  }

  private becameStable(next: number): void {
    if (next <= this.stableNext) return;
    this.stableNext = next;
    this.waiters.reached(next - 1);
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      if (this.filesClosed || this.failed) return;
      try {
        this.active.flush();
      } catch (err) {
        this.writeFailed(err);
      }
    });
  }

  /** One group-commit round: write what is buffered, then fdatasync the active store. */
  private async syncRound(): Promise<void> {
    if (this.failed) throw this.failed;
    const segment = this.active;
    // Older segments were fsynced when sealed, so this round makes every offset below `upTo` durable.
    const upTo = segment.nextOffset;
    this.unsynced = false;
    try {
      segment.flush();
      await this.deps.datasync(segment.storeFileDescriptor);
    } catch (err) {
      throw this.writeFailed(err);
    }
    // A suffix truncation cannot run during a round (it is exclusive), so `upTo` is still a real offset.
    this.becameStable(upTo);
  }

  // ---- reads ----

  read(offset: number): Promise<Uint8Array> {
    try {
      return Promise.resolve(this.readNow(offset));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** read() without the promise, for callers on a hot path. */
  readNow(offset: number): Uint8Array {
    if (this.closed) throw new LogClosedError();
    return this.segmentFor(offset).read(offset);
  }

  /**
   * Records from `offset` on, within `limits` (defaults: DEFAULT_READ_LIMITS); at least one if `offset` exists,
   * even if it alone exceeds maxBytes. A corrupt record ends the page; it is thrown when it would be the first.
   */
  readRange(offset: number, limits?: ReadLimits): Promise<LogRecord[]> {
    try {
      return Promise.resolve(this.readRangeNow(offset, limits));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  readRangeNow(offset: number, limits?: ReadLimits): LogRecord[] {
    if (this.closed) throw new LogClosedError();
    let maxRecords = limits?.maxRecords ?? DEFAULT_READ_LIMITS.maxRecords;
    const maxBytes = limits?.maxBytes ?? DEFAULT_READ_LIMITS.maxBytes;
    let i = this.segmentIndexFor(offset);
    if (limits?.maxOffset !== undefined) {
      if (limits.maxOffset < offset) return [];
      maxRecords = Math.min(maxRecords, limits.maxOffset - offset + 1);
    }
    const out: LogRecord[] = [];
    let bytes = 0;
    let next = offset;
    try {
      while (i < this.segments.length && out.length < Math.max(1, maxRecords)) {
        const segment = this.segments[i]!;
        if (segment !== this.active) this.readingSealed(segment);
        if (next >= segment.nextOffset) {
          i++;
          continue;
        }
        const budget = maxBytes - bytes;
        const before = out.length;
        bytes += segment.readRange(next, Math.max(1, maxRecords) - out.length, budget, out);
        next = offset + out.length;
        if (out.length === before) break;
        if (next < segment.nextOffset) break; // a limit stopped the page inside this segment
        i++;
      }
    } catch (err) {
      if (out.length === 0) throw err;
    }
    return out;
  }

  private segmentIndexFor(offset: number): number {
    if (!Number.isSafeInteger(offset) || offset < this.lowestOffset() || offset > this.highestOffset()) {
      throw new OffsetOutOfRangeError(offset, this.lowestOffset(), this.highestOffset());
    }
    if (offset >= this.active.baseOffset) return this.segments.length - 1;
    let lo = 0;
    let hi = this.segments.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.segments[mid]!.baseOffset <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  private segmentFor(offset: number): Segment {
    const segment = this.segments[this.segmentIndexFor(offset)]!;
    if (segment !== this.active) this.readingSealed(segment);
    return segment;
  }

  /** Keeps the index of a sealed segment being read in memory, dropping the least recently read beyond the cap. */
  private readingSealed(segment: Segment): void {
    if (segment === this.lastReadSealed) return;
    this.lastReadSealed = segment;
    this.loadedSealed.delete(segment);
    this.loadedSealed.add(segment);
    for (const s of this.loadedSealed) {
      if (this.loadedSealed.size <= LOADED_SEALED_INDEXES) break;
      this.loadedSealed.delete(s);
      if (s !== this.active) s.unloadIndex();
    }
  }

  /** A segment leaves the log (removed) or becomes the active one: it is no longer tracked as sealed. */
  private forgetSealed(segment: Segment): void {
    this.loadedSealed.delete(segment);
    if (this.lastReadSealed === segment) this.lastReadSealed = null;
  }

  private removeSegment(segment: Segment): void {
    this.forgetSealed(segment);
    segment.remove();
  }

  private setActive(segment: Segment): void {
    this.forgetSealed(segment);
    this.active = segment;
  }

  /**
   * The stored bytes (framed records) of every segment in order, as they are when this is called: a snapshot
   * source. The files are opened now, so segments removed meanwhile still stream; a suffix truncation that
   * shortens a file under the stream ends it with an error.
   */
  reader(): Readable {
    if (this.closed) throw new LogClosedError();
    this.active.flush();
    return new StoredBytesReader(this.segments.map((s) => ({ path: s.storePath, size: s.storeBytes })));
  }

  /**
   * Resolves when `offset` exists and is stable (see stableOffset), so a long-polling consumer never sees a record
   * that a crash could take back; rejects with the signal's reason on abort, or LogClosedError on close.
   */
  waitFor(offset: number, signal?: AbortSignal): Promise<void> {
    if (this.closed) return Promise.reject(new LogClosedError());
    const bad = this.notAnOffset(offset);
    if (bad) return Promise.reject(bad);
    if (offset < this.stableNext) return Promise.resolve();
    return this.waiters.wait(offset, signal);
  }

  /**
   * The highest offset that consumers should be shown: with sync 'always' the highest one fsynced (appends resolve
   * then), otherwise the highest appended (those policies accept losing an unsynced tail). highestOffset() also
   * counts records still on their way to the disk: the writer's view, for replication and truncation.
   */
  stableOffset(): number {
    return this.stableNext - 1;
  }

  lowestOffset(): number {
    return this.segments[0]!.baseOffset;
  }

  highestOffset(): number {
    return this.active.nextOffset - 1;
  }

  nextOffset(): number {
    return this.active.nextOffset;
  }

  sizeBytes(): number {
    let n = 0;
    for (const s of this.segments) n += s.sizeBytes;
    return n;
  }

  stats(): LogStats {
    return { syncs: this.commit.rounds, segments: this.segments.length, loadedSealedIndexes: this.loadedSealed.size };
  }

  // ---- removing records ----

  /**
   * Runs `fn` alone: after earlier exclusive operations and once no sync round is in flight (segments are closed
   * only then), with no await inside `fn`, so no append interleaves with it.
   */
  private exclusive<T>(fn: () => T): Promise<T> {
    const run = this.exclusiveTail.then(() =>
      this.commit.exclusive(() => {
        if (this.closed) throw new LogClosedError();
        try {
          return fn();
        } catch (err) {
          // An I/O error part-way through a structural change leaves memory and disk disagreeing: fatal.
          throw this.writeFailed(err);
        }
      }),
    );
    this.exclusiveTail = run.catch(() => {});
    return run;
  }

  /** An argument that cannot be an offset at all (negative, fractional, NaN): an error, never a silent no-op. */
  private notAnOffset(offset: number): OffsetOutOfRangeError | null {
    return Number.isSafeInteger(offset) && offset >= 0
      ? null
      : new OffsetOutOfRangeError(offset, this.lowestOffset(), this.highestOffset());
  }

  /** Drops whole segments whose records are all below `lowest` (the active one too: a new empty one replaces it). */
  truncatePrefix(lowest: number): Promise<void> {
    const bad = this.notAnOffset(lowest);
    if (bad) return Promise.reject(bad);
    return this.exclusive(() => {
      if (this.active.nextOffset <= lowest && !this.active.isEmpty) this.roll();
      let removed = 0;
      while (this.segments.length > 1 && this.segments[0]!.nextOffset <= lowest) {
        this.removeSegment(this.segments.shift()!);
        removed++;
      }
      if (removed > 0 && this.durableRolls) syncDirectory(this.dir);
    });
  }

  /** Removes every record at or above `from`; the next append gets offset `from` (or the lowest offset left). */
  truncateSuffix(from: number): Promise<void> {
    const bad = this.notAnOffset(from);
    if (bad) return Promise.reject(bad);
    return this.exclusive(() => {
      if (from >= this.active.nextOffset) return;
      let removedFiles = false;
      while (this.segments.length > 1 && this.active.baseOffset >= from) {
        this.removeSegment(this.segments.pop()!);
        this.setActive(this.segments[this.segments.length - 1]!);
        removedFiles = true;
      }
      if (this.active.baseOffset > from) {
        // Everything goes, below the old lowest offset too: start over at `from`.
        this.removeSegment(this.segments.pop()!);
        this.active = Segment.create(this.dir, from, this.limits);
        this.segments.push(this.active);
        removedFiles = true;
      } else {
        this.active.cutTo(from);
      }
      this.stableNext = Math.min(this.stableNext, this.active.nextOffset);
      if (this.durableRolls) {
        this.active.datasyncNow();
        if (removedFiles) syncDirectory(this.dir);
      }
    });
  }

  /** Applies the retention policy once: drops the oldest sealed segments over maxLogBytes or older than maxAgeMs. */
  applyRetention(now: number = Date.now()): Promise<number> {
    return this.exclusive(() => {
      const { maxLogBytes, maxAgeMs } = this.config.retention;
      let size = this.sizeBytes();
      let dropped = 0;
      while (this.segments.length > 1) {
        const oldest = this.segments[0]!;
        const tooBig = maxLogBytes !== undefined && size > maxLogBytes;
        const tooOld = maxAgeMs !== undefined && now - oldest.lastWriteMs > maxAgeMs;
        if (!tooBig && !tooOld) break;
        size -= oldest.sizeBytes;
        this.removeSegment(this.segments.shift()!);
        dropped++;
      }
      if (dropped > 0 && this.durableRolls) syncDirectory(this.dir);
      return dropped;
    });
  }

  // ---- lifecycle ----

  /** Writes and (unless sync is 'never') fsyncs what is buffered, then closes; waiters reject with LogClosedError. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    this.waiters.rejectAll(new LogClosedError());
    this.closing = (async () => {
      await this.exclusiveTail;
      // Appends are refused from now on, so this ends: rounds already requested run (their appends were
      // accepted and must be acknowledged), then the files close with no round in flight.
      await this.commit.drain();
      await this.commit.exclusive(() => this.closeFiles());
    })();
    return this.closing;
  }

  private closeFiles(): void {
    let firstError: unknown = null;
    try {
      if (!this.failed) {
        this.active.flush();
        if (this.durableRolls) this.active.datasyncNow();
      }
    } catch (err) {
      firstError = err;
    }
    for (const s of this.segments) {
      try {
        s.close();
      } catch (err) {
        firstError ??= err;
      }
    }
    this.filesClosed = true;
    if (firstError) throw this.writeFailed(firstError);
  }

  /** Closes the log and deletes its directory. */
  async remove(): Promise<void> {
    await this.close().catch(() => {});
    await fs.promises.rm(this.dir, { recursive: true, force: true });
  }

  /** Deletes every record and starts over, empty, at `initialOffset` (default: the configured one). */
  reset(initialOffset: number = this.config.segment.initialOffset): Promise<void> {
    if (!Number.isSafeInteger(initialOffset) || initialOffset < 0) {
      return Promise.reject(new InvalidConfigError('initialOffset', `${initialOffset} must be an integer >= 0`));
    }
    return this.exclusive(() => {
      // Oldest first: a crash part-way leaves a valid (shorter) log, or none, which opens at the configured
      // initial offset; the caller that needs the new base after a crash checks lowestOffset() and resets again.
      while (this.segments.length > 0) this.removeSegment(this.segments.shift()!);
      this.active = Segment.create(this.dir, initialOffset, this.limits);
      this.segments.push(this.active);
      this.stableNext = initialOffset;
      this.waiters.reached(initialOffset - 1);
      if (this.durableRolls) syncDirectory(this.dir);
    });
  }
}

export type { LogRecord };
