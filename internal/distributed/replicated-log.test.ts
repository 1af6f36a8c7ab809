import fs from 'node:fs/promises';
import { LogClosedError, OffsetOutOfRangeError } from '../log/index.js';
import { NotLeaderError } from '../server/log-service.js';
import { LeaderTimeoutError } from './replicated-log.js';
import { TestCluster } from './testing/cluster.js';
import { waitUntil } from './testing/wait.js';

const enc = (s: string): Uint8Array => Buffer.from(s);
const dec = (b: Uint8Array): string => Buffer.from(b).toString();

let cluster: TestCluster;

afterEach(async () => {
  await cluster?.close();
});

async function readAll(c: TestCluster, name: string, topic: string, count: number): Promise<string[]> {
  const log = c.get(name).log;
  await waitUntil(`${count} records of ${topic} on ${name}`, async () => {
    try {
      await log.read(topic, count - 1);
      return true;
    } catch {
      return false;
    }
  });
  const out: string[] = [];
  while (out.length < count) {
    const page = await log.readRange(topic, out.length, { maxRecords: count - out.length });
    for (const r of page) out.push(dec(r.value));
  }
  return out;
}

describe('ReplicatedLog', () => {
  test('a bootstrapped single node elects itself, produces and reads', async () => {
    cluster = await TestCluster.create();
    await cluster.startCluster(['a']);
    const a = cluster.get('a').log;
    expect(a.isLeader()).toBe(true);
    expect(await a.produce('', [enc('x'), enc('y')])).toBe(0);
    expect(await a.produce('', [enc('z')])).toBe(2);
    expect(dec(await a.read('', 2))).toBe('z');
    expect(await a.getServers()).toEqual([{ id: 'a', rpcAddr: cluster.get('a').listener.addr, isLeader: true, isLearner: false }]);
  });

  test('a restarted single node resumes its term and log, and keeps counting offsets', async () => {
    cluster = await TestCluster.create();
    await cluster.startCluster(['a']);
    const before = cluster.get('a').log;
    await before.produce('t', [enc('x'), enc('y')]);
    const term = before.raftStatus().term;
    await cluster.stop('a');
    const a = (await cluster.start('a')).log;
    await a.waitForLeader(5000);
    expect(a.raftStatus().term).toBeGreaterThan(term);
    expect(await a.produce('t', [enc('z')])).toBe(2);
    expect((await a.readRange('t', 0)).map((r) => dec(r.value))).toEqual(['x', 'y', 'z']);
  });

  test('a new node without bootstrap waits to be added: no leader, no members', async () => {
    cluster = await TestCluster.create();
    const x = (await cluster.start('x')).log;
    await expect(x.waitForLeader(200)).rejects.toBeInstanceOf(LeaderTimeoutError);
    expect(await x.getServers()).toEqual([]);
    await expect(x.produce('', [enc('v')])).rejects.toBeInstanceOf(NotLeaderError);
  });

  test('three replicas: records replicate with the same offsets and are readable on every node', async () => {
    cluster = await TestCluster.create();
    await cluster.startCluster(['a', 'b', 'c']);
    const leader = cluster.leader().log;
    const offsets = await Promise.all(Array.from({ length: 50 }, (_, i) => leader.produce('orders', [enc(`r${i}`)])));
    expect(new Set(offsets).size).toBe(50);
    const want = Array.from({ length: 50 }, (_, i) => i).map((o) => `r${offsets.indexOf(o)}`);
    for (const name of ['a', 'b', 'c']) expect(await readAll(cluster, name, 'orders', 50)).toEqual(want);
    // Every node knows the whole membership (the bootstrap voter included, learned from the log) and addresses.
    for (const name of ['a', 'b', 'c']) {
      await waitUntil(`${name} knows every address`, async () => (await cluster.get(name).log.getServers()).every((s) => s.rpcAddr !== ''));
      const servers = await cluster.get(name).log.getServers();
      expect(servers.map((s) => [s.id, s.rpcAddr]).sort()).toEqual(['a', 'b', 'c'].map((n) => [n, cluster.get(n).listener.addr]));
      expect(servers.filter((s) => s.isLeader).map((s) => s.id)).toEqual(['a']);
    }
  });

  test('produce on a follower fails with NotLeaderError naming the leader and its address', async () => {
    cluster = await TestCluster.create();
    await cluster.startCluster(['a', 'b', 'c']);
    const b = cluster.get('b').log;
    await waitUntil('b knows the leader', () => b.leaderId() === 'a');
    const err = await b.produce('', [enc('x')]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotLeaderError);
    expect(err).toMatchObject({ leaderId: 'a', leaderAddr: cluster.get('a').listener.addr });
  });

  test('killing the leader: a new one is elected and no acknowledged record is lost', async () => {
    cluster = await TestCluster.create();
    await cluster.startCluster(['a', 'b', 'c']);
    const acked = new Map<number, string>();
    const first = cluster.leader();
    for (let i = 0; i < 20; i++) acked.set(await first.log.produce('t', [enc(`before-${i}`)]), `before-${i}`);
    // Produce concurrently while the leader dies: some calls fail, every success must survive.
    const inflight = Array.from({ length: 20 }, (_, i) =>
      first.log.produce('t', [enc(`during-${i}`)]).then(
        (o) => acked.set(o, `during-${i}`),
        () => undefined,
      ),
    );
    await cluster.stop(first.name);
    await Promise.all(inflight);
    const next = await cluster.waitForLeader([first.name]);
    for (let i = 0; i < 20; i++) acked.set(await next.log.produce('t', [enc(`after-${i}`)]), `after-${i}`);
    const survivors = ['a', 'b', 'c'].filter((n) => n !== first.name);
    const highest = Math.max(...acked.keys());
    for (const name of survivors) {
      const all = await readAll(cluster, name, 't', highest + 1);
      for (const [offset, value] of acked) expect(all[offset]).toBe(value);
    }
  });

  test('a follower stopped and restarted resumes from its data and catches up from the log', async () => {
    cluster = await TestCluster.create();
    await cluster.startCluster(['a', 'b', 'c']);
    const leader = cluster.leader().log;
    await leader.produce('t', [enc('one')]);
    await readAll(cluster, 'c', 't', 1);
    await cluster.stop('c');
    for (let i = 0; i < 30; i++) await leader.produce('t', [enc(`while-down-${i}`)]);
    const c = await cluster.start('c');
    const all = await readAll(cluster, 'c', 't', 31);
    expect(all).toEqual(['one', ...Array.from({ length: 30 }, (_, i) => `while-down-${i}`)]);
    expect(c.log.stats().snapshotsRestored).toBe(0);
    // Its identity survived the restart: still one member named c, and a voter.
    expect((await leader.getServers()).filter((s) => s.id === 'c')).toHaveLength(1);
    expect(c.log.raftId).toBe(cluster.get('c').log.raftId);
  });

  test('a follower far behind catches up from a snapshot streamed by the leader', async () => {
    cluster = await TestCluster.create({ snapshotEveryEntries: 10, snapshotKeepEntries: 2 });
    await cluster.startCluster(['a', 'b', 'c']);
    const leader = cluster.leader().log;
    await leader.produce('t', [enc('r0')]);
    await readAll(cluster, 'c', 't', 1);
    await cluster.stop('c');
    // Many entries, each its own Raft entry, in two topics: the leader compacts past what c has.
    for (let i = 1; i < 60; i++) await leader.produce(i % 2 ? 't' : 'u', [enc(`r${i}`)]);
    const c = await cluster.start('c');
    const t = await readAll(cluster, 'c', 't', 31);
    const u = await readAll(cluster, 'c', 'u', 29);
    expect(t).toEqual(['r0', ...Array.from({ length: 30 }, (_, i) => `r${2 * i + 1}`)]);
    expect(u).toEqual(Array.from({ length: 29 }, (_, i) => `r${2 * i + 2}`));
    // And it keeps replicating after the snapshot.
    await leader.produce('t', [enc('after')]);
    expect((await readAll(cluster, 'c', 't', 32))[31]).toBe('after');
    expect(c.log.topics()).toEqual(['t', 'u']);
    expect(c.log.stats().snapshotsRestored).toBeGreaterThanOrEqual(1);
    expect(leader.stats().snapshotsSent).toBeGreaterThanOrEqual(1);
  });

  test('a snapshot of several MiB streams in many chunks and arrives intact', async () => {
    cluster = await TestCluster.create({ snapshotEveryEntries: 8, snapshotKeepEntries: 1 });
    await cluster.startCluster(['a', 'b', 'c']);
    const leader = cluster.leader().log;
    await cluster.stop('c');
    const big = (i: number): Buffer => Buffer.alloc(200 * 1024, i);
    for (let i = 0; i < 40; i++) await leader.produce('big', [big(i)]);
    const c = await cluster.start('c');
    await waitUntil('c has all 40 records', async () => {
      try {
        await c.log.read('big', 39);
        return true;
      } catch {
        return false;
      }
    });
    for (let i = 0; i < 40; i++) expect(Buffer.compare(Buffer.from(await c.log.read('big', i)), big(i))).toBe(0);
    expect(c.log.stats().snapshotsRestored).toBeGreaterThanOrEqual(1);
  });

  test('a removed node no longer gets records and is no longer listed', async () => {
    cluster = await TestCluster.create();
    await cluster.startCluster(['a', 'b', 'c']);
    const leader = cluster.leader().log;
    await leader.produce('', [enc('first')]);
    await readAll(cluster, 'c', '', 1);
    await leader.leave('c');
    expect((await leader.getServers()).map((s) => s.id).sort()).toEqual(['a', 'b']);
    await leader.produce('', [enc('second')]);
    await readAll(cluster, 'b', '', 2);
    const c = cluster.get('c').log;
    await expect(c.read('', 1)).rejects.toBeInstanceOf(OffsetOutOfRangeError);
  });

  test("the book's multiple-nodes test: produce on the leader, consume on every follower, then one leaves", async () => {
    cluster = await TestCluster.create();
    await cluster.startCluster(['0', '1', '2']);
    const records = ['first', 'second'];
    const leader = cluster.get('0').log;
    for (const r of records) {
      const off = await leader.produce('', [enc(r)]);
      for (const name of ['0', '1', '2']) {
        await waitUntil(`${name} has offset ${off}`, async () => {
          try {
            return dec(await cluster.get(name).log.read('', off)) === r;
          } catch {
            return false;
          }
        });
      }
    }
    await leader.leave('1');
    const off = await leader.produce('', [enc('third')]);
    await readAll(cluster, '2', '', 3);
    await expect(cluster.get('1').log.read('', off)).rejects.toBeInstanceOf(OffsetOutOfRangeError);
    expect(dec(await cluster.get('2').log.read('', off))).toBe('third');
  });

  test('a linearizable read on the leader sees every write acknowledged before it', async () => {
    cluster = await TestCluster.create();
    await cluster.startCluster(['a', 'b', 'c']);
    const leader = cluster.leader().log;
    const off = await leader.produce('', [enc('v')]);
    const reads = await Promise.all(Array.from({ length: 10 }, () => leader.read('', off, { linearizable: true })));
    expect(reads.map(dec)).toEqual(Array(10).fill('v'));
  });

  test('a linearizable read on a follower sees every write the leader acknowledged before it (forwarded ReadIndex)', async () => {
    cluster = await TestCluster.create();
    await cluster.startCluster(['a', 'b', 'c']);
    const leader = cluster.leader().log;
    const followers = ['b', 'c'].map((n) => cluster.get(n).log);
    for (let i = 0; i < 20; i++) {
      const off = await leader.produce('lin', [enc(`w${i}`)]);
      // No waiting: the follower must catch up to the leader's commit index before it answers.
      expect(dec(await followers[i % 2]!.read('lin', off, { linearizable: true }))).toBe(`w${i}`);
    }
  });

  test('a node whose data was lost rejoins as a new member, not as its old self', async () => {
    cluster = await TestCluster.create();
    await cluster.startCluster(['a', 'b', 'c']);
    const leader = cluster.leader().log;
    await leader.produce('', [enc('x')]);
    const oldId = cluster.get('c').log.raftId;
    await cluster.stop('c');
    await fs.rm(cluster.get('c').dataDir, { recursive: true, force: true });
    const c = await cluster.start('c');
    expect(c.log.raftId).not.toBe(oldId);
    await leader.join('c', c.listener.addr);
    const servers = await leader.getServers();
    expect(servers.filter((s) => s.id === 'c')).toHaveLength(1);
    expect(await readAll(cluster, 'c', '', 1)).toEqual(['x']);
  });

  test('transferLeadership hands over to another voter; calls after close fail with LogClosedError', async () => {
    cluster = await TestCluster.create();
    await cluster.startCluster(['a', 'b', 'c']);
    const a = cluster.get('a').log;
    await a.produce('', [enc('x')]);
    await a.transferLeadership();
    expect(a.isLeader()).toBe(false);
    const next = await cluster.waitForLeader(['a']);
    expect(await next.log.produce('', [enc('y')])).toBe(1);
    await cluster.stop('a');
    await expect(a.produce('', [enc('z')])).rejects.toBeInstanceOf(LogClosedError);
  });
});
