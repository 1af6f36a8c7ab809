// The SWIM rules over the in-memory network: no sockets or handshakes, so these prove the protocol itself,
// quickly, apart from the timing of a real network (membership.test.ts proves the same over libp2p).
import { UntrustedCertificateError } from './errors.js';
import { InMemoryNetwork } from './inmem-transport.js';
import { createTestCa } from './testkit/certs.js';
import { TestCluster } from './testkit/cluster.js';
import { holdsFor, waitFor } from './testkit/wait-for.js';

const timings = { probeIntervalMs: 100, probeTimeoutMs: 50, suspicionTimeoutMs: 600, gossipIntervalMs: 100, syncIntervalMs: 300, reapTimeoutMs: 30_000 };
const within = 5000;

describe('membership protocol (in-memory network)', () => {
  let network: InMemoryNetwork;
  let cluster: TestCluster;
  beforeEach(async () => {
    network = new InMemoryNetwork();
    cluster = await TestCluster.create(timings, network.open);
  });
  afterEach(async () => {
    await cluster.close();
  });

  async function startAll(names: string[], opts: Parameters<TestCluster['start']>[1] = {}): Promise<void> {
    await cluster.prepare(...names);
    for (const n of names) await cluster.start(n, opts);
    await waitFor(() => cluster.allSeeAlive(names), within, 'all alive');
  }

  test('indirect probes vouch for a member one node cannot reach: it is never even suspected', async () => {
    await startAll(['n0', 'n1', 'n2', 'n3']);
    cluster.partition(['n0'], ['n1']);
    await holdsFor(
      () => [...cluster.nodes.values()].every((n) => n.events.of('suspect').length === 0 && n.events.of('failed').length === 0),
      5 * timings.suspicionTimeoutMs,
      'no suspicion anywhere',
    );
  });

  test('without indirect probes the same cut raises suspicions, which the suspect refutes: never failed', async () => {
    await startAll(['n0', 'n1', 'n2', 'n3'], { timings: { indirectProbes: 0 } });
    const before = cluster.node('n2').membership.members().find((m) => m.name === 'n1')!.incarnation;
    cluster.partition(['n0'], ['n1']);
    await holdsFor(() => [...cluster.nodes.values()].every((n) => n.events.of('failed').length === 0), 5 * timings.suspicionTimeoutMs, 'nobody failed');
    expect(cluster.node('n2').events.of('suspect', 'n1').length).toBeGreaterThanOrEqual(1);
    expect(cluster.node('n2').membership.members().find((m) => m.name === 'n1')!.incarnation).toBeGreaterThan(before);
  });

  test('a crashed member is failed everywhere, no sooner than the suspicion timeout', async () => {
    await startAll(['n0', 'n1', 'n2', 'n3', 'n4']);
    const crashed = Date.now();
    await cluster.crash('n4');
    await waitFor(() => ['n0', 'n1', 'n2', 'n3'].every((o) => cluster.statusAt(o, 'n4') === 'failed'), within, 'n4 failed');
    expect(Date.now() - crashed).toBeGreaterThanOrEqual(timings.suspicionTimeoutMs);
    for (const o of ['n0', 'n1', 'n2', 'n3']) expect(cluster.node(o).events.of('failed')).toEqual([{ kind: 'failed', name: 'n4' }]);
  });

  test('a member isolated from everyone is failed by all others, and refutes its way back when the cut heals', async () => {
    const names = ['n0', 'n1', 'n2'];
    await startAll(names);
    cluster.partition(['n2'], ['n0', 'n1']);
    await waitFor(() => cluster.statusAt('n0', 'n2') === 'failed' && cluster.statusAt('n1', 'n2') === 'failed', within, 'n2 failed');
    cluster.healAll();
    await waitFor(() => cluster.allSeeAlive(names), within, 'n2 back');
    expect(cluster.node('n0').events.of('join', 'n2')).toHaveLength(2);
  });

  test('tombstones outlive stale gossip: a left member stays left while its old claims circulate', async () => {
    await startAll(['n0', 'n1', 'n2']);
    await cluster.leave('n2');
    await waitFor(() => cluster.statusAt('n0', 'n2') === 'left' && cluster.statusAt('n1', 'n2') === 'left', within, 'n2 left');
    // Anti-entropy keeps running between n0 and n1; n2 must not come back from their old state.
    await holdsFor(() => cluster.statusAt('n0', 'n2') === 'left' && cluster.statusAt('n1', 'n2') === 'left', 3 * timings.syncIntervalMs, 'n2 stays left');
    expect(cluster.node('n0').events.of('join', 'n2')).toHaveLength(1);
  });

  test('a node whose certificate is from another CA cannot join and is never listed', async () => {
    await startAll(['n0']);
    const foreign = await (await createTestCa('rogue CA')).issue('rogue');
    await expect(cluster.start('rogue', { tls: foreign })).rejects.toThrow();
    expect(cluster.node('n0').rejected.some((e) => e instanceof UntrustedCertificateError)).toBe(true);
    expect(cluster.node('n0').membership.members().map((m) => m.name)).toEqual(['n0']);
  });
});
