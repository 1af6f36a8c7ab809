// A follower that sees its leader's connection close campaigns at once instead of after its election timeout
// (replicated-log.ts, onPeerDown). The election timeout here is 10 s (randomized up to 20 s), so only that hint
// can produce a new leader within FAST_FAILOVER_MS; and a campaign against a live leader must change nothing.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { decodeConfChange } from '../raft/index.js';
import { MemoryNetwork } from './memory-transport.js';
import { decodeMessage } from './message-codec.js';
import { isReadIndexMessage } from './read-index-message.js';
import type { ReplicatedLog } from './replicated-log.js';
import { TestCluster } from './testing/cluster.js';
import { openMemoryReplica } from './testing/memory-replica.js';
import { waitUntil } from './testing/wait.js';

const enc = (s: string): Uint8Array => Buffer.from(s);
const SLOW_ELECTION = { tickMs: 10, electionTicks: 1000 };
// Usually a few hundred ms; the margin is for a CI machine busy with other suites, where timers fire late and the
// followers' first TLS handshake with each other takes a while.
const FAST_FAILOVER_MS = 4000;

/**
 * Until every follower has applied what the leader has, its own promotion to voter included: a follower that
 * has not yet applied it sees itself as a learner, which never campaigns (and so keeps its lease) when the
 * leader goes. On a busy machine the joins return before that.
 */
async function settled(leader: ReplicatedLog, followers: ReplicatedLog[]): Promise<void> {
  const target = leader.appliedIndex();
  await waitUntil('followers to apply what the leader has', () => followers.every((f) => f.appliedIndex() >= target), 10_000, 5);
}

async function leaderAmong(logs: ReplicatedLog[], timeoutMs: number): Promise<ReplicatedLog> {
  let found: ReplicatedLog | undefined;
  await waitUntil('a new leader', () => (found = logs.find((l) => l.isOpen() && l.isLeader())) !== undefined, timeoutMs, 5);
  return found!;
}

describe('leader connection loss as an election hint, in memory', () => {
  let root: string;
  let network: MemoryNetwork;
  let nodes: Map<string, ReplicatedLog>;

  beforeEach(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'proglog-leader-loss-'));
    network = new MemoryNetwork();
    nodes = new Map();
    const a = await openMemoryReplica(network, root, 'a', { ...SLOW_ELECTION, bootstrap: true });
    nodes.set('a', a);
    await a.waitForLeader(5000);
    for (const n of ['b', 'c']) {
      nodes.set(n, await openMemoryReplica(network, root, n, SLOW_ELECTION));
      await a.join(n, `mem:${n}`);
    }
    await settled(a, [nodes.get('b')!, nodes.get('c')!]);
  });

  afterEach(async () => {
    for (const n of nodes.values()) await n.close();
    await fs.rm(root, { recursive: true, force: true });
  });

  test('when the leader stops, a follower takes over long before its election timeout', async () => {
    const [a, b, c] = ['a', 'b', 'c'].map((n) => nodes.get(n)!) as [ReplicatedLog, ReplicatedLog, ReplicatedLog];
    expect(await a.produce('t', [enc('before')])).toBe(0);
    // Closing stops it without handing over leadership, and closes its connections, as a crash does.
    await a.close();
    const leader = await leaderAmong([b, c], FAST_FAILOVER_MS);
    expect(b.stats().leaderLossCampaigns + c.stats().leaderLossCampaigns).toBeGreaterThan(0);
    expect(await leader.produce('t', [enc('after')])).toBe(1);
  });

  test('a voter that has not applied its own promotion forgets the stopped leader, so the election does not wait for its lease', async () => {
    const [a, b, c] = ['a', 'b', 'c'].map((n) => nodes.get(n)!) as [ReplicatedLog, ReplicatedLog, ReplicatedLog];
    const d = await openMemoryReplica(network, root, 'd', SLOW_ELECTION);
    nodes.set('d', d);
    // Every append from a that carries d's promotion is lost on its way to d; heartbeats still reach it.
    let held = 0;
    network.loseFrames((from, to, frame) => {
      if (from !== a.raftId || to !== d.raftId || isReadIndexMessage(frame)) return false;
      const m = decodeMessage(frame);
      if (m.type !== 'append') return false;
      const promotesD = m.entries.some((e) => {
        if (e.type !== 'confChange') return false;
        const cc = decodeConfChange(e.data);
        return cc.type === 'addVoter' && cc.nodeId === d.raftId;
      });
      if (promotesD) held++;
      return promotesD;
    });
    // a, b and c are a quorum of the configuration before the promotion, so the join completes without d.
    await a.join('d', 'mem:d');
    await settled(a, [b, c]);
    expect(held).toBeGreaterThan(0);
    expect(d.appliedIndex()).toBeLessThan(a.appliedIndex());
    expect(d.leaderId()).toBe('a');
    // Four voters now: whoever campaigns needs three of b, c and d. d still holds a's lease and sees itself as
    // a learner, so it cannot campaign; only forgetting a when a's connection closes lets it answer in time.
    await a.close();
    network.loseFrames(undefined);
    const leader = await leaderAmong([b, c], FAST_FAILOVER_MS);
    expect(await leader.produce('t', [enc('after')])).toBe(0);
  });

  test('followers whose first campaigns find no one to answer keep asking, and elect a leader once they can', async () => {
    const [a, b, c] = ['a', 'b', 'c'].map((n) => nodes.get(n)!) as [ReplicatedLog, ReplicatedLog, ReplicatedLog];
    expect(await a.produce('t', [enc('before')])).toBe(0);
    network.disconnect(b.raftId, c.raftId);
    await a.close();
    await waitUntil('both followers campaign', () => b.stats().leaderLossCampaigns > 0 && c.stats().leaderLossCampaigns > 0, FAST_FAILOVER_MS, 5);
    network.heal();
    const leader = await leaderAmong([b, c], FAST_FAILOVER_MS);
    expect(await leader.produce('t', [enc('after')])).toBe(1);
  });

  test('a follower cut off from a live leader campaigns in vain: the leader keeps its term and its place', async () => {
    const [a, b, c] = ['a', 'b', 'c'].map((n) => nodes.get(n)!) as [ReplicatedLog, ReplicatedLog, ReplicatedLog];
    expect(await a.produce('t', [enc('one')])).toBe(0);
    const term = a.raftStatus().term;
    // b loses its connection to a and cannot get a new one; c still hears a, so it ignores b's pre-votes.
    network.disconnect(a.raftId, b.raftId);
    network.dropConnections(a.raftId, b.raftId);
    await waitUntil('b campaigns', () => b.stats().leaderLossCampaigns >= 1);
    // A follower's connection closing is no reason for another follower to campaign.
    network.dropConnections(b.raftId, c.raftId);
    expect(await a.produce('t', [enc('two')])).toBe(1);
    network.heal();
    await waitUntil('b follows a again and catches up', () => b.leaderId() === 'a' && b.appliedIndex() >= a.appliedIndex());
    expect(await a.produce('t', [enc('three')])).toBe(2);
    expect(a.isLeader()).toBe(true);
    for (const n of [a, b, c]) expect(n.raftStatus().term).toBe(term);
    expect(c.stats().leaderLossCampaigns).toBe(0);
    expect(a.stats().leaderLossCampaigns).toBe(0);
  });

  test('a connection reset with a live leader that reconnects deposes nobody', async () => {
    const [a, b, c] = ['a', 'b', 'c'].map((n) => nodes.get(n)!) as [ReplicatedLog, ReplicatedLog, ReplicatedLog];
    const term = a.raftStatus().term;
    network.dropConnections(a.raftId, b.raftId);
    network.dropConnections(a.raftId, c.raftId);
    // Writes need a quorum, so they go through only with the followers following a again.
    for (let i = 0; i < 20; i++) expect(await a.produce('t', [enc(`r${i}`)])).toBe(i);
    await waitUntil('both followers apply every write', () => b.appliedIndex() >= a.appliedIndex() && c.appliedIndex() >= a.appliedIndex());
    expect(a.isLeader()).toBe(true);
    for (const n of [a, b, c]) expect(n.raftStatus().term).toBe(term);
  });
});

describe('leader connection loss as an election hint, over TLS', () => {
  let cluster: TestCluster;

  afterEach(async () => {
    await cluster?.close();
  });

  test('killing the leader: the followers see its connections close and elect another long before the timeout', async () => {
    cluster = await TestCluster.create({ tickMs: 20, electionTicks: 500 });
    await cluster.startCluster(['a', 'b', 'c']);
    const old = cluster.leader();
    expect(await old.log.produce('t', [enc('before')])).toBe(0);
    const survivors = [...cluster.replicas.values()].filter((r) => r !== old).map((r) => r.log);
    await settled(old.log, survivors);
    await cluster.stop(old.name);
    const leader = await leaderAmong(survivors, FAST_FAILOVER_MS);
    expect(await leader.produce('t', [enc('after')])).toBe(1);
  });
});
