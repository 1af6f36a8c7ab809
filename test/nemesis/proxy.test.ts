import { spawn } from 'node:child_process';
import net from 'node:net';
import { HOLD, LinkTable } from './link-table.js';
import { FaultProxy, type SourceIdentifier } from './proxy.js';
import { processSourceIdentifier } from './socket-owner.js';
import { waitUntil } from './wait.js';

/** An echo server that also remembers what each connection sent it. */
class EchoServer {
  readonly received: string[] = [];
  private readonly sockets = new Set<net.Socket>();
  private constructor(private readonly server: net.Server) {}

  static async start(): Promise<EchoServer> {
    const server = net.createServer();
    const echo = new EchoServer(server);
    server.on('connection', (s) => {
      const i = echo.received.push('') - 1;
      echo.sockets.add(s);
      s.on('data', (d) => {
        echo.received[i] += d.toString();
        s.write(d);
      });
      s.on('error', () => undefined);
      s.on('close', () => echo.sockets.delete(s));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return echo;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((r) => this.server.close(r));
  }
}

/** A client socket that accumulates what it reads back. */
interface TestClient {
  socket: net.Socket;
  text(): string;
  closed(): boolean;
}

async function dial(port: number): Promise<TestClient> {
  const socket = net.connect({ host: '127.0.0.1', port });
  let buf = '';
  let closed = false;
  socket.on('data', (d) => (buf += d.toString()));
  socket.on('error', () => undefined);
  socket.on('close', () => (closed = true));
  await new Promise<void>((r, j) => {
    socket.once('connect', r);
    socket.once('error', j);
  });
  return { socket, text: () => buf, closed: () => closed };
}

/**
 * Connects to a proxy that will not name this caller, sends `text`, and waits for the reset and for the proxy to
 * count it. The reset can beat the connect callback, so the caller does not wait for it.
 */
async function sendUntilReset(p: FaultProxy, text: string): Promise<void> {
  const socket = net.connect({ host: '127.0.0.1', port: p.port });
  socket.on('error', () => undefined);
  socket.write(text);
  await new Promise((r) => socket.once('close', r));
  await waitUntil('the reset counted', () => p.unattributed === 1, 5000);
}

/** Names the n-th accepted connection names[n], so one test can play several callers. */
function callersInOrder(...names: string[]): SourceIdentifier {
  let n = 0;
  return async () => names[n++] ?? 'client';
}

describe('FaultProxy', () => {
  let echo: EchoServer;
  let links: LinkTable;
  const opened: Array<{ close(): unknown }> = [];
  const clients: TestClient[] = [];

  beforeEach(async () => {
    echo = await EchoServer.start();
    links = new LinkTable();
  });

  afterEach(async () => {
    for (const c of clients.splice(0)) c.socket.destroy();
    for (const o of opened.splice(0)) await o.close();
    await echo.close();
  });

  async function proxy(identify?: SourceIdentifier): Promise<FaultProxy> {
    const p = await FaultProxy.start({
      name: 'node',
      links,
      target: { host: '127.0.0.1', port: echo.port },
      ...(identify ? { identify } : {}),
    });
    opened.push(p);
    return p;
  }

  async function client(port: number): Promise<TestClient> {
    const c = await dial(port);
    clients.push(c);
    return c;
  }

  it('forwards both directions when every link passes', async () => {
    const p = await proxy();
    const c = await client(p.port);
    c.socket.write('hello');
    await waitUntil('echo', () => c.text() === 'hello', 5000);
    expect(echo.received).toEqual(['hello']);
  });

  it('holds bytes from a caller on a held link and delivers them in order once it heals', async () => {
    const p = await proxy(callersInOrder('a', 'b'));
    links.set('a', 'node', HOLD);
    const a = await client(p.port);
    await waitUntil('caller a identified', () => p.callers().includes('a'), 5000);
    const b = await client(p.port);
    a.socket.write('one,');
    a.socket.write('two');
    b.socket.write('control');
    // b's bytes went through the same proxy after a's: once they are echoed, a's would have been too.
    await waitUntil('control echo', () => b.text() === 'control', 5000);
    expect(a.text()).toBe('');
    expect(echo.received.join('|')).not.toContain('one');
    links.heal();
    await waitUntil('held bytes delivered', () => a.text() === 'one,two', 5000);
    expect(echo.received).toContain('one,two');
  });

  it('one-way: the node receives the caller but its replies are held', async () => {
    const p = await proxy(callersInOrder('a'));
    links.oneWay('node', 'a');
    const a = await client(p.port);
    a.socket.write('ping');
    await waitUntil('node received', () => echo.received[0] === 'ping', 5000);
    expect(a.text()).toBe('');
    links.heal();
    await waitUntil('reply delivered after heal', () => a.text() === 'ping', 5000);
  });

  it('split holds both directions between groups and leaves other callers alone', async () => {
    const p = await proxy(callersInOrder('a', 'b'));
    links.split(['a'], ['node']);
    expect(links.describe()).toEqual(['a->node:hold', 'node->a:hold']);
    const a = await client(p.port);
    await waitUntil('caller a identified', () => p.callers().includes('a'), 5000);
    const b = await client(p.port);
    a.socket.write('x');
    b.socket.write('y');
    await waitUntil('b echoed', () => b.text() === 'y', 5000);
    expect(a.text()).toBe('');
  });

  it('delays each direction by the link delay, keeping order', async () => {
    const p = await proxy(callersInOrder('a'));
    links.set('a', 'node', { kind: 'delay', ms: 150 });
    const a = await client(p.port);
    const t0 = Date.now();
    a.socket.write('1');
    a.socket.write('2');
    await waitUntil('delayed echo', () => a.text() === '12', 5000);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
  });

  it('sever resets open connections and the proxy keeps accepting new ones', async () => {
    const p = await proxy();
    const c = await client(p.port);
    await waitUntil('connection registered', () => p.connectionCount() === 1, 5000);
    expect(p.sever()).toBe(1);
    await waitUntil('client sees the reset', () => c.closed(), 5000);
    await waitUntil('connection forgotten', () => p.connectionCount() === 0, 5000);
    const d = await client(p.port);
    d.socket.write('again');
    await waitUntil('new connection works', () => d.text() === 'again', 5000);
  });

  it('resets the caller when the node behind it is down', async () => {
    const p = await FaultProxy.start({ name: 'node', links, target: () => undefined });
    opened.push(p);
    const socket = net.connect({ host: '127.0.0.1', port: p.port });
    let closed = false;
    socket.on('error', () => undefined);
    socket.on('close', () => (closed = true));
    await waitUntil('caller reset', () => closed, 5000);
  });

  it('resets connections while not accepting, keeps its port bound, and lets connections through again', async () => {
    const p = await proxy();
    const port = p.port;
    p.setAccepting(false);
    const reset = net.connect({ host: '127.0.0.1', port });
    reset.on('error', () => undefined);
    reset.write('lost');
    await new Promise((r) => reset.once('close', r));
    expect(echo.received.join('')).not.toContain('lost');
    // Nobody else can take the port meanwhile: the node must come back on its address.
    const squatter = net.createServer();
    const squat = await new Promise<NodeJS.ErrnoException | undefined>((r) => {
      squatter.once('error', r);
      squatter.listen(port, '127.0.0.1', () => r(undefined));
    });
    if (squatter.listening) squatter.close();
    expect(squat?.code).toBe('EADDRINUSE');
    p.setAccepting(true);
    expect(p.port).toBe(port);
    const c = await client(port);
    c.socket.write('back');
    await waitUntil('echo after resuming', () => c.text() === 'back', 5000);
  });

  it('rejects a link from an endpoint to itself and a negative delay', () => {
    expect(() => links.set('a', 'a', HOLD)).toThrow('two different endpoints');
    expect(() => links.set('a', 'b', { kind: 'delay', ms: -1 })).toThrow('delay must be');
  });

  it('names the calling process through /proc: a mapped child process is told from this one', async () => {
    const pids = new Map<number, string>();
    const p = await proxy(processSourceIdentifier(() => pids));
    const child = spawn(
      process.execPath,
      [
        '-e',
        `const s=require('net').connect(${p.port},'127.0.0.1',()=>s.write('from-child'));` +
          `s.on('data',()=>{});s.on('error',()=>{});process.stdin.resume();process.stdin.on('end',()=>process.exit(0));`,
      ],
      { stdio: ['pipe', 'ignore', 'inherit'] },
    );
    const exited = new Promise((r) => child.once('exit', r));
    try {
      pids.set(child.pid!, 'child');
      links.set('child', 'node', HOLD);
      const me = await client(p.port);
      await waitUntil('both callers identified', () => p.callers().sort().join() === 'child,client', 5000);
      me.socket.write('from-me');
      await waitUntil('own bytes echoed', () => me.text() === 'from-me', 5000);
      expect(echo.received.join('|')).not.toContain('from-child');
      links.heal();
      await waitUntil('child bytes arrive after heal', () => echo.received.includes('from-child'), 5000);
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
  });

  it('fails closed: a caller it cannot name is reset and counted, never let through as a client', async () => {
    const pids = new Map<number, string>();
    // Neither a mapped node nor the clients' process: this process plays "someone else" here.
    const p = await proxy(processSourceIdentifier(() => pids, { clientPid: 999_999_999, attempts: 2, retryMs: 5 }));
    await sendUntilReset(p, 'sneak');
    expect(p.unattributedBy()).toEqual({ gone: 0, stranger: 1, failed: 0 });
    expect(echo.received.join('')).not.toContain('sneak');
    // And once this process is the clients', it is named so.
    const named = await proxy(processSourceIdentifier(() => pids));
    const ok = await client(named.port);
    ok.socket.write('hello');
    await waitUntil('echo', () => ok.text() === 'hello', 5000);
    expect(named.callers()).toEqual(['client']);
    expect(named.unattributed).toBe(0);
  });

  it('fails closed when naming the caller throws', async () => {
    const p = await proxy(async () => {
      throw new Error('no /proc');
    });
    await sendUntilReset(p, 'x');
    expect(p.unattributedBy()).toEqual({ gone: 0, stranger: 0, failed: 1 });
    expect(echo.received.join('')).toBe('');
  });
});
