// The short seeded campaign CI runs: three agent processes behind fault proxies, producers and consumers, every
// kind of fault from one fixed seed, then the checker's verdict. Longer campaigns: `make nemesis`.
import { formatSummary } from './checker.js';
import { runSeed } from './run.js';

// Seed 13 in 25 s: pause the leader, kill a node, split, pause the leader, isolate the leader, kill the leader,
// pause the leader (see describeStep in schedule.ts).
const SEED = 13;

describe('nemesis campaign (short, seeded)', () => {
  it('keeps every acknowledged write, on every replica, at its offset, through kills, pauses and partitions', async () => {
    const lines: string[] = [];
    const outcome = await runSeed({
      seed: SEED,
      durationMs: 25_000,
      nodes: 3,
      electionTimeoutMs: 600,
      heartbeatMs: 60,
      log: (l) => lines.push(l),
    });
    const summary = formatSummary(outcome.result, `seed ${SEED}`);
    if (!outcome.result.ok) {
      // The full history is kept on disk; print where, and the faults the run went through.
      throw new Error(`${summary}\nkept: ${outcome.keptDir}\n${lines.join('\n')}`);
    }
    expect(outcome.result.ok).toBe(true);
    // The run must have exercised the system, or a pass means nothing.
    expect(outcome.faults).toBeGreaterThanOrEqual(4);
    expect(lines.some((l) => /nemesis: (kill|pause)/.test(l))).toBe(true);
    expect(lines.some((l) => /nemesis: (isolate|split|one-way)/.test(l))).toBe(true);
    expect(outcome.result.counts.acked).toBeGreaterThan(100);
    expect(outcome.result.counts.reads).toBeGreaterThan(100);
    expect(outcome.result.counts.replicas).toBe(3);
  }, 240_000);
});
