// The files a run keeps, without a cluster: what a run that threw leaves behind must be enough for --recheck.
import { access, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { History } from './history.js';
import { HISTORY_FILE, keepThrownRun, recheck, REPLICAS_FILE, SCHEDULE_FILE } from './run.js';
import { generateSchedule } from './schedule.js';

describe('a run that threw', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'nemesis-run-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps its history, schedule, replicas and the error, so --recheck works on it', async () => {
    const h = new History(0);
    h.invoke('p0', 'produce', { value: 'a', time: 1 });
    h.ok('p0', 'produce', { value: 'a', offset: 0, time: 2 });
    h.nemesis('kill n2', { time: 3 });
    h.invoke('p0', 'produce', { value: 'b', time: 4 });
    h.ok('p0', 'produce', { value: 'b', offset: 1, time: 5 });
    const steps = generateSchedule({ seed: 3, durationMs: 10_000, nodes: 3, electionTimeoutMs: 600 });
    const replicas = [
      { node: 'n1', records: [{ offset: 0, value: 'a' }, { offset: 1, value: 'b' }] },
      { node: 'n2', records: [], error: 'No connection established' },
    ];
    await keepThrownRun(dir, h, replicas, steps, new Error('n2 did not restart'));

    for (const f of [HISTORY_FILE, SCHEDULE_FILE, REPLICAS_FILE]) await expect(access(path.join(dir, f))).resolves.toBeUndefined();
    const summary = await readFile(path.join(dir, 'summary.txt'), 'utf8');
    expect(summary).toMatch(/^ERROR Error: n2 did not restart/);
    expect(summary).toContain('FAIL replicas that could not be read');
    const r = await recheck(dir);
    expect(r.counts).toMatchObject({ acked: 2, replicas: 1 });
    expect(r.anomalies.unreadable).toEqual([{ node: 'n2', error: 'No connection established' }]);
    expect(r.anomalyCounts.ackedMissing).toBe(0);
  });
});
