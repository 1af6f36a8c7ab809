// node dist/bench/loadbalance.bench.js: what the load-balancing client costs per call. Three in-process gRPC
// servers (a scripted leader and two followers, no storage) answer instantly, so the figures are the client's
// own overhead: the config selector, the picker and the wrapped call-end hook, against a plain LogClient
// connected straight to the right server in the same run.
import '../internal/polyfills.js';
import * as grpc from '@grpc/grpc-js';
import { LogClient } from '../api/v1/log.js';
import { createClient } from '../internal/loadbalance/index.js';
import { FakeCluster } from '../test/helpers/fake-cluster.js';
import { median, medianOf, percentile, progress, report } from './report.js';

const BENCH = 'loadbalance';
const insecure = grpc.credentials.createInsecure();
const RUN_MS = 1500;

function produce(client: LogClient): Promise<void> {
  return new Promise((resolve, reject) =>
    client.produce({ record: { value: Buffer.from('x'), offset: 0, term: 0, type: 0 }, topic: '' }, (err) => (err ? reject(err) : resolve())),
  );
}

function consume(client: LogClient): Promise<void> {
  return new Promise((resolve, reject) =>
    client.consume({ offset: 0, topic: '', linearizable: false }, (err) => (err ? reject(err) : resolve())),
  );
}

async function latencies(call: () => Promise<void>, count: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const t = process.hrtime.bigint();
    await call();
    out.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return out;
}

/** Calls per second with `inFlight` calls outstanding at all times, for RUN_MS. */
async function throughput(call: () => Promise<void>, inFlight: number): Promise<number> {
  const end = Date.now() + RUN_MS;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (Date.now() < end) {
      await call();
      done++;
    }
  };
  const start = Date.now();
  await Promise.all(Array.from({ length: inFlight }, worker));
  return (done * 1000) / (Date.now() - start);
}

async function main(): Promise<void> {
  const cluster = await FakeCluster.start(['a', 'b', 'c']);
  cluster.leaderId = 'a';
  const lb = createClient({ addr: cluster.node('b').addr, credentials: insecure });
  const toLeader = new LogClient(cluster.node('a').addr, insecure);
  const toFollower = new LogClient(cluster.node('b').addr, insecure);
  try {
    progress('warming up connections');
    for (let i = 0; i < 200; i++) await Promise.all([produce(lb), produce(toLeader), consume(lb), consume(toFollower)]);
    // The fake servers record every call; keep that from growing without bound during the runs.
    const trim = setInterval(() => {
      for (const n of cluster.nodes) n.served.length = 0;
    }, 200);

    progress('sequential produce latency');
    const lbLat = await latencies(() => produce(lb), 2000);
    const directLat = await latencies(() => produce(toLeader), 2000);
    report({ bench: BENCH, figure: 'produce latency p50 (load-balanced)', value: median(lbLat), unit: 'ms', baseline: 'direct to leader', baselineValue: median(directLat) });
    report({ bench: BENCH, figure: 'produce latency p99 (load-balanced)', value: percentile(lbLat, 99), unit: 'ms', baseline: 'direct to leader', baselineValue: percentile(directLat, 99) });

    progress('produce throughput, 64 in flight');
    const lbRate = await medianOf(3, () => throughput(() => produce(lb), 64));
    const directRate = await medianOf(3, () => throughput(() => produce(toLeader), 64));
    report({ bench: BENCH, figure: 'produce calls/s, 64 in flight (load-balanced)', value: lbRate, unit: 'calls/s', baseline: 'direct to leader', baselineValue: directRate });

    progress('consume throughput, 64 in flight');
    const lbConsume = await medianOf(3, () => throughput(() => consume(lb), 64));
    const directConsume = await medianOf(3, () => throughput(() => consume(toFollower), 64));
    report({
      bench: BENCH,
      figure: 'consume calls/s, 64 in flight (over 2 followers)',
      value: lbConsume,
      unit: 'calls/s',
      baseline: 'direct to one follower',
      baselineValue: directConsume,
    });
    clearInterval(trim);
  } finally {
    lb.close();
    toLeader.close();
    toFollower.close();
    await cluster.close();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
