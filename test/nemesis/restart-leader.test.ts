// Found by the nemesis (kill faults; seed 21 of the schedule's first PRNG): a leader SIGKILLed and restarted with its data dir claimed
// leadership again within ~100 ms while the cluster followed the leader elected without it, and both
// acknowledged different writes at the same offset. The rule it broke, as a test:
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { LogClient } from '../../api/v1/log.js';
import { Cluster } from './cluster.js';
import { waitUntil } from './wait.js';

function produce(client: LogClient, value: string): Promise<number | string> {
  return new Promise((resolve) =>
    client.produce(
      { record: { value: Buffer.from(value), offset: 0, term: 0, type: 0 }, topic: '' },
      new grpc.Metadata(),
      { deadline: Date.now() + 3000 },
      (err, res) => resolve(err ? `error: ${err.details}` : res.offset),
    ),
  );
}

describe('a killed leader that restarts', () => {
  let cluster: Cluster | undefined;

  afterEach(async () => {
    await cluster?.close();
  });

  it('comes back as a follower: only the leader elected without it acknowledges writes', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'nemesis-restart-leader-'));
    cluster = await Cluster.start({ nodes: 3, rootDir: dir, faults: false, electionTimeoutMs: 600, heartbeatMs: 60 });
    const c = cluster;
    const client = c.client();
    // Setup, not the rule under test: on a loaded machine an election can come now too, so a write is asked again
    // until acknowledged (a copy of a "before" value changes nothing here).
    for (let i = 0; i < 20; i++) {
      await waitUntil(`before-${i} acknowledged`, async () => typeof (await produce(client, `before-${i}`)) === 'number', 20_000, 100);
    }
    const victim = c.node(await c.waitForLeader(10_000));
    await c.killNode(victim);
    const successor = await waitUntil(
      'a new leader',
      async () => {
        const l = await c.currentLeader();
        return l !== victim.name ? l : undefined;
      },
      20_000,
    );
    await c.startNode(victim);
    await waitUntil('the restarted node to answer', () => c.getServers(victim.name).then(() => true, () => false), 30_000, 100);
    // Several election timeouts: time enough for a rogue self-election, which is what this test watches for.
    await waitUntil(
      'the restarted node to name the leader',
      async () => (await c.getServers(victim.name)).some((s) => s.isLeader),
      10_000,
      100,
    );
    const leaders = new Set<string>();
    for (const n of c.nodes) {
      const servers = await c.getServers(n.name);
      const named = servers.find((s) => s.isLeader);
      if (named) leaders.add(named.id);
    }
    expect([...leaders]).toEqual([successor]);
    const throughRestarted = await produce(c.directClient(victim.name), 'through-restarted');
    const throughLeader = await produce(c.directClient(successor), 'through-leader');
    expect(String(throughRestarted)).toMatch(/not the leader/);
    expect(typeof throughLeader).toBe('number');
  }, 120_000);
});
