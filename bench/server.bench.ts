// gRPC server benchmark (node dist/bench/server.bench.js): the log.v1.Log API over mutual TLS on 127.0.0.1 with a
// real local log (sync 'always'), every figure beside a baseline measured in the same run. Produce baselines:
// one unary Produce at a time, and the same appends made in-process without gRPC. Consume baseline: one unary
// Consume at a time.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { LogClient, LogService as LogServiceDefinition, type ConsumeResponse, type ProduceResponse } from '../api/v1/log.js';
import { CasbinAuthorizer } from '../internal/auth/index.js';
import { clientTLSFromPEM, generateCA, issueCert, serverTLSFromPEM } from '../internal/config/index.js';
import { TopicLogs } from '../internal/log/index.js';
import { LocalLogService, createServer } from '../internal/server/index.js';
import { listenInjected } from '../internal/server/test-support.js';
import { median, percentile, progress, report } from './report.js';

const BENCH = 'server';
const RECORD_BYTES = 256;
const SECONDS = 1.5;
const CONCURRENCY = 64;
const STREAM_WINDOW = 1000;
const BATCH = 100;
const CONSUME_RECORDS = 100_000;

const value = Buffer.alloc(RECORD_BYTES, 7);
const MODEL = `[request_definition]
r = sub, obj, act
[policy_definition]
p = sub, obj, act
[policy_effect]
e = some(where (p.eft == allow))
[matchers]
m = r.sub == p.sub && (p.obj == "*" || r.obj == p.obj) && r.act == p.act
`;

function now(): number {
  return Number(process.hrtime.bigint()) / 1e9;
}

function call<Req, Res>(
  fn: (req: Req, cb: (err: grpc.ServiceError | null, res: Res) => void) => grpc.ClientUnaryCall,
  req: Req,
): Promise<Res> {
  return new Promise((resolve, reject) => fn(req, (err, res) => (err ? reject(err) : resolve(res))));
}

/** Runs `step` back to back for SECONDS on `lanes` concurrent lanes; returns records/s and per-step latencies. */
async function timed(lanes: number, recordsPerStep: number, step: () => Promise<unknown>): Promise<{ rate: number; latencies: number[] }> {
  const latencies: number[] = [];
  const end = now() + SECONDS;
  const start = now();
  let steps = 0;
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      while (now() < end) {
        const t = now();
        await step();
        latencies.push(now() - t);
        steps++;
      }
    }),
  );
  return { rate: (steps * recordsPerStep) / (now() - start), latencies };
}

async function produceStreamRate(client: LogClient, topic: string): Promise<number> {
  const stream = client.produceStream();
  let acknowledged = 0;
  let outstanding = 0;
  const start = now();
  const end = start + SECONDS;
  await new Promise<void>((resolve, reject) => {
    const fill = (): void => {
      while (outstanding < STREAM_WINDOW && now() < end) {
        outstanding++;
        if (!stream.write({ record: { value, offset: 0, term: 0, type: 0 }, topic })) break;
      }
      if (outstanding === 0 && now() >= end) stream.end();
    };
    stream.on('data', (_: ProduceResponse) => {
      acknowledged++;
      outstanding--;
      if (outstanding < STREAM_WINDOW / 2) fill();
      if (outstanding === 0 && now() >= end) stream.end();
    });
    stream.on('drain', fill);
    stream.on('end', resolve);
    stream.on('error', reject);
    fill();
  });
  return acknowledged / (now() - start);
}

async function consumeStreamRate(client: LogClient, topic: string, records: number): Promise<number> {
  const start = now();
  const stream = client.consumeStream({ offset: 0, topic, linearizable: false });
  await new Promise<void>((resolve, reject) => {
    let got = 0;
    stream.on('data', (_: ConsumeResponse) => {
      if (++got === records) resolve();
    });
    stream.on('error', reject);
  });
  const rate = records / (now() - start);
  stream.on('error', () => {});
  stream.cancel();
  return rate;
}

/**
 * The transport's ceiling: a bare grpc-js server stream (no TLS, no log, no ACL) writing ready-made messages
 * with the same flow control, received by the same client code.
 */
async function bareStreamCeiling(records: number): Promise<number> {
  const message = { record: { value, offset: 0, term: 0, type: 0 } };
  const bare = new grpc.Server();
  bare.addService(LogServiceDefinition, {
    consumeStream: async (stream: grpc.ServerWritableStream<unknown, ConsumeResponse>) => {
      for (let i = 0; i < records && !stream.cancelled; i++) {
        if (!stream.write(message)) await new Promise((resolve) => stream.once('drain', resolve));
      }
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    bare.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  const client = new LogClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  try {
    return await consumeStreamRate(client, '', records);
  } finally {
    client.close();
    bare.forceShutdown();
  }
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'proglog-bench-server-'));
  progress('making certificates');
  const ca = await generateCA();
  const serverCert = await issueCert(ca, { cn: 'server', hosts: ['127.0.0.1'], server: true });
  const rootCert = await issueCert(ca, { cn: 'root' });
  const logs = await TopicLogs.open(join(dir, 'log'));
  const logService = await LocalLogService.open(logs);
  const serverTls = serverTLSFromPEM({ ca: ca.certPem, cert: serverCert.certPem, key: serverCert.keyPem });
  const server = createServer({
    logService,
    authorizer: await CasbinAuthorizer.fromText(MODEL, 'p, root, *, produce\np, root, *, consume\n'),
    credentials: serverTls.credentials,
    logger: pino({ level: 'warn' }),
  });
  // Served as an agent serves it: our TLS handshake, then grpc-js. Through grpc-js's own TLS (server.listen), Node
  // translated the client's certificate on every call, a third of the server's CPU on unary calls.
  const tcp = await listenInjected(server.createTlsConnectionInjector(serverTls.grpcTlsOptions));
  const addr = `127.0.0.1:${tcp.port}`;
  const client = new LogClient(
    addr,
    clientTLSFromPEM({ ca: ca.certPem, cert: rootCert.certPem, key: rootCert.keyPem }).credentials,
  );
  try {
    progress(`server on ${addr}; ${RECORD_BYTES}-byte records, ${SECONDS}s per figure, sync 'always'`);
    const direct = await timed(1, 1, () => logService.produce('direct', [value]));
    const unary1 = await timed(1, 1, () => call(client.produce.bind(client), { record: { value, offset: 0, term: 0, type: 0 }, topic: 'u1' }));
    const unaryN = await timed(CONCURRENCY, 1, () =>
      call(client.produce.bind(client), { record: { value, offset: 0, term: 0, type: 0 }, topic: 'un' }),
    );
    const unaryCeiling = await timed(CONCURRENCY, 1, () => call(client.getServers.bind(client), {}));
    const streamed = await produceStreamRate(client, 'stream');
    const batches = Array.from({ length: BATCH }, () => value);
    const batched = await timed(4, BATCH, () => call(client.produceBatch.bind(client), { topic: 'batch', values: batches }));

    const baseline = 'unary Produce, 1 in flight';
    report({ bench: BENCH, figure: 'unary Produce, 1 in flight', value: unary1.rate, unit: 'records/s', baseline: 'in-process produce, 1 at a time', baselineValue: direct.rate });
    report({ bench: BENCH, figure: 'unary Produce p50 latency, 1 in flight', value: median(unary1.latencies) * 1e3, unit: 'ms', baseline: 'in-process produce p50', baselineValue: median(direct.latencies) * 1e3 });
    report({ bench: BENCH, figure: 'unary Produce p99 latency, 1 in flight', value: percentile(unary1.latencies, 99) * 1e3, unit: 'ms', baseline: 'in-process produce p99', baselineValue: percentile(direct.latencies, 99) * 1e3 });
    report({ bench: BENCH, figure: `unary Produce, ${CONCURRENCY} in flight`, value: unaryN.rate, unit: 'records/s', baseline, baselineValue: unary1.rate });
    report({ bench: BENCH, figure: `unary Produce, ${CONCURRENCY} in flight (vs transport)`, value: unaryN.rate, unit: 'records/s', baseline: `unary GetServers, ${CONCURRENCY} in flight`, baselineValue: unaryCeiling.rate });
    report({ bench: BENCH, figure: `ProduceStream, ${STREAM_WINDOW} in flight`, value: streamed, unit: 'records/s', baseline, baselineValue: unary1.rate });
    report({ bench: BENCH, figure: `ProduceBatch of ${BATCH}, 4 in flight`, value: batched.rate, unit: 'records/s', baseline, baselineValue: unary1.rate });

    progress(`filling a topic with ${CONSUME_RECORDS} records to consume`);
    for (let done = 0; done < CONSUME_RECORDS; done += 1000) {
      await call(client.produceBatch.bind(client), { topic: 'read', values: Array.from({ length: 1000 }, () => value) });
    }
    let next = 0;
    const consume1 = await timed(1, 1, async () => {
      await call(client.consume.bind(client), { offset: next++ % CONSUME_RECORDS, topic: 'read', linearizable: false });
    });
    let pageAt = 0;
    const ranged = await timed(1, 1000, async () => {
      const page: { nextOffset: number } = await call(client.consumeRange.bind(client), { topic: 'read', offset: pageAt, maxRecords: 1000, maxBytes: 0, linearizable: false });
      pageAt = page.nextOffset % CONSUME_RECORDS;
    });
    const streamedRead = await consumeStreamRate(client, 'read', CONSUME_RECORDS);
    const ceiling = await bareStreamCeiling(CONSUME_RECORDS);
    const readBaseline = 'unary Consume, 1 in flight';
    report({ bench: BENCH, figure: 'ConsumeRange pages of 1000', value: ranged.rate, unit: 'records/s', baseline: readBaseline, baselineValue: consume1.rate });
    report({ bench: BENCH, figure: `ConsumeStream of ${CONSUME_RECORDS}`, value: streamedRead, unit: 'records/s', baseline: readBaseline, baselineValue: consume1.rate });
    report({ bench: BENCH, figure: `ConsumeStream of ${CONSUME_RECORDS} (vs transport)`, value: streamedRead, unit: 'records/s', baseline: 'bare grpc-js stream, no TLS/log', baselineValue: ceiling });
  } finally {
    client.close();
    tcp.close();
    await server.stop(1000);
    await logs.close();
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
