import { ServerShuttingDownError } from './errors.js';
import { StreamRegistry, whenAborted } from './stream-registry.js';

describe('StreamRegistry', () => {
  it('ends streams open at shutdown, and ones that register after it began', async () => {
    const registry = new StreamRegistry();
    const early = registry.register();
    const ended: string[] = [];
    whenAborted(early.signal, () => ended.push('early'));
    registry.abortAll();
    expect(ended).toEqual(['early']);
    expect(early.signal.reason).toBeInstanceOf(ServerShuttingDownError);

    // A call that was accepted just before shutdown but whose handler runs after it: its signal is already
    // aborted, and a plain abort listener would never fire.
    const late = registry.register();
    expect(late.signal.aborted).toBe(true);
    const lateEnded = new Promise<void>((resolve) => whenAborted(late.signal, resolve));
    await lateEnded;
    early.release();
    late.release();
    expect(registry.size).toBe(0);
  });
});
