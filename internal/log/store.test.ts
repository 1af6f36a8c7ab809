import fs from 'node:fs';
import path from 'node:path';
import { FRAME_HEADER_BYTES } from './record-frame.js';
import { Store } from './store.js';
import { payload, removeDir, tempDir } from './test-support.js';

let dir: string;
beforeEach(async () => {
  dir = await tempDir();
});
afterEach(async () => {
  await removeDir(dir);
});

function readValue(store: Store, position: number, length: number): Buffer {
  const buf = Buffer.alloc(FRAME_HEADER_BYTES + length);
  store.readInto(position, buf.length, buf, 0);
  return buf.subarray(FRAME_HEADER_BYTES);
}

describe('Store', () => {
  test('appends return consecutive positions and read back, before and after a flush', () => {
    const store = Store.open(path.join(dir, 's'), 1 << 20);
    const positions = [0, 1, 2].map((i) => store.append(payload(i, 20)));
    expect(positions).toEqual([0, 28, 56]);
    expect(store.size).toBe(84);
    expect(readValue(store, 28, 20)).toEqual(Buffer.from(payload(1, 20)));
    store.flush();
    expect(fs.statSync(store.path).size).toBe(84);
    expect(readValue(store, 56, 20)).toEqual(Buffer.from(payload(2, 20)));
    store.close();
  });

  test('a record larger than the write buffer is written directly and reads back', () => {
    const store = Store.open(path.join(dir, 's'), 64);
    store.append(payload(1, 10));
    const big = payload(2, 500);
    const position = store.append(big);
    expect(position).toBe(18);
    expect(readValue(store, position, 500)).toEqual(Buffer.from(big));
    store.close();
  });

  test('reopen keeps the size and the records', () => {
    const p = path.join(dir, 's');
    const a = Store.open(p, 1 << 20);
    a.append(payload(7, 30));
    a.close();
    const b = Store.open(p, 1 << 20);
    expect(b.size).toBe(38);
    expect(readValue(b, 0, 30)).toEqual(Buffer.from(payload(7, 30)));
    b.close();
  });

  test('a scan stops at a torn tail and reports why', () => {
    const p = path.join(dir, 's');
    const a = Store.open(p, 1 << 20);
    for (let i = 0; i < 3; i++) a.append(payload(i, 10));
    a.close();
    fs.truncateSync(p, 18 * 3 - 4);
    const b = Store.open(p, 1 << 20);
    expect(b.scan(true)).toEqual({ positions: [0, 18], validBytes: 36, stop: 'length' });
    b.close();
  });

  test('a scan without stopAtCorrupt keeps a frame with a bad checksum and goes on', () => {
    const p = path.join(dir, 's');
    const a = Store.open(p, 1 << 20);
    for (let i = 0; i < 3; i++) a.append(payload(i, 10));
    a.close();
    const bytes = fs.readFileSync(p);
    bytes[18 + FRAME_HEADER_BYTES + 2]! ^= 0x10;
    fs.writeFileSync(p, bytes);
    const b = Store.open(p, 1 << 20);
    expect(b.scan(true)).toEqual({ positions: [0], validBytes: 18, stop: 'checksum' });
    expect(b.scan(false)).toEqual({ positions: [0, 18, 36], validBytes: 54, stop: 'end' });
    b.close();
  });

  test('truncate drops buffered bytes without touching the file, or cuts the file', () => {
    const p = path.join(dir, 's');
    const s = Store.open(p, 1 << 20);
    s.append(payload(0, 10));
    s.flush();
    s.append(payload(1, 10));
    s.truncate(18);
    expect(s.size).toBe(18);
    s.truncate(0);
    expect(fs.statSync(p).size).toBe(0);
    s.close();
  });
});
