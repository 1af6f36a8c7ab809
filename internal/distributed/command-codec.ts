// What a normal Raft entry carries: a command for the replicated state machine.
//   append      a batch of records for one topic, tagged with who proposed it (node and process session)
//               and a proposal id, so the proposer can answer its callers once it is applied
//   setAddress  where a member listens (also carried by membership changes' context; this form lets a
//               bootstrapped node, which joined by no membership change, announce itself)

import { BinaryReader, BinaryWriter, DecodeError } from './binary.js';

export interface AppendCommand {
  kind: 'append';
  proposer: string;
  proposalId: number;
  topic: string;
  records: Uint8Array[];
}

export interface SetAddressCommand {
  kind: 'setAddress';
  nodeId: string;
  addr: string;
}

export type Command = AppendCommand | SetAddressCommand;

const APPEND = 1;
const SET_ADDRESS = 2;

export function encodeCommand(c: Command): Buffer {
  if (c.kind === 'setAddress') return new BinaryWriter(64).u8(SET_ADDRESS).string(c.nodeId).string(c.addr).finish();
  let size = 32 + c.proposer.length + c.topic.length;
  for (const r of c.records) size += r.length + 5;
  const w = new BinaryWriter(size).u8(APPEND).string(c.proposer).varint(c.proposalId).string(c.topic).varint(c.records.length);
  for (const r of c.records) w.bytes(r);
  return w.finish();
}

/** Record bytes are views into `bytes`. */
export function decodeCommand(bytes: Uint8Array): Command {
  const r = new BinaryReader(bytes);
  const kind = r.u8();
  if (kind === SET_ADDRESS) {
    const nodeId = r.string();
    const addr = r.string();
    r.expectDone('setAddress command');
    return { kind: 'setAddress', nodeId, addr };
  }
  if (kind !== APPEND) throw new DecodeError(`command: unknown kind ${kind}`);
  const proposer = r.string();
  const proposalId = r.varint();
  const topic = r.string();
  const n = r.varint();
  const records: Uint8Array[] = new Array(n);
  for (let i = 0; i < n; i++) records[i] = r.bytes();
  r.expectDone('append command');
  return { kind: 'append', proposer, proposalId, topic, records };
}
