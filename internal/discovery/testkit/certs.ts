// Throwaway certificate authorities for tests and benches: a CA, and node certificates whose CN is the node name.
import { generateKeyPair, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import forge from 'node-forge';
import type { MembershipTls } from '../config.js';

export interface TestCa {
  certPem: string;
  keyPem: string;
  /** Issues a certificate for `commonName`, valid from an hour ago for `validDays`. */
  issue(commonName: string, validDays?: number): Promise<MembershipTls>;
}

const generateRsa = promisify(generateKeyPair);

async function rsaKeyPair(): Promise<{ privateKey: forge.pki.rsa.PrivateKey; publicKey: forge.pki.rsa.PublicKey }> {
  // Native key generation off the event loop: forge's pure-JS RSA takes seconds, and a synchronous native one
  // would stall every node running in this process long enough to fail their probes.
  const { privateKey } = await generateRsa('rsa', { modulusLength: 2048 });
  const pem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  const forgeKey = forge.pki.privateKeyFromPem(pem);
  return { privateKey: forgeKey, publicKey: forge.pki.setRsaPublicKey(forgeKey.n, forgeKey.e) };
}

function serial(): string {
  // Positive, so the top bit of the first byte must be clear.
  const b = randomBytes(16);
  b[0] = b[0]! & 0x7f;
  return b.toString('hex');
}

export async function createTestCa(caName = 'proglog test CA'): Promise<TestCa> {
  const keys = await rsaKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = serial();
  cert.validity.notBefore = new Date(Date.now() - 3600_000);
  cert.validity.notAfter = new Date(Date.now() + 365 * 86400_000);
  const subject = [{ name: 'commonName', value: caName }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
  ]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  const caCertPem = forge.pki.certificateToPem(cert);
  const caKeyPem = forge.pki.privateKeyToPem(keys.privateKey);

  return {
    certPem: caCertPem,
    keyPem: caKeyPem,
    async issue(commonName: string, validDays = 30): Promise<MembershipTls> {
      const nodeKeys = await rsaKeyPair();
      const c = forge.pki.createCertificate();
      c.publicKey = nodeKeys.publicKey;
      c.serialNumber = serial();
      c.validity.notBefore = new Date(Date.now() - 3600_000);
      c.validity.notAfter = new Date(Date.now() + validDays * 86400_000);
      c.setSubject([{ name: 'commonName', value: commonName }]);
      c.setIssuer(subject);
      c.setExtensions([
        { name: 'basicConstraints', cA: false },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
        { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
        { name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] },
      ]);
      c.sign(keys.privateKey, forge.md.sha256.create());
      return {
        caPem: caCertPem,
        certPem: forge.pki.certificateToPem(c),
        keyPem: forge.pki.privateKeyToPem(nodeKeys.privateKey),
      };
    },
  };
}
