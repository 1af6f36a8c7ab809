// The Raft core's storage seam over durable files, in one folder:
//   hardstate   term, vote, commit (atomic file)
//   snapshot    the latest snapshot's meta and state machine descriptor (atomic file)
//   entries/    the Raft log in a commit log (internal/log): entry index i is stored at log offset i
// The core reads synchronously, so an in-memory view (MemoryStorage) of the entries since the snapshot sits
// beside the files, updated only after a write is durable (the etcd WAL + MemoryStorage arrangement).
// The trailing entries a compaction keeps behind the snapshot (for followers a little behind) stay on disk
// only: memory holds their terms and sizes, and the rare read of one is a synchronous read of the entry log.
// So resident memory is bounded by the snapshot interval, not by the interval plus what is kept behind it.

import fs from 'node:fs/promises';
import path from 'node:path';
import { Log, type LogDeps } from '../log/index.js';
import {
  CompactedError,
  MemoryStorage,
  NONE,
  entrySize,
  encodeConfChange,
  type ConfState,
  type Entry,
  type HardState,
  type InitialState,
  type Snapshot,
  type Storage,
} from '../raft/index.js';
import { HardStateFile } from './hard-state-file.js';
import { decodeStoredEntry, encodeStoredEntry } from './message-codec.js';
import { SnapshotFile } from './snapshot-file.js';

export interface RaftStorageOptions {
  /** Used only when the folder holds no state yet: the initial membership (a single-voter bootstrap). */
  bootstrapVoters?: string[];
  /** Segment size of the entry log (compaction drops whole segments). Default 16 MiB. */
  segmentBytes?: number;
  /** Replaces the entry log's fdatasync (the agent times it for its metrics). */
  logDeps?: Partial<LogDeps>;
}

const ENTRY_LOG_MAX_RECORD_BYTES = 64 * 1024 * 1024;

/** The core asked to append entries that do not continue the stored log (a bug, never a normal condition). */
export class RaftLogGapError extends Error {
  readonly code = 'RAFT_LOG_GAP';
  constructor(
    readonly index: number,
    readonly next: number,
  ) {
    super(`raft log gap: appending index ${index} but the log continues at ${next}`);
    this.name = 'RaftLogGapError';
  }
}

/** How much of the log a compaction keeps behind a snapshot, for followers that are only a little behind. */
export interface TrailingEntries {
  entries: number;
  bytes: number;
}

/**
 * Entries up to the snapshot that compaction kept on disk: `terms[k]` and `sizes[k]` are those of the entry at
 * `head + k`, for head <= index <= the snapshot's index. The entry at `head` only lends its term (it is the
 * log's dummy head, as in MemoryStorage); the entries after it are read from the entry log.
 */
interface DiskTrail {
  head: number;
  terms: number[];
  sizes: number[];
}

export class RaftStorage implements Storage {
  private readonly view: MemoryStorage;
  private hard: HardState;
  private sinceSnapshotBytes = 0;
  private persistedCommit: number;
  private trail: DiskTrail;

  private constructor(
    readonly dir: string,
    private log: Log,
    private readonly hardStateFile: HardStateFile,
    private readonly snapshotFile: SnapshotFile,
    view: MemoryStorage,
    trail: DiskTrail,
    hard: HardState,
    /** Bootstrap voters were given, but the folder held Raft state that no bootstrap writes: they were ignored. */
    readonly bootstrapIgnored = false,
  ) {
    this.view = view;
    this.trail = trail;
    this.hard = hard;
    this.persistedCommit = hard.commit;
  }

  static async open(dir: string, options: RaftStorageOptions = {}): Promise<RaftStorage> {
    await fs.mkdir(dir, { recursive: true });
    const hardStateFile = new HardStateFile(dir);
    const snapshotFile = new SnapshotFile(dir);
    await hardStateFile.removeStaleTempFiles();
    await snapshotFile.removeStaleTempFiles();
    const segmentBytes = options.segmentBytes ?? 16 * 1024 * 1024;
    let snap = await snapshotFile.read();
    const hardOnDisk = await hardStateFile.read();
    let hard = hardOnDisk ?? { term: 0, vote: NONE, commit: 0 };
    const snapIndex = snap?.meta.index ?? 0;
    const log = await openEntryLog(path.join(dir, 'entries'), snapIndex + 1, segmentBytes, options.logDeps);
    let bootstrap: { snap: Snapshot; entries: Entry[] } | undefined;
    let bootstrapIgnored = false;
    try {
      let loaded = loadEntries(log, snapIndex, snap?.meta.term ?? 0);
      if (!snap && options.bootstrapVoters && options.bootstrapVoters.length > 0) {
        // The initial membership goes in twice: in a snapshot at index 0, so this node can campaign at once, and
        // as committed conf change entries at the head of the log, so that every node added later learns it from
        // the log (a snapshot at index 0 is never sent to anyone). Re-applying them here is a no-op.
        const entries = bootstrapEntries(options.bootstrapVoters);
        if (isFreshOrInterruptedBootstrap(hardOnDisk, loaded, entries)) {
          snap = { meta: { index: 0, term: 0, confState: { voters: [...options.bootstrapVoters], learners: [] } }, data: new Uint8Array(0) };
          bootstrap = { snap, entries };
          hard = { term: 1, vote: NONE, commit: entries.length };
          // What an interrupted bootstrap left in the log is written again below, over itself.
          loaded = [];
        } else {
          // This folder already holds Raft state of its own (the node joined a cluster, and no snapshot has come
          // yet). Bootstrapping would overwrite its term, vote and log: a second vote in a term, entries it
          // acknowledged gone, and a one-node cluster beside the real one.
          bootstrapIgnored = true;
        }
      }
      if (loaded === undefined) {
        // The log does not continue the snapshot (a crash between installing a snapshot and resetting the log).
        await log.reset(snapIndex + 1);
      }
      const { view, trail } = viewOf(snap, loaded ?? []);
      view.setHardState(hard);
      const storage = new RaftStorage(dir, log, hardStateFile, snapshotFile, view, trail, hard, bootstrapIgnored);
      if (bootstrap) {
        // The snapshot is written last: its existence marks the bootstrap complete. A crash before it leaves
        // entries and a hard state that only this bootstrap can have written (open had not returned), and the
        // next open bootstraps again; had the snapshot come first, that open would skip the bootstrap and keep
        // a log without the initial membership, which nodes added later learn only from the log.
        await storage.appendEntries(bootstrap.entries, true);
        await storage.writeHardState();
        await snapshotFile.write(bootstrap.snap);
      }
      return storage;
    } catch (err) {
      await log.close().catch(() => {});
      throw err;
    }
  }

  // ---- the core's read seam ----

  initialState(): InitialState {
    return this.view.initialState();
  }
  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    const inMemory = this.view.firstIndex();
    if (lo >= inMemory) return this.view.entries(lo, hi, maxBytes);
    if (lo <= this.trail.head) throw new CompactedError(lo, this.trail.head + 1);
    const out = this.readTrail(lo, Math.min(hi, inMemory), maxBytes);
    if (hi > inMemory && out.length === inMemory - lo) {
      let used = 0;
      for (const e of out) used += entrySize(e);
      for (const e of this.view.entries(inMemory, hi, maxBytes)) {
        used += entrySize(e);
        if (used > maxBytes) break;
        out.push(e);
      }
    }
    return out;
  }
  term(i: number): number {
    const snapIndex = this.view.firstIndex() - 1;
    if (i >= snapIndex) return this.view.term(i);
    if (i < this.trail.head) throw new CompactedError(i, this.trail.head + 1);
    return this.trail.terms[i - this.trail.head]!;
  }
  firstIndex(): number {
    return this.trail.head + 1;
  }
  lastIndex(): number {
    return this.view.lastIndex();
  }
  snapshot(): Snapshot {
    return this.view.snapshot();
  }

  // ---- writes from Ready, in the order the contract requires ----

  /** Installs a snapshot received from the leader: durable first, then the log restarts after it. */
  async installSnapshot(snap: Snapshot): Promise<void> {
    await this.snapshotFile.write(snap);
    this.trail = emptyTrail(snap.meta.index);
    await this.log.reset(snap.meta.index + 1);
    this.view.applySnapshot(snap);
  }

  /**
   * Appends entries (dropping any conflicting suffix first) with one write and, when `sync`, one fsync for all
   * of them: the group commit of a whole Ready.
   */
  async appendEntries(entries: Entry[], sync: boolean): Promise<void> {
    if (entries.length === 0) return;
    const first = entries[0]!.index;
    if (first < this.log.nextOffset()) await this.log.truncateSuffix(first);
    if (first !== this.log.nextOffset()) {
      throw new RaftLogGapError(first, this.log.nextOffset());
    }
    // One batch per Ready, and the runtime waits for it: no other append would join a round started a turn later.
    const written = this.log.appendBatch(entries.map(encodeStoredEntry), { syncAtOnce: true });
    for (const e of entries) this.sinceSnapshotBytes += e.data.length;
    if (sync) await written;
    else written.catch(() => {});
    this.view.append(entries);
  }

  /**
   * Term and vote must be durable before the messages of the same Ready leave. The commit index alone is
   * written only when it must be (see persistCommit) or on close: it can be relearned from the leader.
   */
  async setHardState(hs: HardState): Promise<void> {
    const termOrVoteChanged = hs.term !== this.hard.term || hs.vote !== this.hard.vote;
    this.hard = { ...hs, commit: Math.max(hs.commit, this.hard.commit) };
    this.view.setHardState(this.hard);
    if (termOrVoteChanged) await this.writeHardState();
  }

  /**
   * Makes the knowledge that `index` is committed durable. Called before a membership change is applied:
   * a node restarted with a commit index below a change it had applied would come back with the older
   * membership, and could (say, alone in its old view) elect itself beside the real cluster.
   */
  async persistCommit(index: number): Promise<void> {
    if (index <= this.persistedCommit) return;
    this.hard = { ...this.hard, commit: Math.max(this.hard.commit, index) };
    this.view.setHardState(this.hard);
    await this.writeHardState();
  }

  /** Persists the latest commit index too (on close), so a restart re-applies less from the leader. */
  async flushHardState(): Promise<void> {
    await this.writeHardState();
  }

  /**
   * Writes the hard state as it is now. this.hard only moves forward (term and vote from the core, commit by
   * max) and the file's writes complete in the order issued, so the last write is the newest state. Only the
   * commit index this write carries counts as durable: this.hard may have moved on while it was in flight.
   */
  private async writeHardState(): Promise<void> {
    const hs = this.hard;
    await this.hardStateFile.write(hs);
    this.persistedCommit = Math.max(this.persistedCommit, hs.commit);
  }

  // ---- compaction ----

  /**
   * Records a state machine snapshot taken at applied index `index` and drops log entries up to
   * `index - keepTrailing` (kept entries let a follower that is only a little behind catch up from the log).
   */
  async createSnapshot(index: number, confState: ConfState, data: Uint8Array, keep: TrailingEntries): Promise<Snapshot> {
    const snap = this.view.createSnapshot(index, confState, data);
    await this.snapshotFile.write(snap);
    this.sinceSnapshotBytes = 0;
    // The core may read between awaits: the trail and the view change together, before the disk log shrinks.
    const head = this.trailingStart(index, keep) - 1;
    const dropped = head > this.trail.head;
    const trail: DiskTrail = { head, terms: [], sizes: [] };
    for (let i = head; i <= index; i++) {
      trail.terms.push(this.term(i));
      // The head only lends its term: its size is never counted (it may not even be known).
      trail.sizes.push(i === head ? 0 : this.dataSize(i));
    }
    this.trail = trail;
    this.view.compact(index);
    if (dropped) await this.log.truncatePrefix(head + 1);
    return snap;
  }

  /** Record bytes of the entry at `index` (which must be held, in memory or in the trail). */
  private dataSize(index: number): number {
    if (index < this.view.firstIndex()) return this.trail.sizes[index - this.trail.head]!;
    return this.view.entries(index, index + 1, Infinity)[0]!.data.length;
  }

  /** Entries of the on-disk trail in [lo, hi) within maxBytes (at least one), read from the entry log. */
  private readTrail(lo: number, hi: number, maxBytes: number): Entry[] {
    const out: Entry[] = [];
    let used = 0;
    for (let at = lo; at < hi; ) {
      const page = this.log.readRangeNow(at, { maxRecords: hi - at, maxBytes: Math.min(maxBytes - used, ENTRY_LOG_MAX_RECORD_BYTES) });
      if (page.length === 0 || page[0]!.offset !== at) throw new RaftLogGapError(at, page[0]?.offset ?? this.log.nextOffset());
      for (const rec of page) {
        const e = decodeStoredEntry(rec.offset, rec.value);
        used += entrySize(e);
        if (out.length > 0 && used > maxBytes) return out;
        out.push(e);
        at = rec.offset + 1;
      }
    }
    return out;
  }

  /** First index to keep so that at most `keep.entries` entries and `keep.bytes` bytes stay up to `index`. */
  private trailingStart(index: number, keep: TrailingEntries): number {
    const first = this.firstIndex();
    let start = index + 1;
    let bytes = 0;
    while (start > first && index + 1 - start < keep.entries) {
      const size = this.dataSize(start - 1);
      if (bytes + size > keep.bytes) break;
      bytes += size;
      start--;
    }
    return start;
  }

  /** Bytes of entries appended since the last snapshot (they are held in memory until then). */
  bytesSinceSnapshot(): number {
    return this.sinceSnapshotBytes;
  }

  /** Entries held in memory (those after the snapshot); the trailing ones kept behind it are on disk only. */
  entriesInMemory(): number {
    return this.view.lastIndex() - this.view.firstIndex() + 1;
  }

  async close(): Promise<void> {
    await this.log.close();
  }
}

function openEntryLog(dir: string, initialOffset: number, segmentBytes: number, deps?: Partial<LogDeps>): Promise<Log> {
  return Log.open(
    dir,
    {
      segment: { initialOffset, maxStoreBytes: segmentBytes, maxIndexBytes: Math.max(12 * 1024, Math.ceil(segmentBytes / 64)) },
      sync: 'always',
      maxRecordBytes: Math.min(ENTRY_LOG_MAX_RECORD_BYTES, segmentBytes - 64),
    },
    deps,
  );
}

function emptyTrail(snapIndex: number): DiskTrail {
  return { head: snapIndex, terms: [], sizes: [] };
}

/**
 * The in-memory view (the snapshot and the entries after it) and the on-disk trail (the entries before it
 * that compaction kept, so that after a restart a follower a little behind still catches up from the log).
 * Entries kept in the view are copied out of the read pages, which would otherwise pin every page in memory.
 */
function viewOf(snap: Snapshot | undefined, loaded: Entry[]): { view: MemoryStorage; trail: DiskTrail } {
  const view = new MemoryStorage();
  const snapIndex = snap?.meta.index ?? 0;
  if (snap) view.applySnapshot(snap);
  const trail = emptyTrail(snapIndex);
  const head = loaded[0];
  if (head && head.index < snapIndex) {
    trail.head = head.index;
    for (const e of loaded) {
      if (e.index > snapIndex) break;
      trail.terms.push(e.term);
      trail.sizes.push(e.data.length);
    }
  }
  view.append(loaded.filter((e) => e.index > snapIndex).map((e) => ({ ...e, data: e.data.slice() })));
  return { view, trail };
}

/** The committed conf changes a bootstrap writes at the head of the log: one addVoter per initial voter. */
function bootstrapEntries(voters: readonly string[]): Entry[] {
  return voters.map((nodeId, i) => ({
    index: i + 1,
    term: 1,
    type: 'confChange' as const,
    data: encodeConfChange({ type: 'addVoter', nodeId, context: '' }),
  }));
}

/**
 * Whether a folder without a snapshot is new, or holds only what a bootstrap with these voters writes before its
 * snapshot (a crash interrupted it): no hard state or the bootstrap's own, and a log that is a prefix of its
 * entries. A node that joined a cluster holds the leader's entries (another bootstrap's voters) and its terms.
 */
function isFreshOrInterruptedBootstrap(hard: HardState | undefined, loaded: Entry[] | undefined, entries: Entry[]): boolean {
  if (hard !== undefined && !(hard.term === 1 && hard.vote === NONE && hard.commit <= entries.length)) return false;
  if (loaded === undefined || loaded.length > entries.length) return false;
  return loaded.every((e, i) => {
    const b = entries[i]!;
    return e.index === b.index && e.term === b.term && e.type === b.type && Buffer.compare(e.data, b.data) === 0;
  });
}

/**
 * Every entry the log holds (from its lowest offset, which may be below the snapshot), or undefined when the
 * log cannot continue the snapshot at `snapIndex` (it ends before it, starts after it, or disagrees on the term
 * of its last entry).
 */
function loadEntries(log: Log, snapIndex: number, snapTerm: number): Entry[] | undefined {
  const lowest = Math.max(log.lowestOffset(), 1);
  const next = log.nextOffset();
  if (next <= snapIndex || lowest > snapIndex + 1) return undefined;
  const out: Entry[] = [];
  let at = lowest;
  while (at < next) {
    const page = log.readRangeNow(at, { maxRecords: 4096, maxBytes: 64 * 1024 * 1024 });
    if (page.length === 0) return undefined;
    for (const rec of page) {
      const e = decodeStoredEntry(rec.offset, rec.value);
      if (e.index === snapIndex && e.term !== snapTerm) return undefined;
      out.push(e);
      at = rec.offset + 1;
    }
  }
  return out;
}
