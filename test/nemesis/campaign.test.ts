// The short seeded campaign CI runs: three agent processes behind fault proxies, producers and consumers, a
// fixed seed's faults, then the checker's verdict. Longer campaigns: `make nemesis`.
//
// SIGKILL + restart is left out of this CI run for now: in kill campaigns (e.g. `--seeds 21-22 --faults kill`)
// a restarted agent sometimes dies at once of an unhandled 'error' event on a TLSSocket ("read EINVAL ... at
// initRead (node:_tls_wrap)"), so the run fails on a node that cannot be read. Once that is fixed, add 'kill' to
// KINDS and choose a seed whose schedule kills the leader. (The split brain kills first exposed has its own
// test: restart-leader.test.ts.)
import { formatSummary } from './checker.js';
import { runSeed } from './run.js';
import type { FaultKind } from './schedule.js';

const KINDS: FaultKind[] = ['pause', 'isolate-leader', 'split', 'one-way'];
// Seed 14 over 25 s: isolate the leader, pause the leader, one-way loss from the leader, pause a node, isolate
// the leader, one-way loss from a node, split a minority (describeStep in schedule.ts prints them).
const SEED = 14;

describe('nemesis campaign (short, seeded)', () => {
  it('keeps every acknowledged write, on every replica, at its offset, through pauses and partitions', async () => {
    const lines: string[] = [];
    const outcome = await runSeed({
      seed: SEED,
      durationMs: 25_000,
      nodes: 3,
      electionTimeoutMs: 600,
      heartbeatMs: 60,
      kinds: KINDS,
      log: (l) => lines.push(l),
    });
    const summary = formatSummary(outcome.result, `seed ${SEED}`);
    if (!outcome.result.ok) {
      // The full history is kept on disk; print where, and the faults the run went through.
      throw new Error(`${outcome.summary}\nkept: ${outcome.keptDir}\n${lines.join('\n')}`);
    }
    expect(summary).toContain('PASS');
    // The run must have exercised the system, or a pass means nothing.
    expect(outcome.faults + outcome.skipped).toBe(7);
    expect(outcome.faults).toBeGreaterThanOrEqual(6);
    for (const kind of [/nemesis: pause/, /nemesis: isolate leader/, /nemesis: one-way loss/, /nemesis: split/]) {
      expect(lines.some((l) => kind.test(l))).toBe(true);
    }
    expect(outcome.result.counts.acked).toBeGreaterThan(100);
    expect(outcome.result.counts.reads).toBeGreaterThan(100);
    expect(outcome.result.counts.replicas).toBe(3);
  }, 240_000);
});
