// The four claims of the membership protocol. Each travels signed (see envelope.ts); this file only
// knows their shape, so a body that parses here is well-formed but not yet believed.
import { MalformedMessageError } from './errors.js';
import type { MemberTags } from './member.js';

/** "I am here": the only claim that carries tags and where to reach the member. Signed by `name`. */
export interface AliveClaim {
  type: 'alive';
  name: string;
  incarnation: number;
  tags: MemberTags;
  /** host:port of the member's libp2p TCP listener. */
  addr: string;
  /** libp2p peer id, so probes reach exactly this process. */
  peerId: string;
}

/** "`name` did not answer my probes". Signed by `from`. */
export interface SuspectClaim {
  type: 'suspect';
  name: string;
  incarnation: number;
  from: string;
}

/** "`name` did not refute in time". Signed by `from`. */
export interface FailedClaim {
  type: 'failed';
  name: string;
  incarnation: number;
  from: string;
}

/** "I am leaving on purpose". Signed by `name`. */
export interface LeftClaim {
  type: 'left';
  name: string;
  incarnation: number;
}

export type Claim = AliveClaim | SuspectClaim | FailedClaim | LeftClaim;

/** Who must have signed a claim for it to be believed. */
export function signerOf(claim: Claim): string {
  return claim.type === 'suspect' || claim.type === 'failed' ? claim.from : claim.name;
}

function fail(why: string): never {
  throw new MalformedMessageError(`malformed claim: ${why}`);
}

function str(o: Record<string, unknown>, key: string): string {
  const v = o[key];
  if (typeof v !== 'string' || v.length === 0 || v.length > 1024) fail(`${key} must be a short non-empty string`);
  return v;
}

function incarnation(o: Record<string, unknown>): number {
  const v = o['incarnation'];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) fail('incarnation must be a non-negative integer');
  return v;
}

function tags(o: Record<string, unknown>): MemberTags {
  const v = o['tags'];
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail('tags must be an object');
  const out: Record<string, string> = {};
  for (const [k, t] of Object.entries(v)) {
    if (typeof t !== 'string') fail(`tag ${k} must be a string`);
    out[k] = t;
  }
  if (typeof out['rpc_addr'] !== 'string') fail('tags.rpc_addr is required');
  return out as MemberTags;
}

/** Parses a claim from its JSON text, keeping only the known fields. */
export function parseClaim(text: string): Claim {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new MalformedMessageError('claim is not JSON', { cause: err });
  }
  if (typeof raw !== 'object' || raw === null) fail('not an object');
  const o = raw as Record<string, unknown>;
  switch (o['type']) {
    case 'alive':
      return {
        type: 'alive',
        name: str(o, 'name'),
        incarnation: incarnation(o),
        tags: tags(o),
        addr: str(o, 'addr'),
        peerId: str(o, 'peerId'),
      };
    case 'suspect':
    case 'failed':
      return { type: o['type'], name: str(o, 'name'), incarnation: incarnation(o), from: str(o, 'from') };
    case 'left':
      return { type: 'left', name: str(o, 'name'), incarnation: incarnation(o) };
    default:
      return fail(`unknown type ${JSON.stringify(o['type'])}`);
  }
}
