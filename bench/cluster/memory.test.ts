// The memory figures' readings: parsed from /proc/<pid>/status, the peak taken from the kernel's high-water mark
// (which must see a spike that is over before anyone looks), and an error rather than NaN where there is no reading.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface, type Interface } from 'node:readline';
import { MemoryReadError, MemoryWatch, parseMemory, readMemory, resetPeak } from './memory.js';

const STATUS = `Name:\tnode
Umask:\t0022
State:\tS (sleeping)
Pid:\t4242
VmPeak:\t 1212000 kB
VmSize:\t 1180000 kB
VmLck:\t       0 kB
VmHWM:\t  153600 kB
VmRSS:\t   81920 kB
RssAnon:\t   40960 kB
VmSwap:\t       0 kB
Threads:\t11
`;

// What a process that exited and was not yet reaped shows: no memory lines at all.
const ZOMBIE_STATUS = `Name:\tnode
State:\tZ (zombie)
Pid:\t4242
Threads:\t1
`;

describe('parseMemory', () => {
  it('reads VmRSS as now and VmHWM as the peak, in MB', () => {
    expect(parseMemory(STATUS)).toEqual({ rssMB: 80, peakMB: 150 });
  });

  it('does not take VmPeak (address space) or RssAnon (part of VmRSS) for them', () => {
    const m = parseMemory(STATUS);
    expect(m.peakMB).not.toBe(1212000 / 1024);
    expect(m.rssMB).not.toBe(40);
  });

  it('throws, naming the field, for a status with no memory lines instead of returning NaN', () => {
    expect(() => parseMemory(ZOMBIE_STATUS)).toThrow('no VmRSS in its status (has it exited?)');
    expect(() => parseMemory(STATUS.replace(/^VmHWM:.*\n/m, ''))).toThrow('no VmHWM');
  });
});

describe('reading a process', () => {
  // Above any pid Linux hands out (pid_max is at most 2^22).
  const NO_SUCH_PID = 2 ** 22 + 1;

  it('reads this process, whose peak is at least what it holds now', async () => {
    const m = await readMemory('jest', process.pid);
    expect(m.rssMB).toBeGreaterThan(10);
    expect(m.peakMB).toBeGreaterThanOrEqual(m.rssMB);
  });

  it('is a MemoryReadError naming the node and pid for a process that is gone or not running', async () => {
    await expect(readMemory('n2', NO_SUCH_PID)).rejects.toThrow(new MemoryReadError('n2', NO_SUCH_PID, `ENOENT: no such file or directory, open '/proc/${NO_SUCH_PID}/status'`));
    await expect(readMemory('n2', undefined)).rejects.toThrow('cannot read the memory of n2: not running');
    await expect(resetPeak('n2', NO_SUCH_PID)).rejects.toThrow(`cannot read the memory of n2 (pid ${NO_SUCH_PID}): cannot reset its peak`);
    await expect(MemoryWatch.start('n2', undefined)).rejects.toBeInstanceOf(MemoryReadError);
  });
});

describe('MemoryWatch on a child that spikes', () => {
  // Holds 256 MB for as long as it takes to touch it, then frees it: a spike no once-a-second sample would see.
  const CHILD = `
    const rl = require('node:readline').createInterface({ input: process.stdin });
    console.log('ready');
    rl.on('line', (l) => {
      if (l === 'spike') {
        let b = Buffer.alloc(256 * 2 ** 20, 1);
        b = undefined;
        globalThis.gc();
        console.log('done');
      }
    });`;
  let child: ChildProcess;
  let lines: Interface;

  const next = async (): Promise<string> => {
    const [line] = (await once(lines, 'line')) as [string];
    return line;
  };

  beforeEach(async () => {
    child = spawn(process.execPath, ['--expose-gc', '-e', CHILD], { stdio: ['pipe', 'pipe', 'inherit'] });
    lines = createInterface({ input: child.stdout! });
    expect(await next()).toBe('ready');
  });

  afterEach(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
  });

  const spike = async (): Promise<void> => {
    child.stdin!.write('spike\n');
    expect(await next()).toBe('done');
  };

  it('reports the spike as the peak although it is over when read', async () => {
    const watch = await MemoryWatch.start('child', child.pid);
    await spike();
    const after = await watch.read(child.pid);
    expect(after.peakMB - watch.start.rssMB).toBeGreaterThan(200);
    // Freed again: only the high-water mark still shows it.
    expect(after.peakMB - after.rssMB).toBeGreaterThan(200);
  });

  it('starts from the present: a spike before the watch is not its peak', async () => {
    await spike();
    expect((await readMemory('child', child.pid)).peakMB).toBeGreaterThan(250);
    const watch = await MemoryWatch.start('child', child.pid);
    expect(watch.start.peakMB - watch.start.rssMB).toBeLessThan(5);
    const after = await watch.read(child.pid);
    expect(after.peakMB).toBeLessThan(watch.start.rssMB + 50);
  });

  it('is an error, not a figure, once the process watched has exited or was replaced', async () => {
    const watch = await MemoryWatch.start('child', child.pid);
    await expect(watch.read(child.pid! + 1)).rejects.toThrow(`cannot read the memory of child (pid ${child.pid}): restarted since the start (now pid ${child.pid! + 1})`);
    child.kill('SIGKILL');
    await once(child, 'exit');
    await expect(watch.read(undefined)).rejects.toThrow(`cannot read the memory of child (pid ${child.pid}): no longer running`);
    await expect(watch.read(child.pid)).rejects.toBeInstanceOf(MemoryReadError);
  });
});
