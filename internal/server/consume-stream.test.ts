// ConsumeStream against a call whose client reads nothing: the server must stop at the stream's buffer limit
// rather than read the whole log into memory, and carry on in order once the client drains.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { ServerWritableStream } from '@grpc/grpc-js';
import { pino } from 'pino';
import type { ConsumeRequest, ConsumeResponse } from '../../api/v1/log.js';
import { CasbinAuthorizer } from '../auth/index.js';
import { TopicLogs } from '../log/index.js';
import { serveConsumeStream } from './consume-stream.js';
import { LocalLogService } from './local-log-service.js';
import type { LogService } from './log-service.js';
import { DEFAULT_LIMITS } from './requests.js';
import { StreamRegistry } from './stream-registry.js';
import { MODEL_FILE, eventually } from './test-support.js';

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
