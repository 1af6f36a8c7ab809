// The CPU-per-record readings: parsed from /proc/<pid>/stat over all threads, per process and in total, and an
// error rather than a wrong figure for a process that is not there or was replaced during the run.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { cpuBoundCeiling, CpuReadError, measureCpu, parseCpuTicks, readCpuSeconds } from './cpu.js';

// A stat line whose command name holds spaces and parentheses; utime is 1234 ticks and stime 56.
const STAT = '4242 (node (a) b) S 1 4242 4242 0 -1 4194560 9000 0 0 0 1234 56 0 0 20 0 11 0 100 1180000000 20000 ' + '0 '.repeat(30).trim();

describe('parseCpuTicks', () => {
  it('adds utime and stime, counting fields from the end of the command name', () => {
    expect(parseCpuTicks(STAT)).toBe(1290);
  });

  it('throws for a line that has no command name or no CPU times, rather than return NaN', () => {
    expect(() => parseCpuTicks('garbage')).toThrow(/no command name/);
    expect(() => parseCpuTicks('4242 (node) S 1 2')).toThrow(/no CPU times/);
  });
});

/** A node process that burns `ms` of CPU each time it reads a line, and says so. */
function burner(): { child: ChildProcess; burn: (ms: number) => Promise<void> } {
  const code = `
    const rl = require('node:readline').createInterface({ input: process.stdin });
    rl.on('line', (l) => {
      const want = Number(l) * 1000, t0 = process.cpuUsage();
      for (;;) { const d = process.cpuUsage(t0); if (d.user + d.system >= want) break; }
      console.log('burnt');
    });
    console.log('ready');`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  const next = (): Promise<string> => once(lines, 'line').then(([l]) => l as string);
  const ready = next();
  return {
    child,
    burn: async (ms) => {
      await ready;
      const done = next();
      child.stdin!.write(`${ms}\n`);
      expect(await done).toBe('burnt');
    },
  };
}

describe('measureCpu', () => {
  const children: ChildProcess[] = [];
  afterEach(async () => {
    await Promise.all(
      children.splice(0).map(async (c) => {
        if (c.exitCode !== null || c.signalCode !== null) return;
        const exited = once(c, 'exit');
        c.kill('SIGKILL');
        await exited;
      }),
    );
  });

  it('charges a process the CPU it used during the run, per record, and not the CPU of the others', async () => {
    const busy = burner();
    const idle = burner();
    children.push(busy.child, idle.child);
    // Both have started (their start-up CPU is before the run) before the run is measured.
    await Promise.all([busy.burn(1), idle.burn(1)]);
    const procs = [
      { name: 'busy', pid: busy.child.pid },
      { name: 'idle', pid: idle.child.pid },
    ];
    const { result, cpu } = await measureCpu(() => procs, () => busy.burn(300).then(() => 2), (records) => records);
    expect(result).toBe(2);
    const us = Object.fromEntries(cpu.byProcess.map((p) => [p.name, p.us]));
    // 300 ms over 2 records is 150,000 us each; /proc counts in ticks of 10 ms (at most one lost at each end).
    expect(us.busy).toBeGreaterThanOrEqual(140_000);
    expect(us.busy).toBeLessThan(250_000);
    expect(us.idle).toBeLessThan(20_000);
    expect(cpu.totalUs).toBeCloseTo(us.busy! + us.idle!, 6);
  });

  it('fails with CpuReadError for a process that is not running or was replaced during the run', async () => {
    const a = burner();
    const b = burner();
    children.push(a.child, b.child);
    await Promise.all([a.burn(1), b.burn(1)]);
    await expect(measureCpu(() => [{ name: 'gone', pid: undefined }], async () => 1, (n) => n)).rejects.toThrow(CpuReadError);
    let pid = a.child.pid;
    const replaced = measureCpu(() => [{ name: 'node-1', pid }], async () => {
      pid = b.child.pid;
      return 1;
    }, (n) => n);
    await expect(replaced).rejects.toThrow(/node-1 \(pid \d+\): it was replaced by pid \d+ during the run/);
    await expect(readCpuSeconds({ name: 'nobody', pid: 2 ** 22 + 1 })).rejects.toThrow(/cannot read the CPU time of nobody/);
  });
});

describe('cpuBoundCeiling', () => {
  it('is the records/s that fully busy cores give at that cost per record', () => {
    expect(cpuBoundCeiling(10, 2)).toBe(200_000);
    expect(cpuBoundCeiling(0, 2)).toBeNaN();
  });
});
