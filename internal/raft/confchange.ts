// One-server-at-a-time membership changes: their encoding inside a log entry, and how each one transforms
// a ConfState. Validation happens when a change is proposed; applying is total (an invalid change that
// slipped through is a no-op on every node alike), because every node must reach the same membership.
import { InvalidConfChangeError } from './errors.js';
import type { ConfChange, ConfChangeType, ConfState } from './types.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const TYPES: readonly ConfChangeType[] = ['addVoter', 'addLearner', 'removeNode'];

export function encodeConfChange(cc: ConfChange): Uint8Array {
  return encoder.encode(JSON.stringify({ t: cc.type, n: cc.nodeId, c: cc.context }));
}

export function decodeConfChange(data: Uint8Array): ConfChange {
  let raw: unknown;
  try {
    raw = JSON.parse(decoder.decode(data));
  } catch {
    throw new InvalidConfChangeError('conf change entry is not valid JSON');
  }
  const o = raw as { t?: unknown; n?: unknown; c?: unknown };
  if (typeof o !== 'object' || o === null || !TYPES.includes(o.t as ConfChangeType) || typeof o.n !== 'string' || o.n === '') {
    throw new InvalidConfChangeError('conf change entry has no valid type and node id');
  }
  return { type: o.t as ConfChangeType, nodeId: o.n, context: typeof o.c === 'string' ? o.c : '' };
}

/** Throws InvalidConfChangeError if `cc` cannot be applied to `cs`. */
export function validateConfChange(cs: ConfState, cc: ConfChange): void {
  if (!TYPES.includes(cc.type)) throw new InvalidConfChangeError(`unknown conf change type ${String(cc.type)}`);
  if (typeof cc.nodeId !== 'string' || cc.nodeId === '') throw new InvalidConfChangeError('conf change needs a node id');
  const voter = cs.voters.includes(cc.nodeId);
  const learner = cs.learners.includes(cc.nodeId);
  switch (cc.type) {
    case 'addVoter':
      if (voter) throw new InvalidConfChangeError(`${cc.nodeId} is already a voter`);
      return;
    case 'addLearner':
      if (voter) throw new InvalidConfChangeError(`${cc.nodeId} is a voter; remove it before adding it as a learner`);
      if (learner) throw new InvalidConfChangeError(`${cc.nodeId} is already a learner`);
      return;
    case 'removeNode':
      if (!voter && !learner) throw new InvalidConfChangeError(`${cc.nodeId} is not a member`);
      if (voter && cs.voters.length === 1) throw new InvalidConfChangeError('cannot remove the last voter');
      return;
  }
}

/** The membership after `cc`; `cs` itself is not modified. */
export function applyConfChange(cs: ConfState, cc: ConfChange): ConfState {
  try {
    validateConfChange(cs, cc);
  } catch {
    return { voters: [...cs.voters], learners: [...cs.learners] };
  }
  const voters = cs.voters.filter((id) => id !== cc.nodeId);
  const learners = cs.learners.filter((id) => id !== cc.nodeId);
  if (cc.type === 'addVoter') voters.push(cc.nodeId);
  if (cc.type === 'addLearner') learners.push(cc.nodeId);
  return { voters: voters.sort(), learners: learners.sort() };
}
