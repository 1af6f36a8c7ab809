import http2 from 'node:http2';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { jest } from '@jest/globals';
import * as grpc from '@grpc/grpc-js';
import { HealthCheckResponse_ServingStatus as ServingStatus } from '../../api/grpc/health/v1/health.js';
import { ProduceBatchRequest, type ConsumeResponse, type LogClient, type ProduceResponse } from '../../api/v1/log.js';
import { issueCert } from '../config/index.js';
import { ProposalOutcomeUnknownError, type LogService } from './log-service.js';
import { SERVER_FLOW_CONTROL_WINDOW_BYTES } from './server.js';
import {
  cancel,
  clientCredentials,
  eventually,
  healthClient,
  logClient,
  TEST_KEY_BITS,
  makeTestPKI,
  startTestServer,
  take,
  unary,
  type TestPKI,
  type TestServer,
} from './test-support.js';

const { status: Code } = grpc;

/** Runs `body` with a root client of `ts`, then closes the client and the server, whatever happens. */
async function withRootClient(ts: TestServer, body: (c: LogClient) => Promise<void>): Promise<void> {
  const c = logClient(ts.addr, clientCredentials(pki, pki.clients.root));
  try {
    await body(c);
  } finally {
    c.close();
    await ts.close();
  }
}

/** One write to `topic` through each produce RPC (unary, batch, stream), each started when its thunk is called. */
function everyProduceRpc(c: LogClient, topic: string): Array<() => Promise<unknown>> {
  const record = { value: bytes('x'), offset: 0, term: 0, type: 0 };
  return [
    () => unary(c.produce.bind(c), { record, topic }),
    () => unary(c.produceBatch.bind(c), { topic, values: [bytes('x')] }),
    () => {
      const stream = c.produceStream();
      stream.write({ record, topic });
      return take(stream, 1);
    },
  ];
}

/** Runs `body` with the port of a TCP listener whose connections reach `ts` through createConnectionInjector. */
async function withInjector(ts: TestServer, body: (port: number) => Promise<void>): Promise<void> {
  const injector = ts.server.createConnectionInjector(ts.server.credentials);
  const tcp = createNetServer((socket) => injector.injectConnection(socket));
  await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
  try {
    await body((tcp.address() as AddressInfo).port);
  } finally {
    injector.destroy();
    await new Promise((resolve) => tcp.close(resolve));
  }
}

/**
 * The receive windows a server at `addr` grants a raw HTTP/2 client: each stream's (its SETTINGS) and the
 * connection's (its WINDOW_UPDATE, which follows the SETTINGS; waited for up to a deadline).
 */
async function windowsGranted(addr: string): Promise<{ stream: number | undefined; connection: number | undefined }> {
  const root = pki.clients.root!;
  const session = http2.connect(`https://${addr}`, { ca: pki.ca.certPem, cert: root.certPem, key: root.keyPem, servername: 'localhost' });
  try {
    await new Promise<void>((resolve, reject) => {
      session.once('remoteSettings', () => resolve());
      session.once('error', reject);
    });
    const deadline = Date.now() + 2000;
    while ((session.state.remoteWindowSize ?? 0) < SERVER_FLOW_CONTROL_WINDOW_BYTES && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return { stream: session.remoteSettings.initialWindowSize, connection: session.state.remoteWindowSize };
  } finally {
    session.destroy();
  }
}

/** The service's methods bound to it, so that a test can replace one and keep the rest. */
function bindAll(service: LogService): LogService {
  return {
    produce: service.produce.bind(service),
    read: service.read.bind(service),
    readRange: service.readRange.bind(service),
    waitFor: service.waitFor.bind(service),
    topics: service.topics.bind(service),
    getServers: service.getServers.bind(service),
  };
}
const bytes = (text: string): Buffer => Buffer.from(text);

let pki: TestPKI;
beforeAll(async () => {
  pki = await makeTestPKI();
});

describe('log.v1.Log over mutual TLS', () => {
  let ts: TestServer;
  let clients: grpc.Client[];
  const client = (identity: string): LogClient => {
    const c = logClient(ts.addr, clientCredentials(pki, pki.clients[identity]));
    clients.push(c);
    return c;
  };

  beforeEach(async () => {
    ts = await startTestServer(pki, { maxRecordBytes: 1024 });
    clients = [];
  });
  afterEach(async () => {
    for (const c of clients) c.close();
    await ts.close();
  });

  it('produces a record and consumes it back at the returned offset (the default log)', async () => {
    const root = client('root');
    const first = await unary(root.produce.bind(root), { record: { value: bytes('hello'), offset: 0, term: 0, type: 0 }, topic: '' });
    const second = await unary(root.produce.bind(root), { record: { value: bytes('world'), offset: 0, term: 0, type: 0 }, topic: '' });
    expect([first.offset, second.offset]).toEqual([0, 1]);
    const got = await unary(root.consume.bind(root), { offset: 1, topic: '', linearizable: false });
    expect(got.record?.value.toString()).toBe('world');
    expect(got.record?.offset).toBe(1);
  });

  it('answers a consume past the end of the log with OUT_OF_RANGE', async () => {
    const root = client('root');
    await unary(root.produce.bind(root), { record: { value: bytes('only'), offset: 0, term: 0, type: 0 }, topic: '' });
    await expect(unary(root.consume.bind(root), { offset: 1, topic: '', linearizable: false })).rejects.toMatchObject({
      code: Code.OUT_OF_RANGE,
    });
  });

  it('streams produce responses in request order and consumes them back by stream', async () => {
    const root = client('root');
    const produce = root.produceStream();
    const values = Array.from({ length: 300 }, (_, i) => bytes(`record-${i}`));
    const responses = take<ProduceResponse>(produce, values.length);
    // Every request is written before any response is read: the server must pipeline, not lock-step.
    for (const value of values) produce.write({ record: { value, offset: 0, term: 0, type: 0 }, topic: 'orders' });
    expect((await responses).map((r) => r.offset)).toEqual(values.map((_, i) => i));
    produce.end();

    const consume = root.consumeStream({ offset: 0, topic: 'orders', linearizable: false });
    const records = await take<ConsumeResponse>(consume, values.length);
    cancel(consume);
    expect(records.map((r) => r.record?.value.toString())).toEqual(values.map((v) => v.toString()));
    expect(records.map((r) => r.record?.offset)).toEqual(values.map((_, i) => i));
  });

  it('ConsumeStream waits at the head and delivers records produced later', async () => {
    const root = client('root');
    await unary(root.produce.bind(root), { record: { value: bytes('before'), offset: 0, term: 0, type: 0 }, topic: 'events' });
    const consume = root.consumeStream({ offset: 0, topic: 'events', linearizable: false });
    expect((await take<ConsumeResponse>(consume, 1))[0]?.record?.value.toString()).toBe('before');
    // The stream is now parked at offset 1 with nothing to send.
    const later = take<ConsumeResponse>(consume, 2);
    await unary(root.produce.bind(root), { record: { value: bytes('after-1'), offset: 0, term: 0, type: 0 }, topic: 'events' });
    await unary(root.produceBatch.bind(root), { topic: 'events', values: [bytes('after-2')] });
    expect((await later).map((r) => [r.record?.offset, r.record?.value.toString()])).toEqual([
      [1, 'after-1'],
      [2, 'after-2'],
    ]);
    cancel(consume);
  });

  it('a cancelled ConsumeStream ends its wait at the head and releases the stream', async () => {
    await ts.close();
    let waiting = 0;
    ts = await startTestServer(pki, {
      wrapLogService: (inner): LogService => ({
        produce: (t, v) => inner.produce(t, v),
        read: (t, o, opts) => inner.read(t, o, opts),
        readRange: (t, o, l, opts) => inner.readRange(t, o, l, opts),
        topics: () => inner.topics(),
        getServers: () => inner.getServers(),
        waitFor: (t, o, signal) => {
          waiting++;
          return inner.waitFor(t, o, signal).finally(() => waiting--);
        },
      }),
    });
    const root = client('root');
    await unary(root.produce.bind(root), { record: { value: bytes('x'), offset: 0, term: 0, type: 0 }, topic: '' });
    const consume = root.consumeStream({ offset: 1, topic: '', linearizable: false });
    await eventually(() => waiting === 1 && ts.server.openStreams === 1, 'the stream waits at the head');
    cancel(consume);
    await eventually(() => waiting === 0 && ts.server.openStreams === 0, 'the wait is aborted and the stream released');
    // The server is still healthy and serving.
    const got = await unary(root.consume.bind(root), { offset: 0, topic: '', linearizable: false });
    expect(got.record?.value.toString()).toBe('x');
  });

  it('refuses nobody with PERMISSION_DENIED on produce and consume', async () => {
    const nobody = client('nobody');
    await expect(
      unary(nobody.produce.bind(nobody), { record: { value: bytes('x'), offset: 0, term: 0, type: 0 }, topic: '' }),
    ).rejects.toMatchObject({ code: Code.PERMISSION_DENIED, details: expect.stringContaining('nobody') });
    await expect(unary(nobody.consume.bind(nobody), { offset: 0, topic: '', linearizable: false })).rejects.toMatchObject({
      code: Code.PERMISSION_DENIED,
    });
    const stream = nobody.consumeStream({ offset: 0, topic: '', linearizable: false });
    await expect(take(stream, 1)).rejects.toMatchObject({ code: Code.PERMISSION_DENIED });
  });

  it('keeps a tenant to its own topics and lists only the topics the caller may consume', async () => {
    const tenantA = client('tenant-a');
    const tenantB = client('tenant-b');
    const a = await unary(tenantA.produceBatch.bind(tenantA), { topic: 'tenant-a.orders', values: [bytes('a0'), bytes('a1')] });
    expect(a).toEqual({ firstOffset: 0, count: 2 });
    await unary(tenantB.produceBatch.bind(tenantB), { topic: 'tenant-b.orders', values: [bytes('b0')] });

    await expect(
      unary(tenantA.produce.bind(tenantA), { record: { value: bytes('x'), offset: 0, term: 0, type: 0 }, topic: 'tenant-b.orders' }),
    ).rejects.toMatchObject({ code: Code.PERMISSION_DENIED });
    await expect(unary(tenantA.consume.bind(tenantA), { offset: 0, topic: 'tenant-b.orders', linearizable: false })).rejects.toMatchObject({
      code: Code.PERMISSION_DENIED,
    });
    await expect(unary(tenantA.consume.bind(tenantA), { offset: 0, topic: '', linearizable: false })).rejects.toMatchObject({
      code: Code.PERMISSION_DENIED,
    });
    // tenant-b's log is untouched by the refused write.
    const root = client('root');
    const page = await unary(root.consumeRange.bind(root), { topic: 'tenant-b.orders', offset: 0, maxRecords: 0, maxBytes: 0, linearizable: false });
    expect(page.records.map((r) => r.value.toString())).toEqual(['b0']);

    expect((await unary(tenantA.listTopics.bind(tenantA), {})).topics).toEqual(['tenant-a.orders']);
    expect((await unary(root.listTopics.bind(root), {})).topics).toEqual(['', 'tenant-a.orders', 'tenant-b.orders']);
  });

  it('rejects a record over the maximum size with INVALID_ARGUMENT and stores nothing', async () => {
    const root = client('root');
    await unary(root.produce.bind(root), { record: { value: Buffer.alloc(1024, 1), offset: 0, term: 0, type: 0 }, topic: '' });
    await expect(
      unary(root.produce.bind(root), { record: { value: Buffer.alloc(1025, 2), offset: 0, term: 0, type: 0 }, topic: '' }),
    ).rejects.toMatchObject({ code: Code.INVALID_ARGUMENT, details: expect.stringContaining('1025') });
    await expect(unary(root.produceBatch.bind(root), { topic: '', values: [bytes('ok'), Buffer.alloc(2000)] })).rejects.toMatchObject({
      code: Code.INVALID_ARGUMENT,
    });
    const next = await unary(root.produce.bind(root), { record: { value: bytes('next'), offset: 0, term: 0, type: 0 }, topic: '' });
    expect(next.offset).toBe(1);
  });

  it('rejects malformed requests with INVALID_ARGUMENT: no record, empty batch, bad topic name', async () => {
    const root = client('root');
    await expect(unary(root.produce.bind(root), { record: undefined, topic: '' })).rejects.toMatchObject({ code: Code.INVALID_ARGUMENT });
    await expect(unary(root.produceBatch.bind(root), { topic: '', values: [] })).rejects.toMatchObject({ code: Code.INVALID_ARGUMENT });
    await expect(
      unary(root.produce.bind(root), { record: { value: bytes('x'), offset: 0, term: 0, type: 0 }, topic: '../etc' }),
    ).rejects.toMatchObject({ code: Code.INVALID_ARGUMENT, details: expect.stringContaining('invalid topic') });
    expect(ts.logs.list()).toEqual(['']);
    expect(ts.logs.get('').nextOffset()).toBe(0);
  });

  it('answers a consume of an unknown topic with NOT_FOUND, on every consume RPC', async () => {
    const root = client('root');
    await expect(unary(root.consume.bind(root), { offset: 0, topic: 'nope', linearizable: false })).rejects.toMatchObject({
      code: Code.NOT_FOUND,
      details: expect.stringContaining('nope'),
    });
    await expect(
      unary(root.consumeRange.bind(root), { topic: 'nope', offset: 0, maxRecords: 1, maxBytes: 0, linearizable: false }),
    ).rejects.toMatchObject({ code: Code.NOT_FOUND });
    await expect(take(root.consumeStream({ offset: 0, topic: 'nope', linearizable: false }), 1)).rejects.toMatchObject({
      code: Code.NOT_FOUND,
    });
    expect(ts.logs.has('nope')).toBe(false);
  });

  it('pages with ConsumeRange by max_records and max_bytes, and returns an empty page at the head', async () => {
    const root = client('root');
    const values = Array.from({ length: 10 }, () => Buffer.alloc(100, 7));
    expect(await unary(root.produceBatch.bind(root), { topic: 't', values })).toEqual({ firstOffset: 0, count: 10 });
    const byCount = await unary(root.consumeRange.bind(root), { topic: 't', offset: 2, maxRecords: 3, maxBytes: 0, linearizable: false });
    expect(byCount.records.map((r) => r.offset)).toEqual([2, 3, 4]);
    expect(byCount.nextOffset).toBe(5);
    const byBytes = await unary(root.consumeRange.bind(root), { topic: 't', offset: 5, maxRecords: 0, maxBytes: 250, linearizable: true });
    expect(byBytes.records.map((r) => r.offset)).toEqual([5, 6]);
    const oneEvenIfLarger = await unary(root.consumeRange.bind(root), { topic: 't', offset: 9, maxRecords: 0, maxBytes: 1, linearizable: false });
    expect(oneEvenIfLarger.records.map((r) => r.offset)).toEqual([9]);
    expect(oneEvenIfLarger.nextOffset).toBe(10);
    const head = await unary(root.consumeRange.bind(root), { topic: 't', offset: 10, maxRecords: 0, maxBytes: 0, linearizable: false });
    expect(head).toEqual({ records: [], nextOffset: 10 });
    await expect(
      unary(root.consumeRange.bind(root), { topic: 't', offset: 11, maxRecords: 0, maxBytes: 0, linearizable: false }),
    ).rejects.toMatchObject({ code: Code.OUT_OF_RANGE });
  });

  it('answers every ProduceStream request before an oversized one, then fails the stream with INVALID_ARGUMENT', async () => {
    const root = client('root');
    const produce = root.produceStream();
    const acknowledged = take<ProduceResponse>(produce, 2);
    produce.write({ record: { value: bytes('a'), offset: 0, term: 0, type: 0 }, topic: '' });
    produce.write({ record: { value: bytes('b'), offset: 0, term: 0, type: 0 }, topic: '' });
    produce.write({ record: { value: Buffer.alloc(5000), offset: 0, term: 0, type: 0 }, topic: '' });
    produce.write({ record: { value: bytes('never'), offset: 0, term: 0, type: 0 }, topic: '' });
    expect((await acknowledged).map((r) => r.offset)).toEqual([0, 1]);
    await expect(take(produce, 1)).rejects.toMatchObject({ code: Code.INVALID_ARGUMENT });
    const page = await unary(root.consumeRange.bind(root), { topic: '', offset: 0, maxRecords: 0, maxBytes: 0, linearizable: false });
    expect(page.records.map((r) => r.value.toString())).toEqual(['a', 'b']);
  });

  it('serves connections handed in through createConnectionInjector (the agent multiplexer path)', async () => {
    await withInjector(ts, async (port) => {
      const viaInjector = logClient(`127.0.0.1:${port}`, clientCredentials(pki, pki.clients.root));
      clients.push(viaInjector);
      const { offset } = await unary(viaInjector.produce.bind(viaInjector), {
        record: { value: bytes('injected'), offset: 0, term: 0, type: 0 },
        topic: '',
      });
      const root = client('root');
      expect((await unary(root.consume.bind(root), { offset, topic: '', linearizable: false })).record?.value.toString()).toBe('injected');
      const nobody = logClient(`127.0.0.1:${port}`, clientCredentials(pki));
      clients.push(nobody);
      await expect(unary(nobody.getServers.bind(nobody), {})).rejects.toMatchObject({ code: Code.UNAUTHENTICATED });
    });
  });

  it('grants every connection and stream a receive window of SERVER_FLOW_CONTROL_WINDOW_BYTES, listening or injected', async () => {
    const expected = { stream: SERVER_FLOW_CONTROL_WINDOW_BYTES, connection: SERVER_FLOW_CONTROL_WINDOW_BYTES };
    expect(await windowsGranted(ts.addr)).toEqual(expected);
    await withInjector(ts, async (port) => expect(await windowsGranted(`127.0.0.1:${port}`)).toEqual(expected));
  });

  it('lists the servers: a single node that leads', async () => {
    const root = client('root');
    const { servers } = await unary(root.getServers.bind(root), {});
    expect(servers).toEqual([{ id: 'local', rpcAddr: '', isLeader: true, isLearner: false }]);
  });

  it('reports SERVING on grpc.health.v1.Health, and NOT_SERVING to a watcher when the server stops', async () => {
    const health = healthClient(ts.addr, clientCredentials(pki, pki.clients.root));
    clients.push(health);
    expect(await unary(health.check.bind(health), { service: '' })).toEqual({ status: ServingStatus.SERVING });
    expect(await unary(health.check.bind(health), { service: 'log.v1.Log' })).toEqual({ status: ServingStatus.SERVING });
    await expect(unary(health.check.bind(health), { service: 'other.v1.Thing' })).rejects.toMatchObject({ code: Code.NOT_FOUND });

    const watch = health.watch({ service: 'log.v1.Log' });
    const watchEnd = new Promise<grpc.ServiceError>((resolve) => watch.on('error', resolve));
    expect(await take(watch, 1)).toEqual([{ status: ServingStatus.SERVING }]);
    const next = take(watch, 1);
    const root = client('root');
    const consume = root.consumeStream({ offset: 0, topic: '', linearizable: false });
    const consumeEnd = take(consume, 1);
    await eventually(() => ts.server.openStreams === 2, 'both streams are open');
    // A grace far beyond the test's timeout: only streams that end by themselves let stop() return in time.
    const stopping = ts.server.stop(600_000);
    expect(await next).toEqual([{ status: ServingStatus.NOT_SERVING }]);
    // A stream parked at the head does not hold shutdown hostage: it ends with UNAVAILABLE.
    await expect(consumeEnd).rejects.toMatchObject({ code: Code.UNAVAILABLE });
    // The watcher is told NOT_SERVING, then its stream ends like every other: with UNAVAILABLE.
    expect(await watchEnd).toMatchObject({ code: Code.UNAVAILABLE });
    await stopping;
  });
});

describe('the number of records in one ProduceBatch', () => {
  it('is capped by maxBatchRecords: one more is INVALID_ARGUMENT naming the limit, refused before decoding, and stores nothing', async () => {
    const ts = await startTestServer(pki, { limits: { maxBatchRecords: 3 } });
    const c = logClient(ts.addr, clientCredentials(pki, pki.clients.root));
    const decode = jest.spyOn(ProduceBatchRequest, 'decode');
    try {
      const empty = (n: number): Buffer[] => Array.from({ length: n }, () => Buffer.alloc(0));
      expect(await unary(c.produceBatch.bind(c), { topic: 'b', values: empty(3) })).toEqual({ firstOffset: 0, count: 3 });
      expect(decode).toHaveBeenCalledTimes(1);
      await expect(unary(c.produceBatch.bind(c), { topic: 'b', values: empty(4) })).rejects.toMatchObject({
        code: Code.INVALID_ARGUMENT,
        details: expect.stringContaining('at most 3 records'),
      });
      // Decoding is the cost the limit bounds (a Buffer per value), so the refusal comes before it.
      expect(decode).toHaveBeenCalledTimes(1);
      await expect(unary(c.produceBatch.bind(c), { topic: 'fresh', values: empty(1000) })).rejects.toMatchObject({
        code: Code.INVALID_ARGUMENT,
        details: expect.stringContaining('maxBatchRecords'),
      });
      expect(ts.logs.get('b').nextOffset()).toBe(3);
      expect(ts.logs.has('fresh')).toBe(false);
      // The server is still there, and a batch within the limit still goes through.
      expect(await unary(c.produceBatch.bind(c), { topic: 'b', values: [bytes('x')] })).toEqual({ firstOffset: 3, count: 1 });
    } finally {
      decode.mockRestore();
      c.close();
      await ts.close();
    }
  });

  it('defaults to 10,000', async () => {
    const ts = await startTestServer(pki);
    await withRootClient(ts, async (c) => {
      const empty = (n: number): Buffer[] => Array.from({ length: n }, () => Buffer.alloc(0));
      expect(await unary(c.produceBatch.bind(c), { topic: 'b', values: empty(10_000) })).toEqual({ firstOffset: 0, count: 10_000 });
      await expect(unary(c.produceBatch.bind(c), { topic: 'b', values: empty(10_001) })).rejects.toMatchObject({
        code: Code.INVALID_ARGUMENT,
        details: expect.stringContaining('at most 10000 records'),
      });
      expect(ts.logs.get('b').nextOffset()).toBe(10_000);
    });
  });
});

describe('the number of topics', () => {
  it('is capped by maxTopics: a produce creating one more is RESOURCE_EXHAUSTED naming the limit, on every produce RPC', async () => {
    // The default log is one of the two.
    const ts = await startTestServer(pki, { local: { maxTopics: 2 } });
    await withRootClient(ts, async (c) => {
      const record = { value: bytes('x'), offset: 0, term: 0, type: 0 };
      expect(await unary(c.produce.bind(c), { record, topic: 'first' })).toEqual({ offset: 0 });
      const refused = { code: Code.RESOURCE_EXHAUSTED, details: expect.stringContaining('maximum of 2 topics') };
      for (const call of everyProduceRpc(c, 'second')) await expect(call()).rejects.toMatchObject(refused);
      expect(ts.logs.list()).toEqual(['', 'first']);
      // The topics there are keep taking writes.
      expect(await unary(c.produce.bind(c), { record, topic: 'first' })).toEqual({ offset: 1 });
      expect(await unary(c.produce.bind(c), { record, topic: '' })).toEqual({ offset: 0 });
    });
  });
});

describe('a server out of file descriptors or disk space', () => {
  it('answers RESOURCE_EXHAUSTED on every produce RPC, not INTERNAL, and keeps serving', async () => {
    // What TopicLogs.getOrCreate throws when a new topic's files cannot be opened.
    const emfile = (): Error =>
      Object.assign(new Error("EMFILE: too many open files, open '/srv/t/00000000000000000000.index'"), {
        code: 'EMFILE',
        errno: -24,
        syscall: 'open',
      });
    const ts = await startTestServer(pki, {
      wrapLogService: (inner): LogService => ({
        ...bindAll(inner),
        produce: (topic, values) => (topic === 'new' ? Promise.reject(emfile()) : inner.produce(topic, values)),
      }),
    });
    await withRootClient(ts, async (c) => {
      const exhausted = { code: Code.RESOURCE_EXHAUSTED, details: expect.stringContaining('too many open files (EMFILE in open)') };
      for (const call of everyProduceRpc(c, 'new')) await expect(call()).rejects.toMatchObject(exhausted);
      const record = { value: bytes('x'), offset: 0, term: 0, type: 0 };
      expect(await unary(c.produce.bind(c), { record, topic: '' })).toEqual({ offset: 0 });
    });
  });
});

describe('a write whose outcome is unknown (proposed, then the node stopped leading)', () => {
  it('reaches the client as UNAVAILABLE with trailer proglog-outcome: unknown and no leader metadata, on every produce RPC', async () => {
    const ts = await startTestServer(pki, {
      wrapLogService: (inner): LogService => ({
        ...bindAll(inner),
        produce: () => Promise.reject(new ProposalOutcomeUnknownError('this node stopped leading after proposing it')),
      }),
    });
    await withRootClient(ts, async (c) => {
      const failure = (call: Promise<unknown>): Promise<grpc.ServiceError> =>
        call.then(
          () => {
            throw new Error('the call succeeded');
          },
          (err: grpc.ServiceError) => err,
        );
      const unknown = (err: grpc.ServiceError): void => {
        expect(err.code).toBe(Code.UNAVAILABLE);
        expect(err.details).toContain('outcome is unknown');
        expect(err.metadata.get('proglog-outcome')).toEqual(['unknown']);
        expect(err.metadata.get('proglog-leader-id')).toEqual([]);
        expect(err.metadata.get('proglog-leader-addr')).toEqual([]);
      };
      for (const call of everyProduceRpc(c, '')) unknown(await failure(call()));
    });
  });
});

describe('stopping with a ProduceStream append in flight', () => {
  it('reports an append whose outcome became unknown as such, not as the shutdown', async () => {
    let produced!: () => void;
    const producing = new Promise<void>((resolve) => (produced = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const ts = await startTestServer(pki, {
      wrapLogService: (inner): LogService => ({
        ...bindAll(inner),
        // As a leader's proposal does when it steps down during the drain: proposed, then given up on.
        produce: async () => {
          produced();
          await released;
          throw new ProposalOutcomeUnknownError('this node stopped leading after proposing it');
        },
      }),
    });
    await withRootClient(ts, async (c) => {
      const call = c.produceStream();
      const ended = new Promise<grpc.ServiceError>((resolve) => call.on('error', resolve));
      call.write({ record: { value: bytes('in flight'), offset: 0, term: 0, type: 0 }, topic: '' });
      await producing;
      const stopping = ts.server.stop(600_000);
      release();
      const err = await ended;
      expect(err.code).toBe(Code.UNAVAILABLE);
      expect(err.metadata.get('proglog-outcome')).toEqual(['unknown']);
      await stopping;
    });
  });

  it('answers the append, ends the stream with UNAVAILABLE, and does not wait out the grace period', async () => {
    let produced!: () => void;
    const producing = new Promise<void>((resolve) => (produced = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const ts = await startTestServer(pki, {
      wrapLogService: (inner): LogService => ({
        ...bindAll(inner),
        produce: async (topic, values) => {
          produced();
          await released;
          return inner.produce(topic, values);
        },
      }),
    });
    await withRootClient(ts, async (c) => {
      const call = c.produceStream();
      const ended = new Promise<grpc.ServiceError>((resolve) => call.on('error', resolve));
      const answered = take<ProduceResponse>(call, 1);
      call.write({ record: { value: bytes('in flight'), offset: 0, term: 0, type: 0 }, topic: '' });
      await producing;
      const stopping = ts.server.stop(600_000);
      release();
      expect(await answered).toEqual([{ offset: 0 }]);
      expect(await ended).toMatchObject({ code: Code.UNAVAILABLE });
      await stopping;
      expect(ts.server.openStreams).toBe(0);
    });
  });
});

describe('client authentication', () => {
  let ts: TestServer;
  let clients: grpc.Client[];
  beforeAll(async () => {
    ts = await startTestServer(pki);
    clients = [];
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await ts.close();
  });
  const expectUnauthenticated = async (credentials: grpc.ChannelCredentials): Promise<void> => {
    const c = logClient(ts.addr, credentials);
    clients.push(c);
    await expect(
      unary(c.produce.bind(c), { record: { value: bytes('x'), offset: 0, term: 0, type: 0 }, topic: '' }),
    ).rejects.toMatchObject({ code: Code.UNAUTHENTICATED, details: expect.stringContaining('client certificate') });
    await expect(take(c.consumeStream({ offset: 0, topic: '', linearizable: false }), 1)).rejects.toMatchObject({
      code: Code.UNAUTHENTICATED,
    });
    const h = healthClient(ts.addr, credentials);
    clients.push(h);
    await expect(unary(h.check.bind(h), { service: '' })).rejects.toMatchObject({ code: Code.UNAUTHENTICATED });
  };

  it('refuses a client with no certificate with UNAUTHENTICATED', async () => {
    await expectUnauthenticated(clientCredentials(pki));
  });

  it('refuses a certificate from another CA with UNAUTHENTICATED, even with an allowed CN', async () => {
    await expectUnauthenticated(clientCredentials(pki, pki.foreignRoot));
  });

  it('refuses an expired certificate with UNAUTHENTICATED, even with an allowed CN', async () => {
    await expectUnauthenticated(clientCredentials(pki, pki.expiredRoot));
  });

  it('refuses a certificate from the right CA that names no one (empty CN) with UNAUTHENTICATED', async () => {
    const anonymous = await issueCert(pki.ca, { cn: '', keyBits: TEST_KEY_BITS });
    const c = logClient(ts.addr, clientCredentials(pki, anonymous));
    clients.push(c);
    await expect(unary(c.getServers.bind(c), {})).rejects.toMatchObject({
      code: Code.UNAUTHENTICATED,
      details: expect.stringContaining('Common Name'),
    });
  });

  it('stored nothing for any refused client', async () => {
    expect(ts.logs.list()).toEqual(['']);
    expect(ts.logs.get('').nextOffset()).toBe(0);
  });
});
