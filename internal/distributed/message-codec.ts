// Binary encoding of Raft messages (internal/raft/types.ts) for the wire, and of entries for the disk log.
// One tag byte per message type, then its fields in a fixed order as varints, strings and byte strings:
// compact (a heartbeat is ~10 bytes plus the ids) and with no schema machinery on the hot path.

import type { ConfState, Entry, EntryType, Message, SnapshotMeta } from '../raft/index.js';
import { BinaryReader, BinaryWriter, DecodeError } from './binary.js';

const MESSAGE_TAGS = {
  append: 1,
  appendResponse: 2,
  vote: 3,
  preVote: 4,
  voteResponse: 5,
  preVoteResponse: 6,
  heartbeat: 7,
  heartbeatResponse: 8,
  snapshot: 9,
  snapshotResponse: 10,
  timeoutNow: 11,
} as const satisfies Record<Message['type'], number>;

const ENTRY_TYPES: readonly EntryType[] = ['normal', 'confChange', 'empty'];

function entryTypeTag(t: EntryType): number {
  const i = ENTRY_TYPES.indexOf(t);
  if (i < 0) throw new RangeError(`unknown entry type ${t}`);
  return i;
}

function readEntryType(r: BinaryReader): EntryType {
  const t = ENTRY_TYPES[r.u8()];
  if (t === undefined) throw new DecodeError('entry type');
  return t;
}

function writeEntry(w: BinaryWriter, e: Entry): void {
  w.varint(e.index).varint(e.term).u8(entryTypeTag(e.type)).bytes(e.data);
}

function readEntry(r: BinaryReader): Entry {
  const index = r.varint();
  const term = r.varint();
  const type = readEntryType(r);
  const data = r.bytes();
  return { index, term, type, data };
}

function writeIds(w: BinaryWriter, ids: string[]): void {
  w.varint(ids.length);
  for (const id of ids) w.string(id);
}

function readIds(r: BinaryReader): string[] {
  const n = r.varint();
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push(r.string());
  return ids;
}

export function writeConfState(w: BinaryWriter, cs: ConfState): void {
  writeIds(w, cs.voters);
  writeIds(w, cs.learners);
}

export function readConfState(r: BinaryReader): ConfState {
  const voters = readIds(r);
  const learners = readIds(r);
  return { voters, learners };
}

export function writeSnapshotMeta(w: BinaryWriter, m: SnapshotMeta): void {
  w.varint(m.index).varint(m.term);
  writeConfState(w, m.confState);
}

export function readSnapshotMeta(r: BinaryReader): SnapshotMeta {
  const index = r.varint();
  const term = r.varint();
  const confState = readConfState(r);
  return { index, term, confState };
}

/** What every message starts with; an append's fields before its entries too. */
function writeHead(w: BinaryWriter, m: Message): void {
  w.u8(MESSAGE_TAGS[m.type]).string(m.from).string(m.to).varint(m.term);
  if (m.type === 'append') w.varint(m.index).varint(m.logTerm).varint(m.commit).varint(m.entries.length);
}

export function encodeMessage(m: Message): Buffer {
  let size = 64;
  if (m.type === 'append') for (const e of m.entries) size += e.data.length + 16;
  else if (m.type === 'snapshot') size += m.data.length + 64;
  const w = new BinaryWriter(size);
  writeHead(w, m);
  switch (m.type) {
    case 'append':
      for (const e of m.entries) writeEntry(w, e);
      break;
    case 'appendResponse':
      w.varint(m.index).bool(m.reject).varint(m.rejectHint).varint(m.logTerm);
      break;
    case 'vote':
    case 'preVote':
      w.varint(m.index).varint(m.logTerm).bool(m.transfer);
      break;
    case 'voteResponse':
    case 'preVoteResponse':
      w.bool(m.reject);
      break;
    case 'heartbeat':
      w.varint(m.commit).string(m.context);
      break;
    case 'heartbeatResponse':
      w.string(m.context);
      break;
    case 'snapshot':
      writeSnapshotMeta(w, m.meta);
      w.varint(m.offset).bytes(m.data).bool(m.done);
      break;
    case 'snapshotResponse':
      w.varint(m.snapshotIndex).varint(m.offset).bool(m.reject);
      break;
    case 'timeoutNow':
      break;
  }
  return w.finish();
}

/**
 * The same bytes as encodeMessage, as parts: an append's entry data is referenced, not copied, so the messages
 * for every follower share one copy of it (a leader otherwise copied each entry once per follower). Other
 * messages are one part.
 */
export function encodeMessageParts(m: Message): Uint8Array[] {
  if (m.type !== 'append' || m.entries.length === 0) return [encodeMessage(m)];
  const head = new BinaryWriter(64 + 24 * m.entries.length);
  writeHead(head, m);
  const parts: Uint8Array[] = [];
  let start = 0;
  for (const e of m.entries) {
    head.varint(e.index).varint(e.term).u8(entryTypeTag(e.type)).varint(e.data.length);
    const written = head.finish();
    if (e.data.length > 0) {
      parts.push(written.subarray(start), e.data);
      start = written.length;
    }
  }
  const tail = head.finish();
  if (tail.length > start) parts.push(tail.subarray(start));
  return parts;
}

/** Decodes a message; byte fields (entry data) are views into `bytes`. Throws DecodeError on malformed input. */
export function decodeMessage(bytes: Uint8Array): Message {
  const r = new BinaryReader(bytes);
  const tag = r.u8();
  const from = r.string();
  const to = r.string();
  const term = r.varint();
  let m: Message;
  switch (tag) {
    case MESSAGE_TAGS.append: {
      const index = r.varint();
      const logTerm = r.varint();
      const commit = r.varint();
      const n = r.varint();
      const entries: Entry[] = [];
      for (let i = 0; i < n; i++) entries.push(readEntry(r));
      m = { type: 'append', from, to, term, index, logTerm, commit, entries };
      break;
    }
    case MESSAGE_TAGS.appendResponse: {
      const index = r.varint();
      const reject = r.bool();
      const rejectHint = r.varint();
      const logTerm = r.varint();
      m = { type: 'appendResponse', from, to, term, index, reject, rejectHint, logTerm };
      break;
    }
    case MESSAGE_TAGS.vote:
    case MESSAGE_TAGS.preVote: {
      const index = r.varint();
      const logTerm = r.varint();
      const transfer = r.bool();
      m = { type: tag === MESSAGE_TAGS.vote ? 'vote' : 'preVote', from, to, term, index, logTerm, transfer };
      break;
    }
    case MESSAGE_TAGS.voteResponse:
    case MESSAGE_TAGS.preVoteResponse:
      m = { type: tag === MESSAGE_TAGS.voteResponse ? 'voteResponse' : 'preVoteResponse', from, to, term, reject: r.bool() };
      break;
    case MESSAGE_TAGS.heartbeat: {
      const commit = r.varint();
      m = { type: 'heartbeat', from, to, term, commit, context: r.string() };
      break;
    }
    case MESSAGE_TAGS.heartbeatResponse:
      m = { type: 'heartbeatResponse', from, to, term, context: r.string() };
      break;
    case MESSAGE_TAGS.snapshot: {
      const meta = readSnapshotMeta(r);
      const offset = r.varint();
      const data = r.bytes();
      m = { type: 'snapshot', from, to, term, meta, offset, data, done: r.bool() };
      break;
    }
    case MESSAGE_TAGS.snapshotResponse: {
      const snapshotIndex = r.varint();
      const offset = r.varint();
      m = { type: 'snapshotResponse', from, to, term, snapshotIndex, offset, reject: r.bool() };
      break;
    }
    case MESSAGE_TAGS.timeoutNow:
      m = { type: 'timeoutNow', from, to, term };
      break;
    default:
      throw new DecodeError(`message: unknown type tag ${tag}`);
  }
  r.expectDone('message');
  return m;
}

/**
 * An entry as stored at its index in the disk log (term, type, data; the index is the log offset), as two parts:
 * the few bytes before the data, and the data itself, which the disk log frames without a copy here. Entries are
 * the bulk of what a node allocates, and a dead Buffer waits for a full collection to be freed.
 */
export function encodeStoredEntry(e: Entry): [Buffer, Uint8Array] {
  return [new BinaryWriter(16).varint(e.term).u8(entryTypeTag(e.type)).finish(), e.data];
}

export function decodeStoredEntry(index: number, bytes: Uint8Array): Entry {
  const r = new BinaryReader(bytes);
  const term = r.varint();
  const type = readEntryType(r);
  // The data is the rest of the record: the disk log already length-prefixes records.
  return { index, term, type, data: bytes.subarray(r.position()) };
}
