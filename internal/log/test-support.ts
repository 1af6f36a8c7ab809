// Helpers shared by this folder's tests: temp directories and deterministic payloads.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SeededRandom } from '../raft/random.js';

export async function tempDir(prefix = 'proglog-log-'): Promise<string> {
  return fs.promises.mkdtemp(path.join(os.tmpdir(), prefix));
}

export async function removeDir(dir: string): Promise<void> {
  await fs.promises.rm(dir, { recursive: true, force: true });
}

/** A payload that names its record, so a mixed-up read cannot pass for the right one. */
export function payload(i: number, size = 16): Uint8Array {
  const b = Buffer.alloc(size);
  b.write(`record-${i}:`.slice(0, size));
  for (let j = `record-${i}:`.length; j < size; j++) b[j] = (i * 31 + j) & 0xff;
  return b;
}

/** Seeded floats in [0, 1), so random cut points replay from the seed printed on failure. */
export function rng(seed: number): () => number {
  const random = new SeededRandom(seed);
  return () => random.float();
}

export function copyDir(from: string, to: string): void {
  fs.mkdirSync(to, { recursive: true });
  for (const name of fs.readdirSync(from)) fs.copyFileSync(path.join(from, name), path.join(to, name));
}
