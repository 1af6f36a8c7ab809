// The gRPC server: log.v1.Log and grpc.health.v1.Health over mutual TLS. createServer builds it unbound, so the
// caller decides where it listens: listen() on a TCP address, or connections handed in by the agent's port
// multiplexer through createConnectionInjector(server.credentials).
import * as grpc from '@grpc/grpc-js';
import { pino, type Logger } from 'pino';
import { HealthService as HealthServiceDefinition } from '../../api/grpc/health/v1/health.js';
import { LogService as LogServiceDefinition } from '../../api/v1/log.js';
import type { Authorizer } from '../auth/index.js';
import { HealthService } from './health.js';
import type { LogService } from './log-service.js';
import { logRpc } from './log-rpc.js';
import { tolerantDefinition } from './malformed.js';
import { DEFAULT_LIMITS, type ServerLimits } from './requests.js';
import { StreamRegistry } from './stream-registry.js';

/** The gRPC service name of the log API, as health checks name it. */
export const LOG_SERVICE_NAME = 'log.v1.Log';

/** Room around a record for the rest of a request (field tags, topic), in the receive-size limit. */
const MESSAGE_OVERHEAD_BYTES = 64 * 1024;
const DEFAULT_MAX_RECEIVE_BYTES = 4 * 1024 * 1024;

export interface ServerOptions {
  logService: LogService;
  authorizer: Authorizer;
  /** Server credentials, normally ServerTLS.credentials from internal/config (loadServerTLS). */
  credentials: grpc.ServerCredentials;
  /** Largest record accepted, in bytes (default 1 MiB); a larger one is INVALID_ARGUMENT and stores nothing. */
  maxRecordBytes?: number;
  /** Largest request message (a ProduceBatch holds many records); default max(4 MiB, maxRecordBytes + 64 KiB). */
  maxReceiveMessageBytes?: number;
  /** Fine-tuning of pages and stream windows; see ServerLimits. */
  limits?: Partial<Omit<ServerLimits, 'maxRecordBytes'>>;
  logger?: Logger;
  /** Extra grpc-js server options (keepalive etc.). */
  grpcOptions?: grpc.ServerOptions;
}

export class ProglogServer extends grpc.Server {
  readonly health: HealthService;
  readonly credentials: grpc.ServerCredentials;
  private readonly streams: StreamRegistry;

  constructor(options: ServerOptions) {
    const maxRecordBytes = options.maxRecordBytes ?? DEFAULT_LIMITS.maxRecordBytes;
    const maxReceive =
      options.maxReceiveMessageBytes ?? Math.max(DEFAULT_MAX_RECEIVE_BYTES, maxRecordBytes + MESSAGE_OVERHEAD_BYTES);
    super({ 'grpc.max_receive_message_length': maxReceive, ...options.grpcOptions });
    this.credentials = options.credentials;
    this.streams = new StreamRegistry();
    this.health = new HealthService([LOG_SERVICE_NAME], this.streams);
    const logger = options.logger ?? pino({ name: 'proglog-server' });
    const limits: ServerLimits = { ...DEFAULT_LIMITS, ...options.limits, maxRecordBytes };
    this.addService(
      tolerantDefinition(LogServiceDefinition),
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
   * Graceful stop: health turns NOT_SERVING, open streams end with UNAVAILABLE, calls in flight finish; after
   * `graceMs` whatever is left is cut off.
   */
  async stop(graceMs = 5000): Promise<void> {
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
  }
}

/** A server with both services registered and nothing bound yet. */
export function createServer(options: ServerOptions): ProglogServer {
  return new ProglogServer(options);
}
