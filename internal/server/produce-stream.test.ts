// ProduceStream against a client that floods requests and reads no responses: the server must stop reading at
// its window instead of queueing without bound, and once the client reads, answer every request in order.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duplex } from 'node:stream';
import type { ServerDuplexStream } from '@grpc/grpc-js';
import { pino } from 'pino';
import type { ProduceRequest, ProduceResponse } from '../../api/v1/log.js';
import { CasbinAuthorizer } from '../auth/index.js';
import { TopicLogs } from '../log/index.js';
import { LocalLogService } from './local-log-service.js';
import { serveProduceStream } from './produce-stream.js';
import { DEFAULT_LIMITS } from './requests.js';
import { StreamRegistry } from './stream-registry.js';
import { MODEL_FILE, eventually } from './test-support.js';

const WINDOW = 64;
const READ_BUFFER = 8;
const WRITE_BUFFER = 4;
const REQUESTS = 2000;

/** A bidi call: the client pushes requests as fast as the server's reading allows and holds every response. */
class FloodingCall extends Duplex {
  readonly responses: ProduceResponse[] = [];
  /** Statuses the server ended the call with through the 'error' event (grpc-js listens there too). */
  readonly failures: unknown[] = [];
  accepted = 0;
  cancelled = false;
  private readonly held: Array<() => void> = [];
  private holding = true;
  private wantMore: (() => void) | undefined;

  constructor() {
    super({ objectMode: true, readableHighWaterMark: READ_BUFFER, writableHighWaterMark: WRITE_BUFFER });
    this.on('error', (status) => this.failures.push(status));
  }

  getAuthContext(): { sslPeerCertificate: { subject: { CN: string } } } {
    return { sslPeerCertificate: { subject: { CN: 'root' } } };
  }

  override _read(): void {
    const wake = this.wantMore;
    this.wantMore = undefined;
    wake?.();
  }

  override _write(chunk: ProduceResponse, _encoding: BufferEncoding, callback: () => void): void {
    this.responses.push(chunk);
    if (this.holding) this.held.push(callback);
    else callback();
  }

  /** Sends `count` requests, each only when the server's read buffer has room, then half-closes. */
  async flood(count: number): Promise<void> {
    for (let i = 0; i < count; i++) {
      const request: ProduceRequest = { record: { value: Buffer.from(`m${i}`), offset: 0, term: 0, type: 0 }, topic: 'flood' };
      this.accepted++;
      if (!this.push(request)) await new Promise<void>((resolve) => (this.wantMore = resolve));
    }
    this.push(null);
  }

  get stalledOnReading(): boolean {
    return this.wantMore !== undefined;
  }

  release(): void {
    this.holding = false;
    for (const callback of this.held.splice(0)) callback();
  }
}

describe('ProduceStream flow control', () => {
  let dir: string;
  let logs: TopicLogs;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'proglog-produce-stream-'));
    logs = await TopicLogs.open(dir);
  });
  afterEach(async () => {
    await logs.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('stops reading at its window while responses are unread, then answers every request in order', async () => {
    const streams = new StreamRegistry();
    const ctx = {
      logService: await LocalLogService.open(logs),
      authorizer: await CasbinAuthorizer.fromText(await readFile(MODEL_FILE, 'utf8'), 'p, root, *, produce\n'),
      limits: { ...DEFAULT_LIMITS, produceStreamWindow: WINDOW },
      streams,
      logger: pino({ level: 'silent' }),
    };
    const call = new FloodingCall();
    const ended = new Promise<void>((resolve) => call.once('finish', resolve));
    serveProduceStream(ctx, call as unknown as ServerDuplexStream<ProduceRequest, ProduceResponse>);
    const flooding = call.flood(REQUESTS);

    await eventually(() => call.stalledOnReading && call.isPaused(), 'the server stops reading the stream');
    // What the server took in is bounded by its window plus the stream buffers and one batch in flight.
    expect(call.accepted).toBeLessThan(WINDOW * 2 + READ_BUFFER + WRITE_BUFFER + 2);
    const stalledAt = call.accepted;
    // (The topic may still be being created by the first append.)
    expect(logs.has('flood') ? logs.get('flood').nextOffset() : 0).toBeLessThanOrEqual(stalledAt);

    call.release();
    await flooding;
    await ended;
    expect(call.responses.map((r) => r.offset)).toEqual(Array.from({ length: REQUESTS }, (_, i) => i));
    const last = await logs.get('flood').read(REQUESTS - 1);
    expect(Buffer.from(last).toString()).toBe(`m${REQUESTS - 1}`);
    expect(streams.size).toBe(0);
    expect(call.failures).toEqual([]);
  });
});
