// The direct request/response exchanges between two members. Every request opens with `hello`, the
// requester's own signed alive claim, so a node without a cluster certificate gets nothing back.
import type { Envelope } from './envelope.js';
import { MalformedMessageError } from './errors.js';
import type { Digest, DigestEntry } from './member-table.js';
import type { MemberStatus } from './member.js';

export interface WireEntry {
  alive: Envelope;
  verdict?: Envelope;
}

/** Push-pull state sync: "here is what I know (digest); send me what you know better, and your digest". */
export interface SyncRequest {
  kind: 'sync';
  hello: Envelope;
  digest: Digest;
}
export interface SyncResponse {
  kind: 'sync';
  hello: Envelope;
  entries: WireEntry[];
  digest: Digest;
}

/** "Here is what you lack": the second half of a sync, and how a leaving node tells its peers directly. */
export interface PushRequest {
  kind: 'push';
  hello: Envelope;
  entries: WireEntry[];
}

/** Indirect probe: "I cannot reach `target`; can you?" */
export interface PingRequest {
  kind: 'ping-req';
  hello: Envelope;
  target: string;
}

export type ExchangeRequest = SyncRequest | PushRequest | PingRequest;

export interface AckResponse {
  kind: 'ack';
  ok: boolean;
}

export function encode(message: ExchangeRequest | SyncResponse | AckResponse): Uint8Array {
  return Buffer.from(JSON.stringify(message), 'utf8');
}

function object(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new MalformedMessageError(`${what} is not an object`);
  return v as Record<string, unknown>;
}

function decodeJson(data: Uint8Array): Record<string, unknown> {
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(data).toString('utf8'));
  } catch (err) {
    throw new MalformedMessageError('exchange is not JSON', { cause: err });
  }
  return object(raw, 'exchange');
}

// Envelopes are checked field by field when opened (envelope.ts); here they only need to be objects.
function envelope(v: unknown, what: string): Envelope {
  return object(v, what) as unknown as Envelope;
}

const statuses: readonly MemberStatus[] = ['alive', 'suspect', 'failed', 'left'];

function digest(v: unknown): Digest {
  const o = object(v, 'digest');
  const out: Digest = {};
  for (const [name, e] of Object.entries(o)) {
    const d = object(e, `digest entry ${name}`);
    const { incarnation, status } = d as Partial<DigestEntry>;
    if (!Number.isSafeInteger(incarnation) || !statuses.includes(status as MemberStatus)) {
      throw new MalformedMessageError(`digest entry ${name} is malformed`);
    }
    out[name] = { incarnation: incarnation!, status: status! };
  }
  return out;
}

function entries(v: unknown): WireEntry[] {
  if (!Array.isArray(v)) throw new MalformedMessageError('entries is not an array');
  return v.map((e, i) => {
    const o = object(e, `entry ${i}`);
    const alive = envelope(o['alive'], `entry ${i} alive`);
    return o['verdict'] === undefined ? { alive } : { alive, verdict: envelope(o['verdict'], `entry ${i} verdict`) };
  });
}

export function decodeRequest(data: Uint8Array): ExchangeRequest {
  const o = decodeJson(data);
  const hello = envelope(o['hello'], 'hello');
  switch (o['kind']) {
    case 'sync':
      return { kind: 'sync', hello, digest: digest(o['digest']) };
    case 'push':
      return { kind: 'push', hello, entries: entries(o['entries']) };
    case 'ping-req':
      if (typeof o['target'] !== 'string') throw new MalformedMessageError('ping-req needs a target');
      return { kind: 'ping-req', hello, target: o['target'] };
    default:
      throw new MalformedMessageError(`unknown exchange ${JSON.stringify(o['kind'])}`);
  }
}

export function decodeSyncResponse(data: Uint8Array): SyncResponse {
  const o = decodeJson(data);
  if (o['kind'] !== 'sync') throw new MalformedMessageError('expected a sync response');
  return { kind: 'sync', hello: envelope(o['hello'], 'hello'), entries: entries(o['entries']), digest: digest(o['digest']) };
}

export function decodeAck(data: Uint8Array): AckResponse {
  const o = decodeJson(data);
  if (o['kind'] !== 'ack' || typeof o['ok'] !== 'boolean') throw new MalformedMessageError('expected an ack');
  return { kind: 'ack', ok: o['ok'] };
}
