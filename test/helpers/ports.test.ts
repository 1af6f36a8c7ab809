import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ephemeralPortRange, FIXED_PORT_FLOOR, freePort } from './ports.js';

describe('freePort', () => {
  const servers: net.Server[] = [];

  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
  });

  async function listen(port: number): Promise<void> {
    const s = net.createServer();
    servers.push(s);
    await new Promise<void>((r) => s.listen(port, '127.0.0.1', r));
  }

  it('picks a port below the kernel ephemeral range, which it can listen on', async () => {
    const [low] = ephemeralPortRange();
    for (let i = 0; i < 20; i++) {
      const port = await freePort();
      expect(port).toBeGreaterThanOrEqual(FIXED_PORT_FLOOR);
      expect(port).toBeLessThan(low);
      await listen(port);
    }
  });

  it('passes over a port someone listens on', async () => {
    const [low] = ephemeralPortRange();
    const taken = await freePort();
    await listen(taken);
    // The first draw lands on the taken port, the second on the next one up (or the floor).
    const drawOf = (port: number): number => (port - FIXED_PORT_FLOOR + 0.5) / (low - FIXED_PORT_FLOOR);
    const draws = [drawOf(taken), drawOf(taken + 1)];
    const port = await freePort({ range: [low, 60_999], random: () => draws.shift() ?? 0 });
    expect(port).not.toBe(taken);
    expect(port === taken + 1 || port === FIXED_PORT_FLOOR).toBe(true);
  });

  it('lets the OS pick when the ephemeral range leaves no room below it', async () => {
    const port = await freePort({ range: [1024, 65_535] });
    expect(port).toBeGreaterThanOrEqual(ephemeralPortRange()[0]);
    await listen(port);
  });

  it('reads the range from the kernel file, and falls back to Linux default without one', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ports-'));
    try {
      const file = path.join(dir, 'ip_local_port_range');
      await writeFile(file, '40000\t50000\n');
      expect(ephemeralPortRange(file)).toEqual([40_000, 50_000]);
      expect(ephemeralPortRange(path.join(dir, 'missing'))).toEqual([32_768, 60_999]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
