// The runtime's own messages between nodes, beside Raft's: a follower asks the leader for a read index (the
// leader confirms its leadership with a heartbeat round, as for its own linearizable reads) and then serves the
// read locally once it has applied up to that index. Tags start at 0x80, clear of the Raft message tags.

import { BinaryReader, BinaryWriter, DecodeError } from './binary.js';

export type ReadIndexMessage =
  | { type: 'readIndexRequest'; context: string }
  | { type: 'readIndexResponse'; context: string; ok: boolean; index: number };

const REQUEST = 0x80;
const RESPONSE = 0x81;

export function isReadIndexMessage(frame: Uint8Array): boolean {
  return frame.length > 0 && (frame[0] === REQUEST || frame[0] === RESPONSE);
}

export function encodeReadIndexMessage(m: ReadIndexMessage): Buffer {
  const w = new BinaryWriter(64);
  if (m.type === 'readIndexRequest') return w.u8(REQUEST).string(m.context).finish();
  return w.u8(RESPONSE).string(m.context).bool(m.ok).varint(m.index).finish();
}

export function decodeReadIndexMessage(frame: Uint8Array): ReadIndexMessage {
  const r = new BinaryReader(frame);
  const tag = r.u8();
  const context = r.string();
  let m: ReadIndexMessage;
  if (tag === REQUEST) m = { type: 'readIndexRequest', context };
  else if (tag === RESPONSE) {
    const ok = r.bool();
    m = { type: 'readIndexResponse', context, ok, index: r.varint() };
  } else throw new DecodeError(`read index message: unknown tag ${tag}`);
  r.expectDone('read index message');
  return m;
}
