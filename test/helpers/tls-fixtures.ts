// Throwaway mTLS material for tests: one CA, and leaf certificates signed by it for 127.0.0.1 / localhost.
// Keys come from node:crypto (native, milliseconds) and node-forge only signs, so a suite makes them in memory.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import forge from 'node-forge';

export interface Pem {
  cert: string;
  key: string;
}

export interface TlsFixtures {
  ca: string;
  /** Leaf for servers and Raft peers: serverAuth + clientAuth, SANs 127.0.0.1 and localhost. */
  server: Pem;
  /** Client identities by common name (the ACL subject). */
  clients: Map<string, Pem>;
}

function newKeyPair(): { forgePublic: forge.pki.PublicKey; forgePrivate: forge.pki.rsa.PrivateKey; keyPem: string } {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  const pubPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  return {
    forgePublic: forge.pki.publicKeyFromPem(pubPem),
    forgePrivate: forge.pki.privateKeyFromPem(keyPem) as forge.pki.rsa.PrivateKey,
    keyPem,
  };
}

function serial(): string {
  // A positive serial: clear the top bit.
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f;
  return bytes.toString('hex');
}

function validity(cert: forge.pki.Certificate): void {
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 24 * 3600_000);
}

export function makeTlsFixtures(clientNames: string[] = ['root', 'nobody']): TlsFixtures {
  const caKeys = newKeyPair();
  const caCert = forge.pki.createCertificate();
  caCert.publicKey = caKeys.forgePublic;
  caCert.serialNumber = serial();
  validity(caCert);
  const caSubject = [{ name: 'commonName', value: 'proglog test CA' }];
  caCert.setSubject(caSubject);
  caCert.setIssuer(caSubject);
  caCert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
  ]);
  caCert.sign(caKeys.forgePrivate, forge.md.sha256.create());

  const leaf = (cn: string, server: boolean): Pem => {
    const keys = newKeyPair();
    const cert = forge.pki.createCertificate();
    cert.publicKey = keys.forgePublic;
    cert.serialNumber = serial();
    validity(cert);
    cert.setSubject([{ name: 'commonName', value: cn }]);
    cert.setIssuer(caSubject);
    const extensions: object[] = [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: server, clientAuth: true },
    ];
    if (server) {
      extensions.push({
        name: 'subjectAltName',
        altNames: [
          { type: 7, ip: '127.0.0.1' },
          { type: 2, value: 'localhost' },
        ],
      });
    }
    cert.setExtensions(extensions);
    cert.sign(caKeys.forgePrivate, forge.md.sha256.create());
    return { cert: forge.pki.certificateToPem(cert), key: keys.keyPem };
  };

  const clients = new Map<string, Pem>();
  for (const name of clientNames) clients.set(name, leaf(name, false));
  return { ca: forge.pki.certificateToPem(caCert), server: leaf('server', true), clients };
}
