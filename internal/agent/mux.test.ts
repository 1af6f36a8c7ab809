import net from 'node:net';
import tls from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { LogClient, LogService, type GetServersResponse } from '../../api/v1/log.js';
import { makeTlsFixtures, type TlsFixtures } from '../../test/helpers/tls-fixtures.js';
import { serverTLSFromPEM } from '../config/index.js';
import { createServer, type LogService as LogBackend, type ProglogServer } from '../server/index.js';
import { PortMux, RAFT_CONNECTION_BYTE, type RaftConnectionAcceptor } from './mux.js';

// A stand-in for the Raft transport: does the TLS server handshake on the raw socket, then echoes.
class EchoRaftAcceptor implements RaftConnectionAcceptor {
  readonly sockets: net.Socket[] = [];
  constructor(private readonly tlsFixtures: TlsFixtures) {}
  acceptConnection(socket: net.Socket): void {
    this.sockets.push(socket);
    const secure = new tls.TLSSocket(socket, {
      isServer: true,
      cert: this.tlsFixtures.server.cert,
      key: this.tlsFixtures.server.key,
      ca: this.tlsFixtures.ca,
      requestCert: true,
      rejectUnauthorized: true,
    });
    secure.on('error', () => secure.destroy());
    secure.on('data', (chunk: Buffer) => secure.write(Buffer.concat([Buffer.from('raft:'), chunk])));
  }
}

function dialRaft(port: number, f: TlsFixtures): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const raw = net.connect(port, '127.0.0.1', () => {
      raw.write(Buffer.from([RAFT_CONNECTION_BYTE]));
      const secure = tls.connect({
        socket: raw,
        ca: f.ca,
        cert: f.server.cert,
        key: f.server.key,
        servername: 'localhost',
      });
      secure.once('secureConnect', () => resolve(secure));
      secure.once('error', reject);
    });
    raw.once('error', reject);
  });
}

function readOnce(socket: net.Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    socket.once('data', (chunk: Buffer) => resolve(chunk.toString()));
    socket.once('error', reject);
  });
}

function getServers(client: LogClient): Promise<GetServersResponse> {
  return new Promise((resolve, reject) => {
    client.getServers({}, new grpc.Metadata(), { deadline: Date.now() + 5000 }, (err, res) =>
      err ? reject(err) : resolve(res),
    );
  });
}

describe('PortMux', () => {
  let fixtures: TlsFixtures;
  let grpcServer: grpc.Server;
  let mux: PortMux;
  let raft: EchoRaftAcceptor;
  const clients: LogClient[] = [];
  const sockets: net.Socket[] = [];

  beforeAll(async () => {
    fixtures = await makeTlsFixtures(['root']);
  });

  beforeEach(async () => {
    grpcServer = new grpc.Server();
    grpcServer.addService(LogService, {
      getServers: (_call: unknown, cb: grpc.sendUnaryData<GetServersResponse>) =>
        cb(null, { servers: [{ id: 'n1', rpcAddr: '127.0.0.1:1', isLeader: true, isLearner: false }] }),
    });
    const creds = grpc.ServerCredentials.createSsl(
      Buffer.from(fixtures.ca),
      [{ cert_chain: Buffer.from(fixtures.server.cert), private_key: Buffer.from(fixtures.server.key) }],
      true,
    );
    raft = new EchoRaftAcceptor(fixtures);
    mux = await PortMux.listen({
      host: '127.0.0.1',
      port: 0,
      raft,
      grpc: grpcServer.createConnectionInjector(creds),
      firstByteTimeoutMs: 300,
    });
  });

  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    for (const s of sockets.splice(0)) s.destroy();
    for (const s of raft.sockets) s.destroy();
    await mux.close();
    grpcServer.forceShutdown();
  });

  function newClient(): LogClient {
    const root = fixtures.clients.get('root')!;
    const client = new LogClient(
      mux.address,
      grpc.credentials.createSsl(Buffer.from(fixtures.ca), Buffer.from(root.key), Buffer.from(root.cert)),
    );
    clients.push(client);
    return client;
  }

  it('binds an OS-chosen port on 127.0.0.1', () => {
    expect(mux.port).toBeGreaterThan(0);
    expect(mux.address).toBe(`127.0.0.1:${mux.port}`);
  });

  it('routes a gRPC client over mTLS to the gRPC server, first byte intact', async () => {
    const res = await getServers(newClient());
    expect(res.servers).toEqual([{ id: 'n1', rpcAddr: '127.0.0.1:1', isLeader: true, isLearner: false }]);
    expect(raft.sockets).toHaveLength(0);
  });

  it('routes a connection whose first byte is 0x01 to Raft, with that byte consumed', async () => {
    const secure = await dialRaft(mux.port, fixtures);
    sockets.push(secure);
    secure.write('hello');
    expect(await readOnce(secure)).toBe('raft:hello');
    expect(raft.sockets).toHaveLength(1);
  });

  it('serves Raft and gRPC on the same port at the same time', async () => {
    const client = newClient();
    const [secure, res] = await Promise.all([dialRaft(mux.port, fixtures), getServers(client)]);
    sockets.push(secure);
    secure.write('ping');
    expect(await readOnce(secure)).toBe('raft:ping');
    expect(res.servers[0]!.id).toBe('n1');
    // The gRPC connection stays usable after the Raft one was routed.
    expect((await getServers(client)).servers).toHaveLength(1);
  });

  it('closes a connection that never sends its first byte', async () => {
    const silent = net.connect(mux.port, '127.0.0.1');
    sockets.push(silent);
    await new Promise<void>((resolve) => silent.once('close', () => resolve()));
    expect(raft.sockets).toHaveLength(0);
  });

  it('holds connections that arrive before attach() and routes them once attached', async () => {
    const late = await PortMux.listen({ host: '127.0.0.1', port: 0 });
    try {
      const lateRaft = new EchoRaftAcceptor(fixtures);
      const dialing = dialRaft(late.port, fixtures);
      const end = Date.now() + 5000;
      while (late.waitingConnections === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
      expect(late.waitingConnections).toBe(1);
      expect(lateRaft.sockets).toHaveLength(0);
      late.attach(lateRaft, { injectConnection: (c) => c.destroy() });
      const secure = await dialing;
      sockets.push(secure);
      secure.write('late');
      expect(await readOnce(secure)).toBe('raft:late');
      for (const s of lateRaft.sockets) s.destroy();
    } finally {
      await late.close();
    }
  });

  it('refuses new connections after close', async () => {
    const port = mux.port;
    await mux.close();
    const refused = await new Promise<NodeJS.ErrnoException>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('error', resolve);
      sockets.push(s);
    });
    expect(refused.code).toBe('ECONNREFUSED');
  });
});

describe('PortMux in front of a server that terminates gRPC TLS itself (the agent wiring)', () => {
  let fixtures: TlsFixtures;
  let server: ProglogServer;
  let mux: PortMux;
  const clients: LogClient[] = [];
  const sockets: net.Socket[] = [];

  // Only getServers is called here.
  const unused = (): never => {
    throw new Error('not used by this test');
  };
  const logService: LogBackend = {
    produce: unused,
    read: unused,
    readRange: unused,
    waitFor: unused,
    topics: () => [],
    getServers: async () => [{ id: 'n1', rpcAddr: '127.0.0.1:1', isLeader: true, isLearner: false }],
  };

  beforeAll(async () => {
    fixtures = await makeTlsFixtures(['root']);
  });

  beforeEach(async () => {
    const serverTls = serverTLSFromPEM({ ca: fixtures.ca, cert: fixtures.server.cert, key: fixtures.server.key });
    server = createServer({
      logService,
      authorizer: { can: async () => true, authorize: async () => undefined },
      credentials: serverTls.credentials,
      logger: pino({ level: 'silent' }),
    });
    mux = await PortMux.listen({
      host: '127.0.0.1',
      port: 0,
      raft: { acceptConnection: (socket) => socket.destroy() },
      grpc: server.createTlsConnectionInjector(serverTls.grpcTlsOptions, { handshakeTimeoutMs: 300 }),
      firstByteTimeoutMs: 300,
    });
  });

  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    for (const s of sockets.splice(0)) s.destroy();
    await mux.close();
    await server.stop(1000);
  });

  function clientAs(identity: 'root' | 'anonymous'): LogClient {
    const root = fixtures.clients.get('root')!;
    const client = new LogClient(
      mux.address,
      identity === 'root'
        ? grpc.credentials.createSsl(Buffer.from(fixtures.ca), Buffer.from(root.key), Buffer.from(root.cert))
        : grpc.credentials.createSsl(Buffer.from(fixtures.ca)),
    );
    clients.push(client);
    return client;
  }

  it('gives the TLS handshake the first byte intact and serves the verified client', async () => {
    expect((await getServers(clientAs('root'))).servers[0]!.id).toBe('n1');
    await expect(getServers(clientAs('anonymous'))).rejects.toMatchObject({ code: grpc.status.UNAUTHENTICATED });
  });

  it('closes a gRPC connection whose TLS handshake stalls after its first byte', async () => {
    const stalled = net.connect(mux.port, '127.0.0.1', () => stalled.write(Buffer.from([0x16, 0x03, 0x01])));
    sockets.push(stalled);
    stalled.on('error', () => undefined);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      new Promise<void>((resolve) => stalled.once('close', () => resolve())),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('the stalled handshake was not closed within 5 s')), 5000);
      }),
    ]).finally(() => clearTimeout(timer));
    // The port still serves.
    expect((await getServers(clientAs('root'))).servers).toHaveLength(1);
  });
});
