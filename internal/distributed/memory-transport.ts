// The in-process Transport: nodes on one MemoryNetwork exchange frames through the event loop, and a test can
// cut links (partitions) and heal them. Frames are copied, so no node shares memory with another.
//
// Connections are modelled as TCP behaves: a sender's first frame to a node opens its "connection" (the receiver
// sees a hello); closing a transport (a node that stops or crashes) closes its connections at once, so the
// others see it go down, as the kernel closes a killed process's sockets; `dropConnections` resets them between
// two live nodes. A cut link, like a real partition, closes nothing: it only stops the frames.

import {
  PeerUnreachableError,
  SnapshotRejectedError,
  SnapshotStreamError,
  TransportClosedError,
  UnknownPeerError,
  type Frame,
  type FrameHandler,
  type HelloHandler,
  type PeerDownHandler,
  type SnapshotHandler,
  type Transport,
} from './transport.js';

/** Says whether a frame from one node (id) to another is lost in flight. */
export type FrameLoss = (from: string, to: string, frame: Uint8Array) => boolean;

export class MemoryNetwork {
  private readonly nodes = new Map<string, MemoryTransport>();
  private readonly cut = new Set<string>();
  private loss: FrameLoss | undefined;

  /** A transport for node `id`, reachable at `addr`. */
  transport(id: string, addr: string): MemoryTransport {
    const t = new MemoryTransport(this, id, addr);
    this.nodes.set(addr, t);
    return t;
  }

  /** Cuts the link between a and b (both directions). */
  disconnect(a: string, b: string): void {
    this.cut.add(`${a}|${b}`);
    this.cut.add(`${b}|${a}`);
  }

  /** Cuts every link of `id`. */
  isolate(id: string, others: string[]): void {
    for (const o of others) if (o !== id) this.disconnect(id, o);
  }

  heal(): void {
    this.cut.clear();
  }

  /**
   * Loses the frames `loss` picks (undefined: none), while the links and their connections stay up: a test's way
   * to hold back particular messages, such as one follower's copy of an entry.
   */
  loseFrames(loss: FrameLoss | undefined): void {
    this.loss = loss;
  }

  /** Whether the frame from `from` to `to` (ids) is lost on its way. */
  loses(from: string, to: string, frame: Uint8Array): boolean {
    return this.loss?.(from, to, frame) ?? false;
  }

  /**
   * Resets the connections between the nodes `a` and `b` (ids) as a TCP reset would: each sees the other's
   * connection close. The link stays up: the next frame either sends opens a new connection.
   */
  dropConnections(a: string, b: string): void {
    for (const t of this.nodes.values()) {
      if (t.localId === a) t.connectionClosed(b);
      else if (t.localId === b) t.connectionClosed(a);
    }
  }

  /** `closing` stops: every node it had connected to sees its connection close. */
  closedBy(closing: MemoryTransport): void {
    for (const t of this.nodes.values()) if (t !== closing) t.connectionClosed(closing.localId);
  }

  /** The node listening at `addr` if `from` can reach it now. */
  route(from: string, addr: string): MemoryTransport | undefined {
    const to = this.nodes.get(addr);
    if (!to || to.isClosed() || this.cut.has(`${from}|${to.localId}`)) return undefined;
    return to;
  }

  detach(t: MemoryTransport): void {
    if (this.nodes.get(t.localAddr) === t) this.nodes.delete(t.localAddr);
  }
}

interface InboundConnection {
  greeted: boolean;
}

export class MemoryTransport implements Transport {
  private readonly peers = new Map<string, string>();
  private frameHandler: FrameHandler = () => {};
  private snapshotHandler: SnapshotHandler = async () => {
    throw new Error('snapshots not accepted');
  };
  private helloHandler: HelloHandler = () => {};
  private peerDownHandler: PeerDownHandler = () => {};
  /** Open connections of peers to us. A frame travels on the one open when it was sent, like bytes on a socket. */
  private readonly inbound = new Map<string, InboundConnection>();
  private closed = false;

  constructor(
    private readonly network: MemoryNetwork,
    readonly localId: string,
    readonly localAddr: string,
  ) {}

  isClosed(): boolean {
    return this.closed;
  }

  setPeer(id: string, addr: string): void {
    if (id !== this.localId) this.peers.set(id, addr);
  }
  removePeer(id: string): void {
    this.peers.delete(id);
  }
  peerAddr(id: string): string | undefined {
    return this.peers.get(id);
  }
  onFrame(handler: FrameHandler): void {
    this.frameHandler = handler;
  }
  onSnapshot(handler: SnapshotHandler): void {
    this.snapshotHandler = handler;
  }
  onHello(handler: HelloHandler): void {
    this.helloHandler = handler;
  }
  onPeerDown(handler: PeerDownHandler): void {
    this.peerDownHandler = handler;
  }

  /** Peer `id`'s connection to us closed: its next frame opens a new one (and says hello again). */
  connectionClosed(id: string): void {
    if (this.closed || !this.inbound.delete(id)) return;
    // Asynchronous like a socket's close event, after the frames already on their way.
    setImmediate(() => {
      if (!this.closed) this.peerDownHandler(id);
    });
  }

  private connectionFrom(id: string): InboundConnection {
    let conn = this.inbound.get(id);
    if (!conn) {
      conn = { greeted: false };
      this.inbound.set(id, conn);
    }
    return conn;
  }

  send(to: string, frame: Frame): boolean {
    const addr = this.peers.get(to);
    if (this.closed || addr === undefined) return false;
    const target = this.network.route(this.localId, addr);
    if (!target) return false;
    const copy = frame instanceof Uint8Array ? Uint8Array.from(frame) : Buffer.concat(frame);
    const conn = target.connectionFrom(this.localId);
    if (this.network.loses(this.localId, target.localId, copy)) return true;
    setImmediate(() => target.deliver(this.localId, this.localAddr, copy, conn));
    return true;
  }

  private deliver(from: string, fromAddr: string, frame: Uint8Array, conn: InboundConnection): void {
    if (this.closed) return;
    if (!conn.greeted) {
      conn.greeted = true;
      this.helloHandler(from, fromAddr);
    }
    this.frameHandler(from, frame);
  }

  async sendSnapshot(to: string, header: Uint8Array, chunks: AsyncIterable<Uint8Array>): Promise<void> {
    if (this.closed) throw new TransportClosedError();
    const addr = this.peers.get(to);
    if (addr === undefined) throw new UnknownPeerError(to);
    const target = this.network.route(this.localId, addr);
    if (!target) throw new PeerUnreachableError(to);
    const network = this.network;
    const from = this.localId;
    async function* copied(): AsyncGenerator<Uint8Array> {
      for await (const c of chunks) {
        if (!network.route(from, addr!)) throw new SnapshotStreamError(`link to ${to} cut while streaming`);
        yield Uint8Array.from(c);
      }
    }
    try {
      await target.snapshotHandler(this.localId, Uint8Array.from(header), copied());
    } catch (err) {
      if (err instanceof SnapshotStreamError) throw err;
      throw new SnapshotRejectedError(to, err instanceof Error ? err.message : String(err));
    }
  }

  async identify(addr: string): Promise<string> {
    const target = this.network.route(this.localId, addr);
    if (!target) throw new PeerUnreachableError(addr);
    return target.localId;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.network.detach(this);
    this.network.closedBy(this);
  }
}
