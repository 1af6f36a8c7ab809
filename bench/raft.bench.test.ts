// The Raft benchmark at a small size, so that a change in the core's protocol that the bench harness no longer
// plays right fails here instead of in the next `make bench` (followers learning the commit index lazily did).
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

function runBench(env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(here, 'raft.bench.ts')], {
      cwd: path.resolve(here, '..'),
      env: { ...process.env, NODE_OPTIONS: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('raft benchmark', () => {
  it('commits and applies every proposed entry on all three nodes, and reports it', async () => {
    const run = await runBench({ RAFT_BENCH_ENTRIES: String(100 * 256), BENCH_JSON: '1' });
    expect(run.stderr).not.toMatch(/Error/);
    expect(run.code).toBe(0);
    const figures = run.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { bench: string; figure: string; value: number; baseline_value: number });
    const rate = figures.find((f) => f.figure.startsWith('committed entries/s'));
    expect(rate?.bench).toBe('raft');
    expect(rate?.value).toBeGreaterThan(0);
    expect(rate?.baseline_value).toBeGreaterThan(0);
  }, 60_000);
});
