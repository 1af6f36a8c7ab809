// The campaign CLI: flags, and a failing seed printed with the command that replays it.
import { parseCampaignArgs, runCampaign, UsageError } from './campaign-runner.js';
import { CI_OPTIONS, runSimulation, type SimOptions, type SimResult } from './simulation.js';

function fakeRun(failing: number): (o: SimOptions) => SimResult {
  return (o) => ({ ...runSimulation({ ...o, chaosTicks: 5, livenessTicks: 200 }), ...(o.seed === failing ? { ok: false, error: 'injected failure' } : {}) });
}

describe('campaign CLI', () => {
  test('flags parse into a campaign; defaults are the CI sizing', () => {
    expect(parseCampaignArgs(['--seeds', '100000'])).toMatchObject({ seeds: 100000, from: 1, nodes: undefined, ...CI_OPTIONS });
    expect(parseCampaignArgs(['--seed', '42', '--nodes', '5', '--chaos-ticks', '9'])).toMatchObject({ seed: 42, nodes: 5, chaosTicks: 9 });
  });

  test('bad flags are a UsageError', () => {
    expect(() => parseCampaignArgs(['--seeds'])).toThrow(UsageError);
    expect(() => parseCampaignArgs(['--seeds', '-1'])).toThrow(UsageError);
    expect(() => parseCampaignArgs(['--nodes', '4'])).toThrow(UsageError);
    expect(() => parseCampaignArgs(['--bogus'])).toThrow(UsageError);
  });

  test('a failing seed is reported with the exact command that replays it', () => {
    const lines: string[] = [];
    const failed = runCampaign(parseCampaignArgs(['--seeds', '4', '--from', '10']), (l) => lines.push(l), undefined, fakeRun(12));
    expect(failed).toBe(1);
    const text = lines.join('\n');
    expect(text).toContain('FAIL seed 12 (5 nodes): injected failure');
    expect(text).toContain('replay: node dist/internal/raft/sim/campaign.js --seed 12 --nodes 5 --chaos-ticks 250 --liveness-ticks 400');
    expect(lines[lines.length - 1]).toMatch(/^4 seeds, 1 failed/);
  });

  test('replaying a seed gives the same result every time', () => {
    const o: SimOptions = { seed: 77, nodes: 3, chaosTicks: 120, livenessTicks: 400 };
    const a = runSimulation(o);
    const b = runSimulation(o);
    expect(a.ok).toBe(true);
    expect(b).toEqual(a);
  });
});
