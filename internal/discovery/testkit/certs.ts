// Throwaway certificate authorities for tests and benches, from the project's certificate generator: a CA, and
// node certificates whose CN is the node name (membership requires that).
import { generateCA, issueCert } from '../../config/certgen.js';
import type { MembershipTls } from '../config.js';

export interface TestCa {
  certPem: string;
  keyPem: string;
  /** Issues a certificate for `commonName`, valid from an hour ago for `validDays` (negative: already expired). */
  issue(commonName: string, validDays?: number): Promise<MembershipTls>;
}

export async function createTestCa(caName = 'proglog test CA'): Promise<TestCa> {
  const ca = await generateCA({ commonName: caName, validityDays: 365 });
  return {
    certPem: ca.certPem,
    keyPem: ca.keyPem,
    async issue(commonName: string, validDays = 30): Promise<MembershipTls> {
      const cert = await issueCert(ca, { cn: commonName, hosts: ['127.0.0.1'], server: true, client: true, validityDays: validDays });
      return { caPem: ca.certPem, certPem: cert.certPem, keyPem: cert.keyPem };
    },
  };
}
