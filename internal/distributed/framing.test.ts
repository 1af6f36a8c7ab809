import { jest } from '@jest/globals';
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

  test('frames fed one byte at a time come out whole', () => {
    const payloads = ['', 'ab', 'x'.repeat(5000)].map((s) => Buffer.from(s));
    const wire = Buffer.concat(payloads.map(encodeFrame));
    const d = new FrameDecoder();
    const out: Buffer[] = [];
    for (let i = 0; i < wire.length; i++) out.push(...d.push(wire.subarray(i, i + 1)));
    expect(out.map((f) => f.toString())).toEqual(payloads.map((p) => p.toString()));
    expect(d.bufferedBytes()).toBe(0);
  });

  test('a large frame arriving in many chunks is joined once, not copied per chunk', () => {
    const payload = Buffer.alloc(1024 * 1024, 7);
    const wire = encodeFrame(payload);
    const concat = jest.spyOn(Buffer, 'concat');
    try {
      const d = new FrameDecoder();
      const out: Buffer[] = [];
      const chunk = 16 * 1024;
      for (let at = 0; at < wire.length; at += chunk) out.push(...d.push(wire.subarray(at, at + chunk)));
      expect(out).toHaveLength(1);
      expect(out[0]!.equals(payload)).toBe(true);
      expect(concat.mock.calls.length).toBeLessThanOrEqual(1);
    } finally {
      concat.mockRestore();
    }
  });

  test('a frame longer than the limit is a typed error, not an allocation', () => {
    const d = new FrameDecoder(10);
    expect(() => d.push(encodeFrame(Buffer.alloc(11)))).toThrow(FrameTooLargeError);
  });
});
