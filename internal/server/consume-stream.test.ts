// ConsumeStream against a call whose client reads nothing: the server must stop at the stream's buffer limit
// rather than read the whole log into memory, and carry on in order once the client drains. Then the batched form
// (max_batch_records): the same records as the book's one-per-message form, in messages bounded by the requested
// count, the server's cap and its page bytes, still waiting at the head; and, over gRPC, the book's form untouched.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import type { ServerWritableStream } from '@grpc/grpc-js';
import { pino } from 'pino';
import type { ConsumeRequest, ConsumeResponse, Record as WireRecord } from '../../api/v1/log.js';
import { CasbinAuthorizer } from '../auth/index.js';
import { TopicLogs } from '../log/index.js';
import { serveConsumeStream } from './consume-stream.js';
import { LocalLogService } from './local-log-service.js';
import type { LogService } from './log-service.js';
import { DEFAULT_LIMITS, MAX_STREAM_BATCH_RECORDS, type ServerLimits } from './requests.js';
import { StreamRegistry } from './stream-registry.js';
import {
  MODEL_FILE,
  cancel,
  clientCredentials,
  eventually,
  logClient,
  makeTestPKI,
  startTestServer,
  take,
  type TestPKI,
  type TestServer,
} from './test-support.js';

const HIGH_WATER_MARK = 4;
const RECORDS = 1000;

/** A server stream whose client reads nothing until released: every write is held, so its buffer fills. */
class StalledCall extends Writable {
  readonly sent: ConsumeResponse[] = [];
  private readonly held: Array<() => void> = [];
  private holding = true;
  cancelled = false;

  constructor(readonly request: ConsumeRequest) {
    super({ objectMode: true, highWaterMark: HIGH_WATER_MARK });
  }

  getAuthContext(): { sslPeerCertificate: { subject: { CN: string } } } {
    return { sslPeerCertificate: { subject: { CN: 'root' } } };
  }

  override _write(chunk: ConsumeResponse, _encoding: BufferEncoding, callback: () => void): void {
    this.sent.push(chunk);
    if (this.holding) this.held.push(callback);
    else callback();
  }

  /** The client starts reading: what is held is delivered, and nothing is held from now on. */
  release(): void {
    this.holding = false;
    for (const callback of this.held.splice(0)) callback();
  }

  get waitingForDrain(): boolean {
    return this.listenerCount('drain') > 0;
  }

  cancel(): void {
    this.cancelled = true;
    this.emit('cancelled');
  }
}

describe('ConsumeStream flow control', () => {
  let dir: string;
  let logs: TopicLogs;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'proglog-consume-stream-'));
    logs = await TopicLogs.open(dir);
  });
  afterEach(async () => {
    await logs.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('stops at the buffer limit for a client that reads nothing, then resumes in order, then frees the stream on cancel', async () => {
    const local = await LocalLogService.open(logs);
    await local.produce('', Array.from({ length: RECORDS }, (_, i) => Buffer.from(`r${i}`)));
    let pagesRead = 0;
    const logService: LogService = {
      produce: (t, v) => local.produce(t, v),
      read: (t, o, opts) => local.read(t, o, opts),
      readRange: (t, o, l, opts) => {
        pagesRead++;
        return local.readRange(t, o, l, opts);
      },
      waitFor: (t, o, s) => local.waitFor(t, o, s),
      topics: () => local.topics(),
      getServers: () => local.getServers(),
    };
    const streams = new StreamRegistry();
    const ctx = {
      logService,
      authorizer: await CasbinAuthorizer.fromText(await readFile(MODEL_FILE, 'utf8'), 'p, root, *, consume\n'),
      limits: DEFAULT_LIMITS,
      streams,
      logger: pino({ level: 'silent' }),
    };
    const call = new StalledCall({ offset: 0, topic: '', linearizable: false });

    serveConsumeStream(ctx, call as unknown as ServerWritableStream<ConsumeRequest, ConsumeResponse>);

    await eventually(() => call.waitingForDrain, 'the stream waits for the client to drain');
    // One message in the transport plus a full buffer; one page read from the log, not the whole log.
    expect(call.sent.length).toBeLessThanOrEqual(HIGH_WATER_MARK + 1);
    expect(call.writableLength).toBeLessThanOrEqual(HIGH_WATER_MARK);
    expect(pagesRead).toBe(1);

    call.release();
    await eventually(() => call.sent.length === RECORDS, 'every record is sent once the client reads');
    expect(call.sent.map((m) => m.record?.offset)).toEqual(Array.from({ length: RECORDS }, (_, i) => i));
    expect(call.sent[RECORDS - 1]?.record?.value.toString()).toBe(`r${RECORDS - 1}`);

    // Now parked at the head; cancelling releases the stream.
    expect(streams.size).toBe(1);
    call.cancel();
    await eventually(() => streams.size === 0, 'the cancelled stream is released');
  });
});

/** The records a stream's messages carried, in the order sent, whichever form each message had. */
function recordsOf(messages: ConsumeResponse[]): WireRecord[] {
  return messages.flatMap((m) => m.batch?.records ?? (m.record ? [m.record] : []));
}

function request(offset: number, maxBatchRecords?: number): ConsumeRequest {
  return { offset, topic: '', linearizable: false, ...(maxBatchRecords === undefined ? {} : { maxBatchRecords }) };
}

describe('batched ConsumeStream (max_batch_records)', () => {
  let dir: string;
  let logs: TopicLogs;
  let local: LocalLogService;
  let waits: number;
  let streams: StreamRegistry;
  const calls: StalledCall[] = [];
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'proglog-consume-batch-'));
    logs = await TopicLogs.open(dir);
    local = await LocalLogService.open(logs);
    waits = 0;
    streams = new StreamRegistry();
  });
  afterEach(async () => {
    for (const call of calls.splice(0)) call.cancel();
    await eventually(() => streams.size === 0, 'every stream is released');
    await logs.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** Serves a ConsumeStream to a client that reads everything at once (or nothing, when `stalled`). */
  async function serve(req: ConsumeRequest, limits: Partial<ServerLimits> = {}, stalled = false): Promise<StalledCall> {
    const logService: LogService = {
      produce: (t, v) => local.produce(t, v),
      read: (t, o, opts) => local.read(t, o, opts),
      readRange: (t, o, l, opts) => local.readRange(t, o, l, opts),
      waitFor: (t, o, sig) => {
        waits++;
        return local.waitFor(t, o, sig);
      },
      topics: () => local.topics(),
      getServers: () => local.getServers(),
    };
    const ctx = {
      logService,
      authorizer: await CasbinAuthorizer.fromText(await readFile(MODEL_FILE, 'utf8'), 'p, root, *, consume\n'),
      limits: { ...DEFAULT_LIMITS, ...limits },
      streams,
      logger: pino({ level: 'silent' }),
    };
    const call = new StalledCall(req);
    calls.push(call);
    if (!stalled) call.release();
    serveConsumeStream(ctx, call as unknown as ServerWritableStream<ConsumeRequest, ConsumeResponse>);
    return call;
  }

  /** The records a stream has sent once it has sent `count` of them. */
  async function receive(call: StalledCall, count: number): Promise<WireRecord[]> {
    await eventually(() => recordsOf(call.sent).length >= count, `${count} records are sent`);
    return recordsOf(call.sent);
  }

  const produce = (values: string[]): Promise<number> => local.produce('', values.map((v) => Buffer.from(v)));

  it('returns the same records, in order, as the unbatched stream, and only in `batch`', async () => {
    // Uneven sizes, so that the page byte bound and the record count both come into play.
    const values = Array.from({ length: 2500 }, (_, i) => `v${i}-${'x'.repeat(i % 97)}`);
    await produce(values);
    const limits = { defaultPageBytes: 20_000 };

    const unbatched = await serve(request(3), limits);
    const batched = await serve(request(3, 100), limits);
    const one = await receive(unbatched, values.length - 3);
    const many = await receive(batched, values.length - 3);

    expect(many).toEqual(one);
    expect(many.map((r) => r.value.toString())).toEqual(values.slice(3));
    expect(many.map((r) => r.offset)).toEqual(values.slice(3).map((_, i) => i + 3));
    expect(batched.sent.every((m) => m.record === undefined && (m.batch?.records.length ?? 0) > 0)).toBe(true);
    expect(batched.sent.length).toBeLessThan(unbatched.sent.length / 50);
  });

  it('puts no more records in a message than asked, than its cap, or than the page record limit', async () => {
    await produce(Array.from({ length: 3000 }, (_, i) => `r${i}`));
    const sizes = async (req: ConsumeRequest, limits: Partial<ServerLimits> = {}): Promise<number[]> => {
      const call = await serve(req, limits);
      await receive(call, 3000 - req.offset);
      return call.sent.map((m) => m.batch?.records.length ?? 0);
    };

    const asked = await sizes(request(0, 7));
    expect(Math.max(...asked)).toBe(7);
    expect(asked.filter((n) => n !== 7)).toEqual([3000 % 7]); // full batches, and what is left at the end

    const greedy = await sizes(request(0, 4_294_967_295));
    expect(Math.max(...greedy)).toBe(MAX_STREAM_BATCH_RECORDS);

    const pageLimited = await sizes(request(0, 500), { maxPageRecords: 64 });
    expect(Math.max(...pageLimited)).toBe(64);
  });

  it('keeps each message within the page byte limit, a larger record travelling alone', async () => {
    const small = Array.from({ length: 100 }, (_, i) => `${i}`.padStart(100, '.'));
    await produce([...small.slice(0, 50), 'L'.repeat(5000), ...small.slice(50)]);
    const call = await serve(request(0, 1000), { defaultPageBytes: 1000 });
    const got = await receive(call, 101);

    const bytes = call.sent.map((m) => (m.batch?.records ?? []).reduce((sum, r) => sum + r.value.length, 0));
    const alone = call.sent.findIndex((m) => m.batch?.records.some((r) => r.value.length === 5000));
    expect(call.sent[alone]?.batch?.records).toHaveLength(1);
    expect(bytes.filter((_, i) => i !== alone).every((b) => b > 0 && b <= 1000)).toBe(true);
    expect(got.map((r) => r.offset)).toEqual(Array.from({ length: 101 }, (_, i) => i));
  });

  it('waits at the head and delivers records appended later, batched', async () => {
    await produce(['a', 'b']);
    const call = await serve(request(0, 10));
    expect((await receive(call, 2)).map((r) => r.value.toString())).toEqual(['a', 'b']);
    await eventually(() => waits === 1, 'the stream waits at the head');

    await produce(['c', 'd', 'e']);
    expect((await receive(call, 5)).map((r) => r.value.toString())).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(call.sent.at(-1)?.batch?.records.map((r) => r.offset)).toEqual([2, 3, 4]);
    await eventually(() => waits === 2, 'the stream waits at the new head');

    // A stream that starts at the head waits too.
    const atHead = await serve(request(5, 10));
    await eventually(() => waits === 3, 'the stream from the head waits');
    await produce(['f']);
    expect((await receive(atHead, 1)).map((r) => r.offset)).toEqual([5]);
  });

  it('reads one page per message for a client that reads nothing, and resumes in order once it does', async () => {
    await produce(Array.from({ length: 10_000 }, (_, i) => `r${i}`));
    const call = await serve(request(0, 100), {}, true);
    await eventually(() => call.waitingForDrain, 'the stream waits for the client to drain');
    expect(call.sent.length).toBeLessThanOrEqual(HIGH_WATER_MARK + 1);
    expect(recordsOf(call.sent).length).toBeLessThanOrEqual((HIGH_WATER_MARK + 1) * 100);

    call.release();
    const got = await receive(call, 10_000);
    expect(got.map((r) => r.offset)).toEqual(Array.from({ length: 10_000 }, (_, i) => i));
  });
});

describe('ConsumeStream over gRPC: the book form and the batched form', () => {
  let pki: TestPKI;
  let ts: TestServer;
  let client: ReturnType<typeof logClient>;
  beforeAll(async () => {
    pki = await makeTestPKI();
    ts = await startTestServer(pki);
    client = logClient(ts.addr, clientCredentials(pki, pki.clients.root));
    await ts.logService.produce('', Array.from({ length: 20 }, (_, i) => Buffer.from(`m${i}`)));
  });
  afterAll(async () => {
    client.close();
    await ts.close();
  });

  const first = async (req: ConsumeRequest, messages: number): Promise<ConsumeResponse[]> => {
    const call = client.consumeStream(req, new grpc.Metadata(), { deadline: Date.now() + 10_000 });
    try {
      return await take<ConsumeResponse>(call, messages);
    } finally {
      cancel(call);
    }
  };

  it("gives a request without max_batch_records (the book's) one record per message in `record`", async () => {
    for (const req of [request(4), request(4, 0)]) {
      const got = await first(req, 16);
      expect(got.every((m) => m.batch === undefined)).toBe(true);
      expect(got.map((m) => m.record?.value.toString())).toEqual(Array.from({ length: 16 }, (_, i) => `m${i + 4}`));
    }
  });

  it('gives a batched request its records in `batch`, decoded by the generated client', async () => {
    const got = await first(request(4, 6), 3);
    expect(got.map((m) => m.record)).toEqual([undefined, undefined, undefined]);
    expect(got.map((m) => m.batch?.records.map((r) => r.offset))).toEqual([
      [4, 5, 6, 7, 8, 9],
      [10, 11, 12, 13, 14, 15],
      [16, 17, 18, 19],
    ]);
    expect(got[0]?.batch?.records[0]?.value.toString()).toBe('m4');
  });
});
