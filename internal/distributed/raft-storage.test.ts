import { jest } from '@jest/globals';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CompactedError, type Entry } from '../raft/index.js';
import { HardStateFile } from './hard-state-file.js';
import { RaftStorage } from './raft-storage.js';

const e = (index: number, term: number, data = `e${index}`): Entry => ({ index, term, type: 'normal', data: Buffer.from(data) });
const text = (es: Entry[]): string[] => es.map((x) => `${x.index}/${x.term}/${Buffer.from(x.data).toString()}`);

let dir: string;
const opened: RaftStorage[] = [];
async function open(options = {}): Promise<RaftStorage> {
  const s = await RaftStorage.open(dir, options);
  opened.push(s);
  return s;
}
async function reopen(s: RaftStorage, options = {}): Promise<RaftStorage> {
  await s.close();
  return open(options);
}

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'proglog-raft-storage-'));
});
afterEach(async () => {
  jest.restoreAllMocks();
  for (const s of opened.splice(0)) await s.close();
  await fs.rm(dir, { recursive: true, force: true });
});

describe('RaftStorage', () => {
  test('a new folder is an empty log with no membership; bootstrap gives a single voter', async () => {
    const s = await open();
    expect(s.initialState()).toEqual({ hardState: { term: 0, vote: '', commit: 0 }, confState: { voters: [], learners: [] } });
    expect([s.firstIndex(), s.lastIndex()]).toEqual([1, 0]);
    await s.close();
    await fs.rm(dir, { recursive: true, force: true });
    const b = await open({ bootstrapVoters: ['a#1'] });
    expect(b.initialState().confState).toEqual({ voters: ['a#1'], learners: [] });
    // The membership is also the first committed entry, so that nodes added later learn it from the log.
    expect(b.initialState().hardState).toEqual({ term: 1, vote: '', commit: 1 });
    expect(b.entries(1, 2, Infinity).map((x) => [x.type, JSON.parse(Buffer.from(x.data).toString()).n])).toEqual([['confChange', 'a#1']]);
    const again = await reopen(b, { bootstrapVoters: ['ignored#2'] });
    expect(again.initialState().confState).toEqual({ voters: ['a#1'], learners: [] });
  });

  test("appending a Ready's entries starts their fdatasync before it yields: nothing else would join a later one", async () => {
    const synced: number[] = [];
    const s = await open({ logDeps: { datasync: async (fd: number) => void synced.push(fd) } });
    const before = synced.length;
    const appended = s.appendEntries([e(1, 1), e(2, 1)], true);
    // No turn of the event loop has passed, and the fsync covering the entries is already under way.
    expect(synced.length).toBe(before + 1);
    await appended;
    expect(text(s.entries(1, 3, Infinity))).toEqual(['1/1/e1', '2/1/e2']);
  });

  test('bootstrap voters are ignored by a folder that holds Raft state a bootstrap does not write (a node that joined)', async () => {
    // A node that joined a cluster and has no snapshot yet: the leader's entries, its term and vote.
    const joined = await open();
    expect(joined.bootstrapIgnored).toBe(false);
    await joined.appendEntries([e(1, 1, 'leader-1'), e(2, 3, 'leader-2')], true);
    await joined.setHardState({ term: 3, vote: 'a#1', commit: 2 });
    const restarted = await reopen(joined, { bootstrapVoters: ['b#2'] });
    expect(restarted.bootstrapIgnored).toBe(true);
    expect(restarted.initialState()).toEqual({ hardState: { term: 3, vote: 'a#1', commit: 2 }, confState: { voters: [], learners: [] } });
    expect(text(restarted.entries(1, 3, Infinity))).toEqual(['1/1/leader-1', '2/3/leader-2']);
    // A new folder still bootstraps.
    await restarted.close();
    await fs.rm(dir, { recursive: true, force: true });
    const fresh = await open({ bootstrapVoters: ['b#2'] });
    expect(fresh.bootstrapIgnored).toBe(false);
    expect(fresh.initialState().confState).toEqual({ voters: ['b#2'], learners: [] });
  });

  describe('a bootstrap interrupted part-way is redone in full when the folder reopens', () => {
    const voters = ['a#1', 'b#2'];
    async function expectBootstrapped(s: RaftStorage): Promise<void> {
      expect(s.initialState()).toEqual({ hardState: { term: 1, vote: '', commit: 2 }, confState: { voters, learners: [] } });
      expect(s.entries(1, 3, Infinity).map((x) => [x.type, JSON.parse(Buffer.from(x.data).toString()).n])).toEqual([
        ['confChange', 'a#1'],
        ['confChange', 'b#2'],
      ]);
      // And so it stays, without the bootstrap option too.
      const r = await reopen(s);
      expect(r.initialState()).toEqual({ hardState: { term: 1, vote: '', commit: 2 }, confState: { voters, learners: [] } });
      expect(r.lastIndex()).toBe(2);
    }

    test('writing the entries failed', async () => {
      jest.spyOn(RaftStorage.prototype, 'appendEntries').mockRejectedValueOnce(new Error('injected: entries not written'));
      await expect(RaftStorage.open(dir, { bootstrapVoters: voters })).rejects.toThrow('injected');
      await expectBootstrapped(await open({ bootstrapVoters: voters }));
    });

    test('writing the hard state failed', async () => {
      jest.spyOn(HardStateFile.prototype, 'write').mockRejectedValueOnce(new Error('injected: hard state not written'));
      await expect(RaftStorage.open(dir, { bootstrapVoters: voters })).rejects.toThrow('injected');
      await expectBootstrapped(await open({ bootstrapVoters: voters }));
    });

    test('a crash before the snapshot was written (entries and hard state are there)', async () => {
      await (await open({ bootstrapVoters: voters })).close();
      await fs.rm(path.join(dir, 'snapshot'));
      await expectBootstrapped(await open({ bootstrapVoters: voters }));
    });
  });

  test('a restart resumes with the term, vote and log that were persisted', async () => {
    const s = await open();
    await s.appendEntries([e(1, 1), e(2, 1), e(3, 2)], true);
    await s.setHardState({ term: 2, vote: 'b#7', commit: 2 });
    const r = await reopen(s);
    expect(r.initialState().hardState).toEqual({ term: 2, vote: 'b#7', commit: 2 });
    expect(text(r.entries(1, 4, Infinity))).toEqual(['1/1/e1', '2/1/e2', '3/2/e3']);
    expect(r.term(3)).toBe(2);
  });

  test('appending at an index inside the log drops the conflicting tail, on disk too', async () => {
    const s = await open();
    await s.appendEntries([e(1, 1), e(2, 1), e(3, 1), e(4, 1)], true);
    await s.appendEntries([e(3, 2, 'new3')], true);
    expect(text(s.entries(1, 4, Infinity))).toEqual(['1/1/e1', '2/1/e2', '3/2/new3']);
    const r = await reopen(s);
    expect(r.lastIndex()).toBe(3);
    expect(text(r.entries(3, 4, Infinity))).toEqual(['3/2/new3']);
  });

  test('a snapshot compacts the log but keeps trailing entries for slow followers', async () => {
    const s = await open();
    await s.appendEntries(Array.from({ length: 20 }, (_, i) => e(i + 1, 1)), true);
    const snap = await s.createSnapshot(15, { voters: ['a#1'], learners: [] }, Buffer.from('manifest'), { entries: 5, bytes: 1 << 20 });
    expect(snap.meta).toEqual({ index: 15, term: 1, confState: { voters: ['a#1'], learners: [] } });
    expect(s.firstIndex()).toBe(11);
    expect(text(s.entries(11, 12, Infinity))).toEqual(['11/1/e11']);
    const r = await reopen(s);
    expect(r.snapshot().meta.index).toBe(15);
    expect(Buffer.from(r.snapshot().data).toString()).toBe('manifest');
    expect(r.lastIndex()).toBe(20);
    expect(text(r.entries(16, 21, Infinity))).toHaveLength(5);
    // The trailing entries come back after a restart too (the disk log drops whole segments only, so it may
    // keep more than asked).
    expect(r.firstIndex()).toBeLessThanOrEqual(11);
    expect(text(r.entries(11, 12, Infinity))).toEqual(['11/1/e11']);
  });

  test('only the entries after the snapshot are held in memory; the trailing ones are read from disk', async () => {
    const s = await open();
    await s.appendEntries(Array.from({ length: 20 }, (_, i) => e(i + 1, i < 12 ? 1 : 2)), true);
    await s.createSnapshot(15, { voters: ['a#1'], learners: [] }, Buffer.alloc(0), { entries: 5, bytes: 1 << 20 });
    expect(s.entriesInMemory()).toBe(5);
    expect(text(s.entries(11, 21, Infinity))).toEqual(Array.from({ length: 10 }, (_, i) => `${i + 11}/${i + 11 < 13 ? 1 : 2}/e${i + 11}`));
    // The size limit holds across the boundary between disk and memory (each entry counts 3 bytes + 24).
    expect(text(s.entries(12, 21, 7 * 27))).toEqual(['12/1/e12', '13/2/e13', '14/2/e14', '15/2/e15', '16/2/e16', '17/2/e17', '18/2/e18']);
    expect(text(s.entries(12, 21, 1))).toEqual(['12/1/e12']);
    expect([s.term(10), s.term(12), s.term(13), s.term(15)]).toEqual([1, 1, 2, 2]);
    expect(() => s.term(9)).toThrow(CompactedError);
    expect(() => s.entries(10, 12, Infinity)).toThrow(CompactedError);
    const r = await reopen(s);
    expect(r.entriesInMemory()).toBe(5);
    expect(text(r.entries(r.firstIndex(), 21, Infinity))).toHaveLength(21 - r.firstIndex());
  });

  test('a later snapshot moves the trail forward, counting the bytes of entries already on disk only', async () => {
    const s = await open();
    await s.appendEntries(Array.from({ length: 20 }, (_, i) => e(i + 1, 1, 'x'.repeat(100))), true);
    await s.createSnapshot(12, { voters: ['a#1'], learners: [] }, Buffer.alloc(0), { entries: 100, bytes: 10_000 });
    expect([s.firstIndex(), s.entriesInMemory()]).toEqual([1, 8]);
    await s.createSnapshot(18, { voters: ['a#1'], learners: [] }, Buffer.alloc(0), { entries: 100, bytes: 850 });
    // 8 entries of 100 bytes fit in 850: 11..18 stay, 11 and 12 of them from the previous trail.
    expect([s.firstIndex(), s.entriesInMemory()]).toEqual([11, 2]);
    expect(s.entries(11, 21, Infinity).map((x) => x.index)).toEqual([11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
  });

  test('the trailing entries kept are bounded by bytes as well as by count', async () => {
    const s = await open();
    await s.appendEntries(Array.from({ length: 10 }, (_, i) => e(i + 1, 1, 'x'.repeat(100))), true);
    await s.createSnapshot(10, { voters: ['a#1'], learners: [] }, Buffer.alloc(0), { entries: 100, bytes: 350 });
    expect(s.firstIndex()).toBe(8);
  });

  test('installing a leader snapshot replaces the whole log; the log continues after it', async () => {
    const s = await open();
    await s.appendEntries([e(1, 1), e(2, 1)], true);
    await s.installSnapshot({ meta: { index: 50, term: 4, confState: { voters: ['a#1', 'b#2'], learners: [] } }, data: Buffer.from('m') });
    expect([s.firstIndex(), s.lastIndex(), s.term(50)]).toEqual([51, 50, 4]);
    await s.appendEntries([e(51, 4)], true);
    const r = await reopen(s);
    expect([r.firstIndex(), r.lastIndex()]).toEqual([51, 51]);
    expect(r.initialState().confState.voters).toEqual(['a#1', 'b#2']);
  });

  test('only term and vote changes are written synchronously; the commit index rides along', async () => {
    const s = await open();
    await s.setHardState({ term: 1, vote: 'a#1', commit: 0 });
    await s.setHardState({ term: 1, vote: 'a#1', commit: 5 });
    const r = await reopen(s);
    expect(r.initialState().hardState.commit).toBe(0);
    await r.setHardState({ term: 1, vote: 'a#1', commit: 9 });
    await r.flushHardState();
    const r2 = await reopen(r);
    expect(r2.initialState().hardState.commit).toBe(9);
  });

  test('a term change written while a membership change persists its commit: both succeed, the newest wins', async () => {
    // What handleReady does: persist(rd) (entries, then a term change) runs while a committed conf change is
    // applied (persistCommit). Both rewrite the hard state file.
    for (let trial = 0; trial < 20; trial++) {
      await fs.rm(dir, { recursive: true, force: true });
      const s = await open({ bootstrapVoters: ['a#1'] });
      await s.appendEntries([e(2, 1), e(3, 1)], true);
      const persist = (async (): Promise<void> => {
        await s.appendEntries([e(4, 2)], true);
        await s.setHardState({ term: 2, vote: `b#${trial}`, commit: 3 });
      })();
      const apply = s.persistCommit(2);
      const outcomes = await Promise.allSettled([persist, apply]);
      expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled']);
      const r = await reopen(s);
      expect(r.initialState().hardState).toEqual({ term: 2, vote: `b#${trial}`, commit: 3 });
      await r.close();
    }
  });

  test('a commit index learned while persistCommit writes is not counted as durable', async () => {
    const s = await open();
    await s.setHardState({ term: 3, vote: 'a#1', commit: 2 });
    const writing = s.persistCommit(5);
    // Same term and vote: remembered, not written.
    await s.setHardState({ term: 3, vote: 'a#1', commit: 9 });
    await writing;
    await s.persistCommit(8);
    const r = await reopen(s);
    expect(r.initialState().hardState.commit).toBeGreaterThanOrEqual(8);
  });

  test('persistCommit makes a commit index durable at once (before a membership change is applied)', async () => {
    const s = await open();
    await s.setHardState({ term: 3, vote: 'a#1', commit: 2 });
    await s.setHardState({ term: 3, vote: 'a#1', commit: 7 });
    await s.persistCommit(7);
    // A lower commit reported later never moves it back.
    await s.setHardState({ term: 4, vote: '', commit: 5 });
    const r = await reopen(s);
    expect(r.initialState().hardState).toEqual({ term: 4, vote: '', commit: 7 });
  });
});
