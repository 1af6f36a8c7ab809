// The clients of a nemesis run: producers writing unique values through the load-balancing client, retrying an
// attempt whose outcome is unknown with the same value, and consumers reading from followers as the log grows.
// Every attempt and its outcome goes into the history.
import * as grpc from '@grpc/grpc-js';
import type { LogClient, Record as LogRecord } from '../../api/v1/log.js';
import type { Cluster } from './cluster.js';
import type { History } from './history.js';

export interface WorkloadOptions {
  producers: number;
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
  consumers: 2,
  attemptTimeoutMs: 2000,
  maxAttempts: 3,
  produceIntervalMs: 5,
};

const LEADER_REFRESH_MS = 1000;

// Codes that mean the server refused the request before it could reach the log; everything else (deadline,
// connection lost, UNAVAILABLE whether or not it names a leader) leaves the outcome unknown.
const DEFINITE_FAILURES = new Set([grpc.status.INVALID_ARGUMENT, grpc.status.PERMISSION_DENIED, grpc.status.UNAUTHENTICATED]);

/** The trailer a server sets, to "unknown", on a write that may or may not have been stored (see log.proto). */
const OUTCOME_METADATA = 'proglog-outcome';

/**
 * How a failed produce attempt enters the history: 'fail' only when nothing can have been stored (the checker
 * reports such a value found in the log as a violation), 'timeout' (indeterminate) otherwise. A write the server
 * flags as of unknown outcome is indeterminate whatever its code: its entry may commit after the answer.
 */
export function failedAttemptKind(err: unknown): 'fail' | 'timeout' {
  if (outcomeFlaggedUnknown(err)) return 'timeout';
  const code = codeOf(err);
  return code !== undefined && DEFINITE_FAILURES.has(code) ? 'fail' : 'timeout';
}

function outcomeFlaggedUnknown(err: unknown): boolean {
  if (typeof err !== 'object' || err === null || !('metadata' in err) || !(err.metadata instanceof grpc.Metadata)) return false;
  return err.metadata.get(OUTCOME_METADATA).includes('unknown');
}

/** Enters a failed produce attempt in the history; says whether the producer should send the value again. */
export function recordFailedAttempt(history: History, process: string, value: string, err: unknown): 'retry' | 'give up' {
  if (failedAttemptKind(err) === 'fail') {
    history.fail(process, 'produce', { value, info: describe(err) });
    return 'give up';
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
