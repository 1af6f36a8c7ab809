import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ADVERTISED_PORT_ENV, REAL_PORT_FILE_ENV } from './listen-redirect.js';
import { waitUntil } from './wait.js';

const here = path.dirname(fileURLToPath(import.meta.url));
// Children run TypeScript sources through tsx.
const loader = 'tsx';
const redirect = pathToFileURL(path.join(here, 'listen-redirect.ts')).href;

// A server that listens where it is told and answers each connection with the port it believes it has.
const CHILD = `
const net = require('net');
const s = net.createServer((c) => c.end(String(s.address().port)));
s.listen(Number(process.argv[1]), '127.0.0.1', () => console.log('listening ' + s.address().port));
process.stdin.resume(); process.stdin.on('end', () => process.exit(0));
`;

describe('listen-redirect (loaded into an agent with node --import)', () => {
  it('moves the listener off the advertised port, reports the advertised port, and writes the real one', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'nemesis-redirect-'));
    // Hold the advertised port ourselves, as the proxy does: the child could not bind it without the redirect.
    const holder = net.createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
    const advertised = (holder.address() as net.AddressInfo).port;
    const portFile = path.join(dir, 'real-port');
    const env: NodeJS.ProcessEnv = { ...process.env, [ADVERTISED_PORT_ENV]: String(advertised), [REAL_PORT_FILE_ENV]: portFile };
    delete env.NODE_OPTIONS;
    const child = spawn(process.execPath, ['--import', loader, '--import', redirect, '-e', CHILD, String(advertised)], {
      env,
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout!.on('data', (d) => (out += d.toString()));
    const exited = new Promise((r) => child.once('exit', r));
    try {
      await waitUntil('the child to listen', () => out.includes('listening'), 20_000);
      expect(out.trim()).toBe(`listening ${advertised}`);
      const real = Number((await readFile(portFile, 'utf8')).trim());
      expect(real).toBeGreaterThan(0);
      expect(real).not.toBe(advertised);
      const answer = await new Promise<string>((resolve, reject) => {
        const c = net.connect(real, '127.0.0.1');
        let text = '';
        c.on('data', (d) => (text += d.toString()));
        c.on('end', () => resolve(text));
        c.on('error', reject);
      });
      expect(answer).toBe(String(advertised));
    } finally {
      child.stdin!.end();
      child.kill('SIGKILL');
      await exited;
      await new Promise((r) => holder.close(r));
      await rm(dir, { recursive: true, force: true });
    }
  });
});
