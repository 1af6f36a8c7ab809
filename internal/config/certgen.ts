// Certificate tooling for mutual TLS: a CA, and server and client certificates it signs, made with node-forge.
// `proglog cert` writes the development set to a folder; tests and other packages call the same functions to
// make throw-away certificates in a temp dir (including expired ones and ones from a foreign CA).
import { generateKeyPair, randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { promisify } from 'node:util';
import forge from 'node-forge';

const generateRsaKeyPair = promisify(generateKeyPair);

const DAY_MS = 24 * 60 * 60 * 1000;
/** Backdating covers clock skew between the machine that issues a certificate and the one checking it. */
const BACKDATE_MS = 5 * 60 * 1000;

export interface CertificateAuthority {
  certPem: string;
  keyPem: string;
  commonName: string;
}

export interface IssuedCert {
  certPem: string;
  keyPem: string;
  commonName: string;
}

export interface CAOptions {
  commonName?: string;
  validityDays?: number;
  /** RSA modulus size; tests may use a smaller one only if they never need a production-grade key. */
  keyBits?: number;
}

export interface IssueOptions {
  /** The identity: a client certificate's CN is the subject the ACL checks. */
  cn: string;
  /** DNS names and IP addresses for the subjectAltName; a server certificate needs the names clients dial. */
  hosts?: string[];
  /** May authenticate as a TLS client (extKeyUsage clientAuth). Defaults to true when `server` is not set. */
  client?: boolean;
  /** May authenticate as a TLS server (extKeyUsage serverAuth). */
  server?: boolean;
  validityDays?: number;
  /** Explicit validity window, e.g. one entirely in the past to make an expired certificate. */
  notBefore?: Date;
  notAfter?: Date;
  keyBits?: number;
}

const DEFAULT_KEY_BITS = 2048;
const DEFAULT_CA_DAYS = 3650;
const DEFAULT_CERT_DAYS = 825;

export async function generateCA(options: CAOptions = {}): Promise<CertificateAuthority> {
  const commonName = options.commonName ?? 'proglog CA';
  const { publicKey, privateKey } = await newKeyPair(options.keyBits);
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = newSerialNumber();
  setValidity(cert, undefined, undefined, options.validityDays ?? DEFAULT_CA_DAYS);
  const subject = subjectAttributes(commonName);
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(privateKey, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: forge.pki.privateKeyToPem(privateKey), commonName };
}

export async function issueCert(ca: CertificateAuthority, options: IssueOptions): Promise<IssuedCert> {
  const server = options.server ?? false;
  const client = options.client ?? !server;
  const caCert = forge.pki.certificateFromPem(ca.certPem);
  const caKey = forge.pki.privateKeyFromPem(ca.keyPem);
  const { publicKey, privateKey } = await newKeyPair(options.keyBits);
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = newSerialNumber();
  setValidity(cert, options.notBefore, options.notAfter, options.validityDays ?? DEFAULT_CERT_DAYS);
  cert.setSubject(subjectAttributes(options.cn));
  cert.setIssuer(caCert.subject.attributes);
  const extensions: object[] = [
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: server, clientAuth: client },
    { name: 'subjectKeyIdentifier' },
    {
      name: 'authorityKeyIdentifier',
      keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes(),
    },
  ];
  const hosts = options.hosts ?? [];
  if (hosts.length > 0) {
    extensions.push({
      name: 'subjectAltName',
      altNames: hosts.map((host) => (isIP(host) ? { type: 7, ip: host } : { type: 2, value: host })),
    });
  }
  cert.setExtensions(extensions);
  cert.sign(caKey, forge.md.sha256.create());
  return {
    certPem: forge.pki.certificateToPem(cert),
    keyPem: forge.pki.privateKeyToPem(privateKey),
    commonName: options.cn,
  };
}

async function newKeyPair(bits = DEFAULT_KEY_BITS): Promise<{
  publicKey: forge.pki.rsa.PublicKey;
  privateKey: forge.pki.rsa.PrivateKey;
}> {
  // Node's native RSA generation runs off the event loop and is ~100x faster than forge's pure-JS one.
  const pair = await generateRsaKeyPair('rsa', {
    modulusLength: bits,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
  });
  return {
    publicKey: forge.pki.publicKeyFromPem(pair.publicKey),
    privateKey: forge.pki.privateKeyFromPem(pair.privateKey),
  };
}

function newSerialNumber(): string {
  const bytes = randomBytes(16);
  // A serial is a positive DER integer: clear the top bit so it is never read as negative.
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return bytes.toString('hex');
}

function setValidity(
  cert: forge.pki.Certificate,
  notBefore: Date | undefined,
  notAfter: Date | undefined,
  validityDays: number,
): void {
  const start = notBefore ?? new Date(Date.now() - BACKDATE_MS);
  cert.validity.notBefore = start;
  cert.validity.notAfter = notAfter ?? new Date(start.getTime() + BACKDATE_MS + validityDays * DAY_MS);
}

function subjectAttributes(commonName: string): forge.pki.CertificateField[] {
  return [
    { name: 'commonName', value: commonName },
    { name: 'organizationName', value: 'proglog' },
  ];
}

/** The subject CN of a PEM certificate ('' when it has none). */
export function commonNameOf(certPem: string): string {
  const field = forge.pki.certificateFromPem(certPem).subject.getField('CN') as { value?: unknown } | null;
  return typeof field?.value === 'string' ? field.value : '';
}
