import { Awareness } from './awareness.js';

describe('Awareness (local health)', () => {
  test('a healthy node waits the configured time', () => {
    expect(new Awareness().scale(100)).toBe(100);
  });

  test('each degradation stretches timeouts by one more multiple, up to the maximum', () => {
    const a = new Awareness(3);
    a.degraded();
    expect(a.scale(100)).toBe(200);
    a.degraded(10);
    expect(a.health).toBe(3);
    expect(a.scale(100)).toBe(400);
  });

  test('successful probes restore health one step at a time, never below zero', () => {
    const a = new Awareness();
    a.degraded(2);
    a.succeeded();
    expect(a.health).toBe(1);
    a.succeeded();
    a.succeeded();
    expect(a.health).toBe(0);
  });
});
