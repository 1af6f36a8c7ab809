// Helpers shared by this folder's tests: temp directories and deterministic payloads.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

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

/** A small seeded PRNG (mulberry32) so random cut points replay from the seed printed on failure. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function copyDir(from: string, to: string): void {
  fs.mkdirSync(to, { recursive: true });
  for (const name of fs.readdirSync(from)) fs.copyFileSync(path.join(from, name), path.join(to, name));
}
