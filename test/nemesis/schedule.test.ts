import { FAULT_KINDS, generateSchedule, InvalidScheduleError, Rng, type ScheduleOptions } from './schedule.js';

const base: ScheduleOptions = { seed: 42, durationMs: 60_000, nodes: 3, electionTimeoutMs: 1000 };

describe('nemesis schedule', () => {
  it('is the same for the same seed and different for another seed', () => {
    expect(generateSchedule(base)).toEqual(generateSchedule(base));
    expect(generateSchedule({ ...base, seed: 43 })).not.toEqual(generateSchedule(base));
  });

  it('keeps every fault inside the run, one at a time, with a quiet gap between faults', () => {
    for (let seed = 1; seed <= 50; seed++) {
      const steps = generateSchedule({ ...base, seed });
      expect(steps.length).toBeGreaterThan(0);
      let end = 0;
      for (const s of steps) {
        expect(s.at).toBeGreaterThanOrEqual(end + 500);
        expect(s.at + s.durationMs).toBeLessThanOrEqual(base.durationMs);
        end = s.at + s.durationMs;
      }
    }
  });

  it('pauses a node for longer than the election timeout', () => {
    const steps = Array.from({ length: 30 }, (_, seed) => generateSchedule({ ...base, seed, kinds: ['pause'] })).flat();
    expect(steps.length).toBeGreaterThan(0);
    for (const s of steps) expect(s.durationMs).toBeGreaterThanOrEqual(2 * base.electionTimeoutMs);
  });

  it('mixes every kind of fault, and targets the leader as well as other nodes', () => {
    const steps = Array.from({ length: 20 }, (_, seed) => generateSchedule({ ...base, seed })).flat();
    expect(new Set(steps.map((s) => s.fault.kind))).toEqual(new Set(FAULT_KINDS));
    const kills = steps.flatMap((s) => (s.fault.kind === 'kill' ? [s.fault.target.role] : []));
    expect(kills).toContain('leader');
    expect(kills).toContain('node');
  });

  it('cuts off a strict minority in a split: 1 of 3, 2 of 5', () => {
    for (const [nodes, minority] of [
      [3, 1],
      [5, 2],
    ] as const) {
      const steps = generateSchedule({ ...base, nodes, kinds: ['split'] });
      for (const s of steps) {
        if (s.fault.kind !== 'split') throw new Error('expected a split');
        expect(s.fault.minorityPicks).toHaveLength(minority);
      }
    }
  });

  it('rejects a schedule it cannot make, with a typed error', () => {
    expect(() => generateSchedule({ ...base, nodes: 2 })).toThrow(InvalidScheduleError);
    expect(() => generateSchedule({ ...base, kinds: [] })).toThrow(InvalidScheduleError);
    expect(() => generateSchedule({ ...base, seed: 1.5 })).toThrow(InvalidScheduleError);
  });

  it('the PRNG is deterministic and stays in range', () => {
    const a = new Rng(7);
    const b = new Rng(7);
    for (let i = 0; i < 1000; i++) {
      const x = a.int(3, 9);
      expect(x).toBe(b.int(3, 9));
      expect(x).toBeGreaterThanOrEqual(3);
      expect(x).toBeLessThanOrEqual(9);
    }
  });
});
