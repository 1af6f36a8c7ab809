// Majority arithmetic over a set of voters, and nothing else.
import type { NodeId } from './types.js';

export type VoteResult = 'pending' | 'lost' | 'won';

export function majority(n: number): number {
  return Math.floor(n / 2) + 1;
}

/**
 * The largest index that a majority of voters have acknowledged. `acked` gives each voter's match index
 * (missing voters count as 0). With no voters every index counts as committed (Infinity), so that an empty
 * configuration never blocks a joint computation.
 */
export function committedIndex(voters: readonly NodeId[], acked: (id: NodeId) => number): number {
  const n = voters.length;
  if (n === 0) return Infinity;
  const xs = new Array<number>(n);
  for (let i = 0; i < n; i++) xs[i] = acked(voters[i]!);
  xs.sort((a, b) => b - a);
  // The (majority)-th highest match is held by at least a majority.
  return xs[majority(n) - 1]!;
}

/** Outcome of an election given the votes received so far (true = granted, false = rejected). */
export function voteResult(voters: readonly NodeId[], votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  if (voters.length === 0) return 'won';
  let granted = 0;
  let missing = 0;
  for (const id of voters) {
    const v = votes.get(id);
    if (v === undefined) missing++;
    else if (v) granted++;
  }
  const q = majority(voters.length);
  if (granted >= q) return 'won';
  if (granted + missing >= q) return 'pending';
  return 'lost';
}

/** Whether the set `active` contains a majority of voters. */
export function hasQuorum(voters: readonly NodeId[], active: (id: NodeId) => boolean): boolean {
  let n = 0;
  for (const id of voters) if (active(id)) n++;
  return n >= majority(voters.length);
}
