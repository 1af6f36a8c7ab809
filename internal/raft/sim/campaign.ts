// Long simulation campaigns (make sim SEEDS=N):
//   node dist/internal/raft/sim/campaign.js --seeds N [--from S] [--nodes 3|5]
//   node dist/internal/raft/sim/campaign.js --seed S --nodes 3|5     (replays one seed, printing its result)
// Every failure prints the exact command that replays it. Exit code 1 if any seed failed, 2 on bad usage.
import { parseCampaignArgs, runCampaign, USAGE, UsageError } from './campaign-runner.js';

function main(): number {
  try {
    const args = parseCampaignArgs(process.argv.slice(2));
    const failed = runCampaign(
      args,
      (line) => process.stdout.write(`${line}\n`),
      (line) => process.stderr.write(`${line}\n`),
    );
    return failed === 0 ? 0 : 1;
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`${e.message}\n${USAGE}\n`);
      return 2;
    }
    throw e;
  }
}

process.exitCode = main();
