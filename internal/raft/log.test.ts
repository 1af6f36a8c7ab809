// RaftLog: the stable log read through Storage plus the unstable tail, with commit and applied indexes.
import { CompactedError } from './errors.js';
import { RaftLog } from './log.js';
import { MemoryStorage } from './storage.js';
import type { Entry } from './types.js';

function ents(from: number, terms: number[]): Entry[] {
  return terms.map((term, i) => ({ index: from + i, term, type: 'normal', data: new Uint8Array(8) }));
}

function log(stable: number[], unstable: number[] = []): RaftLog {
  const s = new MemoryStorage();
  s.append(ents(1, stable));
  const l = new RaftLog(s, Infinity);
  if (unstable.length > 0) l.append(ents(stable.length + 1, unstable));
  return l;
}

describe('RaftLog', () => {
  test('reads span stable storage and the unstable tail seamlessly', () => {
    const l = log([1, 1, 2], [2, 3]);
    expect(l.lastIndex()).toBe(5);
    expect(l.slice(2, 6, Infinity).map((e) => e.term)).toEqual([1, 2, 2, 3]);
    expect(l.unstableEntries().map((e) => e.index)).toEqual([4, 5]);
  });

  test('findConflict returns the first new or conflicting index, 0 if everything is already present', () => {
    const l = log([1, 1, 2, 2]);
    expect(l.findConflict(ents(2, [1, 2]))).toBe(0);
    expect(l.findConflict(ents(3, [2, 2, 3]))).toBe(5);
    expect(l.findConflict(ents(3, [3]))).toBe(3);
  });

  test('maybeAppend refuses a mismatching predecessor and truncates a conflicting suffix', () => {
    const l = log([1, 1, 2, 2]);
    expect(l.maybeAppend(4, 3, 0, ents(5, [3]))).toBe(-1);
    expect(l.maybeAppend(2, 1, 3, ents(3, [3]))).toBe(3);
    expect(l.lastIndex()).toBe(3);
    expect(l.term(3)).toBe(3);
    expect(l.committed).toBe(3);
  });

  test('the commit index never moves backwards and never passes the last index', () => {
    const l = log([1, 1, 2]);
    l.commitTo(2);
    l.commitTo(1);
    expect(l.committed).toBe(2);
    expect(() => l.commitTo(9)).toThrow();
  });

  test('a conflict at or below the commit index is an invariant violation, never a silent truncation', () => {
    const l = log([1, 1, 2]);
    l.commitTo(3);
    expect(() => l.maybeAppend(1, 1, 3, ents(2, [5]))).toThrow(/invariant/);
    expect(l.term(2)).toBe(1);
  });

  test('findConflictByTerm skips back to the last entry whose term is not above the given one', () => {
    const l = log([1, 1, 2, 2, 2, 5, 5]);
    expect(l.findConflictByTerm(7, 4)).toEqual({ index: 5, term: 2 });
    expect(l.findConflictByTerm(7, 1)).toEqual({ index: 2, term: 1 });
    expect(l.findConflictByTerm(7, 0)).toEqual({ index: 0, term: 0 });
  });

  test('isUpToDate compares the last term first, then the length', () => {
    const l = log([1, 2, 2]);
    expect(l.isUpToDate(1, 3)).toBe(true);
    expect(l.isUpToDate(9, 1)).toBe(false);
    expect(l.isUpToDate(3, 2)).toBe(true);
    expect(l.isUpToDate(2, 2)).toBe(false);
  });

  test('committed entries are handed out once, from applied+1 to commit, capped by bytes', () => {
    const s = new MemoryStorage();
    s.append(ents(1, [1, 1, 1, 1]));
    const l = new RaftLog(s, 70); // each entry counts 8 bytes + a 24-byte header
    l.commitTo(4);
    expect(l.nextCommittedEntries().map((e) => e.index)).toEqual([1, 2]);
    l.appliedTo(2);
    expect(l.nextCommittedEntries().map((e) => e.index)).toEqual([3, 4]);
    l.appliedTo(4);
    expect(l.hasNextCommittedEntries()).toBe(false);
  });

  test('entries compacted away are a CompactedError, the signal to send a snapshot', () => {
    const s = new MemoryStorage();
    s.append(ents(1, [1, 1, 1, 1]));
    s.createSnapshot(3, { voters: [], learners: [] }, new Uint8Array());
    s.compact(3);
    const l = new RaftLog(s, Infinity);
    expect(() => l.slice(2, 4, Infinity)).toThrow(CompactedError);
    expect(l.term(3)).toBe(1);
  });

  test('stableTo drops persisted entries from the unstable tail unless they were replaced meanwhile', () => {
    const l = log([1], [1, 1]);
    l.append(ents(3, [2]));
    l.stableTo(3, 1);
    expect(l.unstableEntries().map((e) => e.term)).toEqual([1, 2]);
    l.stableTo(3, 2);
    expect(l.unstableEntries()).toEqual([]);
  });
});
