// Certificates for tests and benchmarks, from the project's certificate generator (internal/config): one CA per
// process and one peer certificate per name, valid for 127.0.0.1 and localhost as TLS server and client.
// 1024-bit keys: these certificates protect nothing and 2048-bit ones cost ~1 s each in node-forge.

import { generateCA, issueCert, type CertificateAuthority } from '../../config/certgen.js';
import type { PeerTlsConfig } from '../tls-transport.js';

export type TestCa = CertificateAuthority;

const TEST_KEY_BITS = 1024;
let sharedCa: Promise<TestCa> | undefined;
const issued = new Map<string, Promise<PeerTlsConfig>>();

export function createTestCa(commonName = 'proglog-test-ca'): Promise<TestCa> {
  return generateCA({ commonName, keyBits: TEST_KEY_BITS });
}

/** The process-wide test CA (certificates from it are cached by name). */
export function testCa(): Promise<TestCa> {
  sharedCa ??= createTestCa();
  return sharedCa;
}

export async function createPeerTls(ca: TestCa, cn: string): Promise<PeerTlsConfig> {
  const cert = await issueCert(ca, { cn, hosts: ['127.0.0.1', 'localhost'], server: true, client: true, keyBits: TEST_KEY_BITS });
  return { ca: ca.certPem, cert: cert.certPem, key: cert.keyPem };
}

/** A peer certificate for `cn` from the shared test CA, issued once per process. */
export function peerTls(cn: string): Promise<PeerTlsConfig> {
  let t = issued.get(cn);
  if (!t) issued.set(cn, (t = testCa().then((ca) => createPeerTls(ca, cn))));
  return t;
}
