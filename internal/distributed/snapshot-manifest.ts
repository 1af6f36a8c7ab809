// What a state machine snapshot is: for each topic, the range of offsets [lowest, next) it holds at the
// snapshot's applied index, plus the members' addresses. The records themselves are not copied: they are
// already in the topic logs, which only grow at the head, so the range pins a point-in-time view while writes
// continue. Sending a snapshot streams the records of those ranges (snapshot-stream.ts).

import { BinaryReader, BinaryWriter } from './binary.js';

export interface TopicRange {
  topic: string;
  lowest: number;
  next: number;
}

export interface SnapshotManifest {
  topics: TopicRange[];
  /** Raft node id -> the address its peers reach it on. */
  addresses: Array<[string, string]>;
}

const VERSION = 1;

export function emptyManifest(): SnapshotManifest {
  return { topics: [], addresses: [] };
}

export function encodeManifest(m: SnapshotManifest): Buffer {
  const w = new BinaryWriter(64 + 32 * (m.topics.length + m.addresses.length)).u8(VERSION).varint(m.topics.length);
  for (const t of m.topics) w.string(t.topic).varint(t.lowest).varint(t.next);
  w.varint(m.addresses.length);
  for (const [id, addr] of m.addresses) w.string(id).string(addr);
  return w.finish();
}

/** An empty byte string (a bootstrap snapshot) is the empty manifest. */
export function decodeManifest(bytes: Uint8Array): SnapshotManifest {
  if (bytes.length === 0) return emptyManifest();
  const r = new BinaryReader(bytes);
  r.u8();
  const topics: TopicRange[] = [];
  for (let n = r.varint(); n > 0; n--) {
    const topic = r.string();
    const lowest = r.varint();
    const next = r.varint();
    topics.push({ topic, lowest, next });
  }
  const addresses: Array<[string, string]> = [];
  for (let n = r.varint(); n > 0; n--) {
    const id = r.string();
    addresses.push([id, r.string()]);
  }
  r.expectDone('snapshot manifest');
  return { topics, addresses };
}
