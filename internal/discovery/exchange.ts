// The direct request/response exchanges between two members. Every request opens with `hello`: the
// requester's own signed alive claim, so a node without a cluster certificate gets nothing back. Between
// members that already know each other the hello is only a reference (name and incarnation): the responder
// has verified that claim before, and the libp2p handshake proves the peer id it names. A responder that does
// not know the claim answers `introduce`, and the requester repeats with the full envelope. This keeps the
// certificate (most of a claim's bytes) off the wire in the periodic syncs and probes.
import type { Envelope } from './envelope.js';
import { MalformedMessageError } from './errors.js';
import type { Digest, DigestEntry } from './member-table.js';
import type { MemberStatus } from './member.js';

/** "You have verified my alive claim at this incarnation before." */
export interface HelloRef {
  name: string;
  incarnation: number;
}

export type Hello = Envelope | HelloRef;

export function isHelloRef(hello: Hello): hello is HelloRef {
  return !('claim' in hello);
}

export interface WireEntry {
  alive: Envelope;
  verdict?: Envelope;
}

/** Push-pull state sync: "here is what I know (digest); send me what you know better, and your digest". */
export interface SyncRequest {
  kind: 'sync';
  hello: Hello;
  digest: Digest;
  /** The requester dialed a bare address and needs the responder's signed alive claim to know who answered. */
  introduce?: boolean;
}
export interface SyncResponse {
  kind: 'sync';
  hello?: Envelope;
  entries: WireEntry[];
  digest: Digest;
}

/** "Here is what you lack": the second half of a sync, and how a leaving node tells its peers directly. */
export interface PushRequest {
  kind: 'push';
  hello: Hello;
  entries: WireEntry[];
}

/** Indirect probe: "I cannot reach `target`; can you?" */
export interface PingRequest {
  kind: 'ping-req';
  hello: Hello;
  target: string;
}

export type ExchangeRequest = SyncRequest | PushRequest | PingRequest;

export interface AckResponse {
  kind: 'ack';
  ok: boolean;
}

/** "I do not know the claim your hello refers to: send it in full." */
export interface IntroduceResponse {
  kind: 'introduce';
}

export function encode(message: ExchangeRequest | SyncResponse | AckResponse | IntroduceResponse): Uint8Array {
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

function hello(v: unknown): Hello {
  const o = object(v, 'hello');
  if ('claim' in o) return envelope(o, 'hello');
  const { name, incarnation } = o;
  if (typeof name !== 'string' || !Number.isSafeInteger(incarnation)) throw new MalformedMessageError('hello reference is malformed');
  return { name, incarnation: incarnation as number };
}

export function decodeRequest(data: Uint8Array): ExchangeRequest {
  const o = decodeJson(data);
  const hello_ = hello(o['hello']);
  switch (o['kind']) {
    case 'sync':
      return o['introduce'] === true
        ? { kind: 'sync', hello: hello_, digest: digest(o['digest']), introduce: true }
        : { kind: 'sync', hello: hello_, digest: digest(o['digest']) };
    case 'push':
      return { kind: 'push', hello: hello_, entries: entries(o['entries']) };
    case 'ping-req':
      if (typeof o['target'] !== 'string') throw new MalformedMessageError('ping-req needs a target');
      return { kind: 'ping-req', hello: hello_, target: o['target'] };
    default:
      throw new MalformedMessageError(`unknown exchange ${JSON.stringify(o['kind'])}`);
  }
}

export function decodeSyncResponse(data: Uint8Array): SyncResponse | IntroduceResponse {
  const o = decodeJson(data);
  if (o['kind'] === 'introduce') return { kind: 'introduce' };
  if (o['kind'] !== 'sync') throw new MalformedMessageError('expected a sync response');
  const base = { kind: 'sync' as const, entries: entries(o['entries']), digest: digest(o['digest']) };
  return o['hello'] === undefined ? base : { ...base, hello: envelope(o['hello'], 'hello') };
}

export function decodeAck(data: Uint8Array): AckResponse | IntroduceResponse {
  const o = decodeJson(data);
  if (o['kind'] === 'introduce') return { kind: 'introduce' };
  if (o['kind'] !== 'ack' || typeof o['ok'] !== 'boolean') throw new MalformedMessageError('expected an ack');
  return { kind: 'ack', ok: o['ok'] };
}
