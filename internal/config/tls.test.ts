import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import tls from 'node:tls';
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

  it('gives grpcTlsOptions the handshake gRPC needs: a client certificate asked for but not required, HTTP/2 only', async () => {
    const serverTls = await loadServerTLS({ certFile: paths.server.certFile, keyFile: paths.server.keyFile, caFile: paths.caFile });
    // Tells each client whether its certificate verified.
    const server = tls.createServer(serverTls.grpcTlsOptions, (socket) => socket.end(socket.authorized ? 'verified' : 'unverified'));
    server.on('tlsClientError', (_err, socket) => socket.destroy());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const root = await loadClientTLS({ caFile: paths.caFile, certFile: paths.clients.root!.certFile, keyFile: paths.clients.root!.keyFile });
    const anonymous = await loadClientTLS({ caFile: paths.caFile });
    /** The ALPN protocol agreed and what the server says of the certificate, or the handshake's error; bounded. */
    const handshake = (options: tls.ConnectionOptions): Promise<string> =>
      new Promise((resolve, reject) => {
        const socket = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ...options });
        const timer = setTimeout(() => socket.destroy(new Error('no answer within 5 s')), 5000);
        let answer = '';
        socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
        socket.once('end', () => {
          clearTimeout(timer);
          resolve(`${String(socket.alpnProtocol)} ${answer}`);
        });
        socket.once('error', (err) => {
          clearTimeout(timer);
          reject(err);
        });
      });
    try {
      expect(await handshake({ ...root.connectionOptions, ALPNProtocols: ['h2'] })).toBe('h2 verified');
      expect(await handshake({ ...anonymous.connectionOptions, ALPNProtocols: ['h2'] })).toBe('h2 unverified');
      await expect(handshake({ ...root.connectionOptions, ALPNProtocols: ['http/1.1'] })).rejects.toThrow();
      await expect(
        handshake({ ...root.connectionOptions, ALPNProtocols: ['h2'], minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1' }),
      ).rejects.toThrow();
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('refuses a certificate without its key', async () => {
    await expect(loadClientTLS({ caFile: paths.caFile, certFile: paths.clients.root!.certFile })).rejects.toBeInstanceOf(
      TLSIncompletePairError,
    );
  });
});
