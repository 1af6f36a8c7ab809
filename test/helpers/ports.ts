// Ports a test picks, frees, and has something bind later: a harness node's membership port (needed before the
// node starts; a restarted node comes back on it), or an address a test dials before anything listens there.
// In between, anyone may take it. The kernel hands out ports from its ephemeral range to every outgoing
// connection and every bind to port 0 on the machine (other tests, clients, the nodes' own connections), so a port
// from that range is lost now and then; CI lost one so. Below the range only a process that names a port takes it.
import { readFileSync } from 'node:fs';
import net from 'node:net';

const HOST = '127.0.0.1';
/** Below this are the well-known and commonly configured ports (8400, 8080, ...): not ours to take. */
export const FIXED_PORT_FLOOR = 20_000;
const ATTEMPTS = 64;

/** The kernel's ephemeral port range, [low, high]. */
export function ephemeralPortRange(file = '/proc/sys/net/ipv4/ip_local_port_range'): [number, number] {
  try {
    const [low, high] = readFileSync(file, 'utf8').trim().split(/\s+/).map(Number);
    if (Number.isInteger(low) && Number.isInteger(high)) return [low!, high!];
  } catch {
    // Not Linux, or no /proc: Linux's default.
  }
  return [32_768, 60_999];
}

/**
 * A port free now on 127.0.0.1, below the ephemeral range when there is room there (else one the OS picks).
 * `random` is for tests.
 */
export async function freePort(opts: { range?: [number, number]; random?: () => number } = {}): Promise<number> {
  const [low] = opts.range ?? ephemeralPortRange();
  const random = opts.random ?? Math.random;
  if (low > FIXED_PORT_FLOOR) {
    for (let i = 0; i < ATTEMPTS; i++) {
      const port = FIXED_PORT_FLOOR + Math.floor(random() * (low - FIXED_PORT_FLOOR));
      if (await canListen(port)) return port;
    }
  }
  return listenAndRelease(0);
}

async function canListen(port: number): Promise<boolean> {
  try {
    await listenAndRelease(port);
    return true;
  } catch {
    return false;
  }
}

async function listenAndRelease(port: number): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.listen(port, HOST, resolve);
  });
  const bound = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return bound;
}
