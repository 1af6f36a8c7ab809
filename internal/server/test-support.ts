// Shared by this folder's tests (and usable by other packages' tests): throw-away certificates for every identity
// the tests need, a server on 127.0.0.1 with a real local log in a temp dir, and promise-returning clients.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { HealthClient } from '../../api/grpc/health/v1/health.js';
import { LogClient } from '../../api/v1/log.js';
import { CasbinAuthorizer, type Authorizer } from '../auth/index.js';
import {
  clientTLSFromPEM,
  generateCA,
  issueCert,
  serverTLSFromPEM,
  type CertificateAuthority,
  type IssuedCert,
} from '../config/index.js';
import { TopicLogs } from '../log/index.js';
import { LocalLogService, type LocalLogServiceOptions } from './local-log-service.js';
import type { LogService } from './log-service.js';
import { createServer, type ConnectionInjector, type ProglogServer, type ServerOptions } from './server.js';

// The repo's policy folder, from source (internal/server) or from compiled output (dist/internal/server).
const POLICY_DIR = [new URL('../../policy/', import.meta.url), new URL('../../../policy/', import.meta.url)]
  .map((url) => fileURLToPath(url))
  .find((dir) => existsSync(join(dir, 'model.conf'))) ?? fileURLToPath(new URL('../../policy/', import.meta.url));
export const MODEL_FILE = join(POLICY_DIR, 'model.conf');
export const POLICY_FILE = join(POLICY_DIR, 'policy.csv');

export interface TestPKI {
  ca: CertificateAuthority;
  server: IssuedCert;
  /** Valid client certificates by CN. */
  clients: Record<string, IssuedCert>;
  /** CN root, but its validity ended yesterday. */
  expiredRoot: IssuedCert;
  /** CN root, signed by a CA the server does not trust. */
  foreignRoot: IssuedCert;
}

export const TEST_IDENTITIES = ['root', 'nobody', 'tenant-a', 'tenant-b'] as const;

/**
 * 1024-bit keys: these certificates live for one test run, and each 2048-bit key costs ~0.4 s of CPU on a small
 * CI machine, which is most of a suite's time. Key strength is not what the tests prove.
 */
export const TEST_KEY_BITS = 1024;

export async function makeTestPKI(): Promise<TestPKI> {
  const keyBits = TEST_KEY_BITS;
  const ca = await generateCA({ commonName: 'proglog test CA', keyBits });
  const foreignCA = await generateCA({ commonName: 'someone else CA', keyBits });
  const day = 24 * 60 * 60 * 1000;
  const [server, expiredRoot, foreignRoot, ...clients] = await Promise.all([
    issueCert(ca, { cn: 'proglog-server', hosts: ['localhost', '127.0.0.1'], server: true, keyBits }),
    issueCert(ca, { cn: 'root', notBefore: new Date(Date.now() - 10 * day), notAfter: new Date(Date.now() - day), keyBits }),
    issueCert(foreignCA, { cn: 'root', keyBits }),
    ...TEST_IDENTITIES.map((cn) => issueCert(ca, { cn, keyBits })),
  ]);
  return {
    ca,
    server: server!,
    expiredRoot: expiredRoot!,
    foreignRoot: foreignRoot!,
    clients: Object.fromEntries(clients.map((c) => [c.commonName, c])),
  };
}

export interface TestServer {
  server: ProglogServer;
  addr: string;
  dir: string;
  logs: TopicLogs;
  logService: LogService;
  close(): Promise<void>;
}

export interface TestServerOptions extends Partial<Omit<ServerOptions, 'logService' | 'credentials'>> {
  /** Wraps the real local LogService, e.g. to observe calls. */
  wrapLogService?: (inner: LogService) => LogService;
  /** Options of the local LogService (e.g. maxTopics). */
  local?: LocalLogServiceOptions;
}

export async function startTestServer(pki: TestPKI, options: TestServerOptions = {}): Promise<TestServer> {
  const dir = await mkdtemp(join(tmpdir(), 'proglog-server-'));
  const logs = await TopicLogs.open(dir);
  const local = await LocalLogService.open(logs, undefined, options.local);
  const logService = options.wrapLogService ? options.wrapLogService(local) : local;
  const authorizer: Authorizer = options.authorizer ?? (await CasbinAuthorizer.fromFiles(MODEL_FILE, POLICY_FILE));
  const { wrapLogService: _wrap, local: _local, ...serverOptions } = options;
  const server = createServer({
    logger: pino({ level: 'silent' }),
    ...serverOptions,
    logService,
    authorizer,
    credentials: serverTLSFromPEM({ ca: pki.ca.certPem, cert: pki.server.certPem, key: pki.server.keyPem }).credentials,
  });
  const addr = await server.listen('127.0.0.1', 0);
  return {
    server,
    addr,
    dir,
    logs,
    logService,
    close: async () => {
      await server.stop(2000);
      await logs.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A client trusting the test CA, presenting `identity` (or no certificate at all when it is undefined). */
export function clientCredentials(pki: TestPKI, identity?: IssuedCert): grpc.ChannelCredentials {
  return clientTLSFromPEM(
    identity === undefined ? { ca: pki.ca.certPem } : { ca: pki.ca.certPem, cert: identity.certPem, key: identity.keyPem },
  ).credentials;
}

export function logClient(addr: string, credentials: grpc.ChannelCredentials): LogClient {
  return new LogClient(addr, credentials);
}

export function healthClient(addr: string, credentials: grpc.ChannelCredentials): HealthClient {
  return new HealthClient(addr, credentials);
}

type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: grpc.Metadata,
  options: Partial<grpc.CallOptions>,
  callback: (err: grpc.ServiceError | null, response: Res) => void,
) => grpc.ClientUnaryCall;

/** Calls a unary method with a deadline, so a broken server fails a test rather than hanging it. */
export function unary<Req, Res>(method: UnaryMethod<Req, Res>, request: Req, timeoutMs = 10_000): Promise<Res> {
  return new Promise((resolve, reject) => {
    method(request, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err, response) => {
      if (err) reject(err);
      else resolve(response);
    });
  });
}

/** Cancels a client stream; the CANCELLED status it then reports is expected, so it is swallowed. */
export function cancel(call: grpc.ClientReadableStream<unknown> | grpc.ClientDuplexStream<unknown, unknown>): void {
  call.on('error', () => {});
  call.cancel();
}

/** Polls `condition` until it holds or the deadline passes (for state with no event to wait on). */
export async function eventually(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** The next `count` messages of a readable client stream, or its error, within a deadline. */
export function take<T>(stream: NodeJS.ReadableStream, count: number, timeoutMs = 10_000): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const got: T[] = [];
    if (count === 0) {
      resolve(got);
      return;
    }
    const cleanup = (): void => {
      clearTimeout(timer);
      stream.off('data', onData);
      stream.off('error', onError);
      stream.off('end', onEnd);
    };
    const onData = (message: T): void => {
      got.push(message);
      if (got.length === count) {
        cleanup();
        stream.pause();
        resolve(got);
      }
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(err);
    };
    const onEnd = (): void => {
      cleanup();
      reject(new Error(`stream ended after ${got.length} of ${count} messages`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`timed out after ${got.length} of ${count} messages`));
    }, timeoutMs);
    stream.on('data', onData);
    stream.on('error', onError);
    stream.on('end', onEnd);
    stream.resume();
  });
}

/**
 * A TCP listener on 127.0.0.1 (its port from the OS) that hands every connection to `injector`, as the agent's
 * shared port hands gRPC connections to the server. close() stops listening; the server closes the connections.
 */
export async function listenInjected(injector: ConnectionInjector): Promise<{ port: number; close(): void }> {
  const tcp = net.createServer({ pauseOnConnect: true, noDelay: true }, (socket) => injector.injectConnection(socket));
  await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
  return { port: (tcp.address() as net.AddressInfo).port, close: () => tcp.close() };
}
