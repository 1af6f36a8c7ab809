import * as grpc from '@grpc/grpc-js';
import net from 'node:net';
import { LogClient, LogService, type ProduceRequest, type ProduceResponse } from '../../api/v1/log.js';
import { unreachableDetails } from '../../internal/loadbalance/picker.js';
import { NotLeaderError, ProposalOutcomeUnknownError } from '../../internal/server/log-service.js';
import { toStatus } from '../../internal/server/status.js';
import { check, type ReplicaRead } from './checker.js';
import { History } from './history.js';
import { DEFAULT_WORKLOAD, failedAttemptKind, recordFailedAttempt, runProduceStream, type StreamProducerSink } from './workload.js';

function statusError(code: grpc.status, details: string, metadata: Record<string, string> = {}): grpc.ServiceError {
  const md = new grpc.Metadata();
  for (const [key, value] of Object.entries(metadata)) md.set(key, value);
  return Object.assign(new Error(details), { code, details, metadata: md });
}

const outcomeUnknown = (): grpc.ServiceError =>
  statusError(grpc.status.UNAVAILABLE, "the write's outcome is unknown: this node stopped leading after proposing it", {
    'proglog-outcome': 'unknown',
  });

/**
 * A real server whose Produce fails with what the product's server sends for `err` (toStatus, as every handler
 * does), so the client sees the status exactly as it arrives: code, details and trailers. Produce never answers
 * when `err` is 'hang'.
 */
async function refusingServer(err: () => Error | 'hang'): Promise<{ client: LogClient; addr: string; close(): void }> {
  const server = new grpc.Server();
  server.addService(LogService, {
    produce: (_call: unknown, callback: grpc.sendUnaryData<ProduceResponse>) => {
      const e = err();
      if (e !== 'hang') callback(toStatus(e));
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  const addr = `127.0.0.1:${port}`;
  const client = new LogClient(addr, grpc.credentials.createInsecure());
  return {
    client,
    addr,
    close() {
      client.close();
      server.forceShutdown();
    },
  };
}

function produceError(client: LogClient, timeoutMs = 2000): Promise<unknown> {
  return new Promise((resolve, reject) =>
    client.produce(
      { record: { value: Buffer.from('v'), offset: 0, term: 0, type: 0 }, topic: '' },
      new grpc.Metadata(),
      { deadline: Date.now() + timeoutMs },
      (err) => (err ? resolve(err) : reject(new Error('the produce succeeded'))),
    ),
  );
}

async function errorFrom(err: () => Error | 'hang', timeoutMs?: number): Promise<unknown> {
  const s = await refusingServer(err);
  try {
    return await produceError(s.client, timeoutMs);
  } finally {
    s.close();
  }
}

describe('how the workload records a failed produce', () => {
  it('records a write of unknown outcome as indeterminate (timeout), never as refused', () => {
    expect(failedAttemptKind(outcomeUnknown())).toBe('timeout');
    // Whatever the code: the flag is what says the entry may still commit.
    expect(failedAttemptKind(statusError(grpc.status.INVALID_ARGUMENT, 'x', { 'proglog-outcome': 'unknown' }))).toBe('timeout');
  });

  it('records refusals before the log as failed, and the rest as indeterminate', () => {
    expect(failedAttemptKind(statusError(grpc.status.PERMISSION_DENIED, 'no'))).toBe('fail');
    expect(failedAttemptKind(statusError(grpc.status.INVALID_ARGUMENT, 'too large'))).toBe('fail');
    expect(failedAttemptKind(statusError(grpc.status.DEADLINE_EXCEEDED, 'deadline'))).toBe('timeout');
    expect(failedAttemptKind(new Error('connection reset'))).toBe('timeout');
  });

  it('records a server’s "not the leader" refusal as failed: the write was not made (log.proto)', async () => {
    expect(failedAttemptKind(await errorFrom(() => new NotLeaderError('node-2', '127.0.0.1:8401')))).toBe('fail');
    expect(failedAttemptKind(await errorFrom(() => new NotLeaderError('node-2')))).toBe('fail');
    // No leader to name: no trailers, only the server's words say what happened.
    expect(failedAttemptKind(await errorFrom(() => new NotLeaderError()))).toBe('fail');
  });

  it('keeps UNAVAILABLE indeterminate when the server flags the outcome unknown or the client never heard back', async () => {
    expect(failedAttemptKind(await errorFrom(() => new ProposalOutcomeUnknownError('this node stopped leading after proposing it')))).toBe(
      'timeout',
    );
    // Not something status.ts sends, but the flag wins over anything that looks like a refusal.
    expect(
      failedAttemptKind(
        statusError(grpc.status.UNAVAILABLE, 'this node is not the leader; the leader is n2', { 'proglog-outcome': 'unknown', 'proglog-leader-id': 'n2' }),
      ),
    ).toBe('timeout');
    // The deadline passed while the server held the write.
    const deadline = await errorFrom(() => 'hang', 200);
    expect(deadline).toMatchObject({ code: grpc.status.DEADLINE_EXCEEDED });
    expect(failedAttemptKind(deadline)).toBe('timeout');
    // The connection broke while the server held the write (a node killed mid-call, as its FaultProxy does).
    const s = await refusingServer(() => 'hang');
    const sockets = new Set<net.Socket>();
    const proxy = net.createServer((down) => {
      const up = net.connect(Number(s.addr.split(':')[1]), '127.0.0.1');
      for (const sock of [down, up]) {
        sockets.add(sock);
        sock.on('error', () => undefined);
      }
      down.pipe(up).pipe(down);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const proxyAddr = `127.0.0.1:${(proxy.address() as net.AddressInfo).port}`;
    const viaProxy = new LogClient(proxyAddr, grpc.credentials.createInsecure());
    const pending = produceError(viaProxy);
    await new Promise((r) => setTimeout(r, 100));
    // close() calls back only once every connection is gone.
    const closed = new Promise((r) => proxy.close(r));
    for (const sock of sockets) sock.destroy();
    await closed;
    const dropped = await pending;
    viaProxy.close();
    s.close();
    expect(dropped).toMatchObject({ code: grpc.status.UNAVAILABLE });
    expect(failedAttemptKind(dropped)).toBe('timeout');
    // Nobody listening any more (a killed node's proxy): the client's own UNAVAILABLE.
    const fresh = new LogClient(proxyAddr, grpc.credentials.createInsecure());
    const refused = await produceError(fresh);
    fresh.close();
    expect(refused).toMatchObject({ code: grpc.status.UNAVAILABLE });
    expect(failedAttemptKind(refused)).toBe('timeout');
    // The load-balancing client finding no server, whatever the reason it quotes.
    const noServer = statusError(grpc.status.UNAVAILABLE, unreachableDetails('this node is not the leader', 'no leader known and '));
    expect(failedAttemptKind(noServer)).toBe('timeout');
    expect(failedAttemptKind(statusError(grpc.status.UNAVAILABLE, 'Connection dropped'))).toBe('timeout');
  });

  it('retries a value after a "not the leader" refusal or an unknown outcome, and gives up after any other refusal', async () => {
    const h = new History(0);
    expect(recordFailedAttempt(h, 'p0', 'a', await errorFrom(() => new NotLeaderError('node-2')))).toBe('retry');
    expect(recordFailedAttempt(h, 'p0', 'b', outcomeUnknown())).toBe('retry');
    expect(recordFailedAttempt(h, 'p0', 'c', statusError(grpc.status.PERMISSION_DENIED, 'no'))).toBe('give up');
    expect(h.events.map((e) => [e.type, e.value])).toEqual([
      ['fail', 'a'],
      ['timeout', 'b'],
      ['fail', 'c'],
    ]);
  });

  it('so a write of unknown outcome that the log holds after all passes the checker', () => {
    const h = new History(0);
    h.invoke('p0', 'produce', { value: 'v' });
    recordFailedAttempt(h, 'p0', 'v', outcomeUnknown());
    const logs: ReplicaRead[] = ['n1', 'n2', 'n3'].map((node) => ({ node, records: [{ offset: 0, value: 'v' }] }));
    const r = check(h.events, logs);
    expect(r.ok).toBe(true);
    expect(r.counts).toMatchObject({ failed: 0, indeterminate: 1, indeterminateApplied: 1 });
  });

  // A stale leader that answers "not the leader" although it had proposed the write, which then commits: the
  // client, told the write was not made, sends it to the new leader.
  it('so a write refused as "not the leader" that the log holds fails the checker, alone or duplicated by the retry', async () => {
    const notLeader = await errorFrom(() => new NotLeaderError('node-2', '127.0.0.1:8401'));
    const h = new History(0);
    h.invoke('p0', 'produce', { value: 'a' });
    h.ok('p0', 'produce', { value: 'a', offset: 0 });
    h.invoke('p0', 'produce', { value: 'b' });
    expect(recordFailedAttempt(h, 'p0', 'b', notLeader)).toBe('retry');
    h.invoke('p0', 'produce', { value: 'b' });
    h.ok('p0', 'produce', { value: 'b', offset: 2 });
    h.invoke('p1', 'produce', { value: 'c' });
    recordFailedAttempt(h, 'p1', 'c', notLeader);
    const log = ['a', 'b', 'b', 'c'].map((value, offset) => ({ offset, value }));
    const r = check(
      h.events,
      ['n1', 'n2', 'n3'].map((node) => ({ node, records: log })),
    );
    expect(r.ok).toBe(false);
    expect(r.anomalies.duplicatesUnexplained).toEqual([{ value: 'b', offsets: [1, 2], attempts: 2 }]);
    expect(r.anomalies.failedButPresent).toEqual([{ value: 'c', offset: 3 }]);
    expect(r.counts.duplicatesFromRetries).toBe(0);
  });
});

/**
 * A real server whose ProduceStream streams are scripted one by one: the n-th stream answers its first
 * `answer` requests (offsets counted over all streams), then fails with `then` (the product's status for it)
 * or, for 'hang', stops answering. Every request it receives is kept, in order.
 */
async function scriptedStreamServer(script: Array<{ answer: number; then?: Error | 'hang' }>) {
  const server = new grpc.Server();
  const received: string[] = [];
  let streams = 0;
  let offset = 0;
  server.addService(LogService, {
    produceStream: (call: grpc.ServerDuplexStream<ProduceRequest, ProduceResponse>) => {
      const step = script[Math.min(streams++, script.length - 1)]!;
      let answered = 0;
      call.on('data', (req: ProduceRequest) => {
        received.push(Buffer.from(req.record!.value).toString());
        if (answered < step.answer) {
          answered++;
          call.write({ offset: offset++ });
        } else if (step.then instanceof Error) {
          call.emit('error', toStatus(step.then));
        }
      });
      call.on('end', () => call.end());
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  const client = new LogClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  return {
    client,
    received,
    close(): void {
      client.close();
      server.forceShutdown();
    },
  };
}

/** Runs `test` against a scriptedStreamServer, and closes the server whatever the test does. */
async function withScriptedStreamServer(
  script: Parameters<typeof scriptedStreamServer>[0],
  test: (server: Awaited<ReturnType<typeof scriptedStreamServer>>) => Promise<void>,
): Promise<void> {
  const server = await scriptedStreamServer(script);
  try {
    await test(server);
  } finally {
    server.close();
  }
}

describe('the stream producer (one ProduceStream at a time, several values in flight)', () => {
  const opts = { ...DEFAULT_WORKLOAD, produceIntervalMs: 1, streamWindow: 4, attemptTimeoutMs: 300, maxAttempts: 3 };

  function sink(): StreamProducerSink & { acks: number; attempts: number } {
    const s = {
      history: new History(0),
      acks: 0,
      attempts: 0,
      acked: () => void s.acks++,
      attempted: () => void s.attempts++,
    };
    return s;
  }

  const fresh = (): (() => string) => {
    let seq = 0;
    return () => `s0-${seq++}`;
  };

  it('acknowledges answers in request order, and sends what a "not the leader" refused first on the next stream', async () => {
    await withScriptedStreamServer([{ answer: 3, then: new NotLeaderError('node-2') }, { answer: 1000 }], async (server) => {
      const out = sink();
      const again: Array<{ value: string; attempts: number }> = [];
      const next = fresh();
      await runProduceStream(server.client, 's0', out, opts, again, next, () => true);
      const refused = out.history.events.filter((e) => e.type === 'fail').map((e) => e.value);
      expect(refused.length).toBeGreaterThan(0);
      expect(again.map((v) => v.value)).toEqual(refused);

      const acksWanted = out.acks + refused.length + 3;
      await runProduceStream(server.client, 's0', out, opts, again, next, () => out.acks < acksWanted);

      const oks = out.history.events.filter((e) => e.type === 'ok');
      expect(oks.slice(0, 3).map((e) => [e.value, e.offset])).toEqual([
        ['s0-0', 0],
        ['s0-1', 1],
        ['s0-2', 2],
      ]);
      // The second stream starts with the refused values, in their order, at the next offsets.
      expect(oks.slice(3, 3 + refused.length).map((e) => e.value)).toEqual(refused);
      expect(oks.map((e) => e.offset)).toEqual(oks.map((_, i) => i));
      expect(again).toEqual([]);
      expect(out.attempts).toBe(out.history.events.filter((e) => e.type === 'invoke').length);
    });
  });

  it('cancels a stream whose oldest value goes unanswered past the attempt timeout, and keeps its values to send again', async () => {
    await withScriptedStreamServer([{ answer: 2, then: 'hang' }], async (server) => {
      const out = sink();
      const again: Array<{ value: string; attempts: number }> = [];
      const started = Date.now();
      await runProduceStream(server.client, 's0', out, opts, again, fresh(), () => true);

      expect(Date.now() - started).toBeGreaterThanOrEqual(opts.attemptTimeoutMs);
      expect(out.acks).toBe(2);
      const indeterminate = out.history.events.filter((e) => e.type === 'timeout').map((e) => e.value);
      expect(indeterminate).toEqual(['s0-2', 's0-3', 's0-4', 's0-5']);
      expect(again).toEqual(indeterminate.map((value) => ({ value, attempts: 1 })));
    });
  });

  it('gives a value up after maxAttempts, its outcome left unknown', async () => {
    await withScriptedStreamServer([{ answer: 0, then: 'hang' }], async (server) => {
      const out = sink();
      const again = [{ value: 'old', attempts: opts.maxAttempts - 1 }];
      await runProduceStream(server.client, 's0', out, { ...opts, streamWindow: 1 }, again, fresh(), () => true);

      expect(out.history.events.map((e) => [e.type, e.value])).toEqual([
        ['invoke', 'old'],
        ['timeout', 'old'],
      ]);
      expect(again).toEqual([]);
    });
  });

  it('when told to stop, ends the stream once everything in flight is answered', async () => {
    await withScriptedStreamServer([{ answer: 1000 }], async (server) => {
      const out = sink();
      await runProduceStream(server.client, 's0', out, opts, [], fresh(), () => out.attempts < 20);

      expect(out.acks).toBe(out.attempts);
      expect(server.received).toEqual(out.history.events.filter((e) => e.type === 'invoke').map((e) => e.value));
      expect(out.history.events.filter((e) => e.type === 'timeout' || e.type === 'fail')).toEqual([]);
    });
  });
});
