import { X509Certificate, createPrivateKey } from 'node:crypto';
import { commonNameOf, generateCA, issueCert, type CertificateAuthority } from './index.js';

describe('certgen', () => {
  let ca: CertificateAuthority;
  beforeAll(async () => {
    ca = await generateCA({ commonName: 'test CA' });
  });

  it('makes a self-signed CA certificate that can sign', () => {
    const cert = new X509Certificate(ca.certPem);
    expect(cert.ca).toBe(true);
    expect(cert.checkIssued(cert)).toBe(true);
    expect(cert.verify(cert.publicKey)).toBe(true);
    expect(commonNameOf(ca.certPem)).toBe('test CA');
  });

  it('issues a server certificate signed by the CA, with DNS and IP subject alternative names', async () => {
    const issued = await issueCert(ca, { cn: 'node-1', hosts: ['localhost', '127.0.0.1', 'node-1.internal'], server: true });
    const cert = new X509Certificate(issued.certPem);
    const caCert = new X509Certificate(ca.certPem);
    expect(cert.checkIssued(caCert)).toBe(true);
    expect(cert.verify(caCert.publicKey)).toBe(true);
    expect(cert.ca).toBe(false);
    expect(cert.checkHost('localhost')).toBe('localhost');
    expect(cert.checkHost('node-1.internal')).toBe('node-1.internal');
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(cert.checkHost('elsewhere.example')).toBeUndefined();
    expect(cert.keyUsage).toContain('1.3.6.1.5.5.7.3.1'); // serverAuth
  });

  it('issues a client certificate whose CN is the identity and whose key matches it', async () => {
    const issued = await issueCert(ca, { cn: 'tenant-a', keyBits: 1024 });
    const cert = new X509Certificate(issued.certPem);
    expect(commonNameOf(issued.certPem)).toBe('tenant-a');
    expect(cert.keyUsage).toContain('1.3.6.1.5.5.7.3.2'); // clientAuth
    expect(cert.keyUsage).not.toContain('1.3.6.1.5.5.7.3.1');
    expect(cert.checkPrivateKey(createPrivateKey(issued.keyPem))).toBe(true);
  });

  it('honours an explicit validity window, e.g. an already expired certificate', async () => {
    const notBefore = new Date('2020-01-01T00:00:00Z');
    const notAfter = new Date('2020-01-02T00:00:00Z');
    const cert = new X509Certificate((await issueCert(ca, { cn: 'old', notBefore, notAfter, keyBits: 1024 })).certPem);
    expect(new Date(cert.validTo).getTime()).toBe(notAfter.getTime());
    expect(new Date(cert.validFrom).getTime()).toBe(notBefore.getTime());
  });

  it('uses 2048-bit RSA keys unless told otherwise', async () => {
    const key = new X509Certificate(ca.certPem).publicKey;
    expect(key.asymmetricKeyDetails?.modulusLength).toBe(2048);
  });

  it('gives every certificate its own serial number', async () => {
    const a = new X509Certificate((await issueCert(ca, { cn: 'x', keyBits: 1024 })).certPem);
    const b = new X509Certificate((await issueCert(ca, { cn: 'x', keyBits: 1024 })).certPem);
    expect(a.serialNumber).not.toBe(b.serialNumber);
  });
});
