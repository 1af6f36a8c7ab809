// A node's Raft id is its member name plus an incarnation drawn when its data folder is first initialized:
// a node that lost its data comes back as a new member (with a new incarnation), never as its old self, whose
// votes and acknowledgements it no longer remembers.

import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { readFileAtomic, removeStaleTempFiles, writeFileAtomic } from './atomic-file.js';

const SEPARATOR = '#';

export class DataDirOwnerError extends Error {
  readonly code = 'DATA_DIR_OWNER';
  constructor(
    readonly dataDir: string,
    readonly owner: string,
    readonly requested: string,
  ) {
    super(`${dataDir} belongs to node ${owner}, not ${requested}`);
    this.name = 'DataDirOwnerError';
  }
}

export function raftIdOf(name: string, incarnation: string): string {
  return `${name}${SEPARATOR}${incarnation}`;
}

/** The member name a Raft id belongs to (the whole id if it carries no incarnation). */
export function memberName(raftId: string): string {
  const at = raftId.lastIndexOf(SEPARATOR);
  return at < 0 ? raftId : raftId.slice(0, at);
}

/** The Raft id stored in `dataDir`, created (and made durable) on first use. */
export async function loadOrCreateRaftId(dataDir: string, name: string): Promise<{ raftId: string; created: boolean }> {
  await fs.mkdir(dataDir, { recursive: true });
  const file = path.join(dataDir, 'node-id');
  await removeStaleTempFiles(file);
  const existing = await readFileAtomic(file);
  if (existing) {
    const raftId = existing.toString('utf8');
    if (memberName(raftId) !== name) throw new DataDirOwnerError(dataDir, memberName(raftId), name);
    return { raftId, created: false };
  }
  const raftId = raftIdOf(name, randomBytes(4).toString('hex'));
  await writeFileAtomic(file, Buffer.from(raftId, 'utf8'));
  return { raftId, created: true };
}
