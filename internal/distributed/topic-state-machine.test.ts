import { jest } from '@jest/globals';
import { existsSync, fdatasync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { InvalidConfigError, InvalidTopicError, Log, LogIOError, RecordTooLargeError } from '../log/index.js';
import { ReplicatedLog } from './replicated-log.js';
import { emptyManifest, type SnapshotManifest } from './snapshot-manifest.js';
import { SnapshotIncompleteError, StateMachineDivergedError, TopicStateMachine } from './topic-state-machine.js';

const recs = (...xs: string[]): Uint8Array[] => xs.map((x) => Buffer.from(x));

let root: string;
const open: TopicStateMachine[] = [];
async function openFsm(dir: string, index = 0, manifest: SnapshotManifest = emptyManifest()): Promise<TopicStateMachine> {
  const f = await TopicStateMachine.open(dir, index, manifest, { log: { maxRecordBytes: 64 } });
  open.push(f);
  return f;
}
async function contents(f: TopicStateMachine, topic: string): Promise<string[]> {
  const log = f.logs().get(topic);
  const out: string[] = [];
  for (let o = log.lowestOffset(); o < log.nextOffset(); o++) out.push(`${o}:${Buffer.from(await log.read(o)).toString()}`);
  return out;
}
async function* chunksOf(gen: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  for await (const c of gen) yield Buffer.from(c);
}

beforeEach(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'proglog-fsm-'));
});
afterEach(async () => {
  jest.restoreAllMocks();
  for (const f of open.splice(0)) await f.close().catch(() => {});
  await fs.rm(root, { recursive: true, force: true });
});

describe('TopicStateMachine', () => {
  test('append commands land at dense per-topic offsets', async () => {
    const f = await openFsm(path.join(root, 'a'));
    expect(await f.applyAppend('t', recs('a', 'b'))).toEqual({ firstOffset: 0 });
    expect(await f.applyAppend('u', recs('x'))).toEqual({ firstOffset: 0 });
    expect(await f.applyAppend('t', recs('c'))).toEqual({ firstOffset: 2 });
    expect(await contents(f, 't')).toEqual(['0:a', '1:b', '2:c']);
    expect(f.manifest().topics).toEqual([
      { topic: 't', lowest: 0, next: 3 },
      { topic: 'u', lowest: 0, next: 1 },
    ]);
  });

  test('re-applying commands after a restart is a no-op: nothing is appended twice', async () => {
    const dir = path.join(root, 'a');
    const f = await openFsm(dir);
    await f.applyAppend('t', recs('a', 'b'));
    await f.applyAppend('t', recs('c'));
    await f.close();
    const again = await openFsm(dir);
    expect(await again.applyAppend('t', recs('a', 'b'))).toEqual({ firstOffset: 0 });
    expect(await again.applyAppend('t', recs('c'))).toEqual({ firstOffset: 2 });
    expect(await again.applyAppend('t', recs('d'))).toEqual({ firstOffset: 3 });
    expect(await contents(again, 't')).toEqual(['0:a', '1:b', '2:c', '3:d']);
  });

  describe('a topic created after the last snapshot, whose oldest records retention dropped', () => {
    // Small segments and a size bound, so that retention drops sealed segments; its timer never fires by itself.
    const retained = { log: { segment: { maxStoreBytes: 400 }, maxRecordBytes: 100, retention: { maxLogBytes: 1000, checkIntervalMs: 3_600_000 } } };
    const commands = Array.from({ length: 10 }, (_, c) => Array.from({ length: 3 }, (_, i) => Buffer.from(`c${c}r${i}`.padEnd(60, '.'))));
    const expectedFirsts = commands.map((_, c) => c * 3);

    async function applyAllThenRetain(dir: string): Promise<Map<number, string>> {
      const f = await TopicStateMachine.open(dir, 0, emptyManifest(), retained);
      open.push(f);
      for (const [c, cmd] of commands.entries()) expect(await f.applyAppend('t', cmd)).toEqual({ firstOffset: expectedFirsts[c] });
      const log = f.logs().get('t');
      expect(await log.applyRetention()).toBeGreaterThan(0);
      expect(log.lowestOffset()).toBeGreaterThan(0);
      const kept = new Map<number, string>();
      for (let o = log.lowestOffset(); o < log.nextOffset(); o++) kept.set(o, Buffer.from(await log.read(o)).toString());
      await f.close();
      return kept;
    }

    test('re-applying its commands after a restart keeps every offset (the snapshot has no cursor for it)', async () => {
      const dir = path.join(root, 'a');
      const kept = await applyAllThenRetain(dir);
      // The Raft snapshot predates the topic, so the restart re-applies every one of its commands.
      const again = await TopicStateMachine.open(dir, 0, emptyManifest(), retained);
      open.push(again);
      const firsts: number[] = [];
      for (const cmd of commands) {
        const outcome = await again.applyAppend('t', cmd);
        firsts.push('firstOffset' in outcome ? outcome.firstOffset : -1);
      }
      expect(firsts).toEqual(expectedFirsts);
      const log = again.logs().get('t');
      expect(log.nextOffset()).toBe(30);
      const now = new Map<number, string>();
      for (let o = log.lowestOffset(); o < log.nextOffset(); o++) now.set(o, Buffer.from(await log.read(o)).toString());
      expect(now).toEqual(kept);
      expect(await again.applyAppend('t', recs('next'))).toEqual({ firstOffset: 30 });
      expect(again.manifest().topics).toEqual([{ topic: 't', lowest: log.lowestOffset(), next: 31 }]);
    });

    test('when a crash also cut every record retention had left, re-applying rewrites them at their offsets', async () => {
      const dir = path.join(root, 'a');
      const kept = await applyAllThenRetain(dir);
      // The unsynced tail lost in a power cut: every record of the segments retention kept.
      const topicDir = path.join(dir, 'topics', 't');
      for (const name of await fs.readdir(topicDir)) {
        if (name.endsWith('.store') || name.endsWith('.index')) await fs.truncate(path.join(topicDir, name), 0);
      }
      const again = await TopicStateMachine.open(dir, 0, emptyManifest(), retained);
      open.push(again);
      const log = again.logs().get('t');
      expect(log.nextOffset()).toBeLessThan(30);
      const firsts: number[] = [];
      for (const cmd of commands) {
        const outcome = await again.applyAppend('t', cmd);
        firsts.push('firstOffset' in outcome ? outcome.firstOffset : -1);
      }
      expect(firsts).toEqual(expectedFirsts);
      const lowest = log.lowestOffset();
      for (const [o, v] of kept) if (o >= lowest) expect(Buffer.from(await log.read(o)).toString()).toBe(v);
      expect(log.nextOffset()).toBe(30);
    });
  });

  test('topic logs fsync when a snapshot needs them, not per append; a tail lost in a crash is rewritten by re-applying', async () => {
    const dir = path.join(root, 'a');
    let syncs = 0;
    const datasync = (fd: number): Promise<void> => {
      syncs++;
      return new Promise((resolve, reject) => fdatasync(fd, (err) => (err ? reject(err) : resolve())));
    };
    const f = await TopicStateMachine.open(dir, 0, emptyManifest(), { log: { syncIntervalMs: 3_600_000 }, logDeps: { datasync } });
    open.push(f);
    await f.applyAppend('t', recs('a', 'b'));
    await f.applyAppend('t', recs('c'));
    expect(syncs).toBe(0);
    await f.syncApplied();
    expect(syncs).toBeGreaterThan(0);
    const snapshot = f.manifest();
    const stores = (await fs.readdir(dir, { recursive: true })).filter((n) => n.endsWith('.store'));
    expect(stores).toHaveLength(1);
    const store = path.join(dir, stores[0]!);
    const syncedBytes = (await fs.stat(store)).size;
    await f.applyAppend('t', recs('d', 'e'));
    await f.applyAppend('t', recs('f'));
    await f.close();
    // A power cut would lose what was never fsynced: cut the store back to the snapshot's sync.
    await fs.truncate(store, syncedBytes);
    const again = await openFsm(dir, 2, snapshot);
    expect(await again.applyAppend('t', recs('d', 'e'))).toEqual({ firstOffset: 3 });
    expect(await again.applyAppend('t', recs('f'))).toEqual({ firstOffset: 5 });
    expect(await contents(again, 't')).toEqual(['0:a', '1:b', '2:c', '3:d', '4:e', '5:f']);
  });

  test('a topic log shorter than the applied commands lead to is reported, not papered over', async () => {
    const dir = path.join(root, 'a');
    const f = await openFsm(dir, 10, { topics: [{ topic: 't', lowest: 0, next: 5 }], addresses: [] });
    await expect(f.applyAppend('t', recs('x'))).rejects.toBeInstanceOf(StateMachineDivergedError);
  });

  test('bad topics and oversized records are rejected alike on every replica, without moving offsets', async () => {
    const f = await openFsm(path.join(root, 'a'));
    const bad = await f.applyAppend('_bad', recs('a'));
    expect('error' in bad && bad.error).toBeInstanceOf(InvalidTopicError);
    const big = await f.applyAppend('t', [Buffer.alloc(65)]);
    expect('error' in big && big.error).toBeInstanceOf(RecordTooLargeError);
    expect(await f.applyAppend('t', recs('ok'))).toEqual({ firstOffset: 0 });
  });

  test('a segment too small for a record of maxRecordBytes is refused when the state machine opens', async () => {
    // The topic log would refuse such a record after every replica had committed it: a poison entry.
    const opening = TopicStateMachine.open(path.join(root, 'a'), 0, emptyManifest(), { log: { segment: { maxStoreBytes: 1024 }, maxRecordBytes: 1024 } });
    await expect(opening).rejects.toBeInstanceOf(InvalidConfigError);
    await expect(opening).rejects.toThrow(/segment\.maxStoreBytes.*maxRecordBytes/);
    // Just large enough: a record of maxRecordBytes plus its 8-byte frame header.
    const f = await TopicStateMachine.open(path.join(root, 'b'), 0, emptyManifest(), { log: { segment: { maxStoreBytes: 1032 }, maxRecordBytes: 1024 } });
    open.push(f);
    expect(await f.applyAppend('t', [Buffer.alloc(1024)])).toEqual({ firstOffset: 0 });
    // A replicated log refuses it before it writes anything (a bootstrap included).
    const dataDir = path.join(root, 'node');
    const log = { segment: { maxStoreBytes: 1024 }, maxRecordBytes: 1024 };
    await expect(ReplicatedLog.open({ id: 'n1', dataDir, advertiseAddr: 'mem:n1', bootstrap: true, log })).rejects.toBeInstanceOf(InvalidConfigError);
    await expect(fs.stat(dataDir)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  test('an append that fails leaves the cursor where it was: applying the command again puts it at the same offsets', async () => {
    const f = await openFsm(path.join(root, 'a'));
    await f.applyAppend('t', recs('a'));
    jest.spyOn(Log.prototype, 'appendBatch').mockRejectedValueOnce(new LogIOError('injected: append failed', new Error('EIO')));
    await expect(f.applyAppend('t', recs('b', 'c'))).rejects.toThrow('injected');
    expect(f.manifest().topics).toEqual([{ topic: 't', lowest: 0, next: 1 }]);
    expect(await f.applyAppend('t', recs('b', 'c'))).toEqual({ firstOffset: 1 });
    expect(await f.applyAppend('t', recs('d'))).toEqual({ firstOffset: 3 });
    expect(await contents(f, 't')).toEqual(['0:a', '1:b', '2:c', '3:d']);
  });

  test('a snapshot streams, stages and restores into identical logs, replacing what was there', async () => {
    const leader = await openFsm(path.join(root, 'leader'));
    for (let i = 0; i < 50; i++) await leader.applyAppend(i % 3 === 0 ? 'u' : 't', recs(`r${i}`));
    leader.setAddress('b#1', '127.0.0.1:7001');
    await leader.syncApplied();
    const manifest = leader.manifest();
    // Writes after the snapshot point are not part of it.
    await leader.applyAppend('t', recs('later'));
    const follower = await openFsm(path.join(root, 'follower'));
    await follower.applyAppend('stale', recs('old'));
    await follower.receiveSnapshot(50, chunksOf(leader.streamSnapshot(manifest)));
    expect(follower.hasStagedSnapshot(50)).toBe(true);
    await follower.restore(50, manifest);
    expect(follower.logs().list()).toEqual(['t', 'u']);
    const t = await contents(leader, 't');
    expect(await contents(follower, 't')).toEqual(t.slice(0, -1));
    expect(await contents(follower, 'u')).toEqual(await contents(leader, 'u'));
    expect(follower.addresses.get('b#1')).toBe('127.0.0.1:7001');
    expect(await follower.applyAppend('t', recs('later'))).toEqual({ firstOffset: t.length - 1 });
  });

  test('a staged snapshot interrupted by a crash is swapped in when the node reopens', async () => {
    const leader = await openFsm(path.join(root, 'leader'));
    await leader.applyAppend('t', recs('a', 'b'));
    const manifest = leader.manifest();
    const dir = path.join(root, 'follower');
    const follower = await openFsm(dir);
    await follower.receiveSnapshot(7, chunksOf(leader.streamSnapshot(manifest)));
    await follower.close();
    const reopened = await openFsm(dir, 7, manifest);
    expect(await contents(reopened, 't')).toEqual(['0:a', '1:b']);
  });

  test('a swap that crashed once the new topics were in place leaves no copy of the old ones behind', async () => {
    const leader = await openFsm(path.join(root, 'leader'));
    await leader.applyAppend('t', recs('a', 'b'));
    const manifest = leader.manifest();
    const dir = path.join(root, 'follower');
    const follower = await openFsm(dir);
    await follower.applyAppend('old', recs('x'));
    await follower.receiveSnapshot(7, chunksOf(leader.streamSnapshot(manifest)));
    await follower.close();
    // The swap's renames, then the crash before it deleted the old topics.
    await fs.rename(path.join(dir, 'topics'), path.join(dir, 'topics.replaced'));
    await fs.rename(path.join(dir, 'incoming-snapshots', '7'), path.join(dir, 'topics'));
    const reopened = await openFsm(dir, 7, manifest);
    expect(await contents(reopened, 't')).toEqual(['0:a', '1:b']);
    expect(reopened.logs().list()).not.toContain('old');
    expect(existsSync(path.join(dir, 'topics.replaced'))).toBe(false);
  });

  test('a stream that ends early is refused and nothing is staged', async () => {
    const leader = await openFsm(path.join(root, 'leader'));
    await leader.applyAppend('t', recs('a', 'b', 'c'));
    const full: Uint8Array[] = [];
    for await (const c of leader.streamSnapshot(leader.manifest())) full.push(Buffer.from(c));
    const follower = await openFsm(path.join(root, 'follower'));
    async function* truncated(): AsyncGenerator<Uint8Array> {
      yield full[0]!;
    }
    await expect(follower.receiveSnapshot(3, truncated())).rejects.toBeInstanceOf(SnapshotIncompleteError);
    expect(follower.hasStagedSnapshot(3)).toBe(false);
    await expect(follower.restore(3, leader.manifest())).rejects.toBeInstanceOf(SnapshotIncompleteError);
  });
});
