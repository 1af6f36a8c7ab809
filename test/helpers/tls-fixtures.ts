// Throwaway mTLS material in memory, from the project's own certificate tooling: one CA, a leaf for servers and
// Raft peers (serverAuth + clientAuth, SANs 127.0.0.1 and localhost), and client identities by common name.
import { generateCA, issueCert } from '../../internal/config/index.js';

export interface Pem {
  cert: string;
  key: string;
}

export interface TlsFixtures {
  ca: string;
  server: Pem;
  /** Client identities by common name (the ACL subject). */
  clients: Map<string, Pem>;
}

export async function makeTlsFixtures(clientNames: string[] = ['root', 'nobody']): Promise<TlsFixtures> {
  const ca = await generateCA({ commonName: 'proglog test CA' });
  const server = await issueCert(ca, { cn: 'server', hosts: ['127.0.0.1', 'localhost'], server: true, client: true });
  const clients = new Map<string, Pem>();
  for (const name of clientNames) {
    const c = await issueCert(ca, { cn: name, client: true });
    clients.set(name, { cert: c.certPem, key: c.keyPem });
  }
  return { ca: ca.certPem, server: { cert: server.certPem, key: server.keyPem }, clients };
}
