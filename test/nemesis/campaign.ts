// `make nemesis SEEDS=... DURATION=...`: runs seeded fault campaigns against real agent processes and prints a
// verdict per seed. A failing seed's files are kept and the line to replay it is printed.
//
//   node dist/test/nemesis/campaign.js --seeds 5 --duration 60            seeds 1..5, 60 s each
//   node dist/test/nemesis/campaign.js --seeds 17,42 --duration 120 --nodes 5
//   node dist/test/nemesis/campaign.js --seeds 100-104 --duration 30 --faults kill,pause
//   node dist/test/nemesis/campaign.js --recheck /tmp/proglog-nemesis-seed42-XXXX   re-runs the checker only
import '../../internal/polyfills.js';
import { formatSummary } from './checker.js';
import { runSeed } from './run.js';
import { parseCampaignArgs, replayCommand, seedRunOptions, UsageError } from './campaign-args.js';
import { FAULT_KINDS } from './schedule.js';

const USAGE = `usage: campaign --seeds N|A-B|A,B,... --duration SECONDS [--nodes 3|5] [--faults kill,pause,...]
                [--election-timeout MS] [--keep-dir DIR]
       campaign --recheck DIR
fault kinds: ${FAULT_KINDS.join(', ')}`;

async function main(argv: string[]): Promise<number> {
  const args = parseCampaignArgs(argv);
  if (args.mode === 'help') {
    console.log(USAGE);
    return 0;
  }
  if (args.mode === 'recheck') {
    const { recheck } = await import('./run.js');
    const result = await recheck(args.dir);
    console.log(formatSummary(result, `recheck ${args.dir}`));
    return result.ok ? 0 : 1;
  }
  const { seeds } = args;
  const failed: number[] = [];
  const log = (line: string): void => void process.stderr.write(`# ${line}\n`);
  for (const seed of seeds) {
    const outcome = await runSeed({ ...seedRunOptions(args, seed), log }).catch((err: unknown) => {
      console.log(`seed ${seed}: ERROR ${err instanceof Error ? err.message : String(err)}`);
      console.log(`  replay: ${replayCommand(args, seed)}`);
      return undefined;
    });
    if (!outcome) {
      failed.push(seed);
      continue;
    }
    console.log(outcome.summary);
    if (!outcome.result.ok) {
      failed.push(seed);
      console.log(`  kept: ${outcome.keptDir}`);
      console.log(`  replay: ${replayCommand(args, seed)}   (recheck: --recheck ${outcome.keptDir})`);
    }
  }
  console.log(`campaign: ${seeds.length - failed.length}/${seeds.length} seeds passed${failed.length ? `; failed: ${failed.join(',')}` : ''}`);
  return failed.length === 0 ? 0 : 1;
}

// Exiting runs the supervisors' exit hooks, which SIGKILL every agent: an interrupted campaign leaves nothing behind.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof UsageError || (err instanceof Error && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS'))) {
      console.error(`campaign: ${err.message}\n${USAGE}`);
      process.exit(2);
    }
    console.error(err);
    process.exit(1);
  },
);
