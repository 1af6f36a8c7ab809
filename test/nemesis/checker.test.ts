import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { check, formatSummary, RECOVERY_WINDOW_MS, type ReplicaRead } from './checker.js';
import { FAULT_WITHOUT_EFFECT, HEAL_ALL, History, HistoryFormatError } from './history.js';

/** A history where client c1 produced a, b, c, acknowledged at 0, 1, 2, and a reader saw offset 1. */
function cleanHistory(): History {
  const h = new History(0);
  ['a', 'b', 'c'].forEach((value, offset) => {
    h.invoke('c1', 'produce', { value, time: offset * 10 });
    h.ok('c1', 'produce', { value, offset, node: 'n1', time: offset * 10 + 5 });
  });
  h.ok('r1', 'read', { value: 'b', offset: 1, node: 'n2', time: 40 });
  return h;
}

function replicas(...logs: string[][]): ReplicaRead[] {
  return logs.map((values, i) => ({ node: `n${i + 1}`, records: values.map((value, offset) => ({ offset, value })) }));
}

describe('checker', () => {
  it('passes a clean run: every ack present at its offset on every replica', () => {
    const r = check(cleanHistory().events, replicas(['a', 'b', 'c'], ['a', 'b', 'c'], ['a', 'b', 'c']));
    expect(r.ok).toBe(true);
    expect(r.counts).toMatchObject({ produceAttempts: 3, acked: 3, reads: 1, replicas: 3, longestLog: 3 });
    expect(formatSummary(r)).toContain('PASS');
  });

  it('catches an acknowledged value missing from a replica', () => {
    const r = check(cleanHistory().events, replicas(['a', 'b', 'c'], ['a', 'b', 'c'], ['a', 'b']));
    expect(r.ok).toBe(false);
    expect(r.anomalies.ackedMissing).toEqual([{ value: 'c', offset: 2, nodes: ['n3'] }]);
    expect(r.anomalyCounts.lagging).toBe(1);
  });

  it('catches an acknowledged value missing everywhere (a lost write)', () => {
    const h = cleanHistory();
    h.invoke('c2', 'produce', { value: 'd' });
    h.ok('c2', 'produce', { value: 'd', offset: 3 });
    const r = check(h.events, replicas(['a', 'b', 'c'], ['a', 'b', 'c']));
    expect(r.anomalies.ackedMissing).toEqual([{ value: 'd', offset: 3, nodes: ['n1', 'n2'] }]);
  });

  it('catches an acknowledged value stored at another offset', () => {
    const r = check(cleanHistory().events, replicas(['a', 'c', 'b'], ['a', 'c', 'b']));
    expect(r.anomalyCounts.ackedWrongOffset).toBe(4);
    expect(r.anomalies.ackedWrongOffset[0]).toEqual({ value: 'b', acked: 1, node: 'n1', found: [2] });
  });

  it('catches replicas that differ at an offset', () => {
    const h = cleanHistory();
    h.invoke('c2', 'produce', { value: 'x' });
    h.timeout('c2', 'produce', { value: 'x' });
    h.invoke('c2', 'produce', { value: 'y' });
    h.timeout('c2', 'produce', { value: 'y' });
    const r = check(h.events, replicas(['a', 'b', 'c', 'x'], ['a', 'b', 'c', 'y'], ['a', 'b', 'c', 'x']));
    expect(r.anomalies.divergent).toEqual([{ offset: 3, values: { n1: 'x', n2: 'y', n3: 'x' } }]);
  });

  it('catches a log whose offsets are not dense', () => {
    const reads: ReplicaRead[] = [
      { node: 'n1', records: [{ offset: 0, value: 'a' }, { offset: 1, value: 'b' }, { offset: 2, value: 'c' }] },
      { node: 'n2', records: [{ offset: 0, value: 'a' }, { offset: 2, value: 'c' }] },
    ];
    const r = check(cleanHistory().events, reads);
    expect(r.anomalies.notDense).toEqual([{ node: 'n2', expected: 1, found: 2 }]);
    expect(r.anomalies.ackedMissing).toEqual([{ value: 'b', offset: 1, nodes: ['n2'] }]);
  });

  it('catches a log that does not start at the expected lowest offset', () => {
    const reads: ReplicaRead[] = [{ node: 'n1', records: [{ offset: 1, value: 'b' }] }];
    const r = check([], reads);
    expect(r.anomalies.notDense).toEqual([{ node: 'n1', expected: 0, found: 1 }]);
  });

  it('catches a value that no client ever produced', () => {
    const r = check(cleanHistory().events, replicas(['a', 'b', 'c', 'zzz'], ['a', 'b', 'c', 'zzz']));
    expect(r.anomalies.neverProduced).toEqual([{ value: 'zzz', offset: 3, node: 'n1' }]);
  });

  it('allows a duplicate when a retry of an unacknowledged attempt explains it', () => {
    const h = cleanHistory();
    h.invoke('c2', 'produce', { value: 'd' });
    h.timeout('c2', 'produce', { value: 'd', info: 'DEADLINE_EXCEEDED' });
    h.invoke('c2', 'produce', { value: 'd' });
    h.ok('c2', 'produce', { value: 'd', offset: 4 });
    const r = check(h.events, replicas(['a', 'b', 'c', 'd', 'd'], ['a', 'b', 'c', 'd', 'd']));
    expect(r.ok).toBe(true);
    expect(r.counts.duplicatesFromRetries).toBe(1);
    expect(r.counts.indeterminateApplied).toBe(1);
  });

  it('catches a duplicate of a value produced once (a write applied twice)', () => {
    const r = check(cleanHistory().events, replicas(['a', 'b', 'c', 'b'], ['a', 'b', 'c', 'b']));
    expect(r.anomalies.duplicatesUnexplained).toEqual([{ value: 'b', offsets: [1, 3], attempts: 1 }]);
  });

  it('catches a value stored although its only attempt was refused', () => {
    const h = cleanHistory();
    h.invoke('c2', 'produce', { value: 'r' });
    h.fail('c2', 'produce', { value: 'r', info: 'PERMISSION_DENIED' });
    const r = check(h.events, replicas(['a', 'b', 'c', 'r']));
    expect(r.anomalies.failedButPresent).toEqual([{ value: 'r', offset: 3 }]);
  });

  it('does not excuse a duplicate as a retry when the earlier attempt was refused', () => {
    const h = cleanHistory();
    h.invoke('c2', 'produce', { value: 'd' });
    h.fail('c2', 'produce', { value: 'd', info: 'UNAVAILABLE: this node is not the leader; the leader is n2' });
    h.invoke('c2', 'produce', { value: 'd' });
    h.ok('c2', 'produce', { value: 'd', offset: 4 });
    const r = check(h.events, replicas(['a', 'b', 'c', 'd', 'd'], ['a', 'b', 'c', 'd', 'd']));
    expect(r.ok).toBe(false);
    expect(r.anomalies.duplicatesUnexplained).toEqual([{ value: 'd', offsets: [3, 4], attempts: 2 }]);
    expect(r.counts.duplicatesFromRetries).toBe(0);
    expect(formatSummary(r)).toMatch(/FAIL duplicates beyond retries +1/);
  });

  it('fails a run whose log holds a value every attempt of which was refused as not the leader', () => {
    const h = cleanHistory();
    h.invoke('c2', 'produce', { value: 'r' });
    h.fail('c2', 'produce', { value: 'r', info: 'UNAVAILABLE: this node is not the leader and no leader is known' });
    h.invoke('c2', 'produce', { value: 'r' });
    h.fail('c2', 'produce', { value: 'r', info: 'UNAVAILABLE: this node is not the leader; the leader is n2' });
    const r = check(h.events, replicas(['a', 'b', 'c', 'r'], ['a', 'b', 'c', 'r']));
    expect(r.ok).toBe(false);
    expect(r.anomalies.failedButPresent).toEqual([{ value: 'r', offset: 3 }]);
    expect(formatSummary(r)).toMatch(/FAIL refused writes present +1/);
  });

  it('catches a read of a value the final log does not hold at that offset', () => {
    const h = cleanHistory();
    h.ok('r1', 'read', { value: 'ghost', offset: 2, node: 'n3' });
    const r = check(h.events, replicas(['a', 'b', 'c'], ['a', 'b', 'c']));
    expect(r.anomalies.readsInconsistent).toEqual([{ value: 'ghost', offset: 2, node: 'n3', stored: 'c' }]);
  });

  describe('after the last heal, the cluster must take a write again within the recovery window', () => {
    const healedAt = 1000;
    const healed = (): History => {
      const h = cleanHistory();
      h.nemesis(HEAL_ALL, { time: healedAt });
      return h;
    };
    const log = replicas(['a', 'b', 'c', 'd'], ['a', 'b', 'c', 'd']);

    it('fails a run with no write acknowledged after healing', () => {
      const h = healed();
      h.invoke('c1', 'produce', { value: 'd', time: healedAt + 10 });
      h.timeout('c1', 'produce', { value: 'd', info: 'UNAVAILABLE: no leader', time: healedAt + 2010 });
      const r = check(h.events, log);
      expect(r.ok).toBe(false);
      expect(r.anomalies.noWriteAfterHeal).toEqual([{ healedAt, windowMs: RECOVERY_WINDOW_MS }]);
      expect(formatSummary(r)).toMatch(/FAIL no write acknowledged after healing +1/);
    });

    it('fails it when the first acknowledgement comes after the window', () => {
      const h = healed();
      h.invoke('c1', 'produce', { value: 'd', time: healedAt + 10 });
      h.ok('c1', 'produce', { value: 'd', offset: 3, time: healedAt + 5001 });
      const r = check(h.events, log, { recoveryWindowMs: 5000 });
      expect(r.anomalies.noWriteAfterHeal).toEqual([{ healedAt, windowMs: 5000, firstAckAt: healedAt + 5001 }]);
    });

    it('passes it when a write is acknowledged within the window; acknowledgements before the heal do not count', () => {
      const h = healed();
      expect(check(h.events, replicas(['a', 'b', 'c'])).anomalyCounts.noWriteAfterHeal).toBe(1);
      h.invoke('c1', 'produce', { value: 'd', time: healedAt + 10 });
      h.ok('c1', 'produce', { value: 'd', offset: 3, time: healedAt + 4999 });
      const r = check(h.events, log, { recoveryWindowMs: 5000 });
      expect(r.ok).toBe(true);
    });
  });

  it('fails a run where a leader was cut off from a majority and not replaced; effective faults pass', () => {
    const h = cleanHistory();
    h.nemesis('effect: n1 cut off from n2,n3; n2 led the majority 1500 ms in', { time: 50 });
    expect(check(h.events, replicas(['a', 'b', 'c'], ['a', 'b', 'c'])).ok).toBe(true);
    const info = `${FAULT_WITHOUT_EFFECT}: n1 cut off from n2,n3 for 3500 ms, and the majority elected no other leader`;
    h.nemesis(info, { time: 60 });
    const r = check(h.events, replicas(['a', 'b', 'c'], ['a', 'b', 'c']));
    expect(r.ok).toBe(false);
    expect(r.anomalies.faultWithoutEffect).toEqual([{ time: 60, info }]);
    expect(formatSummary(r)).toContain('leader cut off and not replaced');
  });

  it('reports a replica that could not be read, and checks the others without it', () => {
    const reads: ReplicaRead[] = [...replicas(['a', 'b', 'c']), { node: 'n9', records: [], error: 'UNAVAILABLE' }];
    const r = check(cleanHistory().events, reads);
    expect(r.anomalies.unreadable).toEqual([{ node: 'n9', error: 'UNAVAILABLE' }]);
    expect(r.anomalyCounts.ackedMissing).toBe(0);
    expect(r.ok).toBe(false);
    // With no replica readable there is no log to hold reads against: only the unreadable nodes are reported.
    const none = check(cleanHistory().events, [{ node: 'n1', records: [], error: 'UNAVAILABLE' }]);
    expect(none.anomalyCounts).toMatchObject({ unreadable: 1, readsInconsistent: 0 });
  });

  it('counts every anomaly but keeps only a few examples, and the summary names each failing kind', () => {
    const h = new History(0);
    const values = Array.from({ length: 50 }, (_, i) => `v${i}`);
    values.forEach((value, offset) => {
      h.invoke('c', 'produce', { value });
      h.ok('c', 'produce', { value, offset });
    });
    const r = check(h.events, replicas([], []), { examples: 5 });
    expect(r.anomalyCounts.ackedMissing).toBe(50);
    expect(r.anomalies.ackedMissing).toHaveLength(5);
    const summary = formatSummary(r, 'seed 7');
    expect(summary).toContain('seed 7: FAIL');
    expect(summary).toMatch(/FAIL acknowledged values missing\s+50/);
    expect(summary.split('\n').length).toBeLessThan(40);
  });

  it('a saved history loads back identically, and a corrupt one is a typed error naming the line', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'nemesis-history-'));
    try {
      const h = cleanHistory();
      h.nemesis('kill n1');
      const file = path.join(dir, 'h.jsonl');
      await h.save(file);
      const back = await History.load(file);
      expect(back.events).toEqual(h.events);
      const { writeFile } = await import('node:fs/promises');
      await writeFile(file, '{"time":1,"type":"ok","process":"c"}\n{oops\n');
      await expect(History.load(file)).rejects.toThrow(HistoryFormatError);
      await expect(History.load(file)).rejects.toThrow(':2: not JSON');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
