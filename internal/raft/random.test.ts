// The injected random source.
import { SeededRandom } from './random.js';

describe('SeededRandom', () => {
  test('the same seed gives the same sequence; different seeds differ', () => {
    const seq = (seed: number) => Array.from({ length: 20 }, ((r) => () => r.next32())(new SeededRandom(seed)));
    expect(seq(1)).toEqual(seq(1));
    expect(seq(1)).not.toEqual(seq(2));
  });

  test('int(n) stays in [0, n) and covers it', () => {
    const r = new SeededRandom(7);
    const seen = new Set<number>();
    for (let i = 0; i < 1000; i++) {
      const v = r.int(10);
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThan(10);
      seen.add(v);
    }
    expect(seen.size).toBe(10);
    expect(r.int(1)).toBe(0);
  });

  test('float() is in [0, 1) with a mean near one half', () => {
    const r = new SeededRandom(11);
    let sum = 0;
    for (let i = 0; i < 10000; i++) {
      const f = r.float();
      expect(f >= 0 && f < 1).toBe(true);
      sum += f;
    }
    expect(Math.abs(sum / 10000 - 0.5)).toBeLessThan(0.02);
  });
});
