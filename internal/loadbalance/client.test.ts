import * as grpc from '@grpc/grpc-js';
import type { LogClient, ProduceResponse } from '../../api/v1/log.js';
import { FakeCluster } from '../../test/helpers/fake-cluster.js';
import { makeTlsFixtures } from '../../test/helpers/tls-fixtures.js';
import { ClientConfigError, createClient, leaderRoute } from './client.js';

const insecure = grpc.credentials.createInsecure();

function produce(client: LogClient, timeoutMs = 5000): Promise<ProduceResponse> {
  return new Promise((resolve, reject) =>
    client.produce(
      { record: { value: Buffer.from('x'), offset: 0, term: 0, type: 0 }, topic: '' },
      new grpc.Metadata(),
      { deadline: Date.now() + timeoutMs },
      (err, res) => (err ? reject(err) : resolve(res)),
    ),
  );
}

function consumedFrom(client: LogClient): Promise<string> {
  return new Promise((resolve, reject) =>
    client.consume({ offset: 0, topic: '', linearizable: false }, new grpc.Metadata(), { deadline: Date.now() + 5000 }, (err, res) =>
      err ? reject(err) : resolve(res.record!.value.toString()),
    ),
  );
}

function listTopics(client: LogClient): Promise<string[]> {
  return new Promise((resolve, reject) =>
    client.listTopics({}, new grpc.Metadata(), { deadline: Date.now() + 5000 }, (err, res) =>
      err ? reject(err) : resolve(res.topics),
    ),
  );
}

async function eventually<T>(what: string, fn: () => Promise<T>, deadlineMs = 5000): Promise<T> {
  const end = Date.now() + deadlineMs;
  let last: unknown;
  while (Date.now() < end) {
    try {
      return await fn();
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`${what} did not happen within ${deadlineMs} ms: ${String(last)}`);
}

describe('createClient (load-balanced over the cluster)', () => {
  let cluster: FakeCluster;
  const clients: LogClient[] = [];

  function client(seed = cluster.nodes[0]!.addr, extra: Partial<Parameters<typeof createClient>[0]> = {}): LogClient {
    const c = createClient({ addr: seed, credentials: insecure, ...extra });
    clients.push(c);
    return c;
  }

  /** Resolves once the client has taken in a server list that GetServers gave after this call. */
  async function refreshed(): Promise<void> {
    const total = (): number => Object.values(cluster.counts('getServers')).reduce((x, y) => x + y, 0);
    // Rounds run one at a time, so once a second one has reached a server the first has been taken in.
    const target = total() + 2;
    await eventually('two more GetServers rounds', async () => {
      if (total() < target) throw new Error(`${total()} of ${target}`);
    });
  }

  beforeEach(async () => {
    cluster = await FakeCluster.start(['a', 'b', 'c']);
    cluster.leaderId = 'b';
  });

  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await cluster.close();
  });

  it('sends every produce to the leader, whichever server it was given', async () => {
    const c = client(cluster.node('c').addr);
    for (let i = 0; i < 6; i++) await produce(c);
    expect(cluster.counts('produce')).toEqual({ a: 0, b: 6, c: 0 });
  });

  it('spreads consumes round-robin over the followers and spares the leader', async () => {
    const c = client();
    // Wait until both followers are connected so the rotation covers them.
    await eventually('both followers serve', async () => {
      const seen = new Set([await consumedFrom(c), await consumedFrom(c)]);
      if (seen.size !== 2) throw new Error(`only ${[...seen].join(',')}`);
    });
    for (const n of cluster.nodes) n.served.length = 0;
    for (let i = 0; i < 10; i++) await consumedFrom(c);
    expect(cluster.counts('consume')).toEqual({ a: 5, b: 0, c: 5 });
  });

  it('sends a consume marked proglog-route: leader (a linearizable read) to the leader', async () => {
    const c = client();
    const fromLeader = await new Promise<string>((resolve, reject) =>
      c.consume({ offset: 0, topic: '', linearizable: true }, leaderRoute(), { deadline: Date.now() + 5000 }, (err, res) =>
        err ? reject(err) : resolve(res.record!.value.toString()),
      ),
    );
    expect(fromLeader).toBe('b');
  });

  it('consumes from the leader when it has no followers', async () => {
    await cluster.stopNode('a');
    await cluster.stopNode('c');
    const c = client(cluster.node('b').addr);
    expect(await consumedFrom(c)).toBe('b');
  });

  it('sends no reads to a learner, which may not have the records yet, and sends them once it is promoted', async () => {
    const c = client(cluster.node('a').addr, { refreshIntervalMs: 50, minRefreshIntervalMs: 20 });
    // c's connection must be up, or sparing it would prove nothing: it serves while still a follower.
    await eventually('both followers serve', async () => {
      const seen = new Set([await consumedFrom(c), await consumedFrom(c)]);
      if (seen.size !== 2) throw new Error(`only ${[...seen].join(',')}`);
    });
    cluster.node('c').learner = true;
    await refreshed();
    for (const n of cluster.nodes) n.served.length = 0;
    for (let i = 0; i < 6; i++) await consumedFrom(c);
    for (let i = 0; i < 6; i++) await listTopics(c);
    expect(cluster.counts('consume')).toEqual({ a: 6, b: 0, c: 0 });
    expect(cluster.counts('listTopics').c).toBe(0);

    // With every other server a learner, reads go to the leader.
    cluster.node('a').learner = true;
    await refreshed();
    expect(await consumedFrom(c)).toBe('b');

    cluster.node('c').learner = false;
    await eventually('the promoted server serves reads', async () => {
      if ((await consumedFrom(c)) !== 'c') throw new Error('not yet');
    });
  });

  it('sends other methods to any ready server', async () => {
    const c = client();
    const answered = new Set<string>();
    await eventually('all three servers answer ListTopics', async () => {
      answered.add((await listTopics(c))[0]!);
      if (answered.size < 3) throw new Error(`so far ${[...answered].join(',')}`);
    });
  });

  it('holds a produce while there is no leader and delivers it to the leader once one is elected', async () => {
    cluster.leaderId = null;
    const c = client(cluster.node('a').addr, { minRefreshIntervalMs: 50 });
    const pending = produce(c, 10_000);
    let settled = false;
    void pending.finally(() => (settled = true)).catch(() => undefined);
    // The client keeps asking for the leader meanwhile.
    await eventually('the client to ask GetServers again', async () => {
      if (cluster.counts('getServers').a! + cluster.counts('getServers').b! + cluster.counts('getServers').c! < 9) {
        throw new Error('not yet');
      }
    });
    expect(settled).toBe(false);
    expect(cluster.counts('produce')).toEqual({ a: 0, b: 0, c: 0 });
    cluster.leaderId = 'c';
    await pending;
    expect(cluster.counts('produce')).toEqual({ a: 0, b: 0, c: 1 });
  });

  it('fails a produce with DEADLINE_EXCEEDED, not at once, when no leader appears in time', async () => {
    cluster.leaderId = null;
    const c = client();
    const started = Date.now();
    await expect(produce(c, 400)).rejects.toMatchObject({ code: grpc.status.DEADLINE_EXCEEDED });
    expect(Date.now() - started).toBeGreaterThanOrEqual(350);
  });

  it('follows a leader change: a refused produce refreshes the list and later produces reach the new leader', async () => {
    const c = client(cluster.node('a').addr, { minRefreshIntervalMs: 20, refreshIntervalMs: 60_000 });
    await produce(c);
    cluster.leaderId = 'a';
    // The old leader refuses with the new leader's id; the client refreshes and moves on.
    await expect(produce(c)).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
    await eventually('produce reaches the new leader', () => produce(c, 1000));
    expect(cluster.counts('produce').a).toBeGreaterThanOrEqual(1);
  });

  it('while a write waits for a leader, looks for one every leaderWaitRefreshMs, not every minRefreshIntervalMs', async () => {
    const c = client(cluster.node('a').addr, { minRefreshIntervalMs: 1000, refreshIntervalMs: 60_000 });
    await produce(c);
    // The leader dies; the others hold an election meanwhile.
    await cluster.stopNode('b');
    cluster.leaderId = null;
    const pending = produce(c, 10_000);
    const before = cluster.counts('getServers');
    // A round asks the servers in turn until one names a leader: none does, so it asks both live ones.
    await eventually('the client to ask both live servers who leads now', async () => {
      const now = cluster.counts('getServers');
      if (now.a! <= before.a! || now.c! <= before.c!) throw new Error('not yet');
    });
    // Elected just after the client asked: it must not wait minRefreshIntervalMs to ask again.
    cluster.leaderId = 'c';
    const elected = Date.now();
    await pending;
    expect(Date.now() - elected).toBeLessThan(500);
    expect(cluster.counts('produce')).toEqual({ a: 0, b: 1, c: 1 });
  });

  it('a write refused by a server naming another leader has the list refreshed at once, not after minRefreshIntervalMs', async () => {
    const c = client(cluster.node('a').addr, { minRefreshIntervalMs: 1000, refreshIntervalMs: 60_000 });
    await produce(c);
    // A leadership transfer, moments after the client's last refresh.
    cluster.leaderId = 'c';
    await expect(produce(c)).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
    const refused = Date.now();
    await eventually('produce reaches the new leader', () => produce(c, 1000));
    expect(Date.now() - refused).toBeLessThan(500);
    expect(cluster.counts('produce').c).toBe(1);
  });

  it('refreshes periodically, so it learns of a new server without any failure', async () => {
    const c = client(cluster.node('a').addr, { refreshIntervalMs: 100 });
    await produce(c);
    const d = await cluster.addNode('d');
    cluster.leaderId = 'd';
    await eventually('produce reaches the new server', async () => {
      await produce(c, 1000);
      if (cluster.counts('produce').d === 0) throw new Error('not yet');
    });
    expect(d.served).toContain('produce');
  });

  it('keeps working when the server it was given goes away', async () => {
    const c = client(cluster.node('a').addr, { refreshIntervalMs: 100, minRefreshIntervalMs: 20 });
    await produce(c);
    await cluster.stopNode('a');
    cluster.leaderId = 'c';
    await eventually('produce reaches the new leader without the seed', async () => {
      await produce(c, 1000);
      if (cluster.counts('produce').c === 0) throw new Error('not yet');
    });
  });

  it('reconnects to a server back from a long outage within about a second (it may be the next leader)', async () => {
    const c = client(cluster.node('a').addr, { refreshIntervalMs: 100, minRefreshIntervalMs: 20 });
    await produce(c);
    // The leader crashes but stays a member, so the client keeps its connection attempts going, backing off.
    await cluster.stopNode('b', { listed: true });
    // The outage's length, not a wait for anything: with gRPC's default backoff (1 s, x1.6) the attempts would be
    // ~2.6 s apart by the time it ends.
    await new Promise((resolve) => setTimeout(resolve, 5800));
    await cluster.restartNode('b');
    const back = Date.now();
    await eventually('produce reaches the restarted leader', () => produce(c, 300), 10_000);
    expect(Date.now() - back).toBeLessThan(2000);
  }, 20_000);

  it('asks the other servers when the one it asked knows no leader', async () => {
    cluster.node('a').blind = true;
    const c = client(cluster.node('a').addr);
    await produce(c, 2000);
    expect(cluster.counts('produce')).toEqual({ a: 0, b: 1, c: 0 });
  });

  it('keeps the state of each client apart', async () => {
    const other = await FakeCluster.start(['x', 'y']);
    try {
      other.leaderId = 'x';
      const c1 = client(cluster.node('a').addr);
      const c2 = client(other.node('y').addr);
      await Promise.all([produce(c1), produce(c2), produce(c1), produce(c2)]);
      expect(cluster.counts('produce')).toEqual({ a: 0, b: 2, c: 0 });
      expect(other.counts('produce')).toEqual({ x: 2, y: 0 });
    } finally {
      await other.close();
    }
  });

  it('fails fast with UNAVAILABLE when nothing answers at the address', async () => {
    const seed = cluster.node('a').addr;
    await cluster.close();
    const c = client(seed);
    const started = Date.now();
    await expect(produce(c, 10_000)).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('fails fast with UNAVAILABLE when the cluster answered once and then went away, even without a deadline', async () => {
    const c = client(cluster.node('a').addr, { minRefreshIntervalMs: 50 });
    await produce(c);
    await cluster.close();
    const started = Date.now();
    await expect(produce(c, 10_000)).rejects.toMatchObject({
      code: grpc.status.UNAVAILABLE,
      details: expect.stringMatching(/no leader known and no server reachable/),
    });
    expect(Date.now() - started).toBeLessThan(5000);

    // Without a deadline nothing else would ever end the call.
    let call: grpc.ClientUnaryCall | undefined;
    const settled = new Promise<grpc.ServiceError | null>((resolve) => {
      call = c.produce({ record: { value: Buffer.from('x'), offset: 0, term: 0, type: 0 }, topic: '' }, (err) => resolve(err));
    });
    let timer: NodeJS.Timeout | undefined;
    const gaveUp = new Promise<'hung'>((resolve) => (timer = setTimeout(() => resolve('hung'), 5000)));
    try {
      expect(await Promise.race([settled, gaveUp])).toMatchObject({ code: grpc.status.UNAVAILABLE });
    } finally {
      clearTimeout(timer);
      call?.cancel();
    }
  });

  it('with waitForReady, a produce waits out a whole-cluster outage and reaches the leader once it is back', async () => {
    const c = client(cluster.node('a').addr, { minRefreshIntervalMs: 50 });
    await produce(c);
    for (const id of ['a', 'b', 'c']) await cluster.stopNode(id, { listed: true });
    // A call that did not ask to wait fails: the client knows the cluster is unreachable.
    await expect(produce(c, 10_000)).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
    let settled = false;
    const pending = new Promise<ProduceResponse>((resolve, reject) =>
      c.produce(
        { record: { value: Buffer.from('x'), offset: 0, term: 0, type: 0 }, topic: '' },
        new grpc.Metadata({ waitForReady: true }),
        { deadline: Date.now() + 10_000 },
        (err, res) => (err ? reject(err) : resolve(res)),
      ),
    ).finally(() => (settled = true));
    // The picker that fails this call at once keeps the waiting one queued.
    await expect(produce(c, 10_000)).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
    expect(settled).toBe(false);
    for (const id of ['a', 'b', 'c']) await cluster.restartNode(id);
    await pending;
    expect(cluster.counts('produce')).toEqual({ a: 0, b: 2, c: 0 });
  });

  it('rejects a malformed address or half a key pair with ClientConfigError', () => {
    expect(() => createClient({ addr: 'no-port', credentials: insecure })).toThrow(ClientConfigError);
    expect(() => createClient({ addr: '127.0.0.1:1', ca: 'x', cert: 'y' })).toThrow(ClientConfigError);
    expect(() => createClient({ addr: '127.0.0.1:1' })).toThrow(ClientConfigError);
  });
});

describe('createClient over mutual TLS', () => {
  it('authenticates with ca/cert/key and routes produce to the leader', async () => {
    const f = await makeTlsFixtures(['root']);
    const root = f.clients.get('root')!;
    const cluster = await FakeCluster.start(
      ['a', 'b'],
      grpc.ServerCredentials.createSsl(Buffer.from(f.ca), [
        { cert_chain: Buffer.from(f.server.cert), private_key: Buffer.from(f.server.key) },
      ], true),
    );
    cluster.leaderId = 'a';
    const c = createClient({ addr: cluster.node('b').addr, ca: f.ca, cert: root.cert, key: root.key, serverName: 'localhost' });
    try {
      await produce(c);
      expect(cluster.counts('produce')).toEqual({ a: 1, b: 0 });
    } finally {
      c.close();
      await cluster.close();
    }
  });
});
