// The storage seam: how the core reads the log the runtime has persisted. Reads are synchronous because the
// core never waits; a runtime with a disk log keeps this view in memory beside its durable files (as etcd does
// with its WAL + MemoryStorage) and updates it only after a write is durable.
import { CompactedError, CompactionBeyondSnapshotError, SnapshotOutOfDateError, UnavailableError } from './errors.js';
import { encodeConfChange } from './confchange.js';
import type { ConfChange, ConfState, Entry, HardState, Snapshot } from './types.js';
import { NONE } from './types.js';

export interface InitialState {
  hardState: HardState;
  confState: ConfState;
}

export interface Storage {
  /** The persisted hard state and the membership as of the last persisted snapshot or bootstrap. */
  initialState(): InitialState;
  /** Entries in [lo, hi), at least one if any, stopping before the total size would exceed maxBytes. */
  entries(lo: number, hi: number, maxBytes: number): Entry[];
  /** Term of the entry at i; i may be firstIndex()-1 (the snapshot's last entry). Throws Compacted/Unavailable. */
  term(i: number): number;
  /** First index still held as an entry (snapshot index + 1). */
  firstIndex(): number;
  lastIndex(): number;
  /** The latest snapshot. */
  snapshot(): Snapshot;
}

/**
 * What a runtime's durable storage offers on top of the read side: the writes that Ready asks for, and the
 * compaction it does after taking a state machine snapshot. MemoryStorage implements it in memory; a disk
 * implementation must make each write durable before the write returns (or before mustSync messages are sent).
 */
export interface WritableStorage extends Storage {
  /** Appends entries, replacing any existing suffix they overlap. */
  append(entries: Entry[]): void;
  setHardState(hs: HardState): void;
  /** Replaces the whole log with a snapshot received from the leader. */
  applySnapshot(snap: Snapshot): void;
  /** Records a state machine snapshot taken at applied index i with the membership as of i. */
  createSnapshot(i: number, confState: ConfState, data: Uint8Array): Snapshot;
  /** Drops entries up to compactIndex (at most the latest snapshot's index). */
  compact(compactIndex: number): void;
}

/** Bytes an entry counts for against size limits (data plus a fixed header allowance). */
export function entrySize(e: Entry): number {
  return e.data.length + 24;
}

/** Cuts `ents` so their total size stays within maxBytes, always keeping at least one entry. */
export function limitSize(ents: Entry[], maxBytes: number): Entry[] {
  if (ents.length === 0) return ents;
  let size = entrySize(ents[0]!);
  let n = 1;
  for (; n < ents.length; n++) {
    size += entrySize(ents[n]!);
    if (size > maxBytes) break;
  }
  return n === ents.length ? ents : ents.slice(0, n);
}

export function emptySnapshot(): Snapshot {
  return { meta: { index: 0, term: 0, confState: { voters: [], learners: [] } }, data: new Uint8Array(0) };
}

/**
 * Storage held in memory: the reference implementation, used by tests and by the simulation as each node's
 * "disk". Whatever the runtime writes here survives a simulated crash; nothing else does.
 */
export class MemoryStorage implements WritableStorage {
  private hardState: HardState = { term: 0, vote: NONE, commit: 0 };
  private snap: Snapshot = emptySnapshot();
  /** ents[0] stands for the snapshot's last entry (its index and term); real entries follow. */
  private ents: Entry[] = [{ index: 0, term: 0, type: 'empty', data: new Uint8Array(0) }];

  /**
   * A storage for a founding member of a new cluster: the initial membership is written as committed
   * membership-change entries (term 1, indexes 1..n), so that nodes added later learn it by replicating the log.
   * Every founding member must be bootstrapped with the same lists; nodes added later start from `new MemoryStorage()`.
   */
  static bootstrap(voters: string[], learners: string[] = []): MemoryStorage {
    const s = new MemoryStorage();
    const changes: ConfChange[] = [
      ...[...voters].sort().map((nodeId): ConfChange => ({ type: 'addVoter', nodeId, context: '' })),
      ...[...learners].sort().map((nodeId): ConfChange => ({ type: 'addLearner', nodeId, context: '' })),
    ];
    s.append(changes.map((cc, i) => ({ index: i + 1, term: 1, type: 'confChange', data: encodeConfChange(cc) })));
    s.setHardState({ term: 1, vote: NONE, commit: changes.length });
    return s;
  }

  initialState(): InitialState {
    const cs = this.snap.meta.confState;
    return { hardState: { ...this.hardState }, confState: { voters: [...cs.voters], learners: [...cs.learners] } };
  }

  setHardState(hs: HardState): void {
    this.hardState = { ...hs };
  }

  private offset(): number {
    return this.ents[0]!.index;
  }

  firstIndex(): number {
    return this.offset() + 1;
  }

  lastIndex(): number {
    return this.offset() + this.ents.length - 1;
  }

  term(i: number): number {
    const off = this.offset();
    if (i < off) throw new CompactedError(i, off + 1);
    if (i - off >= this.ents.length) throw new UnavailableError(i, this.lastIndex());
    return this.ents[i - off]!.term;
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    const off = this.offset();
    if (lo <= off) throw new CompactedError(lo, off + 1);
    if (hi > this.lastIndex() + 1) throw new UnavailableError(hi - 1, this.lastIndex());
    return limitSize(this.ents.slice(lo - off, hi - off), maxBytes);
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  /** Replaces the whole log with a snapshot received from the leader. */
  applySnapshot(snap: Snapshot): void {
    if (snap.meta.index < this.snap.meta.index) throw new SnapshotOutOfDateError(snap.meta.index, this.snap.meta.index);
    this.snap = snap;
    this.ents = [{ index: snap.meta.index, term: snap.meta.term, type: 'empty', data: new Uint8Array(0) }];
  }

  /**
   * Records a snapshot of the state machine taken at applied index i (i must be in the log), so that the log
   * before it can be compacted.
   */
  createSnapshot(i: number, confState: ConfState, data: Uint8Array): Snapshot {
    if (i <= this.snap.meta.index) throw new SnapshotOutOfDateError(i, this.snap.meta.index);
    if (i > this.lastIndex()) throw new UnavailableError(i, this.lastIndex());
    const term = this.term(i);
    this.snap = { meta: { index: i, term, confState: { voters: [...confState.voters], learners: [...confState.learners] } }, data };
    return this.snap;
  }

  /**
   * Discards entries up to compactIndex (it stays as the dummy head: its term is still known). compactIndex may
   * not pass the latest snapshot, or a lagging follower could be served neither entries nor a snapshot.
   */
  compact(compactIndex: number): void {
    if (compactIndex > this.snap.meta.index) throw new CompactionBeyondSnapshotError(compactIndex, this.snap.meta.index);
    const off = this.offset();
    if (compactIndex <= off) throw new CompactedError(compactIndex, off + 1);
    if (compactIndex > this.lastIndex()) throw new UnavailableError(compactIndex, this.lastIndex());
    const head = this.ents[compactIndex - off]!;
    const rest = this.ents.slice(compactIndex - off + 1);
    this.ents = [{ index: head.index, term: head.term, type: 'empty', data: new Uint8Array(0) }, ...rest];
  }

  /** Appends entries, replacing any existing suffix they overlap. Entries already compacted are skipped. */
  append(entries: Entry[]): void {
    if (entries.length === 0) return;
    const first = this.firstIndex();
    let ents = entries;
    if (ents[ents.length - 1]!.index < first) return;
    if (ents[0]!.index < first) ents = ents.slice(first - ents[0]!.index);
    const at = ents[0]!.index - this.offset();
    if (at > this.ents.length) throw new UnavailableError(ents[0]!.index, this.lastIndex());
    if (at < this.ents.length) this.ents.length = at;
    for (const e of ents) this.ents.push(e);
  }
}
