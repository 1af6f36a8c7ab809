// A fault-injecting TCP proxy in front of one node's listener. Everyone (peers and clients) reaches the node
// through it, because the address the node advertises is the proxy's. For each accepted connection it learns
// which endpoint is calling (see socket-owner.ts), then forwards each direction under the LinkTable's rule for
// that directed link: caller -> node for the bytes going in, node -> caller for the bytes coming back.
import net from 'node:net';
import { CLIENT, type LinkFault, type LinkTable } from './link-table.js';

/**
 * Why a caller has no name: it hung up (or its socket left /proc) before it could be looked up, or a process
 * holds it that is neither a node nor the clients'. Many of the first are a caller's race; any of the second
 * means something connects that the nemesis does not know about.
 */
export type UnattributedReason = 'gone' | 'stranger';

/** Connections reset for want of a caller's name, by reason ('failed': looking the caller up threw). */
export type UnattributedCounts = Record<UnattributedReason | 'failed', number>;

export function noUnattributed(): UnattributedCounts {
  return { gone: 0, stranger: 0, failed: 0 };
}

/** Names the endpoint at the other end of an accepted socket, or says why it cannot. */
export type SourceIdentifier = (socket: net.Socket) => Promise<string | { unattributed: UnattributedReason }>;

export interface ProxyTarget {
  host: string;
  port: number;
}

export interface FaultProxyOptions {
  /** The node this proxy stands in front of: the `to` of incoming bytes. */
  name: string;
  links: LinkTable;
  /** Where to forward; a function because a restarted node may listen on a new port. */
  target: ProxyTarget | (() => ProxyTarget | undefined);
  identify?: SourceIdentifier;
  host?: string;
  port?: number;
}

// Above this many queued bytes per direction the proxy stops reading, so a held link pushes back on the sender
// through TCP flow control instead of growing memory.
const HIGH_WATER_BYTES = 1 << 20;

export class FaultProxy {
  private readonly pairs = new Set<ConnectionPair>();
  private readonly unsubscribe: () => void;
  private accepting = true;
  /** Where it listens, from start to close (kept: the address stays readable after close). */
  private bound: net.AddressInfo = { address: '127.0.0.1', family: 'IPv4', port: 0 };
  private readonly unattributedCounts = noUnattributed();

  private constructor(
    private readonly server: net.Server,
    private readonly opts: FaultProxyOptions,
  ) {
    this.unsubscribe = opts.links.onChange(() => {
      for (const p of this.pairs) p.pump();
    });
  }

  static async start(opts: FaultProxyOptions): Promise<FaultProxy> {
    const server = net.createServer({ pauseOnConnect: true });
    const proxy = new FaultProxy(server, opts);
    server.on('connection', (s) => proxy.accept(s));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    proxy.bound = server.address() as net.AddressInfo;
    return proxy;
  }

  get name(): string {
    return this.opts.name;
  }

  get port(): number {
    return this.bound.port;
  }

  get host(): string {
    return this.bound.address;
  }

  /** host:port to advertise for the node behind this proxy. */
  get address(): string {
    return `${this.host}:${this.port}`;
  }

  /** How many connections are currently open through the proxy. */
  connectionCount(): number {
    return this.pairs.size;
  }

  /**
   * Connections reset because their caller could not be named: failing closed, since a connection let through
   * under the wrong name would cross a partition unfaulted. A few are a race with a caller that hung up at once;
   * many mean attribution is broken, and the run's faults with it.
   */
  get unattributed(): number {
    return Object.values(this.unattributedCounts).reduce((a, b) => a + b, 0);
  }

  /** The same, by reason. */
  unattributedBy(): Readonly<UnattributedCounts> {
    return { ...this.unattributedCounts };
  }

  /** The callers of the open connections (for tests and logs). */
  callers(): string[] {
    return [...this.pairs].map((p) => p.caller ?? '?');
  }

  /**
   * Stops or resumes letting connections through to the node. While the node behind it is down, a connection is
   * reset as soon as it is accepted: the caller fails at once, as it does against a dead process's port. The
   * port stays bound all along: were it released, any outgoing connection on the machine could take it as its
   * ephemeral source port, and the node could not come back on its address (EADDRINUSE).
   */
  setAccepting(accepting: boolean): void {
    this.accepting = accepting;
  }

  /** Resets every open connection (or those from one caller) at once, as a crashed router would. */
  sever(caller?: string): number {
    let n = 0;
    for (const p of [...this.pairs]) {
      if (caller === undefined || p.caller === caller) {
        p.reset();
        n++;
      }
    }
    return n;
  }

  async close(): Promise<void> {
    this.unsubscribe();
    this.sever();
    if (this.server.listening) await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Where a new connection goes now; none while the node is down or has not said where it listens. */
  private target(): ProxyTarget | undefined {
    if (!this.accepting) return undefined;
    return typeof this.opts.target === 'function' ? this.opts.target() : this.opts.target;
  }

  private accept(downstream: net.Socket): void {
    const target = this.target();
    if (!target) {
      downstream.resetAndDestroy();
      return;
    }
    const pair = new ConnectionPair(downstream, target, this.opts.name, this.opts.links);
    this.pairs.add(pair);
    pair.closed.then(() => this.pairs.delete(pair));
    const identify = this.opts.identify ?? (async () => CLIENT);
    const refuse = (reason: UnattributedReason | 'failed'): void => {
      this.unattributedCounts[reason]++;
      pair.reset();
    };
    identify(downstream).then(
      (caller) => (typeof caller === 'string' ? pair.start(caller) : refuse(caller.unattributed)),
      () => refuse('failed'),
    );
  }
}

/** One accepted connection and the connection the proxy opened to the node for it. */
class ConnectionPair {
  caller: string | undefined;
  readonly closed: Promise<void>;
  private readonly upstream: net.Socket;
  private inbound: DirectedPipe | undefined;
  private outbound: DirectedPipe | undefined;
  private done = false;
  private resolveClosed!: () => void;

  constructor(
    private readonly downstream: net.Socket,
    target: ProxyTarget,
    private readonly node: string,
    private readonly links: LinkTable,
  ) {
    this.closed = new Promise((r) => (this.resolveClosed = r));
    this.upstream = net.connect({ host: target.host, port: target.port });
    this.upstream.pause();
    for (const s of [this.downstream, this.upstream]) {
      s.setNoDelay(true);
      s.on('error', () => this.reset());
      s.on('close', () => this.finish());
    }
  }

  start(caller: string): void {
    if (this.done) return;
    this.caller = caller;
    this.inbound = new DirectedPipe(this.downstream, this.upstream, () => this.links.get(caller, this.node));
    this.outbound = new DirectedPipe(this.upstream, this.downstream, () => this.links.get(this.node, caller));
  }

  pump(): void {
    this.inbound?.pump();
    this.outbound?.pump();
  }

  reset(): void {
    for (const s of [this.downstream, this.upstream]) {
      if (s.destroyed) continue;
      // resetAndDestroy cannot always reset: on a socket still connecting it waits for the connection, and on
      // one whose side was already ended (a shutdown under way) libuv refuses the reset and Node never closes
      // the handle. Those leaked sockets kept test workers from exiting. Such a socket is closed plainly.
      if (s.connecting || s.writableEnded) s.destroy();
      else s.resetAndDestroy();
    }
    this.finish();
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.inbound?.stop();
    this.outbound?.stop();
    // Either side going away takes the other with it: the proxy is a wire, not a buffer that outlives the call.
    if (!this.downstream.destroyed) this.downstream.destroy();
    if (!this.upstream.destroyed) this.upstream.destroy();
    this.resolveClosed();
  }
}

interface Chunk {
  data: Buffer;
  due: number;
}

/** One direction of a connection: reads from src, writes to dst under the link's current rule. */
class DirectedPipe {
  private readonly queue: Chunk[] = [];
  private queuedBytes = 0;
  private ended = false;
  private waitingForDrain = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly src: net.Socket,
    private readonly dst: net.Socket,
    private readonly fault: () => LinkFault,
  ) {
    src.on('data', (data: Buffer) => {
      const f = this.fault();
      this.queue.push({ data, due: f.kind === 'delay' ? Date.now() + f.ms : 0 });
      this.queuedBytes += data.length;
      this.pump();
    });
    src.on('end', () => {
      this.ended = true;
      this.pump();
    });
    src.resume();
  }

  pump(): void {
    if (this.stopped || this.waitingForDrain) return;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const f = this.fault();
    if (f.kind !== 'hold') {
      const now = Date.now();
      while (this.queue.length > 0) {
        const head = this.queue[0]!;
        if (head.due > now) {
          this.timer = setTimeout(() => this.pump(), head.due - now);
          break;
        }
        this.queue.shift();
        this.queuedBytes -= head.data.length;
        if (!this.dst.write(head.data)) {
          this.waitingForDrain = true;
          this.dst.once('drain', () => {
            this.waitingForDrain = false;
            this.pump();
          });
          break;
        }
      }
      if (this.queue.length === 0 && this.ended && !this.dst.destroyed) this.dst.end();
    }
    if (this.queuedBytes > HIGH_WATER_BYTES || this.waitingForDrain) this.src.pause();
    else if (!this.src.destroyed) this.src.resume();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.queue.length = 0;
  }
}
