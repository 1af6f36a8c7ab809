// The campaign's command-line values: which seeds, which faults. Kept apart from campaign.ts (which runs on
// import) so they can be tested.
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
