// The development certificate set in one folder, with the book's file names: a CA, a server certificate for the
// local hosts, one client certificate per identity (root and nobody by default), and one peer certificate per node
// asked for (NAME.pem, the agent's default for a node named NAME). Existing files are never overwritten unless
// asked; an existing CA is reused, so adding an identity or a node later keeps every other cert valid.
import { constants } from 'node:fs';
import { access, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { commonNameOf, generateCA, issueCert, type CertificateAuthority } from './certgen.js';
import { ensureDir } from './dirs.js';

export const CA_CERT_FILE = 'ca.pem';
export const CA_KEY_FILE = 'ca-key.pem';
export const SERVER_CERT_FILE = 'server.pem';
export const SERVER_KEY_FILE = 'server-key.pem';
export const DEFAULT_CLIENTS: readonly string[] = ['root', 'nobody'];
export const DEFAULT_SERVER_HOSTS: readonly string[] = ['localhost', '127.0.0.1'];

export interface CertPair {
  certFile: string;
  keyFile: string;
}

export interface DevCertPaths {
  dir: string;
  caFile: string;
  caKeyFile: string;
  server: CertPair;
  /** By identity (the client certificate's CN). */
  clients: Record<string, CertPair>;
  /** By node name (the peer certificate's CN). */
  peers: Record<string, CertPair>;
}

export interface DevCertOptions {
  /** Extra DNS names or IPs for the server certificate, beside localhost and 127.0.0.1. */
  hosts?: string[];
  /** Client identities; defaults to root and nobody. */
  clients?: string[];
  /**
   * Node names to issue peer certificates for: CN the node name (membership and Raft check it), the server
   * certificate's hosts as SANs, valid as server and client (a node both dials and answers its peers).
   */
  peers?: string[];
  /** Replace existing files (a new CA, so every certificate is reissued). */
  force?: boolean;
  validityDays?: number;
  /** Smaller keys make test fixtures faster; leave unset for real use. */
  keyBits?: number;
}

export interface DevCertResult {
  paths: DevCertPaths;
  written: string[];
  /** Files that existed and were left untouched (no --force). */
  kept: string[];
}

/** A client identity is a certificate CN and part of a file name, so it is kept to a safe, readable alphabet. */
const IDENTITY_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export class InvalidIdentityError extends Error {
  override readonly name = 'InvalidIdentityError';
  constructor(readonly identity: string) {
    super(`invalid client identity ${JSON.stringify(identity)}: use 1-64 characters of [A-Za-z0-9._-] starting with a letter or digit`);
  }
}

/**
 * A node name that cannot be a peer certificate's CN and file name: NAME.pem and NAME-key.pem would be another
 * certificate of the set (ca, server, a client's, or another node's key).
 */
export class InvalidPeerNameError extends Error {
  override readonly name = 'InvalidPeerNameError';
  constructor(
    readonly peer: string,
    reason: string,
  ) {
    super(`invalid peer name ${JSON.stringify(peer)}: ${reason}`);
  }
}

function checkPeerName(name: string): void {
  if (!IDENTITY_PATTERN.test(name)) {
    throw new InvalidPeerNameError(name, 'a node name is 1-64 characters of [A-Za-z0-9._-] starting with a letter or digit');
  }
  if (name === 'ca' || name === 'server' || name.endsWith('-client') || name.endsWith('-key')) {
    throw new InvalidPeerNameError(name, `its files ${name}.pem and ${name}-key.pem would be taken for another certificate of the set: name the node otherwise`);
  }
}

/** Certificates exist but the CA key that would sign new ones does not, so no consistent set can be made. */
export class MissingCAKeyError extends Error {
  override readonly name = 'MissingCAKeyError';
  constructor(readonly file: string) {
    super(`${file} is missing: cannot issue certificates signed by the existing CA (use --force to make a new CA)`);
  }
}

/** One file of a certificate/key pair exists without the other. */
export class IncompleteCertPairError extends Error {
  override readonly name = 'IncompleteCertPairError';
  constructor(
    readonly existing: string,
    readonly missing: string,
  ) {
    super(`${existing} exists but ${missing} does not: remove ${existing} or use --force to reissue the pair`);
  }
}

export function clientCertPair(dir: string, identity: string): CertPair {
  return { certFile: join(dir, `${identity}-client.pem`), keyFile: join(dir, `${identity}-client-key.pem`) };
}

/** Where the agent of node `name` looks for its peer certificate by default (--peer-tls-cert-file, --peer-tls-key-file). */
export function peerCertPair(dir: string, name: string): CertPair {
  return { certFile: join(dir, `${name}.pem`), keyFile: join(dir, `${name}-key.pem`) };
}

export function devCertPaths(dir: string, clients: readonly string[] = DEFAULT_CLIENTS, peers: readonly string[] = []): DevCertPaths {
  return {
    dir,
    caFile: join(dir, CA_CERT_FILE),
    caKeyFile: join(dir, CA_KEY_FILE),
    server: { certFile: join(dir, SERVER_CERT_FILE), keyFile: join(dir, SERVER_KEY_FILE) },
    clients: Object.fromEntries(clients.map((identity) => [identity, clientCertPair(dir, identity)])),
    peers: Object.fromEntries(peers.map((name) => [name, peerCertPair(dir, name)])),
  };
}

export async function writeDevCerts(dir: string, options: DevCertOptions = {}): Promise<DevCertResult> {
  const clients = [...new Set(options.clients ?? DEFAULT_CLIENTS)];
  for (const identity of clients) {
    if (!IDENTITY_PATTERN.test(identity)) throw new InvalidIdentityError(identity);
  }
  const peers = [...new Set(options.peers ?? [])];
  for (const name of peers) checkPeerName(name);
  const hosts = [...new Set([...DEFAULT_SERVER_HOSTS, ...(options.hosts ?? [])])];
  const paths = devCertPaths(dir, clients, peers);
  const force = options.force ?? false;
  const keyBits = options.keyBits;
  const validityDays = options.validityDays;
  await ensureDir(dir, 'certificate dir', 0o700);

  const written: string[] = [];
  const kept: string[] = [];
  const caExists = !force && (await exists(paths.caFile));
  let ca: CertificateAuthority;
  if (caExists) {
    if (!(await exists(paths.caKeyFile))) throw new MissingCAKeyError(paths.caKeyFile);
    const certPem = await readFile(paths.caFile, 'utf8');
    ca = { certPem, keyPem: await readFile(paths.caKeyFile, 'utf8'), commonName: commonNameOf(certPem) };
    kept.push(paths.caFile, paths.caKeyFile);
  } else {
    ca = await generateCA({ keyBits, validityDays });
    await writePair({ certFile: paths.caFile, keyFile: paths.caKeyFile }, ca, force);
    written.push(paths.caFile, paths.caKeyFile);
  }

  const wanted: Array<{ pair: CertPair; issue: () => ReturnType<typeof issueCert> }> = [
    {
      pair: paths.server,
      issue: () => issueCert(ca, { cn: 'proglog-server', hosts, server: true, client: true, keyBits, validityDays }),
    },
    ...clients.map((identity) => ({
      pair: clientCertPair(dir, identity),
      issue: () => issueCert(ca, { cn: identity, client: true, keyBits, validityDays }),
    })),
    ...peers.map((name) => ({
      pair: peerCertPair(dir, name),
      issue: () => issueCert(ca, { cn: name, hosts, server: true, client: true, keyBits, validityDays }),
    })),
  ];
  for (const { pair, issue } of wanted) {
    if (!force) {
      const certThere = await exists(pair.certFile);
      const keyThere = await exists(pair.keyFile);
      if (certThere && keyThere) {
        kept.push(pair.certFile, pair.keyFile);
        continue;
      }
      // Both halves must come from one issuance, and a lone half is never overwritten without --force.
      if (certThere) throw new IncompleteCertPairError(pair.certFile, pair.keyFile);
      if (keyThere) throw new IncompleteCertPairError(pair.keyFile, pair.certFile);
    }
    await writePair(pair, await issue(), force);
    written.push(pair.certFile, pair.keyFile);
  }
  return { paths, written, kept };
}

async function writePair(pair: CertPair, pem: { certPem: string; keyPem: string }, overwrite: boolean): Promise<void> {
  const flag = overwrite ? 'w' : 'wx';
  await writeFile(pair.keyFile, pem.keyPem, { mode: 0o600, flag });
  await writeFile(pair.certFile, pem.certPem, { mode: 0o644, flag });
}

async function exists(file: string): Promise<boolean> {
  try {
    await access(file, constants.F_OK);
    return true;
  } catch {
    return false;
  }
}
