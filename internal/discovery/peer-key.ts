// The node's libp2p identity and incarnation, persisted in its data dir so a restart keeps its peer id and
// comes back with a higher incarnation than any claim from its previous life.
import '../polyfills.js';
import { open, readFile, rename, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys';
import type { PrivateKey } from '@libp2p/interface';
import { MembershipConfigError } from './errors.js';

const keyFile = 'libp2p.key';
const incarnationFile = 'incarnation';

async function writeDurably(path: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${path}.tmp`;
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
}

// @libp2p/crypto 5.1 is typed against a newer @libp2p/interface than libp2p 2.x; the key objects are the same
// at runtime, only their declared Uint8ArrayList versions differ.
function asLibp2pKey(key: unknown): PrivateKey {
  return key as PrivateKey;
}

function isMissing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === 'ENOENT';
}

export async function loadOrCreatePeerKey(dataDir: string): Promise<PrivateKey> {
  await mkdir(dataDir, { recursive: true });
  const path = join(dataDir, keyFile);
  try {
    return asLibp2pKey(privateKeyFromProtobuf(new Uint8Array(await readFile(path))));
  } catch (err) {
    if (!isMissing(err)) throw new MembershipConfigError(`${path} is not a libp2p private key`, { cause: err });
  }
  const key = await generateKeyPair('Ed25519');
  await writeDurably(path, privateKeyToProtobuf(key));
  return asLibp2pKey(key);
}

/** Returns the incarnation for this start (one above the last start's) and persists it before use. */
export async function nextIncarnation(dataDir: string): Promise<number> {
  const path = join(dataDir, incarnationFile);
  let last = 0;
  try {
    const text = (await readFile(path, 'utf8')).trim();
    last = Number(text);
    if (!Number.isSafeInteger(last) || last < 0) throw new MembershipConfigError(`${path} holds ${JSON.stringify(text)}, not an incarnation`);
  } catch (err) {
    if (!isMissing(err)) throw err;
  }
  const next = last + 1;
  await writeDurably(path, String(next));
  return next;
}

/** Persists a raised incarnation (after a refutation) so the next start goes above it. */
export async function saveIncarnation(dataDir: string, incarnation: number): Promise<void> {
  await writeDurably(join(dataDir, incarnationFile), String(incarnation));
}
