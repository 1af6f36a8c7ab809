// Three agents in this process, with mutual TLS and the repository's ACL policy, forming a cluster through
// membership: the book's agent test without its three-second sleep (every wait is on a condition), plus what
// our agent promises about load balancing, identities, and leaving and rejoining.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import type { LogClient } from '../api/v1/log.js';
import { Agent } from '../internal/agent/agent.js';
import { realParts } from '../internal/agent/real-parts.js';
import { createClient } from '../internal/loadbalance/index.js';
import {
  agentConfig,
  consume,
  directClient,
  getServers,
  makeClusterCerts,
  metric,
  produce,
  waitUntil,
  type ClusterCerts,
} from './helpers/cluster.js';

const NAMES = ['agent-1', 'agent-2', 'agent-3'];

describe('agents with mTLS and ACLs', () => {
  let root: string;
  let certs: ClusterCerts;
  const agents = new Map<string, Agent>();
  const clients: LogClient[] = [];

  /** `join` defaults to the first agent's membership address for every agent but a bootstrapping one. */
  async function startAgent(name: string, bootstrap: boolean, join = bootstrap ? [] : [agents.get(NAMES[0]!)!.membershipAddr]): Promise<Agent> {
    const config = agentConfig({ name, dataDir: path.join(root, name), bootstrap, startJoinAddrs: join }, certs);
    const agent = await Agent.start(config, { parts: realParts, logger: pino({ level: 'silent' }) });
    agents.set(name, agent);
    return agent;
  }

  function client(addr: string, identity: 'root' | 'nobody' = 'root'): LogClient {
    const c = directClient(addr, certs, identity);
    clients.push(c);
    return c;
  }

  function leader(): Agent {
    const found = [...agents.values()].find((a) => a.isLeader());
    if (found === undefined) throw new Error('no leader');
    return found;
  }

  /** Voters only: a joining node is listed as a learner until it has caught up and is promoted. */
  async function voterCount(): Promise<number> {
    return (await getServers(client(leader().rpcAddr))).filter((s) => !s.isLearner).length;
  }

  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'proglog-agent-'));
    certs = await makeClusterCerts(path.join(root, 'certs'), NAMES);
    await startAgent(NAMES[0]!, true);
    await waitUntil('the bootstrap agent to lead', () => agents.get(NAMES[0]!)!.isLeader());
    for (const name of NAMES.slice(1)) await startAgent(name, false);
    await waitUntil('three voters', async () => (await voterCount()) === 3);
  });

  afterAll(async () => {
    for (const c of clients.splice(0)) c.close();
    await Promise.all([...agents.values()].map((a) => a.shutdown()));
    await rm(root, { recursive: true, force: true });
  });

  it('forms one cluster from a bootstrap agent and two that join through membership', async () => {
    const servers = await getServers(client(leader().rpcAddr));
    expect(servers.map((s) => s.id).sort()).toEqual(NAMES);
    expect(servers.filter((s) => s.isLeader)).toHaveLength(1);
  });

  it('produces on the leader and consumes the record from the leader and from a follower', async () => {
    const lead = leader();
    const follower = [...agents.values()].find((a) => a !== lead)!;
    const offset = await produce(client(lead.rpcAddr), 'hello world');
    expect(await consume(client(lead.rpcAddr), offset)).toBe('hello world');
    // Replication is asynchronous to the produce's reply: wait for it instead of sleeping.
    const fromFollower = await waitUntil('the follower to have the record', () => consume(client(follower.rpcAddr), offset, 1000));
    expect(fromFollower).toBe('hello world');
  });

  it('refuses a produce on a follower with UNAVAILABLE naming the leader', async () => {
    const lead = leader();
    const follower = [...agents.values()].find((a) => a !== lead)!;
    const err = (await produce(client(follower.rpcAddr), 'x').catch((e: unknown) => e)) as grpc.ServiceError;
    expect(err.code).toBe(grpc.status.UNAVAILABLE);
    expect(err.metadata.get('proglog-leader-id')).toEqual([lead.config.nodeName]);
  });

  it('through the load-balancing client, produces land on the leader and consumes spread over the followers', async () => {
    const lead = leader();
    const followers = [...agents.values()].filter((a) => a !== lead);
    // Given a follower's address: the client must find the leader by itself.
    const lb = createClient({ addr: followers[0]!.rpcAddr, ca: certs.ca, cert: certs.clients.root.cert, key: certs.clients.root.key, serverName: 'localhost' });
    clients.push(lb);
    const offsets: number[] = [];
    for (let i = 0; i < 10; i++) offsets.push(await produce(lb, `lb-${i}`));
    for (const f of followers) {
      await waitUntil(`${f.config.nodeName} to catch up`, () => consume(client(f.rpcAddr), offsets[9]!, 1000));
    }
    const before = await Promise.all([...agents.values()].map(async (a) => ({ agent: a, text: await a.metrics.text() })));
    for (const [i, offset] of offsets.entries()) expect(await consume(lb, offset)).toBe(`lb-${i}`);

    const delta = async (a: Agent, name: string): Promise<number> =>
      metric(await a.metrics.text(), name) - metric(before.find((b) => b.agent === a)!.text, name);
    const produced = async (a: Agent): Promise<number> => metric(await a.metrics.text(), 'proglog_records_produced_total');
    expect(await produced(lead)).toBeGreaterThanOrEqual(10);
    for (const f of followers) expect(await produced(f)).toBe(0);
    // Every node fsynced what it replicated, and the metrics saw those fsyncs.
    for (const a of agents.values()) expect(metric(await a.metrics.text(), 'proglog_fsync_seconds_count')).toBeGreaterThan(0);
    expect(await delta(lead, 'proglog_records_consumed_total')).toBe(0);
    // Round-robin over the two followers: both serve, and together they serve all ten.
    const served = await Promise.all(followers.map((f) => delta(f, 'proglog_records_consumed_total')));
    expect(served.every((n) => n > 0)).toBe(true);
    expect(served[0]! + served[1]!).toBe(10);
  });

  it('denies the nobody identity both produce and consume', async () => {
    const lead = leader();
    const nobody = client(lead.rpcAddr, 'nobody');
    await expect(produce(nobody, 'x')).rejects.toMatchObject({ code: grpc.status.PERMISSION_DENIED });
    await expect(consume(nobody, 0)).rejects.toMatchObject({ code: grpc.status.PERMISSION_DENIED });
  });

  it('removes a node that leaves gracefully, and takes it back as itself when it restarts with its data dir', async () => {
    const leaving = [...agents.values()].find((a) => !a.isLeader())!;
    const name = leaving.config.nodeName;
    await leaving.shutdown();
    agents.delete(name);
    await waitUntil(`${name} to be removed from the Raft configuration`, async () => (await voterCount()) === 2);

    const whileAway = await produce(client(leader().rpcAddr), 'written while away');
    const back = await startAgent(name, false);
    await waitUntil(`${name} to be a voter again`, async () => (await voterCount()) === 3);
    expect(await waitUntil(`${name} to catch up`, () => consume(client(back.rpcAddr), whileAway, 1000))).toBe('written while away');
    // The record from before it left is still there: it came back as itself, data intact.
    expect(await consume(client(back.rpcAddr), 0)).toBe('hello world');
  });
  it('a node that joined keeps its data when restarted with --bootstrap, and rejoins instead of leading a cluster of its own', async () => {
    // Not the first agent: it bootstrapped, and a bootstrapped folder ignores the flag anyway.
    const restarting = [...agents.values()].find((a) => !a.isLeader() && a.config.nodeName !== NAMES[0])!;
    const name = restarting.config.nodeName;
    const others = [...agents.values()].filter((a) => a !== restarting);
    await restarting.shutdown();
    agents.delete(name);
    await waitUntil(`${name} to be removed from the Raft configuration`, async () => (await voterCount()) === 2);
    // The operator's mistake: the bootstrap flag on a node that joined a cluster (and has no snapshot yet).
    const back = await startAgent(name, true, others.map((a) => a.membershipAddr));
    await waitUntil(`${name} to be a voter again`, async () => (await voterCount()) === 3);
    expect(await waitUntil(`${name} to hold the first record`, () => consume(client(back.rpcAddr), 0, 1000))).toBe('hello world');
    // One cluster, one leader: had it bootstrapped, it would lead a one-node cluster with an empty log beside it.
    expect([...agents.values()].filter((a) => a.isLeader())).toHaveLength(1);
    expect(await produce(client(leader().rpcAddr), 'after the bootstrap restart')).toBeGreaterThan(0);
  });

  it('stays writable while followers leave gracefully one after another, down to a single node', async () => {
    // The second leave is the hard one: of two voters, removing one needs that one's own vote, so a leaving
    // node must not go before its removal is through.
    const lead = leader();
    for (const f of [...agents.values()].filter((a) => a !== lead)) {
      const name = f.config.nodeName;
      await f.shutdown();
      agents.delete(name);
      await waitUntil(`${name} to be removed from the Raft configuration`, async () =>
        (await getServers(client(lead.rpcAddr))).every((s) => s.id !== name),
      );
    }
    expect(lead.isLeader()).toBe(true);
    const offset = await produce(client(lead.rpcAddr), 'alone');
    expect(await consume(client(lead.rpcAddr), offset)).toBe('alone');
  });
});
