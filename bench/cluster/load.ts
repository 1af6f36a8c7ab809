// The load generator: each scenario drives one API shape for a fixed time through a LogClient and returns
// records/s and latency percentiles. The same functions run against the no-op ceiling and the cluster, so the
// two figures differ only in the server.
import * as grpc from '@grpc/grpc-js';
import type { ConsumeResponse, LogClient, ProduceRequest } from '../../api/v1/log.js';
import { streamedRecords } from '../../internal/loadbalance/index.js';
import { percentile, progress } from '../report.js';

export interface LoadResult {
  scenario: string;
  records: number;
  seconds: number;
  recordsPerSec: number;
  /** Latency of one request (a unary call, one stream message, one batch), ms; NaN when not measured. */
  p50Ms: number;
  p99Ms: number;
  errors: number;
  /** Highest offset acknowledged (so a consumer knows how much there is to read). */
  lastOffset: number;
}

export class LoadError extends Error {
  constructor(scenario: string, cause: unknown) {
    super(`${scenario}: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = 'LoadError';
  }
}

class Meter {
  readonly latencies: number[] = [];
  records = 0;
  errors = 0;
  lastOffset = -1;
  private readonly started = performance.now();
  private readonly ticker: NodeJS.Timeout;

  constructor(readonly scenario: string) {
    let last = 0;
    let lastT = this.started;
    this.ticker = setInterval(() => {
      const now = performance.now();
      const rate = ((this.records - last) * 1000) / (now - lastT);
      last = this.records;
      lastT = now;
      progress(`${scenario}: ${Math.round(rate).toLocaleString('en-US')} records/s, ${this.records.toLocaleString('en-US')} total`);
    }, 1000);
  }

  finish(): LoadResult {
    clearInterval(this.ticker);
    const seconds = (performance.now() - this.started) / 1000;
    return {
      scenario: this.scenario,
      records: this.records,
      seconds,
      recordsPerSec: this.records / seconds,
      p50Ms: percentile(this.latencies, 50),
      p99Ms: percentile(this.latencies, 99),
      errors: this.errors,
      lastOffset: this.lastOffset,
    };
  }
}

const DEADLINE_MS = 10_000;

function request(value: Buffer): ProduceRequest {
  return { record: { value, offset: 0, term: 0, type: 0 }, topic: '' };
}

/** `concurrency` callers each doing Produce after Produce for `ms`. */
export async function unaryProduce(client: LogClient, concurrency: number, ms: number, value: Buffer): Promise<LoadResult> {
  const m = new Meter(`unary produce x${concurrency}`);
  const end = Date.now() + ms;
  const worker = async (): Promise<void> => {
    while (Date.now() < end) {
      const t0 = performance.now();
      await new Promise<void>((resolve) =>
        client.produce(request(value), new grpc.Metadata(), { deadline: Date.now() + DEADLINE_MS }, (err, res) => {
          if (err) m.errors++;
          else {
            m.latencies.push(performance.now() - t0);
            m.records++;
            m.lastOffset = Math.max(m.lastOffset, res.offset);
          }
          resolve();
        }),
      );
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return m.finish();
}

/** One ProduceStream with up to `inFlight` unanswered requests for `ms`; responses come back in order. */
export async function streamProduce(client: LogClient, inFlight: number, ms: number, value: Buffer): Promise<LoadResult> {
  const m = new Meter(`ProduceStream ${inFlight} in flight`);
  const call = client.produceStream({ deadline: Date.now() + ms + DEADLINE_MS });
  const sent: number[] = [];
  let head = 0;
  const end = Date.now() + ms;
  let ending = false;
  const done = new Promise<void>((resolve, reject) => {
    call.on('data', (res: { offset: number }) => {
      m.latencies.push(performance.now() - sent[head++]!);
      m.records++;
      m.lastOffset = Math.max(m.lastOffset, res.offset);
      fill();
    });
    call.on('end', resolve);
    call.on('error', (err) => (ending && head === sent.length ? resolve() : reject(new LoadError(m.scenario, err))));
  });
  // A response frees a place in flight, and fill() writes into it even while the stream's buffer is over its
  // mark: `inFlight` is what bounds the run. The 'drain' listener only restarts a fill that stopped at a full
  // buffer; one is enough (one per response piled up past Node's listener limit before).
  let awaitingDrain = false;
  const fill = (): void => {
    if (ending) return;
    if (Date.now() >= end) {
      ending = true;
      call.end();
      return;
    }
    while (sent.length - head < inFlight) {
      sent.push(performance.now());
      if (!call.write(request(value))) {
        if (!awaitingDrain) {
          awaitingDrain = true;
          call.once('drain', () => {
            awaitingDrain = false;
            fill();
          });
        }
        return;
      }
    }
  };
  fill();
  try {
    await done;
  } finally {
    m.errors += sent.length - head;
  }
  return m.finish();
}

/**
 * Ends a batch run once `records` are acknowledged instead of at its time limit, so that a fixed volume can be
 * written by the same callers, and counted the same way, as the timed batch scenario it is compared with.
 */
export interface BatchVolume {
  records: number;
  /** A caller whose requests fail this many times in a row ends the run with an error: the cluster stopped answering. */
  maxConsecutiveErrors: number;
  /** Pause after a failed request, so that a leader change is waited out rather than hammered. */
  retryPauseMs: number;
}

/**
 * `concurrency` callers each sending ProduceBatch of `batch` records for `ms`, or until `volume` is acknowledged.
 * Only acknowledged records count. A failed request is counted in `errors` and its records are asked for again
 * in volume mode; if it was in fact stored, the log holds more than `records` says, never less.
 */
export async function batchProduce(client: LogClient, batch: number, concurrency: number, ms: number, value: Buffer, volume?: BatchVolume): Promise<LoadResult> {
  const m = new Meter(`ProduceBatch ${batch}/req x${concurrency}`);
  const values = Array.from({ length: batch }, () => value);
  const end = Date.now() + ms;
  const wanted = volume?.records ?? Infinity;
  // Records of requests sent and not failed: the callers stop asking once these cover the volume.
  let asked = 0;
  let failure: Error | undefined;
  const more = (): boolean => failure === undefined && asked < wanted && Date.now() < end;
  const worker = async (): Promise<void> => {
    let failedInARow = 0;
    while (more()) {
      asked += batch;
      const t0 = performance.now();
      const err = await new Promise<grpc.ServiceError | null>((resolve) =>
        client.produceBatch({ topic: '', values }, new grpc.Metadata(), { deadline: Date.now() + DEADLINE_MS }, (err, res) => {
          if (!err) {
            m.latencies.push(performance.now() - t0);
            m.records += res.count;
            m.lastOffset = Math.max(m.lastOffset, res.firstOffset + res.count - 1);
          }
          resolve(err);
        }),
      );
      if (!err) {
        failedInARow = 0;
        continue;
      }
      m.errors++;
      asked -= batch;
      if (!volume) continue;
      if (++failedInARow >= volume.maxConsecutiveErrors) {
        failure ??= new Error(`${failedInARow} requests in a row failed, the last with: ${err.message}`);
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, volume.retryPauseMs));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const result = m.finish();
  if (failure) throw new LoadError(m.scenario, failure);
  return result;
}

/** Records per ConsumeStream message the bench asks for: where gRPC's per-message cost stops dominating. */
export const STREAM_CONSUME_BATCH = 256;

/**
 * ConsumeStream from offset 0 for up to `ms`, or until `upTo` records arrived (a real log ends at its head),
 * asking for batches of `maxBatchRecords` records per message (0: the book's one record per message). With
 * `reread`, a consumer that reaches `upTo` before `ms` opens a new stream from offset 0 and reads the log again,
 * until `ms`: a log that holds less than `ms` of reading would otherwise make a run of a fraction of a second,
 * whose start (connecting, the first page) weighs as much as the reading, and the figure would move with how
 * much earlier scenarios happened to write.
 * The latency figures are the gaps between consecutive stream messages, i.e. how long the consumer waits for its
 * next delivery, whether that holds one record or a batch (every gap when batched; every 64th when not, where a
 * gap per record would be millions of numbers); a stream's first gap is the wait from opening it.
 */
export async function streamConsume(
  client: LogClient,
  ms: number,
  upTo = Infinity,
  maxBatchRecords = STREAM_CONSUME_BATCH,
  opts: { reread?: boolean } = {},
): Promise<LoadResult> {
  const m = new Meter(maxBatchRecords > 0 ? `ConsumeStream batches of ${maxBatchRecords}` : 'ConsumeStream');
  const end = performance.now() + ms;
  for (;;) {
    const before = m.records;
    await consumePass(client, m, end, before + upTo, maxBatchRecords);
    if (!opts.reread || m.records === before || performance.now() >= end) break;
  }
  return m.finish();
}

/** One ConsumeStream from offset 0, until `end` (performance.now() time) or until the meter counts `until` records. */
async function consumePass(client: LogClient, m: Meter, end: number, until: number, maxBatchRecords: number): Promise<void> {
  const ms = Math.max(1, end - performance.now());
  const call = client.consumeStream({ offset: 0, topic: '', linearizable: false, maxBatchRecords }, new grpc.Metadata(), {
    deadline: Date.now() + ms + DEADLINE_MS,
  });
  const sampleMask = maxBatchRecords > 0 ? 0 : 63;
  let messages = 0;
  let last = performance.now();
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => call.cancel(), ms);
    const finish = (): void => {
      clearTimeout(timer);
      resolve();
    };
    call.on('data', (res: ConsumeResponse) => {
      const now = performance.now();
      if ((messages++ & sampleMask) === 0) m.latencies.push(now - last);
      last = now;
      const records = streamedRecords(res);
      m.records += records.length;
      const tail = records[records.length - 1];
      if (tail) m.lastOffset = Math.max(m.lastOffset, tail.offset);
      if (m.records >= until) call.cancel();
    });
    call.on('error', (err: grpc.ServiceError) => (err.code === grpc.status.CANCELLED ? finish() : (clearTimeout(timer), reject(new LoadError(m.scenario, err)))));
    call.on('end', finish);
  });
}
