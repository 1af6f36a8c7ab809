// Partitions over the in-memory transport (no TLS: these tests are about the runtime's behavior).
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { InvalidTopicError, RecordTooLargeError } from '../log/index.js';
import { NotLeaderError, ProposalOutcomeUnknownError } from '../server/log-service.js';
import { MemoryNetwork } from './memory-transport.js';
import { ReplicatedLog } from './replicated-log.js';
import { openMemoryReplica } from './testing/memory-replica.js';
import { waitUntil } from './testing/wait.js';

const enc = (s: string): Uint8Array => Buffer.from(s);
const names = ['a', 'b', 'c'];

let root: string;
let network: MemoryNetwork;
let nodes: Map<string, ReplicatedLog>;

async function start(name: string, bootstrap = false): Promise<ReplicatedLog> {
  const log = await openMemoryReplica(network, root, name, { bootstrap });
  nodes.set(name, log);
  return log;
}

async function contents(log: ReplicatedLog, topic: string): Promise<string[]> {
  const out: string[] = [];
  for (let o = 0; ; o++) {
    try {
      out.push(Buffer.from(await log.read(topic, o)).toString());
    } catch {
      return out;
    }
  }
}

beforeEach(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'proglog-partition-'));
  network = new MemoryNetwork();
  nodes = new Map();
  const a = await start('a', true);
  await a.waitForLeader(5000);
  for (const n of ['b', 'c']) {
    await start(n);
    await a.join(n, `mem:${n}`);
  }
});

afterEach(async () => {
  for (const n of nodes.values()) await n.close();
  await fs.rm(root, { recursive: true, force: true });
});

describe('ReplicatedLog under partitions', () => {
  test('an isolated leader steps down, the majority elects another and keeps accepting writes', async () => {
    const a = nodes.get('a')!;
    await a.produce('t', [enc('before')]);
    network.isolate(a.raftId, names.map((n) => nodes.get(n)!.raftId));
    // Without a quorum the old leader cannot commit: its produce is never acknowledged as a success.
    const stranded = a.produce('t', [enc('stranded')]);
    stranded.catch(() => {});
    // Nor can it confirm its leadership for a linearizable read; a local read still answers.
    await expect(a.read('t', 0, { linearizable: true })).rejects.toBeInstanceOf(NotLeaderError);
    expect(Buffer.from(await a.read('t', 0)).toString()).toBe('before');
    await waitUntil('a new leader among b and c', () => nodes.get('b')!.isLeader() || nodes.get('c')!.isLeader());
    const leader = nodes.get('b')!.isLeader() ? nodes.get('b')! : nodes.get('c')!;
    await waitUntil('a steps down (check quorum)', () => !a.isLeader());
    // It was proposed, so the old leader cannot tell it was dropped (here it was): the outcome is unknown.
    await expect(stranded).rejects.toBeInstanceOf(ProposalOutcomeUnknownError);
    expect(await leader.produce('t', [enc('after')])).toBe(1);
    network.heal();
    await waitUntil('a catches up', async () => (await contents(a, 't')).length === 2);
    for (const n of nodes.values()) expect(await contents(n, 't')).toEqual(['before', 'after']);
  });

  test('a write pending when its leader steps down fails as outcome-unknown, not as not-the-leader: the next leader may commit it', async () => {
    const a = nodes.get('a')!;
    await a.produce('t', [enc('before')]);
    // a's messages reach b and c, theirs never reach a: a's entry gets to both followers, but a never hears
    // that, steps down for want of a quorum (check quorum), and never learns that the next leader commits it.
    network.loseFrames((from, to) => to === a.raftId && from !== a.raftId);
    const pending = a.produce('t', [enc('pending')]);
    const outcome = pending.then(
      () => 'acknowledged',
      (err: unknown) => err,
    );
    await waitUntil('a steps down (check quorum)', () => !a.isLeader());
    await waitUntil('b or c leads', () => nodes.get('b')!.isLeader() || nodes.get('c')!.isLeader());
    const leader = nodes.get('b')!.isLeader() ? nodes.get('b')! : nodes.get('c')!;
    const err = await outcome;
    expect(err).toBeInstanceOf(ProposalOutcomeUnknownError);
    // The error that sends a client to the leader is kept for calls that were never proposed.
    expect(err).not.toBeInstanceOf(NotLeaderError);
    await expect(a.produce('t', [enc('refused')])).rejects.toBeInstanceOf(NotLeaderError);
    // Why it must not say "not the leader": the write the old leader gave up on is in the log after all, and a
    // client that had resent it to the new leader would have stored it twice.
    await waitUntil('the new leader applies the entry', async () => (await contents(leader, 't')).length === 2);
    expect(await contents(leader, 't')).toEqual(['before', 'pending']);
    network.loseFrames(undefined);
    await waitUntil('a catches up', async () => (await contents(a, 't')).length === 2);
    for (const n of nodes.values()) expect(await contents(n, 't')).toEqual(['before', 'pending']);
  });

  test('closing a leader fails its proposed writes as outcome-unknown', async () => {
    const a = nodes.get('a')!;
    network.isolate(a.raftId, names.map((n) => nodes.get(n)!.raftId));
    const proposed = a.produce('t', [enc('proposed')]);
    proposed.catch(() => {});
    // The batcher proposes on the next turn of the event loop, queued before this one.
    await new Promise((resolve) => setImmediate(resolve));
    await a.close();
    await expect(proposed).rejects.toBeInstanceOf(ProposalOutcomeUnknownError);
  });

  test('a minority follower falls behind, then catches up once the partition heals', async () => {
    const a = nodes.get('a')!;
    const c = nodes.get('c')!;
    network.isolate(c.raftId, names.map((n) => nodes.get(n)!.raftId));
    for (let i = 0; i < 20; i++) await a.produce('t', [enc(`r${i}`)]);
    expect(await contents(c, 't')).toEqual([]);
    // Cut off from the leader it cannot serve a linearizable read: it says so instead of answering stale.
    await expect(c.readRange('t', 0, {}, { linearizable: true })).rejects.toBeInstanceOf(NotLeaderError);
    network.heal();
    await waitUntil('c catches up', async () => (await contents(c, 't')).length === 20);
    expect(a.isLeader()).toBe(true);
  });

  test('a produce too large for one Raft entry is refused with a typed error and the leader carries on', async () => {
    const a = nodes.get('a')!;
    const many = Array.from({ length: 9 }, () => Buffer.alloc(1024 * 1024));
    await expect(a.produce('t', many)).rejects.toBeInstanceOf(RecordTooLargeError);
    await expect(a.produce('t', [Buffer.alloc(2 * 1024 * 1024)])).rejects.toBeInstanceOf(RecordTooLargeError);
    await expect(a.produce('bad/topic', [enc('x')])).rejects.toBeInstanceOf(InvalidTopicError);
    expect(await a.produce('t', [enc('fine')])).toBe(0);
  });

  test('join refuses a node that is someone else, and a follower cannot change membership', async () => {
    await start('d');
    const a = nodes.get('a')!;
    await expect(a.join('e', 'mem:d')).rejects.toThrow('not e');
    await expect(nodes.get('b')!.join('d', 'mem:d')).rejects.toBeInstanceOf(NotLeaderError);
    await expect(nodes.get('b')!.leave('c')).rejects.toBeInstanceOf(NotLeaderError);
  });
});
