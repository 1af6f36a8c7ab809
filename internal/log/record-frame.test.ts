import { FRAME_HEADER_BYTES, checkFrame, encodeFrame, encodeHeader } from './record-frame.js';

function frame(value: Uint8Array): Buffer {
  const buf = Buffer.alloc(FRAME_HEADER_BYTES + value.length);
  encodeFrame(value, buf, 0);
  return buf;
}

describe('record framing [u32 length][u32 crc][bytes]', () => {
  test('a frame verifies, empty values included', () => {
    for (const v of [Buffer.alloc(0), Buffer.from('hello')]) {
      const f = frame(v);
      expect(f.readUInt32LE(0)).toBe(v.length);
      expect(checkFrame(f, 0, f.length)).toBe('ok');
    }
  });

  test('the checksum of an empty record does not depend on how its empty buffer was made', () => {
    const touched = Buffer.alloc(0);
    touched.write('');
    const views = [Buffer.alloc(0), touched, new Uint8Array(0), Buffer.alloc(8).subarray(4, 4)];
    expect(new Set(views.map((v) => frame(v).readUInt32LE(4))).size).toBe(1);
    for (const v of views) expect(checkFrame(frame(Buffer.alloc(0)), 0, 8)).toBe(checkFrame(frame(v), 0, 8));
  });

  test('a record given as parts frames to the same bytes as their concatenation', () => {
    const cases = [[Buffer.from('head'), Buffer.from('body')], [Buffer.alloc(0), Buffer.from('x'), Buffer.alloc(0)], [Buffer.alloc(0)], []];
    for (const parts of cases) {
      const whole = frame(Buffer.concat(parts));
      const fromParts = Buffer.alloc(whole.length);
      expect(encodeFrame(parts, fromParts, 0)).toBe(whole.length);
      expect(fromParts).toEqual(whole);
      expect(encodeHeader(parts)).toEqual(whole.subarray(0, FRAME_HEADER_BYTES));
    }
  });

  test('a zero-filled header never verifies as an empty record', () => {
    expect(checkFrame(Buffer.alloc(64), 0, 64)).toBe('checksum');
  });

  test('every single bit flip in a frame is detected', () => {
    const f = frame(Buffer.from('the quick brown fox'));
    for (let bit = 0; bit < f.length * 8; bit++) {
      const g = Buffer.from(f);
      g[bit >> 3]! ^= 1 << (bit & 7);
      expect(checkFrame(g, 0, g.length)).not.toBe('ok');
    }
  });

  test('a header alone or a length past the end is reported as torn', () => {
    const f = frame(Buffer.from('abcdef'));
    expect(checkFrame(f, 0, 5)).toBe('short');
    expect(checkFrame(f, 0, f.length - 1)).toBe('length');
  });
});
