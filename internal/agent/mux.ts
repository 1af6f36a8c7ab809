// One TCP port per agent, shared by Raft and gRPC: the first byte a client sends says which protocol the
// connection speaks. Raft dialers write RAFT_CONNECTION_BYTE before their TLS handshake; a gRPC client's first
// byte is a TLS ClientHello (0x16) or the HTTP/2 preface ('P'), never 0x01, so no gRPC client needs to know.
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { RAFT_CONNECTION_BYTE } from '../distributed/tls-transport.js';

// The Raft transport's dialer writes it; one definition keeps both ends in agreement.
export { RAFT_CONNECTION_BYTE };

/** Takes a raw socket whose first byte (RAFT_CONNECTION_BYTE) has been consumed; runs its own TLS handshake. */
export interface RaftConnectionAcceptor {
  acceptConnection(socket: net.Socket): void;
}

/**
 * What ProglogServer.createTlsConnectionInjector (or grpc-js's `server.createConnectionInjector(creds)`) returns,
 * reduced to what the mux uses. It gets the raw socket, first byte included, and runs the TLS handshake.
 */
export interface GrpcConnectionInjector {
  injectConnection(connection: Duplex): void;
}

export interface PortMuxOptions {
  host: string;
  /** 0 asks the OS for a free port. */
  port: number;
  /** Where connections go; may be given later with attach(), e.g. once the port is known to those parts. */
  raft?: RaftConnectionAcceptor;
  grpc?: GrpcConnectionInjector;
  /** A connection that sends nothing for this long is closed, so idle probes cannot pile up. Default 10 s. */
  firstByteTimeoutMs?: number;
}

export class MuxAddressInUseError extends Error {
  constructor(readonly address: string, options?: ErrorOptions) {
    super(`cannot listen on ${address}: address in use`, options);
    this.name = 'MuxAddressInUseError';
  }
}

export class PortMux {
  private readonly undecided = new Set<net.Socket>();
  /** Connections accepted before attach(); they are routed once it is called. */
  private readonly waiting: net.Socket[] = [];
  private targets: { raft: RaftConnectionAcceptor; grpc: GrpcConnectionInjector } | null = null;
  private closed = false;

  private constructor(
    private readonly server: net.Server,
    private readonly options: PortMuxOptions,
  ) {
    if (options.raft !== undefined && options.grpc !== undefined) this.targets = { raft: options.raft, grpc: options.grpc };
    server.on('connection', (socket) => this.route(socket));
  }

  /** Starts routing, including the connections that arrived while there was nowhere to send them. */
  attach(raft: RaftConnectionAcceptor, grpc: GrpcConnectionInjector): void {
    this.targets = { raft, grpc };
    for (const socket of this.waiting.splice(0)) this.route(socket);
  }

  static async listen(options: PortMuxOptions): Promise<PortMux> {
    // Without noDelay, Nagle holds a gRPC response back until the previous segment is acknowledged: milliseconds a call.
    const server = net.createServer({ pauseOnConnect: true, noDelay: true });
    const mux = new PortMux(server, options);
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        const addr = `${options.host}:${options.port}`;
        reject(err.code === 'EADDRINUSE' ? new MuxAddressInUseError(addr, { cause: err }) : err);
      };
      server.once('error', onError);
      server.listen(options.port, options.host, () => {
        server.off('error', onError);
        resolve();
      });
    });
    return mux;
  }

  /** The port actually bound (the OS's choice when asked for 0). */
  get port(): number {
    const addr = this.server.address();
    if (addr === null || typeof addr === 'string') throw new Error('mux is not listening on TCP');
    return addr.port;
  }

  /** Connections accepted before attach(). */
  get waitingConnections(): number {
    return this.waiting.length;
  }

  get address(): string {
    return `${this.options.host}:${this.port}`;
  }

  /**
   * Stops accepting connections and drops those that have not said which protocol they speak yet. Connections
   * already handed to Raft or gRPC belong to them and are closed by their own shutdown.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const socket of [...this.undecided, ...this.waiting.splice(0)]) socket.destroy();
    this.undecided.clear();
    // The listening socket closes at once; the server's close callback would also wait for every connection
    // handed to Raft and gRPC, which their own shutdown ends.
    this.server.close();
  }

  private route(socket: net.Socket): void {
    if (socket.destroyed) return;
    if (this.closed) {
      socket.destroy();
      return;
    }
    const targets = this.targets;
    if (targets === null) {
      this.waiting.push(socket);
      return;
    }
    this.undecided.add(socket);
    const timeoutMs = this.options.firstByteTimeoutMs ?? 10_000;
    const timer = setTimeout(() => socket.destroy(), timeoutMs);
    const forget = (): void => {
      clearTimeout(timer);
      this.undecided.delete(socket);
      socket.off('readable', onReadable);
      socket.off('close', forget);
      socket.off('error', forget);
    };
    const onReadable = (): void => {
      const first = socket.read(1) as Buffer | null;
      if (first === null) return;
      forget();
      if (first[0] === RAFT_CONNECTION_BYTE) {
        targets.raft.acceptConnection(socket);
      } else {
        // Both Node's HTTP/2 and TLS servers drain bytes already buffered in the socket before reading
        // from its handle, so the byte we looked at is seen again by grpc-js.
        socket.unshift(first);
        targets.grpc.injectConnection(socket);
      }
    };
    socket.on('readable', onReadable);
    socket.on('close', forget);
    socket.on('error', forget);
  }
}
