// The CI share of the simulation campaign: runs a range of seeds and reports, as plain strings, the failures
// (each with its replay command) and any fault or feature the range never exercised (a simulation that
// silently stops crashing nodes or sending snapshots would otherwise still pass).
import { CI_OPTIONS, replayCommand, runSeeds, totals } from './simulation.js';

const MUST_EXERCISE = [
  'elections',
  'crashes',
  'confChanges',
  'promotions',
  'transfers',
  'snapshotsInstalled',
  'reads',
  'partitions',
  'oneWayPartitions',
  'dropped',
  'duplicated',
  'tornWrites',
  'steppedWhileBusy',
  'proposedWhileBusy',
  'ticksWhileBusy',
] as const;

export interface SeedsReport {
  failures: string[];
  unexercised: string[];
  totals: Record<string, number>;
}

export function checkSeeds(from: number, count: number, nodes: 3 | 5): SeedsReport {
  const results = runSeeds(from, count, nodes);
  const failures = results
    .filter((r) => !r.ok)
    .map((r) => `seed ${r.seed}: ${r.error}\n  replay: ${replayCommand({ seed: r.seed, nodes, ...CI_OPTIONS })}`);
  const t = totals(results);
  const unexercised = MUST_EXERCISE.filter((k) => !((t[k] ?? 0) > 0));
  return { failures, unexercised, totals: t };
}
