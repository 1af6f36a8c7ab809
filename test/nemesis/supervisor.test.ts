import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { processCpuSeconds, processState, ProcessStateError, Supervisor } from './supervisor.js';
import { waitUntil } from './wait.js';

// A stand-in for an agent: says hello with its pid, stays alive, exits 0 on SIGTERM. The handler goes in before
// the hello: a test that signals on seeing the hello must not find the default action (death by SIGTERM).
const SCRIPT =
  `process.on('SIGTERM', () => { console.log('bye ' + process.pid); process.exit(0); });` +
  `console.log('up ' + process.pid);` +
  `setInterval(() => {}, 1000);`;

describe('Supervisor', () => {
  let dir: string;
  let sup: Supervisor;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'nemesis-sup-'));
    sup = new Supervisor();
  });

  afterEach(async () => {
    await sup.killAll();
    sup.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  function spawnNode(name: string) {
    const logFile = path.join(dir, `${name}.log`);
    const p = sup.add({ name, command: process.execPath, args: ['-e', SCRIPT], logFile });
    p.start();
    return { p, log: () => readFile(logFile, 'utf8') };
  }

  it('starts a process, logs its output, and maps its pid to its name', async () => {
    const { p, log } = spawnNode('n1');
    expect(p.running).toBe(true);
    await waitUntil('hello', async () => (await log()).includes(`up ${p.pid}`), 10_000);
    expect(sup.pids()).toEqual(new Map([[p.pid!, 'n1']]));
    expect(await processCpuSeconds(p.pid!)).toBeGreaterThanOrEqual(0);
    expect(await processCpuSeconds(999_999_999)).toBeUndefined();
  });

  it('pause stops the process (kernel state T) and resume continues it', async () => {
    const { p } = spawnNode('n1');
    const pid = p.pid!;
    p.pause();
    expect(p.paused).toBe(true);
    await waitUntil('stopped', async () => (await processState(pid)) === 'T', 5000);
    p.resume();
    await waitUntil('continued', async () => (await processState(pid)) !== 'T', 5000);
    expect(p.running).toBe(true);
  });

  it('kill is SIGKILL, even of a paused process, and restart brings a new incarnation with the same command', async () => {
    const { p, log } = spawnNode('n1');
    const first = p.pid!;
    await waitUntil('first hello', async () => (await log()).includes(`up ${first}`), 10_000);
    p.pause();
    expect(await p.kill()).toEqual({ code: null, signal: 'SIGKILL' });
    expect(p.running).toBe(false);
    expect(await processState(first)).toBeUndefined();
    await p.restart();
    const second = p.pid!;
    expect(second).not.toBe(first);
    expect(p.incarnation).toBe(2);
    await waitUntil('second hello', async () => (await log()).includes(`up ${second}`), 10_000);
    expect(p.unexpectedExits).toEqual([]);
  });

  it('stop is the orderly SIGTERM shutdown and reports the exit code', async () => {
    const { p, log } = spawnNode('n1');
    const pid = p.pid!;
    await waitUntil('hello', async () => (await log()).includes(`up ${pid}`), 10_000);
    expect(await p.stop()).toEqual({ code: 0, signal: null });
    expect(await log()).toContain(`bye ${pid}`);
  });

  it('records a crash nobody asked for', async () => {
    const { p } = spawnNode('n1');
    process.kill(p.pid!, 'SIGKILL');
    await waitUntil('crash seen', () => p.unexpectedExits.length === 1, 5000);
    expect(p.unexpectedExits[0]).toMatchObject({ signal: 'SIGKILL', incarnation: 1 });
  });

  it('refuses to signal a process that is not running, and duplicate names, with a typed error', async () => {
    const { p } = spawnNode('n1');
    await p.kill();
    expect(() => p.pause()).toThrow(ProcessStateError);
    await expect(p.kill()).rejects.toThrow(ProcessStateError);
    expect(() => sup.add({ name: 'n1', command: 'x', args: [], logFile: path.join(dir, 'x') })).toThrow(ProcessStateError);
  });
});
