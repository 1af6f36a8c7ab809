import { execFileSync } from 'node:child_process';
import {
  parseCampaignArgs,
  parseFaults,
  parseSeeds,
  replayCommand,
  seedRunOptions,
  UsageError,
  type CampaignArgs,
  type CampaignOptions,
} from './campaign-args.js';
import { describeStep, generateSchedule } from './schedule.js';

/** The words a POSIX shell makes of a printed command line. */
function shellWords(line: string): string[] {
  return execFileSync('sh', ['-c', `printf '%s\\0' ${line}`], { encoding: 'utf8' }).split('\0').slice(0, -1);
}

function runArgs(args: CampaignArgs): CampaignOptions {
  if (args.mode !== 'run') throw new Error(`expected a run, got ${args.mode}`);
  return args;
}

describe('campaign arguments', () => {
  it('a number N means seeds 1..N', () => {
    expect(parseSeeds('3')).toEqual([1, 2, 3]);
  });

  it('A-B is an inclusive range and A,B,... a list', () => {
    expect(parseSeeds('7-9')).toEqual([7, 8, 9]);
    expect(parseSeeds('13,42')).toEqual([13, 42]);
  });

  it('anything else is a usage error naming the flag', () => {
    expect(() => parseSeeds('9-7')).toThrow(UsageError);
    expect(() => parseSeeds('abc')).toThrow('--seeds abc');
  });

  it('fault kinds are checked against the known ones', () => {
    expect(parseFaults('kill,pause')).toEqual(['kill', 'pause']);
    expect(() => parseFaults('kill,flood')).toThrow('unknown fault kind "flood"');
  });

  describe('the printed replay command', () => {
    // Every option away from its default, as a campaign that found a failure might have run.
    const campaign = runArgs(
      parseCampaignArgs(['--seeds', '5-9', '--duration', '45', '--nodes', '5', '--election-timeout', '2000', '--faults', 'kill,pause,split', '--keep-dir', "/tmp/nemesis runs/bob's"]),
    );

    it('runs the seed with the options it ran with', () => {
      const [node, script, ...argv] = shellWords(replayCommand(campaign, 7));
      expect([node, script]).toEqual(['node', 'dist/test/nemesis/campaign.js']);
      const replay = runArgs(parseCampaignArgs(argv));
      expect(replay.seeds).toEqual([7]);
      expect(seedRunOptions(replay, 7)).toEqual(seedRunOptions(campaign, 7));
    });

    it('so it replays the same schedule', () => {
      const replay = runArgs(parseCampaignArgs(shellWords(replayCommand(campaign, 7)).slice(2)));
      const schedule = (o: CampaignOptions): string[] => {
        const r = seedRunOptions(o, 7);
        return generateSchedule({
          seed: r.seed,
          durationMs: r.durationMs,
          nodes: r.nodes,
          electionTimeoutMs: r.electionTimeoutMs ?? 1000,
          ...(r.kinds ? { kinds: r.kinds } : {}),
        }).map(describeStep);
      };
      expect(schedule(replay)).toEqual(schedule(campaign));
    });

    it('runs a campaign of defaults the same way too', () => {
      const defaults = runArgs(parseCampaignArgs(['--seeds', '3', '--duration', '20']));
      const replay = runArgs(parseCampaignArgs(shellWords(replayCommand(defaults, 2)).slice(2)));
      expect(seedRunOptions(replay, 2)).toEqual(seedRunOptions(defaults, 2));
    });
  });
});
