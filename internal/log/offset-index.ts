import fs from 'node:fs';
import os from 'node:os';

// An entry maps a record to its position in the store: [u32 offset relative to the segment base][u64 position].
// The relative offset is redundant for a dense log, which is what lets a load tell real entries from garbage.
export const INDEX_ENTRY_BYTES = 12;

const LITTLE_ENDIAN = os.endianness() === 'LE';

/**
 * The offset -> position table of one segment: in memory for lookups (a Float64Array: positions are u64 on
 * disk, safe integers in memory), and in an append-only file so that a sealed segment opens without a scan.
 * The file is never preallocated, and a load stops at the first entry that is not the next dense one, so zero
 * fill or a torn tail is never read as entries.
 */
export class OffsetIndex {
  private positions: Float64Array;
  private entries = 0;
  private persisted = 0;

  private constructor(
    readonly path: string,
    private fd: number,
    initialCapacity: number,
  ) {
    this.positions = new Float64Array(Math.max(16, initialCapacity));
  }

  /** Opens (creating if needed) the file and loads its valid leading entries. */
  static open(path: string): { index: OffsetIndex; fileEntries: number; loaded: number } {
    const fd = fs.openSync(path, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
    const fileBytes = fs.fstatSync(fd).size;
    const fileEntries = Math.floor(fileBytes / INDEX_ENTRY_BYTES);
    const index = new OffsetIndex(path, fd, fileEntries);
    const buf = Buffer.allocUnsafe(fileEntries * INDEX_ENTRY_BYTES);
    let got = 0;
    while (got < buf.length) {
      const n = fs.readSync(fd, buf, got, buf.length - got, got);
      if (n === 0) break;
      got += n;
    }
    let previous = -1;
    for (let i = 0; i < Math.floor(got / INDEX_ENTRY_BYTES); i++) {
      const at = i * INDEX_ENTRY_BYTES;
      const position = buf.readUInt32LE(at + 4) + buf.readUInt32LE(at + 8) * 2 ** 32;
      if (buf.readUInt32LE(at) !== i || position <= previous || !Number.isSafeInteger(position)) break;
      index.positions[i] = position;
      index.entries++;
      previous = position;
    }
    index.persisted = index.entries;
    const exact = fileBytes === index.entries * INDEX_ENTRY_BYTES;
    return { index, fileEntries: exact ? index.entries : -1, loaded: index.entries };
  }

  get count(): number {
    return this.entries;
  }

  get sizeBytes(): number {
    return this.entries * INDEX_ENTRY_BYTES;
  }

  position(relative: number): number {
    return this.positions[relative]!;
  }

  push(position: number): void {
    if (this.entries === this.positions.length) {
      const grown = new Float64Array(this.positions.length * 2);
      grown.set(this.positions);
      this.positions = grown;
    }
    this.positions[this.entries++] = position;
  }

  /** Writes the entries not yet in the file. */
  flush(): void {
    const n = this.entries - this.persisted;
    if (n === 0) return;
    const buf = Buffer.allocUnsafe(n * INDEX_ENTRY_BYTES);
    if (LITTLE_ENDIAN) {
      // An entry is three aligned u32 words, so a Uint32Array view serializes without per-field bounds checks.
      const words = new Uint32Array(buf.buffer, buf.byteOffset, n * 3);
      for (let i = 0, rel = this.persisted; i < n; i++, rel++) {
        const position = this.positions[rel]!;
        words[3 * i] = rel;
        words[3 * i + 1] = position % 2 ** 32;
        words[3 * i + 2] = Math.floor(position / 2 ** 32);
      }
    } else {
      for (let i = 0, rel = this.persisted; i < n; i++, rel++) {
        const position = this.positions[rel]!;
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

  /** Replaces every entry (after a store scan disagreed with the file). */
  replace(positions: readonly number[]): void {
    fs.ftruncateSync(this.fd, 0);
    this.entries = 0;
    this.persisted = 0;
    if (this.positions.length < positions.length) this.positions = new Float64Array(positions.length);
    for (const p of positions) this.push(p);
    this.flush();
  }

  /** Keeps the matching prefix and rewrites the rest from `positions`; returns true if the file changed. */
  reconcile(positions: readonly number[], fileEntries: number): boolean {
    let same = 0;
    const limit = Math.min(this.entries, positions.length);
    while (same < limit && this.positions[same] === positions[same]) same++;
    if (same === positions.length && fileEntries === positions.length) return false;
    fs.ftruncateSync(this.fd, same * INDEX_ENTRY_BYTES);
    this.entries = same;
    this.persisted = same;
    if (this.positions.length < positions.length) {
      const grown = new Float64Array(positions.length);
      grown.set(this.positions.subarray(0, same));
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
