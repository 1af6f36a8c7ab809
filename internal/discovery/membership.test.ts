import { Libp2pTransport } from './libp2p-transport.js';
import { ClusterTrust, NodeIdentity } from './envelope.js';
import { JoinError, MembershipConfigError, UntrustedCertificateError } from './errors.js';
import { encode } from './exchange.js';
import type { AliveClaim } from './message.js';
import { loadOrCreatePeerKey } from './peer-key.js';
import { createTestCa } from './testkit/certs.js';
import { TestCluster, fastTimings } from './testkit/cluster.js';
import { holdsFor, waitFor } from './testkit/wait-for.js';
import { Membership } from './membership.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { freePort } from '../../test/helpers/ports.js';

// Timings are fastTimings: probe 400 ms, probe timeout 200 ms, suspicion 1.5 s, sync 1 s.
// Detection budget: a few probe rounds to notice, plus the suspicion timeout, plus gossip, with room for a
// loaded machine.
const detectMs = 8000;

describe('Membership', () => {
  let cluster: TestCluster;
  beforeEach(async () => {
    cluster = await TestCluster.create();
  });
  afterEach(async () => {
    await cluster.close();
  });

  test("the book's case: two joins seen by the first node; one leaves and is `left` with one leave event", async () => {
    const n0 = await cluster.start('n0');
    await cluster.start('n1');
    await cluster.start('n2');
    await waitFor(() => cluster.allSeeAlive(['n0', 'n1', 'n2']), detectMs, 'three alive');
    expect(n0.events.of('join').map((e) => e.name).sort()).toEqual(['n1', 'n2']);

    await cluster.leave('n1');
    await waitFor(() => cluster.statusAt('n0', 'n1') === 'left' && cluster.statusAt('n2', 'n1') === 'left', detectMs, 'n1 left');
    expect(n0.events.of('leave')).toEqual([{ kind: 'leave', name: 'n1' }]);
    expect(n0.events.of('failed')).toEqual([]);
  });

  test('a joiner knows every member as soon as start() resolves (state sync, not heartbeats)', async () => {
    await cluster.start('n0');
    await cluster.start('n1');
    await cluster.start('n2');
    await waitFor(() => cluster.allSeeAlive(['n0', 'n1', 'n2']), detectMs, 'three alive');
    const n3 = await cluster.start('n3', { join: [cluster.node('n2').membership.boundAddr()] });
    // Known, with tags, without waiting (statuses may carry a passing suspicion from a loaded machine).
    expect(n3.membership.members().map((m) => `${m.name}:${m.tags.rpc_addr !== undefined}`)).toEqual(['n0:true', 'n1:true', 'n2:true', 'n3:true']);
  });

  test('five nodes see each other with their tags', async () => {
    await cluster.prepare('n0', 'n1', 'n2', 'n3', 'n4');
    for (let i = 0; i < 5; i++) await cluster.start(`n${i}`, { tags: { rpc_addr: `127.0.0.1:${9000 + i}`, zone: `z${i % 2}` } });
    const names = ['n0', 'n1', 'n2', 'n3', 'n4'];
    await waitFor(() => cluster.allSeeAlive(names), detectMs, 'five alive');
    for (const n of cluster.nodes.values()) {
      const seen = n.membership.members().map((m) => [m.name, m.tags.rpc_addr, m.tags['zone']]);
      expect(seen).toEqual(names.map((name, i) => [name, `127.0.0.1:${9000 + i}`, `z${i % 2}`]));
      expect(n.events.of('join').map((e) => e.name).sort()).toEqual(names.filter((x) => x !== n.name));
    }
  });

  test('a node stopped without leaving is `failed` everywhere within the configured time, with one failed event', async () => {
    for (let i = 0; i < 4; i++) await cluster.start(`n${i}`);
    await waitFor(() => cluster.allSeeAlive(['n0', 'n1', 'n2', 'n3']), detectMs, 'four alive');
    const crashedAt = Date.now();
    await cluster.crash('n3');
    await waitFor(() => ['n0', 'n1', 'n2'].every((o) => cluster.statusAt(o, 'n3') === 'failed'), detectMs, 'n3 failed everywhere');
    // Not before the suspicion timeout: nobody may skip the chance to refute.
    expect(Date.now() - crashedAt).toBeGreaterThanOrEqual(fastTimings.suspicionTimeoutMs!);
    for (const o of ['n0', 'n1', 'n2']) {
      expect(cluster.node(o).events.of('failed')).toEqual([{ kind: 'failed', name: 'n3' }]);
      expect(cluster.node(o).events.of('leave')).toEqual([]);
    }
  });

  test('a crashed node restarts with a higher incarnation and is alive again everywhere', async () => {
    for (let i = 0; i < 3; i++) await cluster.start(`n${i}`);
    await waitFor(() => cluster.allSeeAlive(['n0', 'n1', 'n2']), detectMs, 'three alive');
    const before = cluster.node('n0').membership.members().find((m) => m.name === 'n2')!.incarnation;
    const dataDir = await cluster.crash('n2');
    await waitFor(() => cluster.statusAt('n0', 'n2') === 'failed' && cluster.statusAt('n1', 'n2') === 'failed', detectMs, 'n2 failed');

    await cluster.start('n2', { dataDir });
    await waitFor(() => cluster.allSeeAlive(['n0', 'n1', 'n2']), detectMs, 'n2 alive again');
    const after = cluster.node('n0').membership.members().find((m) => m.name === 'n2')!.incarnation;
    expect(after).toBeGreaterThan(before);
    expect(cluster.node('n0').events.of('join', 'n2')).toHaveLength(2);
  });

  test('a member one node cannot reach directly stays a member: others vouch for it, nobody declares it failed', async () => {
    const names = ['n0', 'n1', 'n2', 'n3'];
    await cluster.prepare(...names);
    for (const n of names) await cluster.start(n);
    await waitFor(() => cluster.allSeeAlive(names), detectMs, 'four alive');
    cluster.partition(['n0'], ['n1']);
    // Several suspicion timeouts' worth of probes from n0 to n1 fail directly and succeed through n2 and n3.
    // (A loaded machine may still produce a passing suspicion, which n1 refutes; a failure would be a bug.)
    await holdsFor(
      () => [...cluster.nodes.values()].every((n) => n.events.of('failed').length === 0 && n.events.of('leave').length === 0),
      3 * fastTimings.suspicionTimeoutMs!,
      'nobody declared failed',
      20,
      () => JSON.stringify([...cluster.nodes.values()].map((n) => [n.name, n.membership.members().map((m) => `${m.name}:${m.status}:${m.incarnation}`), n.events.events.filter((e) => e.kind !== 'join')])),
    );
    await waitFor(() => ['n0', 'n2', 'n3'].every((o) => cluster.statusAt(o, 'n1') === 'alive'), detectMs, 'n1 alive at the others');
  });

  test('member lists converge after a partition heals', async () => {
    const names = ['n0', 'n1', 'n2', 'n3', 'n4'];
    await cluster.prepare(...names);
    for (const n of names) await cluster.start(n);
    await waitFor(() => cluster.allSeeAlive(names), detectMs, 'five alive');
    cluster.partition(['n0', 'n1', 'n2'], ['n3', 'n4']);
    await waitFor(
      () =>
        ['n0', 'n1', 'n2'].every((o) => cluster.statusAt(o, 'n3') === 'failed' && cluster.statusAt(o, 'n4') === 'failed') &&
        ['n3', 'n4'].every((o) => ['n0', 'n1', 'n2'].every((x) => cluster.statusAt(o, x) === 'failed')),
      2 * detectMs,
      'each side sees the other failed',
    );
    cluster.healAll();
    await waitFor(() => cluster.allSeeAlive(names), 2 * detectMs, 'all five alive again');
    // Converged: every node holds the same list, down to each member's latest incarnation and tags.
    await waitFor(
      () => new Set([...cluster.nodes.values()].map((n) => JSON.stringify(n.membership.members()))).size === 1,
      detectMs,
      'identical member lists',
    );
  });

  test('a tag change reaches every member as an update event', async () => {
    const n0 = await cluster.start('n0');
    await cluster.start('n1');
    await waitFor(() => cluster.allSeeAlive(['n0', 'n1']), detectMs, 'two alive');
    await n0.membership.setTags({ rpc_addr: '127.0.0.1:7000', role: 'voter' });
    await waitFor(() => cluster.node('n1').events.of('update', 'n0').length === 1, detectMs, 'update at n1');
    expect(cluster.node('n1').events.of('update', 'n0')[0]).toEqual({ kind: 'update', name: 'n0', tags: { rpc_addr: '127.0.0.1:7000', role: 'voter' } });
  });
});

describe('Membership security', () => {
  let cluster: TestCluster;
  beforeEach(async () => {
    cluster = await TestCluster.create();
  });
  afterEach(async () => {
    await cluster.close();
  });

  test('a node with a certificate from another CA cannot join: JoinError, and it is never a member', async () => {
    const n0 = await cluster.start('n0');
    const foreign = await createTestCa('rogue CA');
    const joining = cluster.start('rogue', { tls: await foreign.issue('rogue') });
    await expect(joining).rejects.toBeInstanceOf(JoinError);
    // Its one line says why, as far as the rogue can tell: n0 refused it.
    await expect(joining).rejects.toThrow(/^could not join through any of \S+ \(last failure: \S+ refused the exchange \(does it trust this node's peer certificate/);
    expect(n0.rejected.some((e) => e instanceof UntrustedCertificateError)).toBe(true);
    expect(n0.membership.members().map((m) => m.name)).toEqual(['n0']);
  });

  test('gossip signed under a foreign CA is rejected: the rogue neither appears nor marks anyone failed', async () => {
    const n0 = await cluster.start('n0');
    await cluster.start('n1');
    await waitFor(() => cluster.allSeeAlive(['n0', 'n1']), detectMs, 'two alive');
    const foreign = await createTestCa('rogue CA');
    const tls = await foreign.issue('rogue');
    const rogueId = new NodeIdentity('rogue', tls.certPem, tls.keyPem, new ClusterTrust(tls.caPem));
    const dir = await mkdtemp(join(tmpdir(), 'proglog-discovery-rogue-'));
    const rogue = await Libp2pTransport.start({
      bindAddr: '127.0.0.1:0',
      privateKey: await loadOrCreatePeerKey(dir),
      gossipIntervalMs: 200,
      directory: { nameOf: () => undefined, peerIdOf: () => undefined },
    });
    try {
      const alive = rogueId.seal<AliveClaim>({ type: 'alive', name: 'rogue', incarnation: 1, tags: { rpc_addr: '127.0.0.1:1' }, addr: rogue.boundAddr(), peerId: rogue.peerId });
      const n1 = cluster.node('n1').membership.members().find((m) => m.name === 'n1')!;
      const accusation = rogueId.seal({ type: 'failed', name: 'n1', incarnation: n1.incarnation, from: 'rogue' });
      // A direct push is refused outright.
      const push = encode({ kind: 'push', hello: alive.envelope, entries: [{ alive: alive.envelope }] });
      await expect(rogue.request({ addr: n0.membership.boundAddr() }, push, 2000)).rejects.toThrow();
      // Gossip: connect, then publish until n0's validator has rejected both claims.
      let round = 0;
      await waitFor(
        async () => {
          round++;
          await rogue.ping({ addr: n0.membership.boundAddr() }, 1000).catch(() => undefined);
          await rogue.broadcast(Buffer.from(JSON.stringify(alive.envelope)));
          await rogue.broadcast(Buffer.from(JSON.stringify({ ...accusation.envelope, claim: accusation.envelope.claim + ' '.repeat(round) })));
          return n0.rejected.filter((e) => e instanceof UntrustedCertificateError).length >= 2;
        },
        detectMs,
        'rogue gossip rejected',
        100,
      );
      expect(n0.membership.members().map((m) => `${m.name}:${m.status}`)).toEqual(['n0:alive', 'n1:alive']);
      expect(n0.events.of('failed')).toEqual([]);
    } finally {
      await rogue.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('with a pre-shared key, members join each other and a node without the key cannot', async () => {
    const psk = randomBytes(32);
    await cluster.start('n0', { preSharedKey: psk });
    await cluster.start('n1', { preSharedKey: psk });
    await waitFor(() => cluster.allSeeAlive(['n0', 'n1']), detectMs, 'two alive');
    const joining = cluster.start('n2');
    await expect(joining).rejects.toBeInstanceOf(JoinError);
    // Without the key the private network's handshake fails, or (on a loaded machine) the node gives up first.
    await expect(joining).rejects.toThrow(/\(last failure: \S+: (the connection handshake failed|no answer within \d+ ms)/);
    expect(cluster.node('n0').membership.members().map((m) => m.name)).toEqual(['n0', 'n1']);
  });

  test('with retryJoin, a node whose start-join addresses are all down starts alone and joins once one is up', async () => {
    // n0 binds this port only after n1 has started: it comes from where outgoing connections do not take ports.
    const seedAddr = `127.0.0.1:${await freePort()}`;

    const back = await cluster.start('n1', { join: [seedAddr], retryJoin: true });
    expect(back.membership.members().map((m) => m.name)).toEqual(['n1']);
    await cluster.start('n0', { bindAddr: seedAddr, join: [] });
    await waitFor(() => cluster.allSeeAlive(['n0', 'n1']), detectMs, 'the retried join to reach the seed');
    expect(back.events.of('join', 'n0')).toHaveLength(1);
  });

  test('start-join addresses that do not answer fail the start with JoinError', async () => {
    const ca = await createTestCa();
    const dir = await mkdtemp(join(tmpdir(), 'proglog-discovery-join-'));
    try {
      const err = await Membership.start({
        nodeName: 'n0', bindAddr: '127.0.0.1:0', tags: { rpc_addr: 'x:1' }, startJoinAddrs: ['127.0.0.1:1'],
        tls: await ca.issue('n0'), dataDir: dir, timings: fastTimings,
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(JoinError);
      expect((err as JoinError).addrs).toEqual(['127.0.0.1:1']);
      expect((err as Error).message).toBe('could not join through any of 127.0.0.1:1 (last failure: 127.0.0.1:1: connection refused)');

      // Something that takes the connection and never answers.
      const held: net.Socket[] = [];
      const silent = net.createServer((socket) => void held.push(socket));
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      const silentAddr = `127.0.0.1:${(silent.address() as net.AddressInfo).port}`;
      try {
        const timedOut = await Membership.start({
          nodeName: 'n0', bindAddr: '127.0.0.1:0', tags: { rpc_addr: 'x:1' }, startJoinAddrs: ['127.0.0.1:1', silentAddr],
          tls: await ca.issue('n0'), dataDir: dir, timings: fastTimings,
        }).catch((e: unknown) => e);
        expect(timedOut).toBeInstanceOf(JoinError);
        expect((timedOut as Error).message).toMatch(
          new RegExp(`^could not join through any of 127\\.0\\.0\\.1:1, ${silentAddr} \\(last failure: ${silentAddr}: no answer within \\d+ ms\\)$`),
        );
      } finally {
        for (const socket of held) socket.destroy();
        await new Promise((resolve) => silent.close(resolve));
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  // Last on purpose: it starts no libp2p node, so libp2p's 1 s address-manager debounce timer armed by the
  // previous test's short-lived node has fired before the worker exits.
  test('bad configuration fails with MembershipConfigError before anything listens', async () => {
    const ca = await createTestCa();
    const other = await createTestCa('another CA');
    const dir = await mkdtemp(join(tmpdir(), 'proglog-discovery-cfg-'));
    const base = { nodeName: 'n0', bindAddr: '127.0.0.1:0', tags: { rpc_addr: 'x:1' }, startJoinAddrs: [], tls: await ca.issue('n0'), dataDir: dir };
    try {
      await expect(Membership.start({ ...base, bindAddr: 'nope' })).rejects.toBeInstanceOf(MembershipConfigError);
      await expect(Membership.start({ ...base, tls: await ca.issue('someone-else') })).rejects.toBeInstanceOf(MembershipConfigError);
      await expect(Membership.start({ ...base, tls: { ...(await other.issue('n0')), caPem: ca.certPem } })).rejects.toBeInstanceOf(
        MembershipConfigError,
      );
      await expect(Membership.start({ ...base, tls: { ...base.tls, keyPem: (await ca.issue('n0')).keyPem } })).rejects.toBeInstanceOf(
        MembershipConfigError,
      );
      await expect(Membership.start({ ...base, timings: { probeIntervalMs: 100, probeTimeoutMs: 100 } })).rejects.toBeInstanceOf(MembershipConfigError);
      await expect(Membership.start({ ...base, preSharedKey: new Uint8Array(5) })).rejects.toBeInstanceOf(MembershipConfigError);
      // An address already taken: reported as configuration, not as a libp2p internal.
      const taken = net.createServer();
      await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
      try {
        const port = (taken.address() as net.AddressInfo).port;
        const start = Membership.start({ ...base, bindAddr: `127.0.0.1:${port}` });
        await expect(start).rejects.toBeInstanceOf(MembershipConfigError);
        // One line that says why, not libp2p's advice with the socket error's stack frames in it.
        await expect(start).rejects.toThrow(new RegExp(`^cannot listen on 127\\.0\\.0\\.1:${port}: address in use$`));
      } finally {
        await new Promise((resolve) => taken.close(resolve));
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
