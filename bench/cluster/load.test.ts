// The bench's own parts, checked against the no-op server in-process: each scenario moves records and measures
// them, and the no-op server answers every RPC the scenarios use over mutual TLS.
import { EventEmitter } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { LogClient, LogService, type ConsumeResponse, type ProduceBatchRequest, type ProduceBatchResponse } from '../../api/v1/log.js';
import { createClient } from '../../internal/loadbalance/index.js';
import { MAX_STREAM_BATCH_RECORDS } from '../../internal/server/requests.js';
import { cancel, take } from '../../internal/server/test-support.js';
import { writeClusterCerts, type ClusterCerts } from '../../test/nemesis/cluster-certs.js';
import { batchProduce, streamConsume, streamProduce, unaryProduce } from './load.js';
import { writeVolume } from './memory.js';
import { startNoopServer, type NoopServer } from './noop-server.js';

describe('cluster bench load generator against the no-op server', () => {
  let dir: string;
  let certs: ClusterCerts;
  let server: NoopServer;
  let client: LogClient;
  const value = Buffer.alloc(256, 1);
  const stderrWrite = process.stderr.write;

  beforeAll(async () => {
    // Progress lines go to stderr; keep the test output readable.
    process.stderr.write = (() => true) as typeof process.stderr.write;
    dir = await mkdtemp(path.join(os.tmpdir(), 'cluster-bench-'));
    certs = await writeClusterCerts(dir, []);
    server = await startNoopServer({ ca: Buffer.from(certs.ca), cert: Buffer.from(certs.server.cert), key: Buffer.from(certs.server.key) });
    client = createClient({ addr: server.address, ca: certs.ca, cert: certs.client.cert, key: certs.client.key });
    // Connect (resolver, TLS) before the timed scenarios, as the bench does with its first scenario.
    await new Promise((resolve, reject) =>
      client.getServers({}, new grpc.Metadata(), { deadline: Date.now() + 20_000 }, (e, res) => (e ? reject(e) : resolve(res))),
    );
  }, 30_000);

  afterAll(async () => {
    process.stderr.write = stderrWrite;
    client?.close();
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('the no-op server needs a client certificate from its CA', async () => {
    const anonymous = new (client.constructor as new (a: string, c: grpc.ChannelCredentials) => LogClient)(
      server.address,
      grpc.credentials.createSsl(Buffer.from(certs.ca)),
    );
    try {
      const err = await new Promise<grpc.ServiceError | null>((resolve) =>
        anonymous.getServers({}, new grpc.Metadata(), { deadline: Date.now() + 5000 }, (e) => resolve(e)),
      );
      expect(err?.code).toBe(grpc.status.UNAVAILABLE);
    } finally {
      anonymous.close();
    }
  });

  it('unary produce counts acknowledged records, with latencies, from every concurrent caller', async () => {
    const r = await unaryProduce(client, 4, 300, value);
    expect(r.errors).toBe(0);
    expect(r.records).toBeGreaterThanOrEqual(4);
    expect(r.recordsPerSec).toBeGreaterThan(0);
    expect(r.p50Ms).toBeGreaterThan(0);
    expect(r.p99Ms).toBeGreaterThanOrEqual(r.p50Ms);
  });

  it('ProduceStream keeps requests in flight and gets one in-order answer per request', async () => {
    const r = await streamProduce(client, 32, 300, value);
    expect(r.errors).toBe(0);
    expect(r.records).toBeGreaterThan(32);
    expect(r.lastOffset).toBeGreaterThan(0);
  });

  it('batch produce counts every record of every batch', async () => {
    const r = await batchProduce(client, 100, 2, 300, value);
    expect(r.errors).toBe(0);
    expect(r.records % 100).toBe(0);
    expect(r.records).toBeGreaterThanOrEqual(200);
  });

  it('ConsumeStream stops at the requested count and cancels the stream', async () => {
    const r = await streamConsume(client, 5000, 5000);
    expect(r.records).toBeGreaterThanOrEqual(5000);
    expect(r.seconds).toBeLessThan(5);
    expect(r.lastOffset).toBeGreaterThanOrEqual(4999);
  });

  it('ConsumeStream told to reread starts again from offset 0 at the count, until its time is up', async () => {
    const r = await streamConsume(client, 1500, 5000, 256, { reread: true });
    expect(r.seconds).toBeGreaterThanOrEqual(1.4);
    // More than one pass, each from offset 0 and ending at the first batch past the count.
    expect(r.records).toBeGreaterThan(2 * 5000);
    expect(r.lastOffset).toBeLessThan(5000 + 256);
  });

  it('batched ConsumeStream counts every record of every message, not messages', async () => {
    const r = await streamConsume(client, 5000, 5000, 256);
    // From offset 0 with no gaps, the count and the last offset agree only if each batch adds all its records.
    expect(r.records).toBe(r.lastOffset + 1);
    expect(r.records % 256).toBe(0);
    expect(r.records).toBeGreaterThanOrEqual(5000);
    expect(r.p50Ms).toBeGreaterThanOrEqual(0);
  });

  it("unbatched ConsumeStream (the book's form) counts one record per message", async () => {
    const r = await streamConsume(client, 5000, 2000, 0);
    expect(r.records).toBe(r.lastOffset + 1);
    expect(r.records).toBeGreaterThanOrEqual(2000);
  });

  it("the no-op server's ConsumeStream batches as asked, capped as the real server caps", async () => {
    const first = async (maxBatchRecords: number): Promise<ConsumeResponse> => {
      const call = client.consumeStream({ offset: 7, topic: '', linearizable: false, maxBatchRecords });
      try {
        const [message] = await take<ConsumeResponse>(call, 1);
        return message!;
      } finally {
        cancel(call);
      }
    };
    const asked = await first(100);
    expect(asked.record).toBeUndefined();
    expect(asked.batch?.records.map((r) => r.offset)).toEqual(Array.from({ length: 100 }, (_, i) => 7 + i));
    expect(asked.batch?.records[0]?.value).toHaveLength(256);
    expect((await first(1_000_000)).batch?.records).toHaveLength(MAX_STREAM_BATCH_RECORDS);
    const book = await first(0);
    expect(book.batch).toBeUndefined();
    expect(book.record?.offset).toBe(7);
  });
});

describe('batch produce to a volume', () => {
  // A server that stores every batch but fails every third request after storing it, as a leader that loses its
  // leadership after appending does: the figure may count only what was acknowledged.
  let server: grpc.Server;
  let client: LogClient;
  let stored = 0;
  let calls = 0;
  let failAll = false;
  const value = Buffer.alloc(256, 1);
  const stderrWrite = process.stderr.write;

  beforeAll(async () => {
    process.stderr.write = (() => true) as typeof process.stderr.write;
    server = new grpc.Server();
    server.addService(LogService, {
      produceBatch: (call: grpc.ServerUnaryCall<ProduceBatchRequest, ProduceBatchResponse>, cb: grpc.sendUnaryData<ProduceBatchResponse>) => {
        const n = call.request.values.length;
        if (failAll) return cb({ code: grpc.status.UNAVAILABLE, details: 'no leader' });
        const first = stored;
        stored += n;
        if (++calls % 3 === 0) return cb({ code: grpc.status.UNAVAILABLE, details: 'leadership lost after append' });
        cb(null, { firstOffset: first, count: n });
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
    );
    client = new LogClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  });

  afterAll(async () => {
    process.stderr.write = stderrWrite;
    client?.close();
    await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
  });

  beforeEach(() => {
    stored = 0;
    calls = 0;
    failAll = false;
  });

  it('asks again for failed batches and counts only acknowledged records, even where the server stored more', async () => {
    const r = await batchProduce(client, 100, 2, Infinity, value, { records: 1000, maxConsecutiveErrors: 5, retryPauseMs: 1 });
    expect(r.records).toBe(1000);
    expect(r.errors).toBeGreaterThan(0);
    expect(stored).toBe(r.records + 100 * r.errors);
    expect(r.recordsPerSec).toBeCloseTo(r.records / r.seconds);
  });

  it('the write of the memory section is that load: acknowledged bytes cover the volume', async () => {
    const r = await writeVolume(client, 256 * 1050, value, 100, 4);
    // Whole batches, so the volume rounded up to one.
    expect(r.records).toBe(1100);
    expect(stored).toBeGreaterThan(r.records);
  });

  it('gives up with the cause once one caller fails too often in a row', async () => {
    failAll = true;
    await expect(batchProduce(client, 100, 2, Infinity, value, { records: 1000, maxConsecutiveErrors: 3, retryPauseMs: 1 })).rejects.toThrow(
      /ProduceBatch 100\/req x2: 3 requests in a row failed, the last with: .*no leader/,
    );
  });

  it('a timed run is unchanged by failures: it counts them and goes on until the time is up', async () => {
    const r = await batchProduce(client, 100, 2, 300, value);
    expect(r.errors).toBeGreaterThan(0);
    expect(r.records).toBe(stored - 100 * r.errors);
    // Its deadline is on the wall clock (Date.now, whole milliseconds); its duration on performance.now.
    expect(r.seconds).toBeGreaterThanOrEqual(0.299);
  });
});

/**
 * A ProduceStream whose buffer is always over its mark (every write returns false) and which answers each request
 * on the next turn: what a real stream does while the server is behind.
 */
class FullStream extends EventEmitter {
  written = 0;
  mostDrainListeners = 0;
  write(): boolean {
    const offset = this.written++;
    setImmediate(() => this.emit('data', { offset }));
    this.mostDrainListeners = Math.max(this.mostDrainListeners, this.listenerCount('drain'));
    return false;
  }
  end(): void {
    setImmediate(() => this.emit('end'));
  }
}

describe('ProduceStream load over a stream whose buffer stays full', () => {
  it('keeps writing as answers free places in flight, and waits for drain with one listener, not one per answer', async () => {
    const stream = new FullStream();
    const client = { produceStream: () => stream } as unknown as LogClient;
    const r = await streamProduce(client, 8, 100, Buffer.alloc(8));
    // Far more than 8: each answer freed a place that was filled at once, full buffer or not.
    expect(r.records).toBeGreaterThan(80);
    expect(r.errors).toBe(0);
    expect(stream.mostDrainListeners).toBe(1);
  });
});
