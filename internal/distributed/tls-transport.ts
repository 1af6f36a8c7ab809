// Raft's network: persistent mutually-authenticated TLS connections between peers.
//
// Each node dials every peer it sends to and only writes on that connection; what a peer sends back comes on
// the peer's own connection to us (one stream per direction, like etcd's rafthttp). A connection starts with
// the byte 0x01 on plain TCP, so it can share the client gRPC port (the agent's mux routes on that byte and
// hands us the socket through acceptConnection), then TLS, then length-prefixed frames. The first frame is a
// hello naming the sender and the kind of connection: a message stream, or one snapshot stream (a separate
// connection, so that a large snapshot never delays heartbeats).

import net from 'node:net';
import tls from 'node:tls';
import { ChunkQueue } from './chunk-queue.js';
import { FrameDecoder, frameHeader } from './framing.js';
import { DecodeError } from './binary.js';
import {
  PeerNotAuthorizedError,
  PeerUnreachableError,
  SnapshotRejectedError,
  SnapshotStreamError,
  TransportClosedError,
  UnknownPeerError,
  frameLength,
  parseHostPort,
  type Frame,
  type FrameHandler,
  type HelloHandler,
  type PeerDownHandler,
  type SnapshotHandler,
  type Transport,
} from './transport.js';

export const RAFT_CONNECTION_BYTE = 0x01;

/** The peer-to-peer TLS identity: separate from the client-facing gRPC credentials. */
export interface PeerTlsConfig {
  ca: string | Buffer;
  cert: string | Buffer;
  key: string | Buffer;
  /**
   * Name the peer's certificate must carry. Default: the host of the address we dial, so certificates need that
   * host (e.g. 127.0.0.1) in their subject alternative names.
   */
  serverName?: string;
  /** Extra check of an authenticated peer certificate (e.g. that it is a peer's and not a client's). */
  authorizePeer?: (cert: tls.PeerCertificate) => boolean;
  /**
   * Whether the certificate may speak for the node id its hello claims (e.g. the id's member name must be the
   * certificate's common name), so that one peer cannot pose as another. Default: any cluster certificate may.
   */
  verifyPeerId?: (id: string, cert: tls.PeerCertificate) => boolean;
}

export interface TlsTransportOptions {
  id: string;
  /** The address peers reach us on; announced in the hello so a new peer can answer before it knows us. */
  advertiseAddr: string;
  tls: PeerTlsConfig;
  /** Per-peer send queue bound, in frames and in bytes; a frame beyond either is dropped. */
  maxQueuedFrames?: number;
  maxQueuedBytes?: number;
  dialTimeoutMs?: number;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  snapshotChunkHighWaterBytes?: number;
}

const KIND_MESSAGES = 1;
const KIND_SNAPSHOT = 2;
const KIND_IDENTIFY = 3;
const ACK_OK = 0;
const ACK_FAILED = 1;

function encodeHello(kind: number, id: string, addr: string): Buffer {
  const idBytes = Buffer.from(id, 'utf8');
  const addrBytes = Buffer.from(addr, 'utf8');
  const out = Buffer.allocUnsafe(1 + 2 + idBytes.length + 2 + addrBytes.length);
  out[0] = kind;
  out.writeUInt16BE(idBytes.length, 1);
  idBytes.copy(out, 3);
  out.writeUInt16BE(addrBytes.length, 3 + idBytes.length);
  addrBytes.copy(out, 5 + idBytes.length);
  return out;
}

function decodeHello(frame: Buffer): { kind: number; id: string; addr: string } {
  if (frame.length < 5) throw new DecodeError('hello: truncated');
  const kind = frame[0]!;
  const idLen = frame.readUInt16BE(1);
  const id = frame.toString('utf8', 3, 3 + idLen);
  const addrLen = frame.readUInt16BE(3 + idLen);
  const addr = frame.toString('utf8', 5 + idLen, 5 + idLen + addrLen);
  if (5 + idLen + addrLen !== frame.length || id.length === 0) throw new DecodeError('hello: malformed');
  return { kind, id, addr };
}

function writeFrame(socket: tls.TLSSocket, payload: Frame): boolean {
  let ok = socket.write(frameHeader(frameLength(payload)));
  if (payload instanceof Uint8Array) return socket.write(payload);
  for (const part of payload) ok = socket.write(part);
  return ok;
}

function waitDrainOrClose(socket: tls.TLSSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (err?: Error): void => {
      socket.off('drain', onDrain);
      socket.off('close', onClose);
      if (err) reject(err);
      else resolve();
    };
    const onDrain = (): void => done();
    const onClose = (): void => done(new SnapshotStreamError('connection closed while streaming'));
    socket.on('drain', onDrain);
    socket.on('close', onClose);
  });
}

/** The outbound message stream to one peer: a bounded queue, one connection, reconnect with backoff. */
class PeerStream {
  private queue: Frame[] = [];
  private queuedBytes = 0;
  private socket: tls.TLSSocket | undefined;
  private connecting = false;
  private waitingDrain = false;
  private flushScheduled = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private backoffMs: number;
  private closed = false;
  readonly stats = { dropped: 0, connects: 0, disconnects: 0 };

  constructor(
    private readonly transport: TlsTransport,
    readonly id: string,
    readonly addr: string,
  ) {
    this.backoffMs = transport.backoffInitialMs;
  }

  send(frame: Frame): boolean {
    if (this.closed) return false;
    const length = frameLength(frame);
    if (this.queue.length >= this.transport.maxQueuedFrames || this.queuedBytes + length > this.transport.maxQueuedBytes) {
      this.stats.dropped++;
      return false;
    }
    this.queue.push(frame);
    this.queuedBytes += length;
    if (this.socket) this.scheduleFlush();
    else this.connect();
    return true;
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.waitingDrain) return;
    this.flushScheduled = true;
    // Deferred so that every frame queued in this turn goes out in one corked write (unless flushed sooner).
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  /** Frames queued and not yet handed to the socket. */
  get queuedFrames(): number {
    return this.queue.length;
  }

  flush(): void {
    const socket = this.socket;
    if (!socket || this.waitingDrain || this.queue.length === 0) return;
    const frames = this.queue;
    this.queue = [];
    this.queuedBytes = 0;
    socket.cork();
    let ok = true;
    for (const f of frames) ok = writeFrame(socket, f);
    socket.uncork();
    if (!ok) {
      this.waitingDrain = true;
      socket.once('drain', () => {
        this.waitingDrain = false;
        this.flush();
      });
    }
  }

  private connect(): void {
    if (this.connecting || this.socket || this.closed || this.retryTimer) return;
    this.connecting = true;
    this.transport
      .dial(this.addr, KIND_MESSAGES)
      .then((socket) => {
        this.connecting = false;
        if (this.closed) {
          socket.destroy();
          return;
        }
        this.socket = socket;
        this.stats.connects++;
        this.backoffMs = this.transport.backoffInitialMs;
        socket.on('error', () => socket.destroy());
        socket.on('close', () => {
          this.stats.disconnects++;
          if (this.socket === socket) {
            this.socket = undefined;
            this.waitingDrain = false;
            if (this.queue.length > 0) this.scheduleRetry();
          }
        });
        // We never expect data on our outbound stream; reading keeps the socket from stalling on close.
        socket.resume();
        this.flush();
      })
      .catch(() => {
        this.connecting = false;
        // The peer is unreachable: what we queued is stale by the time it is back, and Raft resends.
        this.stats.dropped += this.queue.length;
        this.queue = [];
        this.queuedBytes = 0;
        this.scheduleRetry();
      });
  }

  private scheduleRetry(): void {
    if (this.closed || this.retryTimer) return;
    const delay = this.backoffMs * (0.5 + Math.random() / 2);
    this.backoffMs = Math.min(this.backoffMs * 2, this.transport.backoffMaxMs);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.queue.length > 0) this.connect();
    }, delay);
  }

  close(): void {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.queue = [];
    this.socket?.destroy();
    this.socket = undefined;
  }
}

export class TlsTransport implements Transport {
  readonly localId: string;
  readonly localAddr: string;
  readonly maxQueuedFrames: number;
  readonly maxQueuedBytes: number;
  readonly backoffInitialMs: number;
  readonly backoffMaxMs: number;
  private readonly dialTimeoutMs: number;
  private readonly chunkHighWater: number;
  private readonly secureContext: tls.SecureContext;
  private readonly server: tls.Server;
  private readonly peers = new Map<string, PeerStream>();
  private readonly sockets = new Set<net.Socket>();
  private frameHandler: FrameHandler = () => {};
  private snapshotHandler: SnapshotHandler = async () => {
    throw new Error('snapshots not accepted');
  };
  private helloHandler: HelloHandler = () => {};
  private peerDownHandler: PeerDownHandler = () => {};
  /** Open inbound message connections per peer: a peer that reconnected before its old one closed is not down. */
  private readonly inboundMessageConnections = new Map<string, number>();
  private closed = false;

  constructor(private readonly options: TlsTransportOptions) {
    this.localId = options.id;
    this.localAddr = options.advertiseAddr;
    this.maxQueuedFrames = options.maxQueuedFrames ?? 8192;
    this.maxQueuedBytes = options.maxQueuedBytes ?? 64 * 1024 * 1024;
    this.dialTimeoutMs = options.dialTimeoutMs ?? 2000;
    this.backoffInitialMs = options.backoffInitialMs ?? 25;
    this.backoffMaxMs = options.backoffMaxMs ?? 1000;
    this.chunkHighWater = options.snapshotChunkHighWaterBytes ?? 4 * 1024 * 1024;
    const { ca, cert, key } = options.tls;
    this.secureContext = tls.createSecureContext({ ca, cert, key });
    this.server = tls.createServer({ ca, cert, key, requestCert: true, rejectUnauthorized: true }, (socket) =>
      this.onSecureInbound(socket),
    );
    // Handshake failures (bad certificate, garbage) end that connection only.
    this.server.on('tlsClientError', (_err, socket) => socket.destroy());
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

  setPeer(id: string, addr: string): void {
    if (this.closed || id === this.localId) return;
    parseHostPort(addr);
    const current = this.peers.get(id);
    if (current?.addr === addr) return;
    current?.close();
    this.peers.set(id, new PeerStream(this, id, addr));
  }

  removePeer(id: string): void {
    this.peers.get(id)?.close();
    this.peers.delete(id);
  }

  peerAddr(id: string): string | undefined {
    return this.peers.get(id)?.addr;
  }

  /**
   * Per peer: frames dropped (queue full or peer unreachable), connections made and lost, and frames queued now
   * (not yet handed to the connection: it is not up, or this turn has not ended and no one flushed).
   */
  peerStats(id: string): { dropped: number; connects: number; disconnects: number; queued: number } {
    const peer = this.peers.get(id);
    return peer ? { ...peer.stats, queued: peer.queuedFrames } : { dropped: 0, connects: 0, disconnects: 0, queued: 0 };
  }

  send(to: string, frame: Frame): boolean {
    const peer = this.peers.get(to);
    return peer ? peer.send(frame) : false;
  }

  flush(): void {
    for (const peer of this.peers.values()) peer.flush();
  }

  /**
   * Takes a raw TCP socket whose first byte (0x01) has already been read, runs the TLS server handshake with
   * the peer TLS config and serves it. Bytes read past the 0x01 must have been `unshift`ed back.
   */
  acceptConnection(socket: net.Socket): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    this.track(socket);
    socket.on('error', () => socket.destroy());
    this.server.emit('connection', socket);
  }

  private track(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  /** Opens a connection to `addr`: TCP, the 0x01 byte, TLS (the peer must present a cluster certificate), hello. */
  dial(addr: string, kind: number): Promise<tls.TLSSocket> {
    if (this.closed) return Promise.reject(new TransportClosedError());
    const { host, port } = parseHostPort(addr);
    const identity = this.options.tls.serverName ?? host;
    return new Promise((resolve, reject) => {
      const raw = net.connect({ host, port });
      this.track(raw);
      let secure: tls.TLSSocket | undefined;
      const timer = setTimeout(() => fail(new PeerUnreachableError(addr, 'timed out')), this.dialTimeoutMs);
      const fail = (err: Error): void => {
        clearTimeout(timer);
        secure?.destroy();
        raw.destroy();
        reject(err);
      };
      raw.once('error', fail);
      // Errors after the handshake surface on the TLS socket; this keeps a late one from going unhandled.
      raw.on('error', () => raw.destroy());
      raw.once('connect', () => {
        raw.setNoDelay(true);
        raw.write(Buffer.of(RAFT_CONNECTION_BYTE));
        secure = tls.connect({
          socket: raw,
          secureContext: this.secureContext,
          servername: net.isIP(identity) ? undefined : identity,
          checkServerIdentity: (_host, cert) => tls.checkServerIdentity(identity, cert),
        });
        this.track(secure);
        // A TLS socket can emit more than one error (e.g. a handshake failure, then EINVAL from the read that was
        // in flight); this listener outlives `fail` so that no later one goes unhandled and kills the process.
        const tlsSocket = secure;
        tlsSocket.on('error', () => tlsSocket.destroy());
        secure.once('error', fail);
        secure.once('secureConnect', () => {
          const s = secure!;
          const authorize = this.options.tls.authorizePeer;
          if (authorize && !authorize(s.getPeerCertificate())) {
            fail(new PeerNotAuthorizedError(`the certificate of ${addr} was refused`));
            return;
          }
          clearTimeout(timer);
          raw.off('error', fail);
          s.off('error', fail);
          writeFrame(s, encodeHello(kind, this.localId, this.localAddr));
          resolve(s);
        });
      });
    });
  }

  private onSecureInbound(socket: tls.TLSSocket): void {
    this.track(socket);
    socket.on('error', () => socket.destroy());
    const authorize = this.options.tls.authorizePeer;
    if (this.closed || (authorize && !authorize(socket.getPeerCertificate()))) {
      socket.destroy();
      return;
    }
    const decoder = new FrameDecoder();
    let onFrame: (frame: Buffer) => void = (frame) => {
      const hello = decodeHello(frame);
      const verify = this.options.tls.verifyPeerId;
      if (verify && !verify(hello.id, socket.getPeerCertificate())) throw new PeerNotAuthorizedError(`its certificate may not speak for ${hello.id}`);
      this.helloHandler(hello.id, hello.addr);
      if (hello.kind === KIND_MESSAGES) {
        onFrame = (f) => this.frameHandler(hello.id, f);
        this.trackInboundMessages(socket, hello.id);
      } else if (hello.kind === KIND_SNAPSHOT) onFrame = this.snapshotReceiver(socket, hello.id);
      else if (hello.kind === KIND_IDENTIFY) {
        writeFrame(socket, encodeHello(KIND_IDENTIFY, this.localId, this.localAddr));
        socket.end();
      } else throw new DecodeError(`hello: unknown connection kind ${hello.kind}`);
    };
    socket.on('data', (chunk: Buffer) => {
      try {
        for (const frame of decoder.push(chunk)) onFrame(frame);
      } catch (err) {
        // A malformed stream from an authenticated peer: drop the connection, it will redial.
        socket.destroy(err instanceof Error ? err : undefined);
      }
    });
  }

  /**
   * The peer's message connection is how its messages reach us (a leader's heartbeats among them); when the last
   * one closes, the peer may have died (see PeerDownHandler).
   */
  private trackInboundMessages(socket: tls.TLSSocket, id: string): void {
    this.inboundMessageConnections.set(id, (this.inboundMessageConnections.get(id) ?? 0) + 1);
    socket.once('close', () => {
      const left = (this.inboundMessageConnections.get(id) ?? 1) - 1;
      if (left > 0) {
        this.inboundMessageConnections.set(id, left);
        return;
      }
      this.inboundMessageConnections.delete(id);
      if (!this.closed) this.peerDownHandler(id);
    });
  }

  /** Receives one snapshot: a header frame, chunk frames, then an empty frame; answers with an ack frame. */
  private snapshotReceiver(socket: tls.TLSSocket, from: string): (frame: Buffer) => void {
    let chunks: ChunkQueue | undefined;
    socket.once('close', () => chunks?.fail(new SnapshotStreamError(`snapshot stream from ${from} broke`)));
    return (frame) => {
      if (!chunks) {
        const queue = new ChunkQueue(
          this.chunkHighWater,
          () => socket.pause(),
          () => socket.resume(),
        );
        chunks = queue;
        this.snapshotHandler(from, frame, queue).then(
          () => this.ack(socket, ACK_OK, ''),
          (err: unknown) => this.ack(socket, ACK_FAILED, err instanceof Error ? err.message : String(err)),
        );
        return;
      }
      if (frame.length === 0) chunks.end();
      else chunks.push(frame);
    };
  }

  private ack(socket: tls.TLSSocket, status: number, message: string): void {
    if (socket.destroyed) return;
    const body = Buffer.concat([Buffer.of(status), Buffer.from(message, 'utf8')]);
    writeFrame(socket, body);
    socket.end();
  }

  async identify(addr: string): Promise<string> {
    const socket = await this.dial(addr, KIND_IDENTIFY);
    return new Promise<string>((resolve, reject) => {
      const decoder = new FrameDecoder();
      const timer = setTimeout(() => socket.destroy(new PeerUnreachableError(addr, 'no answer to identify')), this.dialTimeoutMs);
      socket.on('data', (chunk: Buffer) => {
        const frame = decoder.push(chunk)[0];
        if (!frame) return;
        clearTimeout(timer);
        try {
          resolve(decodeHello(frame).id);
        } catch (err) {
          reject(err);
        }
        socket.end();
      });
      socket.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      socket.on('close', () => {
        clearTimeout(timer);
        reject(new TransportClosedError());
      });
    });
  }

  async sendSnapshot(to: string, header: Uint8Array, chunks: AsyncIterable<Uint8Array>, signal?: AbortSignal): Promise<void> {
    const addr = this.peerAddr(to);
    if (!addr) throw new UnknownPeerError(to);
    const socket = await this.dial(addr, KIND_SNAPSHOT);
    const onAbort = (): void => {
      socket.destroy();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const acked = new Promise<void>((resolve, reject) => {
      const decoder = new FrameDecoder();
      socket.on('data', (chunk: Buffer) => {
        const frames = decoder.push(chunk);
        const ack = frames[0];
        if (!ack) return;
        if (ack[0] === ACK_OK) resolve();
        else reject(new SnapshotRejectedError(to, ack.toString('utf8', 1)));
        socket.end();
      });
      socket.on('error', () => socket.destroy());
      socket.on('close', () => reject(new SnapshotStreamError(`snapshot stream to ${to} closed before its ack`)));
    });
    // Avoid an unhandled rejection if streaming fails first; the await below still observes it.
    acked.catch(() => {});
    try {
      if (!writeFrame(socket, header)) await waitDrainOrClose(socket);
      for await (const chunk of chunks) {
        if (signal?.aborted) throw new SnapshotStreamError('snapshot send aborted');
        if (chunk.length === 0) continue;
        // TCP flow control: stop producing chunks while the socket's buffer is full.
        if (!writeFrame(socket, chunk)) await waitDrainOrClose(socket);
      }
      writeFrame(socket, new Uint8Array(0));
      await acked;
    } catch (err) {
      socket.destroy();
      throw err;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const peer of this.peers.values()) peer.close();
    this.peers.clear();
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }
}
