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

  it('stays off when Node was started without --expose-gc', () => {
    const bound = new ExternalGarbageBound({ collect: undefined, arrayBuffers: () => 1000 * MB });
    expect(bound.start()).toBe(false);
    bound.check();
    expect(bound.collections).toBe(0);
  });
});
