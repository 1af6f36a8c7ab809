import { spawnSync } from 'node:child_process';

import { ExternalGarbageBound } from './external-garbage.js';

const MB = 1024 * 1024;

/** A collection the test finishes by hand, and ArrayBuffer memory it sets. */
function fixture(): { bound: ExternalGarbageBound; setMemory: (mb: number) => void; asked: Array<() => void> } {
  let memory = 10 * MB;
  const asked: Array<() => void> = [];
  const bound = new ExternalGarbageBound({
    slackBytes: 16 * MB,
    arrayBuffers: () => memory,
    collect: () => new Promise<void>((resolve) => asked.push(resolve)),
  });
  return { bound, setMemory: (mb) => (memory = mb * MB), asked };
}

describe('ExternalGarbageBound', () => {
  it('asks for a collection only once ArrayBuffer memory has grown past the slack', () => {
    const { bound, setMemory, asked } = fixture();
    setMemory(26);
    bound.check();
    expect(asked).toHaveLength(0);
    setMemory(27);
    bound.check();
    expect(asked).toHaveLength(1);
    expect(bound.collections).toBe(1);
  });

  it('asks for no second collection while one runs, and measures the slack from where the last one ended', async () => {
    const { bound, setMemory, asked } = fixture();
    setMemory(40);
    bound.check();
    setMemory(60);
    bound.check();
    expect(asked).toHaveLength(1);
    // The collection freed memory down to 20 MB: the next one is due above 36 MB.
    setMemory(20);
    asked[0]!();
    await new Promise((resolve) => setImmediate(resolve));
    setMemory(35);
    bound.check();
    expect(asked).toHaveLength(1);
    setMemory(37);
    bound.check();
    expect(asked).toHaveLength(2);
  });

  it("fixes V8's heap growing factor when it starts, and only then", () => {
    const flags: string[] = [];
    const bound = new ExternalGarbageBound({ collect: () => undefined, arrayBuffers: () => 0, heapGrowingPercent: 80, setV8Flags: (f) => flags.push(f) });
    expect(flags).toEqual([]);
    try {
      expect(bound.start()).toBe(true);
      expect(flags).toEqual(['--heap-growing-percent=80']);
    } finally {
      bound.stop();
    }
  });

  it('asks by default for a growing factor under 2, with a flag this Node knows', () => {
    const flags: string[] = [];
    const bound = new ExternalGarbageBound({ collect: () => undefined, arrayBuffers: () => 0, setV8Flags: (f) => flags.push(f) });
    bound.start();
    bound.stop();
    expect(flags).toHaveLength(1);
    const percent = Number(/^--heap-growing-percent=(\d+)$/.exec(flags[0] ?? '')?.[1]);
    expect(percent).toBeGreaterThan(0);
    expect(percent).toBeLessThan(100);
    // setFlagsFromString only prints a misspelt flag; the command line refuses it.
    const run = spawnSync(process.execPath, [flags[0] ?? '', '-e', ''], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
  });

  it('stays off when Node was started without --expose-gc', () => {
    const flags: string[] = [];
    const bound = new ExternalGarbageBound({ collect: undefined, arrayBuffers: () => 1000 * MB, setV8Flags: (f) => flags.push(f) });
    expect(bound.start()).toBe(false);
    expect(flags).toEqual([]);
    bound.check();
    expect(bound.collections).toBe(0);
  });
});
