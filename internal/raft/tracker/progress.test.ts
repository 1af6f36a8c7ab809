// Per-follower progress: probe, replicate and snapshot states, and the inflight window.
import { Inflights } from './inflights.js';
import { Progress } from './progress.js';

describe('Progress', () => {
  test('probe sends one append and waits for an answer before the next', () => {
    const p = new Progress(5, 4, Infinity, false);
    expect(p.isPaused()).toBe(false);
    p.sentEntries(7, 3, 100);
    expect(p.isPaused()).toBe(true);
    expect(p.maybeUpdate(7)).toBe(true);
    expect(p.isPaused()).toBe(false);
  });

  test('replicate streams optimistically until the window is full', () => {
    const p = new Progress(1, 2, Infinity, false);
    p.becomeReplicate();
    p.sentEntries(3, 3, 10);
    expect(p.next).toBe(4);
    p.sentEntries(5, 2, 10);
    expect(p.isPaused()).toBe(true);
    p.maybeUpdate(3);
    p.inflights.freeLE(3);
    expect(p.isPaused()).toBe(false);
  });

  test('a rejection in replicate falls back to match+1; a stale rejection is ignored', () => {
    const p = new Progress(1, 8, Infinity, false);
    p.maybeUpdate(4);
    p.becomeReplicate();
    p.sentEntries(9, 5, 10);
    expect(p.maybeDecrTo(3, 0)).toBe(false);
    expect(p.maybeDecrTo(7, 2)).toBe(true);
    expect(p.next).toBe(5);
  });

  test('a rejection in probe jumps back to the hint, never below match+1', () => {
    const p = new Progress(20, 8, Infinity, false);
    p.maybeUpdate(3);
    p.next = 20;
    expect(p.maybeDecrTo(19, 10)).toBe(true);
    expect(p.next).toBe(11);
    expect(p.maybeDecrTo(10, 0)).toBe(true);
    expect(p.next).toBe(4);
    expect(p.maybeDecrTo(19, 10)).toBe(false);
  });

  test('snapshot state sends nothing else; leaving it probes just after the snapshot', () => {
    const p = new Progress(1, 8, Infinity, false);
    p.becomeSnapshot(50);
    expect(p.isPaused()).toBe(true);
    p.becomeProbe();
    expect(p.next).toBe(51);
  });
});

describe('Inflights', () => {
  test('is full at maxMessages or maxBytes, and frees everything acknowledged', () => {
    const f = new Inflights(3, 250);
    f.add(1, 100);
    f.add(2, 100);
    expect(f.full).toBe(false);
    f.add(3, 100);
    expect(f.full).toBe(true);
    f.freeLE(2);
    expect(f.count).toBe(1);
    expect(f.full).toBe(false);
    f.freeFirstOne();
    expect(f.count).toBe(0);
  });

  test('stays correct over many add/free cycles (its storage is compacted as it goes)', () => {
    const f = new Inflights(4);
    for (let i = 1; i <= 1000; i++) {
      f.add(i, 1);
      if (i % 3 === 0) f.freeLE(i - 1);
    }
    expect(f.count).toBeLessThanOrEqual(4 + 1000);
    f.freeLE(999);
    expect(f.count).toBe(1);
  });
});
