// The campaign's command line: parsing it, the options each seed runs with, and the command that replays a seed.
// Kept apart from campaign.ts (which runs on import) so they can be tested.
import { parseArgs } from 'node:util';
import type { RunOptions } from './run.js';
import { FAULT_KINDS, type FaultKind } from './schedule.js';

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** "5" is seeds 1..5; "7-9" is 7, 8, 9; "3,11" is 3 and 11. */
export function parseSeeds(text: string): number[] {
  const t = text.trim();
  if (/^\d+$/.test(t)) return Array.from({ length: Number(t) }, (_, i) => i + 1);
  const range = /^(\d+)-(\d+)$/.exec(t);
  if (range) {
    const [a, b] = [Number(range[1]), Number(range[2])];
    if (b < a) throw new UsageError(`--seeds ${t}: the range ends before it starts`);
    return Array.from({ length: b - a + 1 }, (_, i) => a + i);
  }
  if (/^\d+(,\d+)+$/.test(t)) return t.split(',').map(Number);
  throw new UsageError(`--seeds ${t}: expected a count, a range A-B or a list A,B,...`);
}

export function parseFaults(text: string): FaultKind[] {
  const kinds = text.split(',').map((s) => s.trim());
  for (const k of kinds) {
    if (!(FAULT_KINDS as readonly string[]).includes(k)) throw new UsageError(`--faults: unknown fault kind "${k}"`);
  }
  return kinds as FaultKind[];
}

/** What a campaign of seeds runs with: every seed the same, but for the seed. */
export interface CampaignOptions {
  seeds: number[];
  durationSeconds: number;
  nodes: number;
  electionTimeoutMs: number;
  /** Unset: every fault kind. */
  kinds?: FaultKind[];
  keepDir?: string;
}

export type CampaignArgs = { mode: 'help' } | { mode: 'recheck'; dir: string } | ({ mode: 'run' } & CampaignOptions);

const DEFAULT_NODES = 3;
const DEFAULT_ELECTION_TIMEOUT_MS = 1000;

/** Throws UsageError, or parseArgs's own ERR_PARSE_ARGS_* errors for unknown or malformed flags. */
export function parseCampaignArgs(argv: readonly string[]): CampaignArgs {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      seeds: { type: 'string' },
      duration: { type: 'string' },
      nodes: { type: 'string', default: String(DEFAULT_NODES) },
      faults: { type: 'string' },
      'election-timeout': { type: 'string', default: String(DEFAULT_ELECTION_TIMEOUT_MS) },
      'keep-dir': { type: 'string' },
      recheck: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) return { mode: 'help' };
  if (values.recheck) return { mode: 'recheck', dir: values.recheck };
  if (!values.seeds || !values.duration) throw new UsageError('--seeds and --duration are required');
  const seeds = parseSeeds(values.seeds);
  const durationSeconds = Number(values.duration);
  if (!(durationSeconds > 0)) throw new UsageError(`--duration ${values.duration}: expected seconds > 0`);
  const nodes = Number(values.nodes);
  if (nodes !== 3 && nodes !== 5) throw new UsageError(`--nodes ${values.nodes}: expected 3 or 5`);
  const electionTimeoutMs = Number(values['election-timeout']);
  if (!(electionTimeoutMs >= 100)) throw new UsageError('--election-timeout: expected ms >= 100');
  return {
    mode: 'run',
    seeds,
    durationSeconds,
    nodes,
    electionTimeoutMs,
    ...(values.faults ? { kinds: parseFaults(values.faults) } : {}),
    ...(values['keep-dir'] ? { keepDir: values['keep-dir'] } : {}),
  };
}

/** What runSeed is given for one seed of the campaign (all of it but the log). */
export function seedRunOptions(o: CampaignOptions, seed: number): Omit<RunOptions, 'log'> {
  return {
    seed,
    durationMs: o.durationSeconds * 1000,
    nodes: o.nodes,
    electionTimeoutMs: o.electionTimeoutMs,
    heartbeatMs: Math.max(20, Math.round(o.electionTimeoutMs / 10)),
    ...(o.kinds ? { kinds: o.kinds } : {}),
    ...(o.keepDir !== undefined ? { keepDir: o.keepDir } : {}),
  };
}

/**
 * The command that runs `seed` again as it ran. The schedule depends on the duration, the node count, the election
 * timeout and the fault kinds, so each is spelled out, defaults included: a default changed since still replays
 * the same run. The keep dir goes along so the replay's files land beside the original's.
 */
export function replayCommand(o: CampaignOptions, seed: number): string {
  const args = [
    '--seeds',
    `${seed}-${seed}`,
    '--duration',
    String(o.durationSeconds),
    '--nodes',
    String(o.nodes),
    '--election-timeout',
    String(o.electionTimeoutMs),
    ...(o.kinds ? ['--faults', o.kinds.join(',')] : []),
    ...(o.keepDir !== undefined ? ['--keep-dir', o.keepDir] : []),
  ];
  return ['node', 'dist/test/nemesis/campaign.js', ...args].map(shellWord).join(' ');
}

/** A word a POSIX shell reads back as `s`: as it is when it is plain, else single-quoted. */
function shellWord(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
