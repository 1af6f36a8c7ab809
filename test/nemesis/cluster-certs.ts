// The certificates a local test cluster needs, made with the project's own generator: one CA; a server
// certificate for 127.0.0.1 that clients see; a peer certificate per node whose CN is the node name (Raft and
// membership check it); and the `root` client identity the default policy lets produce and consume.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { generateCA, issueCert } from '../../internal/config/index.js';

export interface PemPair {
  certFile: string;
  keyFile: string;
  cert: string;
  key: string;
}

export interface ClusterCerts {
  caFile: string;
  ca: string;
  server: PemPair;
  client: PemPair;
  peers: Map<string, PemPair>;
}

const HOSTS = ['127.0.0.1', 'localhost'];

export async function writeClusterCerts(dir: string, nodeNames: readonly string[]): Promise<ClusterCerts> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // 2048-bit keys: what the product uses, and still only a few hundred ms for a whole cluster's set.
  const ca = await generateCA({ commonName: 'proglog nemesis CA' });
  const caFile = path.join(dir, 'ca.pem');
  await writeFile(caFile, ca.certPem);
  const write = async (name: string, certPem: string, keyPem: string): Promise<PemPair> => {
    const certFile = path.join(dir, `${name}.pem`);
    const keyFile = path.join(dir, `${name}-key.pem`);
    await writeFile(certFile, certPem);
    await writeFile(keyFile, keyPem, { mode: 0o600 });
    return { certFile, keyFile, cert: certPem, key: keyPem };
  };
  const server = await issueCert(ca, { cn: 'proglog-server', hosts: HOSTS, server: true });
  const client = await issueCert(ca, { cn: 'root', client: true });
  const peers = new Map<string, PemPair>();
  for (const name of nodeNames) {
    const peer = await issueCert(ca, { cn: name, hosts: HOSTS, server: true, client: true });
    peers.set(name, await write(name, peer.certPem, peer.keyPem));
  }
  return {
    caFile,
    ca: ca.certPem,
    server: await write('server', server.certPem, server.keyPem),
    client: await write('root-client', client.certPem, client.keyPem),
    peers,
  };
}
