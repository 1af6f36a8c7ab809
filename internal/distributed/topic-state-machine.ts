// The replicated state machine: the topics' commit logs (and the members' addresses).
//
// Applying an append command appends its batch to the topic's log at the offset every replica computes the same
// way: the state machine keeps, per topic, the next offset the applied commands lead to (`cursor`), starting
// from the snapshot's ranges. A command whose records are already in the log (re-applied after a restart: the
// topic logs are written before the Raft commit index is persisted) is skipped, so applying is idempotent and
// needs no fsync of its own before it is acknowledged: the Raft log is the durable record. So topic logs are not
// fsynced per append (that would cost every replica a second fsync per Raft round, competing on the disk with
// the Raft log's own, which is on the produce path): they fsync on a timer, and a snapshot fsyncs them
// (syncApplied) before it is recorded. A crash can cut a topic log's unsynced tail; the restart re-applies the
// Raft entries after the snapshot, which writes the same records at the same offsets again.
//
// Snapshots copy nothing: a snapshot is each topic's offset range at the applied index (see
// snapshot-manifest.ts). Sending one streams those ranges' records; receiving one builds complete topic logs
// in a staging folder, swapped in (renamed) when the Raft core says to restore it.

import fs from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import {
  LogError,
  RecordTooLargeError,
  TopicLogs,
  requireMaxRecordFitsSegment,
  resolveConfig,
  validateTopic,
  type LogConfig,
  type LogConfigInput,
  type LogDeps,
} from '../log/index.js';
import { fsyncDir } from './atomic-file.js';
import { type SnapshotManifest, type TopicRange } from './snapshot-manifest.js';
import { decodeSnapshotItem, encodeRecordsItem, encodeTopicItem } from './snapshot-stream.js';

export class StateMachineDivergedError extends Error {
  readonly code = 'STATE_MACHINE_DIVERGED';
  constructor(
    readonly topic: string,
    readonly expected: number,
    readonly actual: number,
  ) {
    super(`topic ${JSON.stringify(topic)} ends at offset ${actual} but the applied log leads to ${expected}: records were lost`);
    this.name = 'StateMachineDivergedError';
  }
}

export class SnapshotIncompleteError extends Error {
  readonly code = 'SNAPSHOT_INCOMPLETE';
  constructor(detail: string) {
    super(`snapshot stream incomplete: ${detail}`);
    this.name = 'SnapshotIncompleteError';
  }
}

/** The outcome of applying one append command: where its records went, or the typed error every replica hit. */
export type AppendOutcome = { firstOffset: number } | { error: LogError };

export interface StateMachineOptions {
  /** Config of the topic logs (their sync policy is always 'interval', see above). */
  log?: LogConfigInput;
  /** Replaces the topic logs' fdatasync (the agent times it for its metrics). */
  logDeps?: Partial<LogDeps>;
}

const COMPLETE_MARKER = 'COMPLETE';
/** How often topic logs fsync on their own: bounds the dirty data a snapshot's sync has to write. */
const TOPIC_SYNC_INTERVAL_MS = 1000;
const SNAPSHOT_PAGE_BYTES = 1024 * 1024;

/**
 * The config of the topic logs, checked: what the state machine opens them with (sync forced to 'interval'),
 * and its resolved values. Throws InvalidConfigError for a config the topic logs cannot run with, including a
 * segment that cannot hold a record of maxRecordBytes (the state machine accepts records up to that size, and
 * a log that then refused one would stop every replica on that entry).
 */
export function topicLogConfig(input: LogConfigInput = {}): { input: LogConfigInput; resolved: LogConfig } {
  const forced: LogConfigInput = { ...input, sync: 'interval', syncIntervalMs: input.syncIntervalMs ?? TOPIC_SYNC_INTERVAL_MS };
  const resolved = resolveConfig(forced);
  requireMaxRecordFitsSegment(resolved);
  return { input: forced, resolved };
}

export class TopicStateMachine {
  private cursor = new Map<string, number>();
  readonly addresses = new Map<string, string>();
  /** Bumped by every restore, so readers can tell their view of a log was replaced. */
  generation = 0;

  private constructor(
    private readonly dataDir: string,
    private topics: TopicLogs,
    private readonly logConfig: LogConfigInput,
    private readonly maxRecordBytes: number,
    /** Where a new topic log starts: the offset of a topic's first command on every replica. */
    private readonly initialOffset: number,
    private readonly logDeps: Partial<LogDeps> = {},
  ) {}

  /**
   * Opens the topic logs under `dataDir` at the state of the Raft snapshot at `snapshotIndex` (plus whatever
   * commands after it were already applied). A snapshot received but not yet swapped in when the process
   * stopped is swapped in now.
   */
  static async open(dataDir: string, snapshotIndex: number, manifest: SnapshotManifest, options: StateMachineOptions = {}): Promise<TopicStateMachine> {
    // Checked now, not when the first command creates a topic log (a bad config would then stop the apply loop).
    const { input: logConfig, resolved } = topicLogConfig(options.log);
    const staged = stagingDir(dataDir, snapshotIndex);
    if (existsSync(path.join(staged, COMPLETE_MARKER))) await swapIn(dataDir, staged);
    // A swap that crashed after the new topics were in place left the old ones beside them: a full copy.
    else if (existsSync(topicsDir(dataDir))) await fs.rm(replacedDir(dataDir), { recursive: true, force: true });
    await removeStaleStaging(dataDir, () => true);
    const topics = await TopicLogs.open(topicsDir(dataDir), logConfig, options.logDeps);
    const fsm = new TopicStateMachine(dataDir, topics, logConfig, resolved.maxRecordBytes, resolved.segment.initialOffset, options.logDeps);
    fsm.loadManifest(manifest);
    return fsm;
  }

  private loadManifest(manifest: SnapshotManifest): void {
    this.cursor = new Map(manifest.topics.map((t) => [t.topic, t.next]));
    this.addresses.clear();
    for (const [id, addr] of manifest.addresses) this.addresses.set(id, addr);
  }

  logs(): TopicLogs {
    return this.topics;
  }

  /** Applies one append command at Raft index `index`. Rejections are deterministic (same on every replica). */
  async applyAppend(topic: string, records: Uint8Array[]): Promise<AppendOutcome> {
    try {
      validateTopic(topic);
    } catch (err) {
      return { error: err as LogError };
    }
    for (const r of records) {
      if (r.length > this.maxRecordBytes) return { error: new RecordTooLargeError(r.length, this.maxRecordBytes) };
    }
    const log = this.topics.has(topic) ? this.topics.get(topic) : await this.topics.getOrCreate(topic);
    // A topic with no cursor was created after the snapshot, so its first command is at the offset every new
    // topic log starts at. Not lowestOffset(): retention moves that forward, and a restart that re-applies the
    // topic's commands would then place them at other offsets than the first time, over the records kept.
    const first = this.cursor.get(topic) ?? this.initialOffset;
    const end = first + records.length;
    const next = log.nextOffset();
    // Already applied: the records are in the log, or were and retention has dropped them since.
    if (next >= end) {
      this.cursor.set(topic, end);
      return { firstOffset: first };
    }
    if (next > first) await log.truncateSuffix(first);
    else if (next < first) throw new StateMachineDivergedError(topic, first, next);
    // Resolves at once (no fsync); a failed write fails the log, which the next append or sync reports.
    await log.appendBatch(records);
    // Only now: a cursor moved past records that an append then refused would put every later command of the
    // topic past the log's end, and applying this command again would not place it where it belongs.
    this.cursor.set(topic, end);
    return { firstOffset: first };
  }

  setAddress(nodeId: string, addr: string): void {
    this.addresses.set(nodeId, addr);
  }

  /** Resolves once everything applied so far is durable in the topic logs (before a snapshot is recorded). */
  async syncApplied(): Promise<void> {
    await Promise.all(this.topics.list().map((t) => this.topics.get(t).sync()));
  }

  /** The point-in-time description of the state: each topic's range as of the last applied command. */
  manifest(): SnapshotManifest {
    const topics: TopicRange[] = [];
    for (const [topic, next] of [...this.cursor].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      const lowest = this.topics.has(topic) ? Math.min(this.topics.get(topic).lowestOffset(), next) : next;
      topics.push({ topic, lowest, next });
    }
    return { topics, addresses: [...this.addresses].sort(([a], [b]) => (a < b ? -1 : 1)) };
  }

  /** The records of the manifest's ranges, as transport chunks. */
  async *streamSnapshot(manifest: SnapshotManifest): AsyncGenerator<Uint8Array> {
    const generation = this.generation;
    for (const wanted of manifest.topics) {
      // Retention may have dropped the oldest records since the snapshot was taken: send what is left.
      const log = this.topics.has(wanted.topic) ? this.topics.get(wanted.topic) : undefined;
      const lowest = Math.min(Math.max(wanted.lowest, log?.lowestOffset() ?? wanted.next), wanted.next);
      const range = { ...wanted, lowest };
      yield encodeTopicItem(range);
      let at = range.lowest;
      while (at < range.next) {
        if (this.generation !== generation) throw new SnapshotIncompleteError('the local state was replaced while streaming');
        const page = this.topics.get(range.topic).readRangeNow(at, { maxRecords: range.next - at, maxBytes: SNAPSHOT_PAGE_BYTES });
        if (page.length === 0) throw new SnapshotIncompleteError(`no records at ${range.topic}@${at}`);
        yield encodeRecordsItem(page.map((r) => r.value));
        at += page.length;
      }
    }
  }

  /** Builds the topic logs of snapshot `index` from a stream into a staging folder, durably. */
  async receiveSnapshot(index: number, chunks: AsyncIterable<Uint8Array>): Promise<void> {
    const dir = stagingDir(this.dataDir, index);
    await fs.rm(dir, { recursive: true, force: true });
    await fs.mkdir(dir, { recursive: true });
    // Only close() fsyncs these logs: one sync per file at the end instead of one per chunk.
    const staged = await TopicLogs.open(dir, { ...this.logConfig, sync: 'interval', syncIntervalMs: 3_600_000 }, this.logDeps);
    try {
      let current: { range: TopicRange; at: number } | undefined;
      const finish = (): void => {
        if (current && current.at !== current.range.next) {
          throw new SnapshotIncompleteError(`${current.range.topic} has records up to ${current.at}, expected ${current.range.next}`);
        }
      };
      for await (const chunk of chunks) {
        const item = decodeSnapshotItem(chunk);
        if (item.kind === 'topic') {
          finish();
          const log = await staged.getOrCreate(item.range.topic);
          await log.reset(item.range.lowest);
          current = { range: item.range, at: item.range.lowest };
        } else {
          if (!current) throw new SnapshotIncompleteError('records before any topic');
          const log = staged.get(current.range.topic);
          await log.appendBatch(item.records);
          current.at += item.records.length;
        }
      }
      finish();
    } finally {
      await staged.close();
    }
    await fs.writeFile(path.join(dir, COMPLETE_MARKER), '');
    await fsyncDir(dir);
  }

  hasStagedSnapshot(index: number): boolean {
    return existsSync(path.join(stagingDir(this.dataDir, index), COMPLETE_MARKER));
  }

  /** Replaces the topic logs with the staged snapshot `index`, whose description is `manifest`. */
  async restore(index: number, manifest: SnapshotManifest): Promise<void> {
    const staged = stagingDir(this.dataDir, index);
    if (!existsSync(path.join(staged, COMPLETE_MARKER))) throw new SnapshotIncompleteError(`snapshot ${index} was never received`);
    await this.topics.close();
    this.generation++;
    await swapIn(this.dataDir, staged);
    await removeStaleStaging(this.dataDir, (i) => i <= index);
    this.topics = await TopicLogs.open(topicsDir(this.dataDir), this.logConfig, this.logDeps);
    this.loadManifest(manifest);
  }

  async close(): Promise<void> {
    await this.topics.close();
  }
}

function topicsDir(dataDir: string): string {
  return path.join(dataDir, 'topics');
}

function stagingRoot(dataDir: string): string {
  return path.join(dataDir, 'incoming-snapshots');
}

function stagingDir(dataDir: string, index: number): string {
  return path.join(stagingRoot(dataDir), String(index));
}

/** Deletes staged snapshots whose index `stale` selects. */
async function removeStaleStaging(dataDir: string, stale: (index: number) => boolean): Promise<void> {
  const root = stagingRoot(dataDir);
  let names: string[];
  try {
    names = await fs.readdir(root);
  } catch {
    return;
  }
  for (const name of names) {
    const index = Number(name);
    if (!Number.isInteger(index) || stale(index)) await fs.rm(path.join(root, name), { recursive: true, force: true });
  }
}

/** Makes `staged` the topics folder: rename the old one away, rename the staged one in, fsync, delete the old. */
function replacedDir(dataDir: string): string {
  return `${topicsDir(dataDir)}.replaced`;
}

async function swapIn(dataDir: string, staged: string): Promise<void> {
  const live = topicsDir(dataDir);
  const old = replacedDir(dataDir);
  await fs.rm(old, { recursive: true, force: true });
  if (existsSync(live)) await fs.rename(live, old);
  // Until this rename is durable, a restart finds the staged copy complete and redoes the swap.
  await fs.rename(staged, live);
  await fsyncDir(dataDir);
  await fsyncDir(path.dirname(staged));
  await fs.rm(path.join(live, COMPLETE_MARKER), { force: true });
  await fs.rm(old, { recursive: true, force: true });
}
