import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
// Children run TypeScript sources through tsx.
const loader = 'tsx';
const diagnostics = pathToFileURL(path.join(here, 'crash-diagnostics.ts')).href;

function run(script: string): Promise<{ code: number | null; stderr: string }> {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const child = spawn(process.execPath, ['--import', loader, '--import', diagnostics, '-e', script], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stderr })));
}

describe('crash diagnostics (loaded into agents by the nemesis)', () => {
  it('an unhandled error on a TLS socket still crashes, and says where the socket was made', async () => {
    const { code, stderr } = await run(
      `function makeSocketHere() { return new (require('tls').TLSSocket)(new (require('net').Socket)()); }` +
        `const s = makeSocketHere(); s.removeAllListeners('error'); s.emit('error', new Error('boom'));`,
    );
    expect(code).not.toBe(0);
    expect(stderr).toContain("nemesis diagnostics: unhandled 'boom' on a client-side TLSSocket");
    expect(stderr).toContain('makeSocketHere');
  });

  it('says nothing when the error is handled', async () => {
    const { code, stderr } = await run(
      `const s = new (require('tls').TLSSocket)(new (require('net').Socket)()); s.on('error', () => {}); s.emit('error', new Error('boom'));`,
    );
    expect(code).toBe(0);
    expect(stderr).not.toContain('nemesis diagnostics');
  });
});
