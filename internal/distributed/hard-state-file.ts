// Raft's hard state (term, vote, commit) in a small file replaced atomically, so that a vote or a term change
// survives a crash before any message that depends on it leaves the node.

import path from 'node:path';
import type { HardState } from '../raft/index.js';
import { AtomicFile } from './atomic-file.js';
import { BinaryReader, BinaryWriter } from './binary.js';

const VERSION = 1;

export function encodeHardState(hs: HardState): Buffer {
  return new BinaryWriter(64).u8(VERSION).varint(hs.term).string(hs.vote).varint(hs.commit).finish();
}

export function decodeHardState(bytes: Uint8Array): HardState {
  const r = new BinaryReader(bytes);
  r.u8();
  const term = r.varint();
  const vote = r.string();
  const commit = r.varint();
  return { term, vote, commit };
}

export class HardStateFile {
  private readonly atomic: AtomicFile;

  constructor(dir: string) {
    this.atomic = new AtomicFile(path.join(dir, 'hardstate'));
  }

  get file(): string {
    return this.atomic.file;
  }

  async read(): Promise<HardState | undefined> {
    const body = await this.atomic.read();
    return body === undefined ? undefined : decodeHardState(body);
  }

  /** Writes complete in the order issued (see AtomicFile). */
  write(hs: HardState): Promise<void> {
    return this.atomic.write(encodeHardState(hs));
  }

  /** Deletes temp files a crash left behind; call before the first write. */
  removeStaleTempFiles(): Promise<void> {
    return this.atomic.removeStaleTempFiles();
  }
}
