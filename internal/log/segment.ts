import fs from 'node:fs';
import path from 'node:path';
import { CorruptRecordError } from './errors.js';
import { INDEX_ENTRY_BYTES, OffsetIndex } from './offset-index.js';
import { FRAME_HEADER_BYTES, frameChecksum, type RecordBytes } from './record-frame.js';
import { Store } from './store.js';

export interface SegmentLimits {
  maxStoreBytes: number;
  maxIndexBytes: number;
}

export interface LogRecord {
  offset: number;
  value: Uint8Array;
}

const STORE_SUFFIX = '.store';
const INDEX_SUFFIX = '.index';

/** Zero-padded so that a directory listing sorts segments by base offset. */
export function segmentFileName(baseOffset: number, suffix: string): string {
  return baseOffset.toString().padStart(20, '0') + suffix;
}

/** The segments found in `dir`, by base offset; index files without a store (an interrupted removal) are deleted. */
export function listSegmentBases(dir: string): number[] {
  const stores = new Set<number>();
  const indexes: number[] = [];
  for (const name of fs.readdirSync(dir)) {
    const m = /^(\d{20})\.(store|index)$/.exec(name);
    if (!m) continue;
    const base = Number(m[1]);
    if (!Number.isSafeInteger(base)) continue;
    if (m[2] === 'store') stores.add(base);
    else indexes.push(base);
  }
  for (const base of indexes) {
    if (!stores.has(base)) fs.rmSync(path.join(dir, segmentFileName(base, INDEX_SUFFIX)), { force: true });
  }
  return [...stores].sort((a, b) => a - b);
}

/**
 * Runs `build` on a just-opened store; when it throws, closes the store and the index it reported opening, so a
 * segment that fails to open leaves no descriptor behind (a log retried after such a failure would run out).
 */
function closingOnFailure<T>(store: Store, build: (opened: (index: OffsetIndex) => void) => T): T {
  let index: OffsetIndex | undefined;
  try {
    return build((i) => (index = i));
  } catch (err) {
    // The open's own error is the one to report; a close that fails too changes nothing for the caller.
    for (const file of [store, index]) {
      try {
        file?.close();
      } catch {
        // closed as far as it can be
      }
    }
    throw err;
  }
}

/**
 * A store and its index, holding the records from `baseOffset` on. The log appends only to its newest segment
 * and rolls to a new one before a record would overflow either file's limit, so no segment ever holds a partial
 * record or an entry the other file lacks.
 */
export class Segment {
  private readonly maxEntries: number;
  /** How many entries a load of the index file must find; fewer means the file was damaged since. */
  private trustedEntries = 0;
  /** True when the index was built from the store (appends, recovery, a rebuild), false while only trusted. */
  private indexFromStore = true;
  /** Set when a sealed segment lost records it should hold: reads of them report corruption. */
  private declaredNext: number;
  /** Where the located records end in the store (the store size, unless a sealed segment's tail is damaged). */
  private damagedEnd: number | null = null;
  /** When the segment was last written: the age that retention compares against. */
  lastWriteMs: number;

  private constructor(
    readonly baseOffset: number,
    private readonly store: Store,
    private readonly index: OffsetIndex,
    private readonly limits: SegmentLimits,
    lastWriteMs: number,
  ) {
    this.declaredNext = baseOffset + index.count;
    this.lastWriteMs = lastWriteMs;
    this.maxEntries = Math.floor(limits.maxIndexBytes / INDEX_ENTRY_BYTES);
  }

  static isEmptyOnDisk(dir: string, baseOffset: number): boolean {
    return fs.statSync(path.join(dir, segmentFileName(baseOffset, STORE_SUFFIX))).size === 0;
  }

  static removeFiles(dir: string, baseOffset: number): void {
    fs.rmSync(path.join(dir, segmentFileName(baseOffset, STORE_SUFFIX)), { force: true });
    fs.rmSync(path.join(dir, segmentFileName(baseOffset, INDEX_SUFFIX)), { force: true });
  }

  static create(dir: string, baseOffset: number, limits: SegmentLimits): Segment {
    const store = Store.open(path.join(dir, segmentFileName(baseOffset, STORE_SUFFIX)), limits.maxStoreBytes);
    return closingOnFailure(store, (opened) => {
      const { index } = OffsetIndex.open(path.join(dir, segmentFileName(baseOffset, INDEX_SUFFIX)), limits.maxStoreBytes);
      opened(index);
      const s = new Segment(baseOffset, store, index, limits, Date.now());
      if (store.size > 0 || index.count > 0) s.cutTo(0);
      return s;
    });
  }

  /**
   * Opens the newest segment after a possible crash: the store is the truth. Its frames are verified from the
   * start; the first torn, zero-filled or corrupt frame and everything after it are cut off, and the index is
   * made to match. Returns whether anything had to be repaired (then the repair has been fsynced).
   */
  static recover(dir: string, baseOffset: number, limits: SegmentLimits): { segment: Segment; repaired: boolean } {
    const storePath = path.join(dir, segmentFileName(baseOffset, STORE_SUFFIX));
    const store = Store.open(storePath, limits.maxStoreBytes);
    return closingOnFailure(store, (opened) => {
      const { index, fileEntries } = OffsetIndex.open(
        path.join(dir, segmentFileName(baseOffset, INDEX_SUFFIX)),
        Math.max(limits.maxStoreBytes, store.size),
      );
      opened(index);
      const scan = store.scan(true);
      let repaired = false;
      if (scan.validBytes < store.size) {
        store.truncate(scan.validBytes);
        repaired = true;
      }
      if (index.reconcile(scan.positions, fileEntries)) repaired = true;
      if (repaired) {
        store.datasyncNow();
        index.datasyncNow();
      }
      const segment = new Segment(baseOffset, store, index, limits, fs.statSync(storePath).mtimeMs);
      return { segment, repaired };
    });
  }

  /**
   * Opens an older segment, which must hold the offsets up to `nextOffset` (the next segment's base), without
   * reading its index: the index is trusted when its file holds exactly one entry per offset and its last entry
   * ends exactly at the end of the store, and is loaded on first read (where a load that finds damage rebuilds
   * it). Otherwise it is rebuilt now from a scan that keeps frames with bad checksums (reads report them);
   * records that cannot be located any more read as corrupt. Never throws for damaged content.
   */
  static openSealed(dir: string, baseOffset: number, nextOffset: number, limits: SegmentLimits): Segment {
    const storePath = path.join(dir, segmentFileName(baseOffset, STORE_SUFFIX));
    const store = Store.open(storePath, limits.maxStoreBytes);
    return closingOnFailure(store, (opened) => {
      const index = OffsetIndex.openUnloaded(
        path.join(dir, segmentFileName(baseOffset, INDEX_SUFFIX)),
        Math.max(limits.maxStoreBytes, store.size),
      );
      opened(index);
      const segment = new Segment(baseOffset, store, index, limits, fs.statSync(storePath).mtimeMs);
      const expected = Math.max(0, nextOffset - baseOffset);
      segment.declaredNext = baseOffset + expected;
      segment.trustedEntries = expected;
      segment.indexFromStore = false;
      if (!(index.count === expected && index.fileIsWhole && segment.lastEntryEndsAtStoreEnd())) segment.rebuildIndex();
      return segment;
    });
  }

  private lastEntryEndsAtStoreEnd(): boolean {
    const n = this.index.count;
    if (n === 0) return this.store.size === 0;
    const last = this.index.entryFromFile(n - 1);
    if (last === null || last.relative !== n - 1) return false;
    if (last.position + FRAME_HEADER_BYTES > this.store.size) return false;
    const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
    this.store.readInto(last.position, FRAME_HEADER_BYTES, header, 0);
    return last.position + FRAME_HEADER_BYTES + header.readUInt32LE(0) === this.store.size;
  }

  /** Rewrites the index from a scan of the store, keeping the records this segment should hold. */
  private rebuildIndex(): void {
    const expected = this.declaredNext - this.baseOffset;
    const scan = this.store.scan(false);
    const kept = scan.positions.slice(0, expected);
    this.index.reconcile(kept, -1);
    const end = scan.positions.length > expected ? scan.positions[expected]! : scan.validBytes;
    this.damagedEnd = end !== this.store.size ? end : null;
    this.trustedEntries = kept.length;
    this.indexFromStore = true;
  }

  /** Loads a dropped index; one that no longer loads whole (damaged since) is rebuilt from the store. */
  private ensureIndex(): void {
    if (this.index.loaded) return;
    if (this.index.load() !== this.trustedEntries) this.rebuildIndex();
  }

  /** Drops the in-memory index of a sealed segment (the log keeps only the recently read ones). */
  unloadIndex(): void {
    this.store.dropReadAhead();
    if (!this.index.loaded) return;
    this.trustedEntries = this.index.count;
    this.index.unload();
  }

  get indexLoaded(): boolean {
    return this.index.loaded;
  }

  get nextOffset(): number {
    return Math.max(this.baseOffset + this.index.count, this.declaredNext);
  }

  get isEmpty(): boolean {
    return this.nextOffset === this.baseOffset;
  }

  get storePath(): string {
    return this.store.path;
  }

  get storeBytes(): number {
    return this.store.size;
  }

  get sizeBytes(): number {
    return this.store.size + this.index.sizeBytes;
  }

  get storeFileDescriptor(): number {
    return this.store.fileDescriptor;
  }

  /** Whether a record of `valueBytes` fits in both the store and the index limits. */
  fits(valueBytes: number): boolean {
    return (
      this.store.size + FRAME_HEADER_BYTES + valueBytes <= this.limits.maxStoreBytes &&
      this.index.count < this.maxEntries
    );
  }

  /** The book's IsMaxed: not even an empty record fits any more. */
  get isMaxed(): boolean {
    return !this.fits(0);
  }

  /** Appends a record the caller checked `fits`; returns its offset. */
  append(value: RecordBytes): number {
    const position = this.store.append(value);
    this.index.push(position);
    this.declaredNext++;
    return this.declaredNext - 1;
  }

  private recordsEnd(): number {
    return this.damagedEnd ?? this.store.size;
  }

  /** The located frame of `offset`, or a CorruptRecordError when the segment lost it. */
  private frame(offset: number): { position: number; end: number } {
    this.ensureIndex();
    const rel = offset - this.baseOffset;
    if (rel >= this.index.count) {
      throw new CorruptRecordError(offset, this.store.path, 'the store was damaged before this record');
    }
    const position = this.index.position(rel);
    const end = rel + 1 < this.index.count ? this.index.position(rel + 1) : this.recordsEnd();
    return { position, end };
  }

  /**
   * The index is a cache of where the store's frames are. A trusted index that disagrees with the store (a read
   * finds a frame of the wrong length, or any other damage) is rebuilt from the store once, and the read retried:
   * a record is only reported corrupt when the store itself is.
   */
  private withVerifiedIndex<T>(read: () => T, undo?: () => void): T {
    try {
      return read();
    } catch (err) {
      if (!(err instanceof CorruptRecordError) || this.indexFromStore) throw err;
      undo?.();
      this.rebuildIndex();
      return read();
    }
  }

  /** The value of `offset`, which the caller checked lies in [baseOffset, nextOffset). */
  read(offset: number): Uint8Array {
    return this.withVerifiedIndex(() => this.readOnce(offset));
  }

  private readOnce(offset: number): Uint8Array {
    const { position, end } = this.frame(offset);
    const frameBytes = end - position;
    if (frameBytes < FRAME_HEADER_BYTES) throw this.corrupt(offset, 'frame shorter than its header');
    let buf: Buffer;
    try {
      buf = this.store.view(position, frameBytes);
    } catch (err) {
      throw this.corrupt(offset, `cannot read ${frameBytes} bytes at ${position}: ${(err as Error).message}`);
    }
    return this.verified(offset, buf, 0, frameBytes);
  }

  /**
   * Appends to `out` the records from `offset` on, at most `maxRecords` and while their values total at most
   * `maxBytes`, except that the first record of a page (`out` empty) is always taken. Reads them with one
   * positional read. Returns the value bytes added.
   */
  readRange(offset: number, maxRecords: number, maxBytes: number, out: LogRecord[]): number {
    const before = out.length;
    return this.withVerifiedIndex(
      () => this.readRangeOnce(offset, maxRecords, maxBytes, out),
      () => (out.length = before),
    );
  }

  private readRangeOnce(offset: number, maxRecords: number, maxBytes: number, out: LogRecord[]): number {
    this.ensureIndex();
    const first = offset - this.baseOffset;
    const located = this.index.count;
    if (first >= located) {
      throw new CorruptRecordError(offset, this.store.path, 'the store was damaged before this record');
    }
    const start = this.index.position(first);
    let rel = first;
    let bytes = 0;
    let end = start;
    while (rel < located && rel - first < maxRecords) {
      const next = rel + 1 < located ? this.index.position(rel + 1) : this.recordsEnd();
      const valueBytes = next - this.index.position(rel) - FRAME_HEADER_BYTES;
      if ((rel > first || out.length > 0) && bytes + valueBytes > maxBytes) break;
      bytes += valueBytes;
      end = next;
      rel++;
    }
    if (rel === first) return 0;
    const buf = Buffer.allocUnsafe(end - start);
    this.readBytes(offset, start, end - start, buf);
    for (let r = first; r < rel; r++) {
      const at = this.index.position(r) - start;
      const to = r + 1 < rel ? this.index.position(r + 1) - start : end - start;
      out.push({ offset: this.baseOffset + r, value: this.verified(this.baseOffset + r, buf, at, to) });
    }
    return bytes;
  }

  private readBytes(offset: number, position: number, length: number, into: Buffer): void {
    try {
      this.store.readInto(position, length, into, 0);
    } catch (err) {
      throw this.corrupt(offset, `cannot read ${length} bytes at ${position}: ${(err as Error).message}`);
    }
  }

  private verified(offset: number, buf: Buffer, at: number, end: number): Uint8Array {
    const length = buf.readUInt32LE(at);
    if (length !== end - at - FRAME_HEADER_BYTES) {
      throw this.corrupt(offset, `length ${length} does not match the index (${end - at - FRAME_HEADER_BYTES})`);
    }
    // A Buffer (a Uint8Array) viewing the bytes read: no copy, and Node callers get Buffer methods.
    const value = buf.subarray(at + FRAME_HEADER_BYTES, end);
    if (frameChecksum(value, length) !== buf.readUInt32LE(at + 4)) throw this.corrupt(offset, 'checksum mismatch');
    return value;
  }

  private corrupt(offset: number, detail: string): CorruptRecordError {
    return new CorruptRecordError(offset, this.store.path, detail);
  }

  /** Removes every record at or above `offset` (clamped to this segment). */
  cutTo(offset: number): void {
    this.ensureIndex();
    const rel = Math.max(0, offset - this.baseOffset);
    if (rel >= this.index.count && this.baseOffset + rel >= this.declaredNext) return;
    const located = Math.min(rel, this.index.count);
    const storeEnd = located < this.index.count ? this.index.position(located) : this.recordsEnd();
    this.store.truncate(storeEnd);
    this.index.truncate(located);
    this.declaredNext = this.baseOffset + located;
    this.damagedEnd = null;
    this.lastWriteMs = Date.now();
  }

  /** Writes buffered records and index entries to the files. */
  flush(): void {
    this.store.flush();
    this.index.flush();
  }

  get dirty(): boolean {
    return this.store.dirty;
  }

  /** Makes the store and index durable now (blocking): the checkpoint between segments. */
  datasyncNow(): void {
    this.flush();
    this.store.datasyncNow();
    this.index.datasyncNow();
  }

  /** The segment stops taking appends: it keeps its files open for reads, without a write buffer. */
  seal(durable: boolean): void {
    this.flush();
    if (durable) this.datasyncNow();
    this.store.seal();
    this.lastWriteMs = Date.now();
  }

  close(): void {
    try {
      this.store.close();
    } finally {
      this.index.close();
    }
  }

  /** Closes and deletes the files: store first, so a crash in between leaves an index that open discards. */
  remove(): void {
    this.close();
    fs.rmSync(this.store.path, { force: true });
    fs.rmSync(this.index.path, { force: true });
  }
}
