// MemoryStorage: the storage seam's reference implementation (and the simulation's disk).
import { decodeConfChange } from './confchange.js';
import { CompactedError, CompactionBeyondSnapshotError, SnapshotOutOfDateError, UnavailableError } from './errors.js';
import { entrySize, MemoryStorage } from './storage.js';
import type { Entry } from './types.js';

function ents(from: number, terms: number[], size = 10): Entry[] {
  return terms.map((term, i) => ({ index: from + i, term, type: 'normal', data: new Uint8Array(size) }));
}

function storage(): MemoryStorage {
  const s = new MemoryStorage();
  s.append(ents(1, [1, 1, 2, 2, 3]));
  return s;
}

describe('MemoryStorage', () => {
  test('an empty storage holds no entries: first index 1, last index 0, term(0) = 0', () => {
    const s = new MemoryStorage();
    expect([s.firstIndex(), s.lastIndex(), s.term(0)]).toEqual([1, 0, 0]);
    expect(s.initialState().hardState).toEqual({ term: 0, vote: '', commit: 0 });
  });

  test('bootstrap writes the founding membership as committed conf change entries of term 1', () => {
    const s = MemoryStorage.bootstrap(['b', 'a'], ['c']);
    expect(s.lastIndex()).toBe(3);
    const changes = s.entries(1, 4, Infinity).map((e) => decodeConfChange(e.data));
    expect(changes.map((c) => [c.type, c.nodeId])).toEqual([['addVoter', 'a'], ['addVoter', 'b'], ['addLearner', 'c']]);
    expect(s.initialState().hardState).toEqual({ term: 1, vote: '', commit: 3 });
  });

  test('entries(lo, hi) returns [lo, hi) capped by bytes, but always at least one entry', () => {
    const s = storage();
    expect(s.entries(2, 5, Infinity).map((e) => e.index)).toEqual([2, 3, 4]);
    expect(s.entries(2, 5, entrySize(s.entries(2, 3, Infinity)[0]!) * 2).map((e) => e.index)).toEqual([2, 3]);
    expect(s.entries(2, 5, 0).map((e) => e.index)).toEqual([2]);
  });

  test('reads outside the log are CompactedError below and UnavailableError above', () => {
    const s = storage();
    s.createSnapshot(3, { voters: ['a'], learners: [] }, new Uint8Array([1]));
    s.compact(3);
    expect(s.firstIndex()).toBe(4);
    expect(s.term(3)).toBe(2);
    expect(() => s.term(2)).toThrow(CompactedError);
    expect(() => s.entries(3, 5, Infinity)).toThrow(CompactedError);
    expect(() => s.term(6)).toThrow(UnavailableError);
    expect(() => s.entries(4, 7, Infinity)).toThrow(UnavailableError);
  });

  test('append replaces the conflicting suffix and skips entries already compacted', () => {
    const s = storage();
    s.append(ents(4, [4]));
    expect(s.lastIndex()).toBe(4);
    expect(s.term(4)).toBe(4);
    s.createSnapshot(3, { voters: ['a'], learners: [] }, new Uint8Array());
    s.compact(3);
    s.append(ents(2, [1, 2, 4, 4]));
    expect([s.firstIndex(), s.lastIndex(), s.term(5)]).toEqual([4, 5, 4]);
  });

  test('append leaving a gap after the last entry is refused', () => {
    const s = storage();
    expect(() => s.append(ents(9, [3]))).toThrow(UnavailableError);
    expect(s.lastIndex()).toBe(5);
  });

  test('compaction may not pass the latest snapshot, and compacting twice is CompactedError', () => {
    const s = storage();
    expect(() => s.compact(2)).toThrow(CompactionBeyondSnapshotError);
    s.createSnapshot(4, { voters: ['a'], learners: [] }, new Uint8Array());
    s.compact(2);
    expect(() => s.compact(2)).toThrow(CompactedError);
    expect(s.lastIndex()).toBe(5);
  });

  test('snapshots only move forward; applying one replaces the whole log', () => {
    const s = storage();
    s.createSnapshot(4, { voters: ['a', 'b'], learners: [] }, new Uint8Array([4]));
    expect(() => s.createSnapshot(3, { voters: ['a'], learners: [] }, new Uint8Array())).toThrow(SnapshotOutOfDateError);
    expect(() => s.applySnapshot({ meta: { index: 2, term: 1, confState: { voters: [], learners: [] } }, data: new Uint8Array() })).toThrow(SnapshotOutOfDateError);
    s.applySnapshot({ meta: { index: 10, term: 5, confState: { voters: ['x'], learners: [] } }, data: new Uint8Array([9]) });
    expect([s.firstIndex(), s.lastIndex(), s.term(10)]).toEqual([11, 10, 5]);
    expect(s.initialState().confState).toEqual({ voters: ['x'], learners: [] });
  });

  test('the hard state is stored as a copy', () => {
    const s = new MemoryStorage();
    const hs = { term: 3, vote: 'a', commit: 0 };
    s.setHardState(hs);
    hs.term = 99;
    expect(s.initialState().hardState.term).toBe(3);
  });
});
