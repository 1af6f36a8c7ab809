// The clients of a nemesis run: producers writing unique values through the load-balancing client, retrying an
// attempt whose outcome is unknown, or that a node refused as not the leader, with the same value (one call at a
// time with Produce, several values in flight on one ProduceStream), and consumers reading from followers as the
// log grows.
// Every attempt and its outcome goes into the history.
import * as grpc from '@grpc/grpc-js';
import type { LogClient, Record as LogRecord } from '../../api/v1/log.js';
import { LEADER_ID_METADATA, OUTCOME_METADATA } from '../../internal/server/status.js';
import type { Cluster } from './cluster.js';
import type { History } from './history.js';

export interface WorkloadOptions {
  producers: number;
  /** Producers writing over a ProduceStream each, up to `streamWindow` values unanswered at once. */
  streamProducers: number;
  streamWindow: number;
  consumers: number;
  /** Deadline of one produce attempt. */
  attemptTimeoutMs: number;
  /** Attempts per value before giving up on it (its outcome stays unknown). */
  maxAttempts: number;
  /** Pause between a producer's writes, to keep the history a readable size. */
  produceIntervalMs: number;
}

export const DEFAULT_WORKLOAD: WorkloadOptions = {
  producers: 4,
  streamProducers: 1,
  streamWindow: 8,
  consumers: 2,
  attemptTimeoutMs: 2000,
  maxAttempts: 3,
  produceIntervalMs: 5,
};

const LEADER_REFRESH_MS = 1000;

// Codes that mean the server refused the request before it could reach the log. UNAVAILABLE is one only as the
// server's "not the leader" (notLeaderRefusal); otherwise (deadline, connection lost, no server reachable, a
// write flagged of unknown outcome) the outcome is unknown.
const DEFINITE_FAILURES = new Set([grpc.status.INVALID_ARGUMENT, grpc.status.PERMISSION_DENIED, grpc.status.UNAUTHENTICATED]);

/**
 * How the server words NotLeaderError (internal/server/log-service.ts), with or without a leader to name. The
 * client's own UNAVAILABLE statuses never start so (grpc-js's say "No connection established", "Connection
 * dropped"..., the load-balancing client's start "proglog:").
 */
const NOT_LEADER_DETAILS = 'this node is not the leader';

/**
 * How a failed produce attempt enters the history: 'fail' only when nothing can have been stored (the checker
 * reports such a value found in the log as a violation), 'timeout' (indeterminate) otherwise. A write the server
 * flags as of unknown outcome is indeterminate whatever its code: its entry may commit after the answer.
 */
export function failedAttemptKind(err: unknown): 'fail' | 'timeout' {
  if (outcomeFlaggedUnknown(err)) return 'timeout';
  if (notLeaderRefusal(err)) return 'fail';
  const code = codeOf(err);
  return code !== undefined && DEFINITE_FAILURES.has(code) ? 'fail' : 'timeout';
}

function metadataOf(err: unknown): grpc.Metadata | undefined {
  if (typeof err !== 'object' || err === null || !('metadata' in err) || !(err.metadata instanceof grpc.Metadata)) return undefined;
  return err.metadata;
}

function outcomeFlaggedUnknown(err: unknown): boolean {
  return metadataOf(err)?.get(OUTCOME_METADATA).includes('unknown') ?? false;
}

/**
 * The server's NotLeaderError, which log.proto promises was not written: sending the value to the leader cannot
 * store it twice, so a copy in the log beside the retry's is a duplicate, and a copy alone a refused write kept.
 * It names the leader in the trailers when it knows one; with no leader known, only its words say what it is.
 */
function notLeaderRefusal(err: unknown): boolean {
  if (codeOf(err) !== grpc.status.UNAVAILABLE) return false;
  if ((metadataOf(err)?.get(LEADER_ID_METADATA).length ?? 0) > 0) return true;
  const details = typeof err === 'object' && err !== null && 'details' in err ? err.details : undefined;
  return typeof details === 'string' && details.startsWith(NOT_LEADER_DETAILS);
}

/**
 * Enters a failed produce attempt in the history; says whether the producer should send the value again: after an
 * unknown outcome (with the same value, so the checker can tell a retry's copy from a duplicate) or a "not the
 * leader" (the load-balancing client has learned of the new leader by then), not after any other refusal.
 */
export function recordFailedAttempt(history: History, process: string, value: string, err: unknown): 'retry' | 'give up' {
  if (failedAttemptKind(err) === 'fail') {
    history.fail(process, 'produce', { value, info: describe(err) });
    return notLeaderRefusal(err) ? 'retry' : 'give up';
  }
  history.timeout(process, 'produce', { value, info: describe(err) });
  return 'retry';
}

function produceOnce(client: LogClient, value: string, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) =>
    client.produce(
      { record: { value: Buffer.from(value), offset: 0, term: 0, type: 0 }, topic: '' },
      new grpc.Metadata(),
      { deadline: Date.now() + timeoutMs },
      (err, res) => (err ? reject(err) : resolve(res.offset)),
    ),
  );
}

/** What a stream producer's values count, and where their events go. */
export interface StreamProducerSink {
  history: History;
  acked(): void;
  attempted(): void;
}

/** A value a stream producer still has to write: new, or again after a failed attempt. */
interface StreamValue {
  value: string;
  attempts: number;
}

/**
 * One ProduceStream of a stream producer, until it fails or `running()` turns false (then it is ended and what is
 * in flight answered). A value is written every `produceIntervalMs` while fewer than `streamWindow` are unanswered;
 * answers come in request order. When the stream fails, every unanswered value had the same fate (the server
 * appends in order and stops at the first failure: a "not the leader" refused them all, anything else leaves
 * them all indeterminate), and those to try again go to `again`, oldest first, for the next stream. A stream whose
 * oldest value waits `attemptTimeoutMs` for its answer is cancelled: a paused leader would hold it forever.
 */
export function runProduceStream(
  client: LogClient,
  name: string,
  sink: StreamProducerSink,
  opts: WorkloadOptions,
  again: StreamValue[],
  fresh: () => string,
  running: () => boolean,
): Promise<void> {
  return new Promise((resolve) => {
    const call = client.produceStream();
    const unanswered: Array<StreamValue & { sentAt: number }> = [];
    let ending = false;
    const done = (): void => {
      clearInterval(timer);
      resolve();
    };
    call.on('data', (res: { offset: number }) => {
      const head = unanswered.shift();
      if (head === undefined) return;
      sink.history.ok(name, 'produce', { value: head.value, offset: res.offset });
      sink.acked();
    });
    call.on('error', (err: unknown) => {
      for (const v of unanswered) {
        if (recordFailedAttempt(sink.history, name, v.value, err) === 'retry' && v.attempts < opts.maxAttempts) {
          again.push({ value: v.value, attempts: v.attempts });
        }
      }
      unanswered.length = 0;
      done();
    });
    call.on('end', done);
    const timer = setInterval(() => {
      if (unanswered.length > 0 && Date.now() - unanswered[0]!.sentAt > opts.attemptTimeoutMs) {
        call.cancel();
        return;
      }
      if (ending) return;
      if (!running()) {
        ending = true;
        call.end();
        return;
      }
      if (unanswered.length >= opts.streamWindow) return;
      const next = again.shift() ?? { value: fresh(), attempts: 0 };
      next.attempts++;
      sink.history.invoke(name, 'produce', { value: next.value });
      sink.attempted();
      unanswered.push({ ...next, sentAt: Date.now() });
      call.write({ record: { value: Buffer.from(next.value), offset: 0, term: 0, type: 0 }, topic: '' });
    }, Math.max(1, opts.produceIntervalMs));
  });
}

function consumeRange(client: LogClient, offset: number, timeoutMs: number): Promise<LogRecord[]> {
  return new Promise((resolve, reject) =>
    client.consumeRange(
      { topic: '', offset, maxRecords: 500, maxBytes: 0, linearizable: false },
      new grpc.Metadata(),
      { deadline: Date.now() + timeoutMs },
      (err, res) => (err ? reject(err) : resolve(res.records)),
    ),
  );
}

function codeOf(err: unknown): number | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? (err as { code: number }).code : undefined;
}

function describe(err: unknown): string {
  const code = codeOf(err);
  const name = code !== undefined ? (grpc.status[code] ?? String(code)) : 'ERROR';
  const details = typeof err === 'object' && err !== null && 'details' in err ? String((err as { details: unknown }).details) : String(err);
  return `${name}: ${details}`.slice(0, 200);
}

export class Workload {
  private running = true;
  private readonly loops: Array<Promise<void>> = [];
  acked = 0;
  attempts = 0;
  readsSeen = 0;

  constructor(
    private readonly cluster: Cluster,
    private readonly history: History,
    private readonly opts: WorkloadOptions = DEFAULT_WORKLOAD,
  ) {}

  start(): void {
    for (let i = 0; i < this.opts.producers; i++) this.loops.push(this.producer(`p${i}`));
    for (let i = 0; i < this.opts.streamProducers; i++) this.loops.push(this.streamProducer(`s${i}`));
    for (let i = 0; i < this.opts.consumers; i++) this.loops.push(this.consumer(`r${i}`, i));
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  private async producer(name: string): Promise<void> {
    const client = this.cluster.client();
    let seq = 0;
    while (this.running) {
      const value = `${name}-${seq++}`;
      for (let attempt = 1; attempt <= this.opts.maxAttempts && this.running; attempt++) {
        this.history.invoke(name, 'produce', { value });
        this.attempts++;
        try {
          const offset = await produceOnce(client, value, this.opts.attemptTimeoutMs);
          this.history.ok(name, 'produce', { value, offset });
          this.acked++;
          break;
        } catch (err) {
          if (recordFailedAttempt(this.history, name, value, err) === 'give up') break;
          await sleep(50 * attempt);
        }
      }
      if (this.opts.produceIntervalMs > 0) await sleep(this.opts.produceIntervalMs);
    }
  }

  /** Writes over one ProduceStream after another: a stream lasts until a fault breaks it. */
  private async streamProducer(name: string): Promise<void> {
    const client = this.cluster.client();
    const sink: StreamProducerSink = { history: this.history, acked: () => this.acked++, attempted: () => this.attempts++ };
    const again: StreamValue[] = [];
    let seq = 0;
    while (this.running) {
      await runProduceStream(client, name, sink, this.opts, again, () => `${name}-${seq++}`, () => this.running);
      if (this.running) await sleep(50);
    }
  }

  /**
   * Reads forward from offset 0, switching node after each page, recording every record it sees. It reads from
   * followers (the leader only when it is the one node up): their copies are the ones that may lag or diverge.
   */
  private async consumer(name: string, index: number): Promise<void> {
    let offset = 0;
    let turn = index;
    let leader: string | undefined;
    let leaderCheckedAt = 0;
    while (this.running) {
      if (Date.now() - leaderCheckedAt > LEADER_REFRESH_MS) {
        leaderCheckedAt = Date.now();
        leader = await this.cluster.currentLeader(500);
      }
      const nodes = this.cluster.nodes;
      const live = nodes.filter((n) => n.proc.running && !n.proc.paused);
      const followers = live.filter((n) => n.name !== leader);
      const pool = followers.length > 0 ? followers : live;
      if (pool.length === 0) {
        await sleep(20);
        continue;
      }
      const node = pool[turn++ % pool.length]!;
      try {
        const records = await consumeRange(this.cluster.directClient(node.name), offset, 1000);
        for (const r of records) {
          this.history.ok(name, 'read', { value: r.value.toString(), offset: r.offset, node: node.name });
          this.readsSeen++;
        }
        if (records.length > 0) offset = records[records.length - 1]!.offset + 1;
        else await sleep(20);
      } catch {
        // OUT_OF_RANGE at the head of a lagging follower, or the node is cut off: try another.
        await sleep(20);
      }
    }
  }
}

/** Reads one node's whole log, page by page, until the end. */
export async function readWholeLog(client: LogClient, timeoutMs = 5000): Promise<Array<{ offset: number; value: string }>> {
  const out: Array<{ offset: number; value: string }> = [];
  let offset = 0;
  for (let pages = 0; pages < 100_000; pages++) {
    let records: LogRecord[];
    try {
      records = await consumeRange(client, offset, timeoutMs);
    } catch (err) {
      if (codeOf(err) === grpc.status.OUT_OF_RANGE || codeOf(err) === grpc.status.NOT_FOUND) break;
      throw err;
    }
    if (records.length === 0) break;
    for (const r of records) out.push({ offset: r.offset, value: r.value.toString() });
    offset = records[records.length - 1]!.offset + 1;
  }
  return out;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
