// The body of a snapshot on the wire: for each topic, a topic item (name and offset range) followed by record
// items holding that range's records in order. Each item is one transport chunk (at most ~1 MiB of records),
// so the receiver writes as it reads and memory stays bounded on both sides.

import { BinaryReader, BinaryWriter, DecodeError } from './binary.js';
import type { TopicRange } from './snapshot-manifest.js';

export type SnapshotItem = { kind: 'topic'; range: TopicRange } | { kind: 'records'; records: Uint8Array[] };

const TOPIC = 1;
const RECORDS = 2;

export function encodeTopicItem(range: TopicRange): Buffer {
  return new BinaryWriter(32 + range.topic.length).u8(TOPIC).string(range.topic).varint(range.lowest).varint(range.next).finish();
}

export function encodeRecordsItem(records: Uint8Array[]): Buffer {
  let size = 16;
  for (const r of records) size += r.length + 5;
  const w = new BinaryWriter(size).u8(RECORDS).varint(records.length);
  for (const r of records) w.bytes(r);
  return w.finish();
}

export function decodeSnapshotItem(bytes: Uint8Array): SnapshotItem {
  const r = new BinaryReader(bytes);
  const kind = r.u8();
  if (kind === TOPIC) {
    const topic = r.string();
    const lowest = r.varint();
    const next = r.varint();
    r.expectDone('snapshot topic item');
    return { kind: 'topic', range: { topic, lowest, next } };
  }
  if (kind !== RECORDS) throw new DecodeError(`snapshot item: unknown kind ${kind}`);
  const records: Uint8Array[] = [];
  for (let n = r.varint(); n > 0; n--) records.push(r.bytes());
  r.expectDone('snapshot records item');
  return { kind: 'records', records };
}

/** Transport header of a snapshot stream: which Raft snapshot the body belongs to. */
export function encodeStreamHeader(index: number, term: number): Buffer {
  return new BinaryWriter(16).varint(index).varint(term).finish();
}

export function decodeStreamHeader(bytes: Uint8Array): { index: number; term: number } {
  const r = new BinaryReader(bytes);
  const index = r.varint();
  const term = r.varint();
  r.expectDone('snapshot stream header');
  return { index, term };
}
