// How long a suspect has to refute, after Lifeguard (as memberlist's suspicion.go does it): a lone accuser
// may be the broken one (its own link or CPU), so its suspicion runs the longest; every independent
// confirmation from another member shrinks the timeout toward the configured minimum, so a real crash,
// which every prober notices, is still declared quickly.

/** A lone accuser's suspicion lasts this many times the configured suspicion timeout. */
export const loneAccuserMultiplier = 3;

/** Confirmations worth waiting for: at most 3, and never more than the members who could give them. */
export function expectedConfirmations(liveMembers: number): number {
  // Neither the suspect nor the first accuser can confirm.
  return Math.max(0, Math.min(3, liveMembers - 2));
}

/**
 * Timeout for a suspicion with `confirmations` independent confirmations (beyond the first accuser) when
 * `expected` are worth waiting for: from min * loneAccuserMultiplier down to min, logarithmically.
 */
export function suspicionTimeout(minMs: number, confirmations: number, expected: number): number {
  if (expected <= 0) return minMs;
  const maxMs = minMs * loneAccuserMultiplier;
  const fraction = Math.log(Math.min(confirmations, expected) + 1) / Math.log(expected + 1);
  return Math.max(minMs, Math.floor(maxMs - (maxMs - minMs) * fraction));
}
