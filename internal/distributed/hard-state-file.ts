// Raft's hard state (term, vote, commit) in a small file replaced atomically, so that a vote or a term change
// survives a crash before any message that depends on it leaves the node.

import path from 'node:path';
import type { HardState } from '../raft/index.js';
import { readFileAtomic, writeFileAtomic } from './atomic-file.js';
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
  readonly file: string;

  constructor(dir: string) {
    this.file = path.join(dir, 'hardstate');
  }

  async read(): Promise<HardState | undefined> {
    const body = await readFileAtomic(this.file);
    return body === undefined ? undefined : decodeHardState(body);
  }

  write(hs: HardState): Promise<void> {
    return writeFileAtomic(this.file, encodeHardState(hs));
  }
}
