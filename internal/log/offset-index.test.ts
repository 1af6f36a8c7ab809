import fs from 'node:fs';
import path from 'node:path';
import { INDEX_ENTRY_BYTES, OffsetIndex } from './offset-index.js';
import { removeDir, tempDir } from './test-support.js';

let dir: string;
let file: string;
beforeEach(async () => {
  dir = await tempDir();
  file = path.join(dir, 'i');
});
afterEach(async () => {
  await removeDir(dir);
});

describe('OffsetIndex', () => {
  test('entries write, read and survive a reopen', () => {
    const { index } = OffsetIndex.open(file, 1 << 20);
    [0, 10, 25].forEach((p) => index.push(p));
    expect(index.count).toBe(3);
    expect(index.position(2)).toBe(25);
    index.close();
    expect(fs.statSync(file).size).toBe(3 * INDEX_ENTRY_BYTES);
    const again = OffsetIndex.open(file, 1 << 20);
    expect(again.loaded).toBe(3);
    expect(again.fileEntries).toBe(3);
    expect([0, 1, 2].map((i) => again.index.position(i))).toEqual([0, 10, 25]);
    again.index.close();
  });

  test('an empty index has no entries (the book\'s EOF case)', () => {
    const { index, loaded } = OffsetIndex.open(file, 1 << 20);
    expect(loaded).toBe(0);
    expect(index.count).toBe(0);
    index.close();
  });

  test('zero fill after the entries (a preallocated or crashed file) is not read as entries', () => {
    const { index } = OffsetIndex.open(file, 1 << 20);
    [0, 10].forEach((p) => index.push(p));
    index.close();
    fs.appendFileSync(file, Buffer.alloc(10 * INDEX_ENTRY_BYTES));
    const again = OffsetIndex.open(file, 1 << 20);
    expect(again.loaded).toBe(2);
    expect(again.fileEntries).toBe(-1);
    again.index.close();
  });

  test('a load stops at the first entry that is not the next dense one', () => {
    const { index } = OffsetIndex.open(file, 1 << 20);
    [0, 10, 20, 30].forEach((p) => index.push(p));
    index.close();
    const bytes = fs.readFileSync(file);
    bytes.writeUInt32LE(7, 2 * INDEX_ENTRY_BYTES);
    fs.writeFileSync(file, bytes);
    const again = OffsetIndex.open(file, 1 << 20);
    expect(again.loaded).toBe(2);
    again.index.close();
  });

  test('positions past what the store can hold are garbage; 8-byte positions work for huge stores', () => {
    const { index } = OffsetIndex.open(file, 2 ** 40);
    [0, 2 ** 33, 2 ** 35].forEach((p) => index.push(p));
    index.close();
    const wide = OffsetIndex.open(file, 2 ** 40);
    expect([0, 1, 2].map((i) => wide.index.position(i))).toEqual([0, 2 ** 33, 2 ** 35]);
    wide.index.close();
    const narrow = OffsetIndex.open(file, 2 ** 20);
    expect(narrow.loaded).toBe(1);
    narrow.index.close();
  });

  test('reconcile keeps the matching prefix and rewrites the rest', () => {
    const { index, fileEntries } = OffsetIndex.open(file, 1 << 20);
    expect(index.reconcile([], fileEntries)).toBe(false);
    [0, 10, 99].forEach((p) => index.push(p));
    index.flush();
    expect(index.reconcile([0, 10, 20, 30], 3)).toBe(true);
    index.close();
    const again = OffsetIndex.open(file, 1 << 20);
    expect([0, 1, 2, 3].map((i) => again.index.position(i))).toEqual([0, 10, 20, 30]);
    expect(again.fileEntries).toBe(4);
    again.index.close();
  });
});
