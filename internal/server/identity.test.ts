// The client identity over connections whose TLS the server terminates itself (createTlsConnectionInjector, the
// agent's path): derived once per connection, never mixed up between connections, refused exactly as grpc-js's
// own TLS refuses it, and fixed for the life of the connection.
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import type { Action, Authorizer } from '../auth/index.js';
import { issueCert, serverTLSFromPEM, type IssuedCert } from '../config/index.js';
import { TopicLogs } from '../log/index.js';
import { LocalLogService } from './local-log-service.js';
import { createServer, type ProglogServer, type TlsConnectionInjectorOptions } from './server.js';
import {
  clientCredentials,
  eventually,
  listenInjected,
  logClient,
  makeTestPKI,
  startTestServer,
  take,
  TEST_KEY_BITS,
  unary,
  type TestPKI,
} from './test-support.js';

const { status: Code } = grpc;

/** Allows everything and remembers who asked for what, so a test can see the subject each call was served as. */
class RecordingAuthorizer implements Authorizer {
  readonly asked: Array<{ subject: string; topic: string; action: Action }> = [];
  async can(subject: string, topic: string, action: Action): Promise<boolean> {
    this.asked.push({ subject, topic, action });
    return true;
  }
  async authorize(subject: string, topic: string, action: Action): Promise<void> {
    await this.can(subject, topic, action);
  }
}

interface InjectedServer {
  server: ProglogServer;
  addr: string;
  port: number;
  authorizer: RecordingAuthorizer;
  close(): Promise<void>;
}

/** A server reached as the agent reaches it: raw TCP connections handed to createTlsConnectionInjector. */
async function startInjectedServer(pki: TestPKI, options: TlsConnectionInjectorOptions = {}): Promise<InjectedServer> {
  const dir = await mkdtemp(join(tmpdir(), 'proglog-identity-'));
  const logs = await TopicLogs.open(dir);
  const authorizer = new RecordingAuthorizer();
  const serverTls = serverTLSFromPEM({ ca: pki.ca.certPem, cert: pki.server.certPem, key: pki.server.keyPem });
  const server = createServer({
    logService: await LocalLogService.open(logs),
    authorizer,
    credentials: serverTls.credentials,
    logger: pino({ level: 'silent' }),
  });
  const injector = server.createTlsConnectionInjector(serverTls.grpcTlsOptions, options);
  const listener = await listenInjected(injector);
  const { port } = listener;
  let closed = false;
  return {
    server,
    addr: `127.0.0.1:${port}`,
    port,
    authorizer,
    close: async () => {
      if (closed) return;
      closed = true;
      listener.close();
      await server.stop(2000);
      await logs.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Counts how often Node translates a peer certificate on the server side of `port` (the sockets whose local
 * port it is), by socket: what grpc-js's getAuthContext used to cost on every call.
 */
function countServerTranslations(port: number): { bySocket: Map<tls.TLSSocket, number>; restore(): void } {
  const proto = tls.TLSSocket.prototype;
  const original = proto.getPeerCertificate;
  const bySocket = new Map<tls.TLSSocket, number>();
  function counting(this: tls.TLSSocket, detailed?: boolean): tls.PeerCertificate {
    if (this.localPort === port) bySocket.set(this, (bySocket.get(this) ?? 0) + 1);
    return original.call(this, detailed);
  }
  Object.defineProperty(proto, 'getPeerCertificate', { value: counting, configurable: true, writable: true });
  return {
    bySocket,
    restore: () => Object.defineProperty(proto, 'getPeerCertificate', { value: original, configurable: true, writable: true }),
  };
}

const record = (text: string) => ({ value: Buffer.from(text), offset: 0, term: 0, type: 0 });

function closed(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed) resolve();
    else socket.once('close', () => resolve());
  });
}

/** Resolves when `promise` does, or rejects after `ms`: a broken server must fail a test, not hang it. */
function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

let pki: TestPKI;
beforeAll(async () => {
  pki = await makeTestPKI();
});

describe('client identity over connections whose TLS the server terminates', () => {
  let srv: InjectedServer;
  let clients: grpc.Client[];
  const clientAs = (identity: IssuedCert | undefined): ReturnType<typeof logClient> => {
    const c = logClient(srv.addr, clientCredentials(pki, identity));
    clients.push(c);
    return c;
  };

  beforeEach(async () => {
    srv = await startInjectedServer(pki, { handshakeTimeoutMs: 500 });
    clients = [];
  });
  afterEach(async () => {
    for (const c of clients) c.close();
    await srv.close();
  });

  it('derives the identity once per connection, however many calls it carries', async () => {
    const counter = countServerTranslations(srv.port);
    try {
      const root = clientAs(pki.clients.root);
      for (let i = 0; i < 50; i++) await unary(root.produce.bind(root), { record: record(`r${i}`), topic: '' });
      expect(srv.authorizer.asked).toHaveLength(50);
      expect(new Set(srv.authorizer.asked.map((a) => a.subject))).toEqual(new Set(['root']));
      // One connection, translated once (grpc-js's own TLS: once per call, 50).
      expect([...counter.bySocket.values()]).toEqual([1]);
    } finally {
      counter.restore();
    }
  });

  it('gives each connection its own subject when connections with different certificates interleave', async () => {
    const counter = countServerTranslations(srv.port);
    try {
      const root = clientAs(pki.clients.root);
      const tenant = clientAs(pki.clients['tenant-a']);
      // The topic names the caller, so the authorizer's record shows whether each call was served as its sender.
      await Promise.all(
        Array.from({ length: 20 }, (_, i) => [
          unary(root.produce.bind(root), { record: record(`r${i}`), topic: 'sent-by-root' }),
          unary(tenant.produce.bind(tenant), { record: record(`t${i}`), topic: 'sent-by-tenant-a' }),
        ]).flat(),
      );
      expect(srv.authorizer.asked).toHaveLength(40);
      for (const { subject, topic } of srv.authorizer.asked) expect(`sent-by-${subject}`).toBe(topic);
      expect([...counter.bySocket.values()]).toEqual([1, 1]);
    } finally {
      counter.restore();
    }
  });

  it('refuses a client with no certificate, or one from another CA, with UNAUTHENTICATED and the same message as grpc-js TLS', async () => {
    const anonymous = await issueCert(pki.ca, { cn: '', keyBits: TEST_KEY_BITS });
    const grpcTls = await startTestServer(pki);
    try {
      for (const identity of [undefined, pki.foreignRoot, pki.expiredRoot, anonymous]) {
        const refusal = async (addr: string): Promise<{ code: grpc.status; details: string } | 'accepted'> => {
          const c = logClient(addr, clientCredentials(pki, identity));
          clients.push(c);
          return unary(c.produce.bind(c), { record: record('x'), topic: '' }).then(
            () => 'accepted' as const,
            (e: grpc.ServiceError) => ({ code: e.code, details: e.details }),
          );
        };
        const ours = await refusal(srv.addr);
        expect(ours).toEqual(await refusal(grpcTls.addr));
        expect(ours).toMatchObject({ code: Code.UNAUTHENTICATED });
      }
      const noCert = clientAs(undefined);
      await expect(take(noCert.consumeStream({ offset: 0, topic: '', linearizable: false }), 1)).rejects.toMatchObject({
        code: Code.UNAUTHENTICATED,
        details: expect.stringContaining('no verified client certificate'),
      });
      expect(srv.authorizer.asked).toHaveLength(0);
    } finally {
      await grpcTls.close();
    }
  });

  it('refuses TLS renegotiation by closing the connection, and keeps serving others', async () => {
    const root = pki.clients.root!;
    const socket = tls.connect({
      host: '127.0.0.1',
      port: srv.port,
      ca: pki.ca.certPem,
      cert: root.certPem,
      key: root.keyPem,
      servername: 'localhost',
      ALPNProtocols: ['h2'],
      // TLS 1.3 has no renegotiation at all.
      maxVersion: 'TLSv1.2',
    });
    socket.on('error', () => undefined);
    // Read (and drop) the server's HTTP/2 settings: unread data would hold back the end of the stream.
    socket.resume();
    await within(5000, 'TLS 1.2 handshake', new Promise<void>((resolve) => socket.once('secureConnect', () => resolve())));
    expect(socket.getProtocol()).toBe('TLSv1.2');
    // The client may even see its renegotiation complete (an abbreviated handshake is one server flight), but
    // the server has closed the connection by then: no call is ever served under the new handshake.
    expect(socket.renegotiate({}, () => undefined)).toBe(true);
    await within(5000, 'the server closes the renegotiating connection', closed(socket));

    const other = clientAs(pki.clients.root);
    await expect(unary(other.produce.bind(other), { record: record('still up'), topic: '' })).resolves.toEqual({ offset: 0 });
  });

  it('closes a connection whose handshake stalls, and one that does not speak TLS, and keeps serving', async () => {
    const stalled = net.connect(srv.port, '127.0.0.1', () => stalled.write(Buffer.from([0x16, 0x03, 0x01])));
    stalled.on('error', () => undefined);
    const plaintext = net.connect(srv.port, '127.0.0.1', () => plaintext.write('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'));
    plaintext.on('error', () => undefined);
    const started = Date.now();
    await within(5000, 'the plaintext connection is closed', closed(plaintext));
    await within(5000, 'the stalled handshake is closed', closed(stalled));
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);

    const root = clientAs(pki.clients.root);
    await expect(unary(root.produce.bind(root), { record: record('x'), topic: '' })).resolves.toEqual({ offset: 0 });
  });
});

describe('stopping a server whose TLS it terminates', () => {
  it('drains the injected connections gracefully and ends those still in their handshake', async () => {
    // A handshake timeout far beyond the test: only stop() can end the stalled connection in time.
    const srv = await startInjectedServer(pki, { handshakeTimeoutMs: 60_000 });
    const c = logClient(srv.addr, clientCredentials(pki, pki.clients.root));
    const stalled = net.connect(srv.port, '127.0.0.1', () => stalled.write(Buffer.from([0x16, 0x03, 0x01])));
    stalled.on('error', () => undefined);
    try {
      await unary(c.produce.bind(c), { record: record('x'), topic: '' });
      const parked = c.consumeStream({ offset: 1, topic: '', linearizable: false });
      // Settled now, inspected after the stop: the rejection must not go unhandled meanwhile.
      const ended = take(parked, 1).then(
        () => 'a message',
        (err: grpc.ServiceError) => err,
      );
      await eventually(() => srv.server.openStreams === 1, 'the stream is open');
      const started = Date.now();
      await srv.close();
      // Well within the 2 s grace: the session closed when asked, it was not cut off at the deadline.
      expect(Date.now() - started).toBeLessThan(1500);
      expect(await ended).toMatchObject({ code: Code.UNAVAILABLE });
      await within(1000, 'the stalled handshake is closed', closed(stalled));
    } finally {
      c.close();
      stalled.destroy();
      await srv.close();
    }
  });
});
