// The topic limit on the replicated log: decided by the leader before it proposes, never at apply.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { TooManyTopicsError } from '../log/index.js';
import { MemoryNetwork } from './memory-transport.js';
import type { ReplicatedLog } from './replicated-log.js';
import { openMemoryReplica } from './testing/memory-replica.js';
import { waitUntil } from './testing/wait.js';

const enc = (s: string): Uint8Array => Buffer.from(s);

let root: string;
let nodes: ReplicatedLog[];

beforeEach(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'proglog-topic-limit-'));
  nodes = [];
});

afterEach(async () => {
  for (const n of nodes) await n.close();
  await fs.rm(root, { recursive: true, force: true });
});

test('the leader refuses a topic past maxTopics before proposing it, so replicas set otherwise still agree', async () => {
  const network = new MemoryNetwork();
  // Only the leader has the limit: were it checked at apply, b and c would hold a topic that a does not.
  // Three places: the default topic's, which it always keeps, and two more.
  const a = await openMemoryReplica(network, root, 'a', { bootstrap: true, maxTopics: 3 });
  nodes.push(a);
  await a.waitForLeader(5000);
  for (const name of ['b', 'c']) {
    nodes.push(await openMemoryReplica(network, root, name));
    await a.join(name, `mem:${name}`);
  }
  expect(await a.produce('t1', [enc('x')])).toBe(0);
  // Two new topics at once, for the one place left: the one proposed first counts against the other.
  const racing = await Promise.allSettled([a.produce('t2', [enc('x')]), a.produce('t3', [enc('x')])]);
  expect(racing.map((r) => r.status)).toEqual(['fulfilled', 'rejected']);
  expect((racing[1] as PromiseRejectedResult).reason).toBeInstanceOf(TooManyTopicsError);
  await expect(a.produce('t4', [enc('x')])).rejects.toThrow('maximum of 3 topics');
  // Existing topics keep taking writes.
  expect(await a.produce('t1', [enc('y')])).toBe(1);
  for (const n of nodes) await waitUntil(`${n.raftId} applies everything`, () => n.appliedIndex() === a.appliedIndex());
  for (const n of nodes) expect(n.topics()).toEqual(['t1', 't2']);
});

test('a topic is counted once while calls creating it are still in flight, and the default topic keeps its place', async () => {
  const network = new MemoryNetwork();
  const a = await openMemoryReplica(network, root, 'a', { bootstrap: true, maxTopics: 3 });
  nodes.push(a);
  await a.waitForLeader(5000);
  // Two calls create t1; the first is answered while the second is still in flight. t1 then exists and is still
  // among the topics being created: it must count once, leaving a place for t2 (and the default topic's).
  const first = a.produce('t1', [enc('x')]);
  const second = a.produce('t1', Array.from({ length: 100 }, () => enc('y')));
  expect(await first).toBe(0);
  expect(await a.produce('t2', [enc('x')])).toBe(0);
  await second;
  await expect(a.produce('t3', [enc('x')])).rejects.toThrow('maximum of 3 topics');
  // The third place was the default topic's: the book's clients, which name no topic, can still write.
  expect(await a.produce('', [enc('x')])).toBe(0);
  expect(a.topics().sort()).toEqual(['', 't1', 't2']);
});
