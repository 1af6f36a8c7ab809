import { FrameDecoder, FrameTooLargeError, encodeFrame } from './framing.js';

describe('FrameDecoder', () => {
  test('frames survive being cut at every byte boundary', () => {
    const payloads = ['a', '', 'hello world', 'x'.repeat(1000)].map((s) => Buffer.from(s));
    const wire = Buffer.concat(payloads.map(encodeFrame));
    for (let cut = 0; cut <= wire.length; cut++) {
      const d = new FrameDecoder();
      const out = [...d.push(wire.subarray(0, cut)), ...d.push(wire.subarray(cut))];
      expect(out.map((f) => f.toString())).toEqual(payloads.map((p) => p.toString()));
      expect(d.bufferedBytes()).toBe(0);
    }
  });

  test('a frame longer than the limit is a typed error, not an allocation', () => {
    const d = new FrameDecoder(10);
    expect(() => d.push(encodeFrame(Buffer.alloc(11)))).toThrow(FrameTooLargeError);
  });
});
