import { expectedConfirmations, loneAccuserMultiplier, suspicionTimeout } from './suspicion.js';

describe('suspicion timeout (Lifeguard)', () => {
  test('a lone accuser waits the longest', () => {
    expect(suspicionTimeout(1000, 0, 3)).toBe(1000 * loneAccuserMultiplier);
  });

  test('each independent confirmation shortens it, down to the configured minimum', () => {
    const times = [0, 1, 2, 3, 4].map((c) => suspicionTimeout(1000, c, 3));
    expect(times[1]).toBeLessThan(times[0]!);
    expect(times[2]).toBeLessThan(times[1]!);
    expect(times[3]).toBe(1000);
    expect(times[4]).toBe(1000);
  });

  test('with nobody left to confirm, the minimum applies at once', () => {
    expect(suspicionTimeout(1000, 0, 0)).toBe(1000);
  });

  test('confirmations expected: at most 3, never more than members other than the suspect and its accuser', () => {
    expect(expectedConfirmations(2)).toBe(0);
    expect(expectedConfirmations(3)).toBe(1);
    expect(expectedConfirmations(5)).toBe(3);
    expect(expectedConfirmations(50)).toBe(3);
  });
});
