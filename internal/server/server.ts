// The gRPC server: log.v1.Log and grpc.health.v1.Health over mutual TLS. createServer builds it unbound, so the
// caller decides where it listens: listen() on a TCP address, or connections handed in by the agent's port
// multiplexer through createTlsConnectionInjector (or grpc-js's own createConnectionInjector).
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { pino, type Logger } from 'pino';
import { HealthService as HealthServiceDefinition } from '../../api/grpc/health/v1/health.js';
import { LOG_SERVICE as LogServiceDefinition } from '../../api/v1/service.js';
import type { Authorizer } from '../auth/index.js';
import { HealthService } from './health.js';
import { rememberPeerCertificate } from './identity.js';
import type { LogService } from './log-service.js';
import { logRpc } from './log-rpc.js';
import { tolerantDefinition } from './malformed.js';
import { DEFAULT_LIMITS, precheckBatch, type ServerLimits } from './requests.js';
import { StreamRegistry } from './stream-registry.js';

/** The gRPC service name of the log API, as health checks name it. */
export const LOG_SERVICE_NAME = 'log.v1.Log';

/** Room around a record for the rest of a request (field tags, topic), in the receive-size limit. */
const MESSAGE_OVERHEAD_BYTES = 64 * 1024;
const DEFAULT_MAX_RECEIVE_BYTES = 4 * 1024 * 1024;

/**
 * The HTTP/2 receive window of every connection and stream (patches/README.md: grpc-js applies
 * 'grpc-node.flow_control_window' to servers only with our patch). At HTTP/2's default 64 KiB, a client with more
 * than that in flight (four ProduceBatch requests of 100 records, a ProduceStream with hundreds unanswered) waited
 * a round trip for each WINDOW_UPDATE: batch and stream produce ran 20-30% faster with this, against the cluster
 * and the no-op server alike. It bounds what one connection may have in flight to the server.
 */
export const SERVER_FLOW_CONTROL_WINDOW_BYTES = 4 * 1024 * 1024;

/** The transport options of every log server, the bench's no-op ceiling included. */
export const SERVER_TRANSPORT_OPTIONS: grpc.ServerOptions = {
  'grpc-node.flow_control_window': SERVER_FLOW_CONTROL_WINDOW_BYTES,
};

/** A handshake is a few round trips; a client still in it after this is stuck or an attack (Node's default: 120 s). */
const DEFAULT_TLS_HANDSHAKE_TIMEOUT_MS = 10_000;

export interface ServerOptions {
  logService: LogService;
  authorizer: Authorizer;
  /** Server credentials, normally ServerTLS.credentials from internal/config (loadServerTLS). */
  credentials: grpc.ServerCredentials;
  /** Largest record accepted, in bytes (default 1 MiB); a larger one is INVALID_ARGUMENT and stores nothing. */
  maxRecordBytes?: number;
  /** Largest request message (a ProduceBatch holds many records); default max(4 MiB, maxRecordBytes + 64 KiB). */
  maxReceiveMessageBytes?: number;
  /** Fine-tuning of batch sizes, pages and stream windows; see ServerLimits. */
  limits?: Partial<Omit<ServerLimits, 'maxRecordBytes'>>;
  logger?: Logger;
  /** Extra grpc-js server options (keepalive etc.). */
  grpcOptions?: grpc.ServerOptions;
}

/** Takes raw connections (e.g. from the agent's port mux), as grpc-js's connection injectors do. */
export interface ConnectionInjector {
  injectConnection(connection: Duplex): void;
}

export interface TlsConnectionInjectorOptions {
  /** A connection whose TLS handshake has not completed by then is closed. Default 10 s. */
  handshakeTimeoutMs?: number;
}

export class ProglogServer extends grpc.Server {
  readonly health: HealthService;
  readonly credentials: grpc.ServerCredentials;
  private readonly streams: StreamRegistry;
  private readonly tlsInjectors = new Set<TlsTerminatingInjector>();

  constructor(options: ServerOptions) {
    const maxRecordBytes = options.maxRecordBytes ?? DEFAULT_LIMITS.maxRecordBytes;
    const maxReceive =
      options.maxReceiveMessageBytes ?? Math.max(DEFAULT_MAX_RECEIVE_BYTES, maxRecordBytes + MESSAGE_OVERHEAD_BYTES);
    super({ ...SERVER_TRANSPORT_OPTIONS, 'grpc.max_receive_message_length': maxReceive, ...options.grpcOptions });
    this.credentials = options.credentials;
    this.streams = new StreamRegistry();
    this.health = new HealthService([LOG_SERVICE_NAME], this.streams);
    const logger = options.logger ?? pino({ name: 'proglog-server' });
    const limits: ServerLimits = { ...DEFAULT_LIMITS, ...options.limits, maxRecordBytes };
    this.addService(
      tolerantDefinition(LogServiceDefinition, { produceBatch: (bytes) => precheckBatch(bytes, limits) }),
      logRpc({ logService: options.logService, authorizer: options.authorizer, limits, streams: this.streams, logger }),
    );
    this.addService(tolerantDefinition(HealthServiceDefinition), this.health.rpc());
  }

  /** Streams being served right now (ConsumeStream, ProduceStream, Health.Watch). */
  get openStreams(): number {
    return this.streams.size;
  }

  /** Binds host:port (port 0 = one from the OS) with the server's credentials; resolves with "host:port". */
  listen(host = '127.0.0.1', port = 0): Promise<string> {
    return new Promise((resolve, reject) => {
      this.bindAsync(`${host.includes(':') ? `[${host}]` : host}:${port}`, this.credentials, (err, boundPort) => {
        if (err !== null) reject(err);
        else resolve(`${host}:${boundPort}`);
      });
    });
  }

  /**
   * Hands raw connections to this server after running their TLS handshake itself, with `tlsOptions` (normally
   * ServerTLS.grpcTlsOptions from internal/config): the same handshake grpc-js would run with `credentials`, but
   * on a socket we own, so that the client's identity is derived once per connection instead of on every call.
   */
  createTlsConnectionInjector(tlsOptions: tls.TlsOptions, options: TlsConnectionInjectorOptions = {}): ConnectionInjector {
    // grpc-js still sees a TLS socket: its getAuthContext asks only that the session's socket be a verified
    // tls.TLSSocket, not that grpc-js ran the handshake.
    const grpcSide = this.createConnectionInjector(grpc.ServerCredentials.createInsecure());
    const timeoutMs = options.handshakeTimeoutMs ?? DEFAULT_TLS_HANDSHAKE_TIMEOUT_MS;
    const injector = new TlsTerminatingInjector(tlsOptions, grpcSide, timeoutMs);
    this.tlsInjectors.add(injector);
    return injector;
  }

  /**
   * Graceful stop: health turns NOT_SERVING, open streams end with UNAVAILABLE, calls in flight finish; after
   * `graceMs` whatever is left is cut off.
   */
  async stop(graceMs = 5000): Promise<void> {
    for (const injector of this.tlsInjectors) injector.stopAccepting();
    this.health.setAllNotServing();
    this.streams.abortAll();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.forceShutdown();
        resolve();
      }, graceMs);
      this.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    for (const injector of this.tlsInjectors) injector.close();
  }
}

/**
 * The TLS side of createTlsConnectionInjector: a tls.Server that never listens, fed raw connections, as Node's
 * own HTTP/2 secure server is; each connection it secures goes to grpc-js as an already encrypted socket.
 */
class TlsTerminatingInjector implements ConnectionInjector {
  private readonly tlsServer: tls.Server;
  /** The raw connections still open: tls.Server shows a connection's TLS socket only once its handshake is over. */
  private readonly connections = new Set<Duplex>();
  private accepting = true;

  constructor(
    tlsOptions: tls.TlsOptions,
    private readonly grpcSide: ConnectionInjector,
    handshakeTimeoutMs: number,
  ) {
    this.tlsServer = tls.createServer({ ...tlsOptions, handshakeTimeout: handshakeTimeoutMs });
    // A handshake that fails or times out is reported here, and tls.Server leaves the socket open unless told.
    this.tlsServer.on('tlsClientError', (_err, socket) => socket.destroy());
    this.tlsServer.on('secureConnection', (socket: tls.TLSSocket) => this.secured(socket));
  }

  injectConnection(connection: Duplex): void {
    if (!this.accepting) {
      connection.destroy();
      return;
    }
    this.connections.add(connection);
    connection.once('close', () => this.connections.delete(connection));
    this.tlsServer.emit('connection', connection);
  }

  private secured(socket: tls.TLSSocket): void {
    // Once the handshake is over Node no longer handles the socket's errors (there may be several); an unhandled
    // one would end the process.
    socket.on('error', () => socket.destroy());
    if (!this.accepting) {
      socket.destroy();
      return;
    }
    // The identity is derived once below: a renegotiation could bring another certificate, so an attempt raises
    // an error, which closes the connection. Node's HTTP/2 server disables it too (RFC 9113 forbids it); saying so
    // here keeps the guarantee that identity.ts relies on from resting on that.
    socket.disableRenegotiation();
    rememberPeerCertificate(socket);
    this.grpcSide.injectConnection(socket);
  }

  /** Connections whose handshake ends from now on are closed instead of served (the server is stopping). */
  stopAccepting(): void {
    this.accepting = false;
  }

  /** Closes what is left: once gRPC's sessions are closed, only connections still in their handshake. */
  close(): void {
    this.accepting = false;
    for (const connection of this.connections) connection.destroy();
    this.connections.clear();
  }
}

/** A server with both services registered and nothing bound yet. */
export function createServer(options: ServerOptions): ProglogServer {
  return new ProglogServer(options);
}
