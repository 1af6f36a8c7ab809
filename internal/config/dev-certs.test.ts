import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  IncompleteCertPairError,
  InvalidIdentityError,
  MissingCAKeyError,
  commonNameOf,
  writeDevCerts,
} from './index.js';

// Small keys keep the suite fast; key size is not what these tests prove (certgen.test.ts checks the default).
const keyBits = 1024;

describe('writeDevCerts', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'proglog-certs-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("writes the book's file names: CA, server, root and nobody clients, each signed by the CA", async () => {
    const { paths, written, kept } = await writeDevCerts(dir, { keyBits });
    expect(kept).toEqual([]);
    expect(written.map((f) => f.slice(dir.length + 1)).sort()).toEqual(
      ['ca.pem', 'ca-key.pem', 'server.pem', 'server-key.pem', 'root-client.pem', 'root-client-key.pem', 'nobody-client.pem', 'nobody-client-key.pem'].sort(),
    );
    const caCert = new X509Certificate(await readFile(paths.caFile));
    for (const identity of ['root', 'nobody']) {
      const pem = await readFile(paths.clients[identity]!.certFile, 'utf8');
      expect(commonNameOf(pem)).toBe(identity);
      expect(new X509Certificate(pem).verify(caCert.publicKey)).toBe(true);
    }
    const server = new X509Certificate(await readFile(paths.server.certFile));
    expect(server.checkHost('localhost')).toBe('localhost');
    expect(server.checkIP('127.0.0.1')).toBe('127.0.0.1');
  });

  it('keeps private keys readable by the owner only', async () => {
    const { paths } = await writeDevCerts(dir, { keyBits });
    expect((await stat(paths.caKeyFile)).mode & 0o777).toBe(0o600);
    expect((await stat(paths.clients.root!.keyFile)).mode & 0o777).toBe(0o600);
  });

  it('adds extra server hosts and client identities', async () => {
    const { paths } = await writeDevCerts(dir, { keyBits, hosts: ['node-1.internal', '10.0.0.7'], clients: ['root', 'tenant-a'] });
    const server = new X509Certificate(await readFile(paths.server.certFile));
    expect(server.checkHost('node-1.internal')).toBe('node-1.internal');
    expect(server.checkIP('10.0.0.7')).toBe('10.0.0.7');
    expect(commonNameOf(await readFile(join(dir, 'tenant-a-client.pem'), 'utf8'))).toBe('tenant-a');
  });

  it('never overwrites existing files without force, and signs new identities with the existing CA', async () => {
    const first = await writeDevCerts(dir, { keyBits });
    const before = await readFile(first.paths.clients.root!.certFile, 'utf8');
    const second = await writeDevCerts(dir, { keyBits, clients: ['root', 'nobody', 'carol'] });
    expect(await readFile(first.paths.clients.root!.certFile, 'utf8')).toBe(before);
    expect(second.written.map((f) => f.slice(dir.length + 1)).sort()).toEqual(['carol-client-key.pem', 'carol-client.pem']);
    expect(second.kept).toContain(first.paths.caFile);
    const caCert = new X509Certificate(await readFile(first.paths.caFile));
    expect(new X509Certificate(await readFile(join(dir, 'carol-client.pem'))).verify(caCert.publicKey)).toBe(true);
  });

  it('replaces everything, starting from a new CA, with force', async () => {
    const first = await writeDevCerts(dir, { keyBits });
    const oldCA = await readFile(first.paths.caFile, 'utf8');
    const second = await writeDevCerts(dir, { keyBits, force: true });
    expect(second.kept).toEqual([]);
    expect(await readFile(first.paths.caFile, 'utf8')).not.toBe(oldCA);
  });

  it('refuses to overwrite half of a pair, or to issue without the CA key', async () => {
    const { paths } = await writeDevCerts(dir, { keyBits });
    await unlink(paths.clients.root!.keyFile);
    await expect(writeDevCerts(dir, { keyBits })).rejects.toBeInstanceOf(IncompleteCertPairError);
    await unlink(paths.caKeyFile);
    await expect(writeDevCerts(dir, { keyBits })).rejects.toBeInstanceOf(MissingCAKeyError);
  });

  it('rejects an identity that cannot be a file name or CN', async () => {
    await expect(writeDevCerts(dir, { keyBits, clients: ['../evil'] })).rejects.toBeInstanceOf(InvalidIdentityError);
    await writeFile(join(dir, 'marker'), '');
    await expect(writeDevCerts(dir, { keyBits, clients: [''] })).rejects.toBeInstanceOf(InvalidIdentityError);
  });
});
