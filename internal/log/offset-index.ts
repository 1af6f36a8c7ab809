import fs from 'node:fs';
import os from 'node:os';
import { openReadWrite } from './open-file.js';

// An entry maps a record to its position in the store: [u32 offset relative to the segment base][u64 position].
// The relative offset is redundant for a dense log, which is what lets a load tell real entries from garbage.
export const INDEX_ENTRY_BYTES = 12;

const LITTLE_ENDIAN = os.endianness() === 'LE';

type Positions = Uint32Array | Float64Array;

/**
 * The offset -> position table of one segment: in memory for lookups, and in an append-only file so that a
 * sealed segment opens without a scan. In memory a position takes 4 bytes (a Uint32Array) when the store cannot
 * outgrow 4 GiB, else 8 (a Float64Array: positions are u64 on disk, safe integers in memory).
 * The file is never preallocated, and a load stops at the first entry that is not the next dense one, so zero
 * fill or a torn tail is never read as entries.
 */
export class OffsetIndex {
  /** Null while unloaded: a sealed segment's table is read from the file on first use and may be dropped again. */
  private positions: Positions | null = null;
  private entries = 0;
  private persisted = 0;

  private constructor(
    readonly path: string,
    private fd: number,
    private readonly maxPosition: number,
  ) {}

  private allocate(n: number): Positions {
    return this.maxPosition < 2 ** 32 ? new Uint32Array(n) : new Float64Array(n);
  }

  /**
   * Opens (creating if needed) the file and loads its valid leading entries. `maxPosition` bounds the positions
   * the store can hold (an entry beyond it is garbage). `fileEntries` is the number of entries when the file
   * holds exactly the loaded ones and nothing else, else -1.
   */
  static open(path: string, maxPosition: number): { index: OffsetIndex; fileEntries: number; loaded: number } {
    const index = OffsetIndex.openUnloaded(path, maxPosition);
    try {
      const fileBytes = index.entries * INDEX_ENTRY_BYTES;
      const exactBefore = fs.fstatSync(index.fd).size === fileBytes;
      const loaded = index.load();
      return { index, fileEntries: exactBefore && loaded * INDEX_ENTRY_BYTES === fileBytes ? loaded : -1, loaded };
    } catch (err) {
      // Nothing was written: just release the descriptor, the caller never gets the index to close.
      fs.closeSync(index.fd);
      throw err;
    }
  }

  /**
   * Opens the file without reading the entries: `count` is what the file's size claims until load() checks it.
   * `exact` says whether the size is a whole number of entries.
   */
  static openUnloaded(path: string, maxPosition: number): OffsetIndex {
    const { fd, size } = openReadWrite(path);
    const index = new OffsetIndex(path, fd, maxPosition);
    index.entries = Math.floor(size / INDEX_ENTRY_BYTES);
    index.persisted = index.entries;
    return index;
  }

  get loaded(): boolean {
    return this.positions !== null;
  }

  /** Whether the file is a whole number of entries (checked without loading). */
  get fileIsWhole(): boolean {
    return fs.fstatSync(this.fd).size === this.persisted * INDEX_ENTRY_BYTES;
  }

  /** Reads the file's entries, keeping the leading valid ones; returns how many were kept. */
  load(): number {
    const fileEntries = Math.floor(fs.fstatSync(this.fd).size / INDEX_ENTRY_BYTES);
    const buf = Buffer.allocUnsafe(fileEntries * INDEX_ENTRY_BYTES);
    let got = 0;
    while (got < buf.length) {
      const n = fs.readSync(this.fd, buf, got, buf.length - got, got);
      if (n === 0) break;
      got += n;
    }
    const positions = this.allocate(Math.max(16, fileEntries));
    let entries = 0;
    let previous = -1;
    for (let i = 0; i < Math.floor(got / INDEX_ENTRY_BYTES); i++) {
      const at = i * INDEX_ENTRY_BYTES;
      const position = buf.readUInt32LE(at + 4) + buf.readUInt32LE(at + 8) * 2 ** 32;
      if (buf.readUInt32LE(at) !== i || position <= previous || position > this.maxPosition) break;
      positions[i] = position;
      entries++;
      previous = position;
    }
    this.positions = positions;
    this.entries = entries;
    this.persisted = entries;
    return entries;
  }

  /** Drops the in-memory table of a fully written index; position() needs a load() again. */
  unload(): void {
    if (this.persisted !== this.entries) this.flush();
    this.positions = null;
  }

  /** Reads entry `i` straight from the file (for checks that should not load the whole table). */
  entryFromFile(i: number): { relative: number; position: number } | null {
    const buf = Buffer.allocUnsafe(INDEX_ENTRY_BYTES);
    if (fs.readSync(this.fd, buf, 0, INDEX_ENTRY_BYTES, i * INDEX_ENTRY_BYTES) !== INDEX_ENTRY_BYTES) return null;
    return { relative: buf.readUInt32LE(0), position: buf.readUInt32LE(4) + buf.readUInt32LE(8) * 2 ** 32 };
  }

  get count(): number {
    return this.entries;
  }

  get sizeBytes(): number {
    return this.entries * INDEX_ENTRY_BYTES;
  }

  /** The position of entry `relative`; the table must be loaded. */
  position(relative: number): number {
    return this.positions![relative]!;
  }

  push(position: number): void {
    let positions = this.positions ?? this.loadedForWrite();
    if (this.entries === positions.length) {
      const grown = this.allocate(positions.length * 2);
      grown.set(positions);
      this.positions = positions = grown;
    }
    positions[this.entries++] = position;
  }

  private loadedForWrite(): Positions {
    this.load();
    return this.positions!;
  }

  /** Writes the entries not yet in the file. */
  flush(): void {
    const n = this.entries - this.persisted;
    if (n === 0) return;
    const buf = Buffer.allocUnsafe(n * INDEX_ENTRY_BYTES);
    const positions = this.positions!;
    if (LITTLE_ENDIAN) {
      // An entry is three aligned u32 words, so a Uint32Array view serializes without per-field bounds checks.
      const words = new Uint32Array(buf.buffer, buf.byteOffset, n * 3);
      for (let i = 0, rel = this.persisted; i < n; i++, rel++) {
        const position = positions[rel]!;
        words[3 * i] = rel;
        words[3 * i + 1] = position % 2 ** 32;
        words[3 * i + 2] = Math.floor(position / 2 ** 32);
      }
    } else {
      for (let i = 0, rel = this.persisted; i < n; i++, rel++) {
        const position = positions[rel]!;
        buf.writeUInt32LE(rel, i * INDEX_ENTRY_BYTES);
        buf.writeUInt32LE(position % 2 ** 32, i * INDEX_ENTRY_BYTES + 4);
        buf.writeUInt32LE(Math.floor(position / 2 ** 32), i * INDEX_ENTRY_BYTES + 8);
      }
    }
    let done = 0;
    const at = this.persisted * INDEX_ENTRY_BYTES;
    while (done < buf.length) done += fs.writeSync(this.fd, buf, done, buf.length - done, at + done);
    this.persisted = this.entries;
  }

  /** Keeps the first `count` entries, in memory and in the file. */
  truncate(count: number): void {
    if (count < this.persisted) {
      fs.ftruncateSync(this.fd, count * INDEX_ENTRY_BYTES);
      this.persisted = count;
    }
    this.entries = Math.min(this.entries, count);
  }

  /** Keeps the matching prefix and rewrites the rest from `positions`; returns true if the file changed. */
  reconcile(positions: readonly number[], fileEntries: number): boolean {
    const current = this.positions ?? this.loadedForWrite();
    let same = 0;
    const limit = Math.min(this.entries, positions.length);
    while (same < limit && current[same] === positions[same]) same++;
    if (same === positions.length && fileEntries === positions.length) return false;
    fs.ftruncateSync(this.fd, same * INDEX_ENTRY_BYTES);
    this.entries = same;
    this.persisted = same;
    if (current.length < positions.length) {
      const grown = this.allocate(positions.length);
      grown.set(current.subarray(0, same));
      this.positions = grown;
    }
    for (let i = same; i < positions.length; i++) this.push(positions[i]!);
    this.flush();
    return true;
  }

  datasyncNow(): void {
    fs.fdatasyncSync(this.fd);
  }

  get fileDescriptor(): number {
    return this.fd;
  }

  close(): void {
    if (this.fd < 0) return;
    try {
      this.flush();
    } finally {
      fs.closeSync(this.fd);
      this.fd = -1;
    }
  }
}
