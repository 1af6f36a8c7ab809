// A client stream must send what the caller wrote in one turn together, not one message per event-loop turn.
// Stock grpc-js 1.14 does the latter (each message waits for the previous one's write to complete), which capped
// a ProduceStream client at one message, one TLS record and one write(2) per turn; patches/ fixes it. These tests
// fail on an unpatched grpc-js, and check that order, backpressure and half-close still hold with the patch.
import * as grpc from '@grpc/grpc-js';
import { LogService, type GetServersResponse, type ProduceRequest, type ProduceResponse } from '../../api/v1/log.js';
import type { LogClient } from '../../api/v1/log.js';
import { createClient } from './client.js';

interface Received {
  values: string[];
  /** The event-loop turn (of this process, shared by client and server) in which each value arrived. */
  turns: number[];
}

let turn = 0;
let ticking = true;
function tick(): void {
  turn++;
  if (ticking) setImmediate(tick);
}

/** The values v0..v(count-1) that `stream` writes. */
function written(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `v${i}`);
}

/** Offsets 0..count-1, one per record in the order received. */
function dense(count: number): number[] {
  return Array.from({ length: count }, (_, i) => i);
}

function request(value: string): ProduceRequest {
  return { record: { value: Buffer.from(value), offset: 0, term: 0, type: 0 }, topic: '' };
}

describe('client streams (grpc-js as patched in patches/)', () => {
  let server: grpc.Server;
  let addr: string;
  let client: LogClient;
  let received: Received;

  beforeAll(async () => {
    setImmediate(tick);
    server = new grpc.Server();
    server.addService(LogService, {
      getServers: (_call: unknown, cb: grpc.sendUnaryData<GetServersResponse>) =>
        cb(null, { servers: [{ id: 'only', rpcAddr: addr, isLeader: true, isLearner: false }] }),
      produceStream: (call: grpc.ServerDuplexStream<ProduceRequest, ProduceResponse>) => {
        call.on('data', (req: ProduceRequest) => {
          received.values.push(Buffer.from(req.record!.value).toString());
          received.turns.push(turn);
          call.write({ offset: received.values.length - 1 });
        });
        call.on('end', () => call.end());
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    addr = `127.0.0.1:${port}`;
    client = createClient({ addr, credentials: grpc.credentials.createInsecure() });
  });

  afterAll(async () => {
    ticking = false;
    client.close();
    await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
  });

  beforeEach(() => {
    received = { values: [], turns: [] };
  });

  /** Opens a stream, writes `count` values once `after` says so, ends it, and resolves with the offsets answered. */
  async function stream(
    count: number,
    after: 'first answer' | 'at once' | 'corked',
  ): Promise<{ offsets: number[]; blockedWrites: number }> {
    const call = client.produceStream({ deadline: Date.now() + 20_000 });
    const offsets: number[] = [];
    let blockedWrites = 0;
    const writeAll = (): void => {
      if (after === 'corked') call.cork();
      for (const value of written(count)) if (!call.write(request(value))) blockedWrites++;
      if (after === 'corked') call.uncork();
      call.end();
    };
    const done = new Promise<void>((resolve, reject) => {
      call.on('data', (res: ProduceResponse) => {
        offsets.push(res.offset);
        if (after === 'first answer' && offsets.length === 1) writeAll();
      });
      call.on('end', resolve);
      call.on('error', reject);
    });
    if (after === 'first answer') call.write(request('first'));
    else writeAll();
    await done;
    return { offsets, blockedWrites };
  }

  /** Event-loop turns between the arrival of message `first` and of the last one. */
  function turnsSince(first: number): number {
    return received.turns.at(-1)! - received.turns[first]!;
  }

  /** The server received v0..v(count-1) in order, and the stream answered each with its offset. */
  function expectWrittenInOrder(count: number, offsets: number[]): void {
    expect(received.values).toEqual(written(count));
    expect(offsets).toEqual(dense(count));
  }

  it('sends what one turn wrote in a few turns, in order, once the call is under way', async () => {
    const count = 2000;
    const { offsets, blockedWrites } = await stream(count, 'first answer');

    expect(received.values).toEqual(['first', ...written(count)]);
    expect(offsets).toEqual(dense(count + 1));
    // Backpressure still reaches the caller: the stream's buffer fills, write() says so.
    expect(blockedWrites).toBeGreaterThan(0);
    // Unpatched, each message leaves in a turn of its own: at least `count` turns between the first and the last.
    expect(turnsSince(1)).toBeLessThan(count / 10);
  });

  it('sends what was buffered before the server answered all at once when it does', async () => {
    const count = 2000;
    const { offsets } = await stream(count, 'at once');

    expectWrittenInOrder(count, offsets);
    expect(turnsSince(0)).toBeLessThan(count / 10);
  });

  it('loses nothing when the first messages reach the call together, before it has a server', async () => {
    // A corked stream hands its first messages down in one batch while the call is still being routed, when
    // grpc-js holds one message at a time.
    const count = 50;
    const { offsets } = await stream(count, 'corked');

    expectWrittenInOrder(count, offsets);
  });
});
