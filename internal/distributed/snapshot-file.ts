// The latest Raft snapshot (its meta and the state machine's snapshot descriptor) in a file replaced
// atomically. The descriptor is small: the state machine's data itself stays in the topic logs (see
// topic-state-machine.ts), so a snapshot costs a few bytes, not a copy of the logs.

import path from 'node:path';
import type { Snapshot } from '../raft/index.js';
import { AtomicFile } from './atomic-file.js';
import { BinaryReader, BinaryWriter } from './binary.js';
import { readSnapshotMeta, writeSnapshotMeta } from './message-codec.js';

const VERSION = 1;

export function encodeSnapshot(s: Snapshot): Buffer {
  const w = new BinaryWriter(256 + s.data.length).u8(VERSION);
  writeSnapshotMeta(w, s.meta);
  return w.bytes(s.data).finish();
}

export function decodeSnapshot(bytes: Uint8Array): Snapshot {
  const r = new BinaryReader(bytes);
  r.u8();
  const meta = readSnapshotMeta(r);
  const data = Uint8Array.from(r.bytes());
  r.expectDone('snapshot');
  return { meta, data };
}

export class SnapshotFile {
  private readonly atomic: AtomicFile;

  constructor(dir: string) {
    this.atomic = new AtomicFile(path.join(dir, 'snapshot'));
  }

  get file(): string {
    return this.atomic.file;
  }

  async read(): Promise<Snapshot | undefined> {
    const body = await this.atomic.read();
    return body === undefined ? undefined : decodeSnapshot(body);
  }

  /** Writes complete in the order issued (see AtomicFile). */
  write(s: Snapshot): Promise<void> {
    return this.atomic.write(encodeSnapshot(s));
  }

  /** Deletes temp files a crash left behind; call before the first write. */
  removeStaleTempFiles(): Promise<void> {
    return this.atomic.removeStaleTempFiles();
  }
}
