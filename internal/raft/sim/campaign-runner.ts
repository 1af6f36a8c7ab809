// The logic of the campaign CLI (campaign.ts), apart from process.argv and exit codes so that it can be tested:
// parse flags, run seeds, print each failure with the exact command that replays it.
import { CI_OPTIONS, replayCommand, runSimulation, type SimOptions, type SimResult } from './simulation.js';

export interface CampaignArgs {
  seeds: number;
  from: number;
  /** Replay exactly this seed, printing its full result. */
  seed: number | undefined;
  nodes: 3 | 5 | undefined;
  chaosTicks: number;
  livenessTicks: number;
}

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export const USAGE = 'usage: campaign.js --seeds N [--from S] [--nodes 3|5] | --seed S [--nodes 3|5] [--chaos-ticks T] [--liveness-ticks T]';

export function parseCampaignArgs(argv: string[]): CampaignArgs {
  const a: CampaignArgs = { seeds: 1000, from: 1, seed: undefined, nodes: undefined, ...CI_OPTIONS };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const raw = argv[i + 1];
    const num = (): number => {
      const v = Number(raw);
      if (raw === undefined || raw.trim() === '' || !Number.isSafeInteger(v) || v < 0) throw new UsageError(`${flag} needs a non-negative integer`);
      i++;
      return v;
    };
    switch (flag) {
      case '--seeds':
        a.seeds = num();
        break;
      case '--from':
        a.from = num();
        break;
      case '--seed':
        a.seed = num();
        break;
      case '--nodes': {
        const n = num();
        if (n !== 3 && n !== 5) throw new UsageError('--nodes must be 3 or 5');
        a.nodes = n;
        break;
      }
      case '--chaos-ticks':
        a.chaosTicks = num();
        break;
      case '--liveness-ticks':
        a.livenessTicks = num();
        break;
      default:
        throw new UsageError(`unknown flag ${flag}`);
    }
  }
  return a;
}

/** Seeds alternate between 5-node (even) and 3-node (odd) clusters unless --nodes fixes the size. */
export function optionsFor(args: CampaignArgs, seed: number): SimOptions {
  return { seed, nodes: args.nodes ?? (seed % 2 === 0 ? 5 : 3), chaosTicks: args.chaosTicks, livenessTicks: args.livenessTicks };
}

/** Runs the campaign; returns the number of failed seeds. `out` gets results, `err` progress. */
export function runCampaign(
  args: CampaignArgs,
  out: (line: string) => void,
  err: (line: string) => void = () => {},
  run: (o: SimOptions) => SimResult = runSimulation,
): number {
  if (args.seed !== undefined) {
    const o = optionsFor(args, args.seed);
    const r = run(o);
    out(JSON.stringify(r, null, 2));
    if (!r.ok) out(`FAIL seed ${o.seed} (${o.nodes} nodes): ${r.error}\n  replay: ${replayCommand(o)}`);
    return r.ok ? 0 : 1;
  }
  const started = Date.now();
  let failed = 0;
  let committed = 0;
  for (let seed = args.from; seed < args.from + args.seeds; seed++) {
    const o = optionsFor(args, seed);
    const r = run(o);
    committed += r.committed;
    if (!r.ok) {
      failed++;
      out(`FAIL seed ${seed} (${o.nodes} nodes): ${r.error}\n  replay: ${replayCommand(o)}`);
    }
    const done = seed - args.from + 1;
    if (done % 1000 === 0) err(`# ${done}/${args.seeds} seeds, ${failed} failed, ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
  out(`${args.seeds} seeds, ${failed} failed, ${committed} entries committed, ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return failed;
}
