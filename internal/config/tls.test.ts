import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  TLSFileNotFoundError,
  TLSFileNotPEMError,
  TLSIncompletePairError,
  TLSKeyMismatchError,
  loadClientTLS,
  loadServerTLS,
  writeDevCerts,
  type DevCertPaths,
} from './index.js';

describe('TLS configuration from files', () => {
  let dir: string;
  let paths: DevCertPaths;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'proglog-tls-'));
    ({ paths } = await writeDevCerts(dir, { keyBits: 1024 }));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('loads the server side: PEM for node:tls requiring client certificates, and grpc credentials', async () => {
    const tls = await loadServerTLS({ certFile: paths.server.certFile, keyFile: paths.server.keyFile, caFile: paths.caFile });
    expect(tls.cert.toString()).toContain('BEGIN CERTIFICATE');
    expect(tls.tlsOptions).toMatchObject({ requestCert: true, rejectUnauthorized: true });
    expect(tls.credentials._isSecure()).toBe(true);
  });

  it('loads the client side with and without an identity', async () => {
    const root = paths.clients.root!;
    const withIdentity = await loadClientTLS({ caFile: paths.caFile, certFile: root.certFile, keyFile: root.keyFile });
    expect(withIdentity.connectionOptions.cert).toBeDefined();
    expect(withIdentity.credentials._isSecure()).toBe(true);
    const anonymous = await loadClientTLS({ caFile: paths.caFile });
    expect(anonymous.cert).toBeUndefined();
  });

  it('names a missing file in the error', async () => {
    const missing = join(dir, 'absent.pem');
    const loading = loadServerTLS({ certFile: paths.server.certFile, keyFile: paths.server.keyFile, caFile: missing });
    await expect(loading).rejects.toBeInstanceOf(TLSFileNotFoundError);
    await expect(loading).rejects.toMatchObject({ file: missing, message: expect.stringContaining(`CA certificate file ${missing}`) });
  });

  it('names a file that is not PEM, or holds garbage inside PEM armour', async () => {
    const notPem = join(dir, 'not-pem.pem');
    await writeFile(notPem, 'hello, I am not a certificate');
    await expect(loadClientTLS({ caFile: notPem })).rejects.toMatchObject({ name: 'TLSFileNotPEMError', file: notPem });
    const garbage = join(dir, 'garbage.pem');
    await writeFile(garbage, '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
    await expect(loadClientTLS({ caFile: garbage })).rejects.toBeInstanceOf(TLSFileNotPEMError);
    const keyAsCert = loadServerTLS({ certFile: paths.server.keyFile, keyFile: paths.server.keyFile, caFile: paths.caFile });
    await expect(keyAsCert).rejects.toMatchObject({ file: paths.server.keyFile, message: expect.stringContaining('server certificate') });
  });

  it('refuses a key that does not belong to the certificate', async () => {
    const loading = loadServerTLS({ certFile: paths.server.certFile, keyFile: paths.clients.root!.keyFile, caFile: paths.caFile });
    await expect(loading).rejects.toBeInstanceOf(TLSKeyMismatchError);
    await expect(loading).rejects.toThrow(paths.clients.root!.keyFile);
  });

  it('refuses a certificate without its key', async () => {
    await expect(loadClientTLS({ caFile: paths.caFile, certFile: paths.clients.root!.certFile })).rejects.toBeInstanceOf(
      TLSIncompletePairError,
    );
  });
});
