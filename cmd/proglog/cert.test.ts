import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFile, readdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCert, type CertCommandIO } from './cert.js';

function captured(): CertCommandIO & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, stdout: (l) => out.push(l), stderr: (l) => err.push(l) };
}

// Small keys keep the suite fast; the default size is checked in internal/config/certgen.test.ts.
const FAST = ['--key-bits', '1024'];

describe('proglog cert', () => {
  let dir: string;
  beforeAll(async () => {
    dir = join(await mkdtemp(join(tmpdir(), 'proglog-cert-cmd-')), 'certs');
  });
  afterAll(async () => {
    await rm(join(dir, '..'), { recursive: true, force: true });
  });

  it('writes the CA, server and root/nobody client pairs, plus every --client, into --dir', async () => {
    const io = captured();
    expect(await runCert(['--dir', dir, '--client', 'tenant-a', '--host', 'node-1.internal', ...FAST], io)).toBe(0);
    expect((await readdir(dir)).sort()).toEqual(
      [
        'ca-key.pem', 'ca.pem', 'nobody-client-key.pem', 'nobody-client.pem', 'root-client-key.pem', 'root-client.pem',
        'server-key.pem', 'server.pem', 'tenant-a-client-key.pem', 'tenant-a-client.pem',
      ].sort(),
    );
    expect(io.out.filter((l) => l.startsWith('wrote '))).toHaveLength(10);
  });

  it('keeps existing files on a second run without --force', async () => {
    const before = await readFile(join(dir, 'ca.pem'), 'utf8');
    const io = captured();
    expect(await runCert(['--dir', dir, ...FAST], io)).toBe(0);
    expect(await readFile(join(dir, 'ca.pem'), 'utf8')).toBe(before);
    expect(io.out.every((l) => l.startsWith('kept '))).toBe(true);
  });

  it('replaces the set with --force', async () => {
    const before = await readFile(join(dir, 'ca.pem'), 'utf8');
    expect(await runCert(['--dir', dir, '--force', ...FAST], captured())).toBe(0);
    expect(await readFile(join(dir, 'ca.pem'), 'utf8')).not.toBe(before);
  });

  it('exits 2 with the usage on an unknown flag or a bad --days, and 0 on --help', async () => {
    const unknown = captured();
    expect(await runCert(['--bogus'], unknown)).toBe(2);
    expect(unknown.err.join('\n')).toContain('usage: proglog cert');
    const days = captured();
    expect(await runCert(['--dir', dir, '--days', 'soon'], days)).toBe(2);
    expect(days.err.join('\n')).toContain('--days');
    const bits = captured();
    expect(await runCert(['--dir', dir, '--key-bits', '512'], bits)).toBe(2);
    expect(bits.err.join('\n')).toContain('--key-bits');
    const help = captured();
    expect(await runCert(['--help'], help)).toBe(0);
    expect(help.out.join('\n')).toContain('--client NAME');
  });

  it('issues a peer certificate for each --peer node under the name the agent looks for, usable as server and client', async () => {
    const peers = join(dir, '..', 'peers');
    const io = captured();
    expect(await runCert(['--dir', peers, '--peer', 'node-0', '--host', '10.0.0.1', ...FAST], io)).toBe(0);
    const files = await readdir(peers);
    expect(files).toEqual(expect.arrayContaining(['node-0.pem', 'node-0-key.pem', 'server.pem', 'root-client.pem']));
    const cert = new X509Certificate(await readFile(join(peers, 'node-0.pem')));
    const ca = new X509Certificate(await readFile(join(peers, 'ca.pem')));
    expect(cert.subject.split('\n')).toContain('CN=node-0');
    expect(cert.verify(ca.publicKey)).toBe(true);
    expect(cert.checkPrivateKey(createPrivateKey(await readFile(join(peers, 'node-0-key.pem'))))).toBe(true);
    // TLS server auth and client auth: a node answers its peers and dials them.
    expect(cert.keyUsage).toEqual(expect.arrayContaining(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']));
    for (const ip of ['127.0.0.1', '10.0.0.1']) expect(cert.checkIP(ip)).toBe(ip);

    // A second node later: the existing CA signs it, and the first node's files are kept.
    const again = captured();
    expect(await runCert(['--dir', peers, '--peer', 'node-0', '--peer', 'node-1', ...FAST], again)).toBe(0);
    expect(again.out).toEqual(expect.arrayContaining([`wrote ${join(peers, 'node-1.pem')}`, `kept  ${join(peers, 'node-0.pem')} (exists; --force replaces it)`]));
    expect(new X509Certificate(await readFile(join(peers, 'node-1.pem'))).verify(ca.publicKey)).toBe(true);
  });

  it.each([['server'], ['ca'], ['alice-client'], ['node-0-key'], ['bad name']])('refuses --peer %s, whose files would clash or cannot be, with exit code 2', async (name) => {
    const io = captured();
    expect(await runCert(['--dir', join(dir, '..', 'refused'), '--peer', name, ...FAST], io)).toBe(2);
    expect(io.err).toEqual([expect.stringMatching(new RegExp(`^proglog cert: invalid peer name "${name}": `))]);
  });

  it('exits 2, as for any bad usage, for a client name that cannot be an identity', async () => {
    const io = captured();
    expect(await runCert(['--dir', dir, '--client', '../escape'], io)).toBe(2);
    expect(io.err).toEqual([expect.stringMatching(/^proglog cert: invalid client identity "..\/escape"/)]);
  });

  it('exits 2 with a clear line for a --dir that cannot be a directory', async () => {
    const file = join(dir, '..', 'a-file');
    await writeFile(file, 'not a directory');
    const onFile = captured();
    expect(await runCert(['--dir', file, ...FAST], onFile)).toBe(2);
    expect(onFile.err).toEqual([`proglog cert: certificate dir ${file} is not a directory`]);
    const underFile = captured();
    expect(await runCert(['--dir', join(file, 'certs'), ...FAST], underFile)).toBe(2);
    expect(underFile.err).toEqual([`proglog cert: certificate dir ${join(file, 'certs')} cannot be created: ${file} is not a directory`]);
  });

  it('exits 2 for a --dir whose certificates cannot be added to (the CA key is missing)', async () => {
    const keyless = join(dir, '..', 'keyless');
    expect(await runCert(['--dir', keyless, ...FAST], captured())).toBe(0);
    await rm(join(keyless, 'ca-key.pem'));
    const io = captured();
    expect(await runCert(['--dir', keyless, '--client', 'carol', ...FAST], io)).toBe(2);
    expect(io.err).toEqual([expect.stringMatching(/ca-key.pem is missing: cannot issue certificates signed by the existing CA/)]);
  });
});
