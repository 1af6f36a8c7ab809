// Three `proglog agent` processes started by the test: the CLI end to end against them, then the leader
// process killed (SIGKILL) while a load-balanced client keeps producing, and every acknowledged record checked
// on the nodes that remain.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { LogClient } from '../api/v1/log.js';
import { createClient } from '../internal/loadbalance/index.js';
import { AgentProcess, runCli, startCli } from './helpers/agent-process.js';
import type { AgentConfig } from '../internal/agent/config.js';
import { agentConfig, directClient, getServers, makeClusterCerts, produce, readAll, waitUntil, type ClusterCerts } from './helpers/cluster.js';

const NAMES = ['proc-1', 'proc-2', 'proc-3'];

describe('a cluster of agent processes', () => {
  let root: string;
  let certs: ClusterCerts;
  const procs = new Map<string, AgentProcess>();
  const clients: LogClient[] = [];
  let spec: (name: string, bootstrap: boolean, join: string[]) => AgentConfig;

  function client(addr: string): LogClient {
    const c = directClient(addr, certs);
    clients.push(c);
    return c;
  }

  /** The live leader, as the leader itself reports it, once its configuration has at least `voters` servers. */
  async function leaderName(voters = 1): Promise<string> {
    return waitUntil('a leader', async () => {
      for (const p of procs.values()) {
        const servers = await getServers(client(p.rpcAddr), 1000).catch(() => []);
        const self = servers.find((s) => s.id === p.name);
        if (self?.isLeader && servers.filter((s) => !s.isLearner).length >= voters) return p.name;
      }
      return undefined;
    });
  }

  function cli(args: string[], addr: string, stdin?: string): ReturnType<typeof runCli> {
    return runCli([...args, '--addr', addr, '--certs-dir', certs.dir, '--timeout', '20s'], stdin === undefined ? {} : { stdin });
  }

  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'proglog-cluster-'));
    certs = await makeClusterCerts(path.join(root, 'certs'), NAMES);
    spec = (name: string, bootstrap: boolean, join: string[]) =>
      agentConfig({ name, dataDir: path.join(root, name), bootstrap, startJoinAddrs: join }, certs, { reapTimeMs: 3000 });
    const first = await AgentProcess.start(spec(NAMES[0]!, true, []));
    procs.set(first.name, first);
    const others = await Promise.all(NAMES.slice(1).map((n) => AgentProcess.start(spec(n, false, [first.membershipAddr]))));
    for (const p of others) procs.set(p.name, p);
    // Voters, not merely listed: with a learner among three servers the cluster has two voters, and losing one
    // of them leaves no quorum.
    await leaderName(NAMES.length);
  }, 120_000);

  afterAll(async () => {
    for (const c of clients.splice(0)) c.close();
    await Promise.all([...procs.values()].map((p) => p.stop()));
    await rm(root, { recursive: true, force: true });
  });

  it('`proglog servers` lists every node and the leader', async () => {
    const leader = await leaderName();
    // GetServers goes to any server, and a follower's view of the configuration may lag the leader's.
    const res = await waitUntil('a complete server list', async () => {
      const r = await cli(['servers'], procs.get(leader)!.rpcAddr);
      expect(r.code).toBe(0);
      return NAMES.every((n) => r.stdout.includes(n)) ? r : undefined;
    });
    expect(res.stdout.split('\n')[0]).toMatch(/^ID\s+RPC ADDR\s+ROLE$/);
    expect(res.stdout).toMatch(new RegExp(`${leader}\\s+\\S+\\s+leader`));
  });

  it('`proglog produce` appends its arguments, then stdin lines, printing one offset per record', async () => {
    // A follower's address: the command finds the leader through the load-balancing client.
    const leader = await leaderName();
    const addr = procs.get(NAMES.find((n) => n !== leader)!)!.rpcAddr;
    const args = await cli(['produce', 'alpha', 'beta'], addr);
    expect(args.code).toBe(0);
    expect(args.stdout).toBe('0\n1\n');
    const lines = await cli(['produce'], addr, 'gamma\ndelta\n');
    expect(lines.code).toBe(0);
    expect(lines.stdout).toBe('2\n3\n');
  });

  it('`proglog consume` prints every record from an offset, and with --follow also those that come later', async () => {
    const addr = procs.get(NAMES[2]!)!.rpcAddr;
    const all = await waitUntil('the follower to hold four records', async () => {
      const res = await cli(['consume', '--with-offsets'], addr);
      return res.code === 0 && res.stdout.split('\n').length === 5 ? res : undefined;
    });
    expect(all.stdout).toBe('0\talpha\n1\tbeta\n2\tgamma\n3\tdelta\n');
    expect((await cli(['consume', '--offset', '2'], addr)).stdout).toBe('gamma\ndelta\n');
    // The head itself is an empty read; an offset past it is an error the user hears about.
    expect(await cli(['consume', '--offset', '4'], addr)).toMatchObject({ code: 0, stdout: '' });
    const past = await cli(['consume', '--offset', '99'], addr);
    expect(past.code).toBe(1);
    expect(past.stderr).toMatch(/OUT_OF_RANGE/);
    // A linearizable read only the leader can serve; the client routes it there whatever address it was given.
    const linearizable = await cli(['consume', '--linearizable', '--offset', '2'], addr);
    expect(linearizable).toMatchObject({ code: 0, stdout: 'gamma\ndelta\n' });

    const follow = startCli(['consume', '--follow', '--offset', '3', '--addr', addr, '--certs-dir', certs.dir]);
    try {
      await waitUntil('the stream to deliver offset 3', () => follow.output().includes('delta\n'));
      expect((await cli(['produce', 'epsilon'], addr)).code).toBe(0);
      await waitUntil('the stream to deliver the new record', () => follow.output().includes('epsilon\n'));
      follow.child.kill('SIGINT');
      const ended = await follow.exited;
      expect(ended.code).toBe(0);
      expect(ended.stdout).toBe('delta\nepsilon\n');
    } finally {
      follow.child.kill('SIGKILL');
    }
  });

  it('`proglog` as the nobody identity is denied, exit code 1 and the reason on stderr', async () => {
    const addr = procs.get(NAMES[0]!)!.rpcAddr;
    const res = await cli(['produce', '--identity', 'nobody', 'x'], addr);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('PERMISSION_DENIED');
  });

  /** The Raft configuration as the leader reports it: voters and learners alike. */
  async function configuration(): Promise<string[]> {
    const leader = await leaderName();
    return (await getServers(client(procs.get(leader)!.rpcAddr))).map((s) => s.id).sort();
  }

  /** The voters only (a joining node is a learner until it has caught up). */
  async function voters(): Promise<string[]> {
    const leader = await leaderName();
    return (await getServers(client(procs.get(leader)!.rpcAddr))).filter((s) => !s.isLearner).map((s) => s.id).sort();
  }

  it('stops a node on SIGTERM in order (exit 0), removes it from Raft, and takes it back as itself after a restart', async () => {
    const leader = await leaderName();
    const name = NAMES.find((n) => n !== leader)!;
    const stopped = await procs.get(name)!.stop();
    expect(stopped).toEqual({ code: 0, signal: null });
    expect(procs.get(name)!.lines.some((l) => l.includes('"shut down"'))).toBe(true);
    procs.delete(name);
    await waitUntil(`${name} to leave the Raft configuration`, async () => !(await configuration()).includes(name));

    const offset = await produce(client(procs.get(leader)!.rpcAddr), 'while away');
    const back = await AgentProcess.start(spec(name, false, [procs.get(leader)!.membershipAddr]));
    procs.set(name, back);
    await waitUntil(`${name} to be in the configuration again`, async () => (await configuration()).includes(name));
    // A learner is listed too; the next test kills the leader and needs this node's vote.
    await waitUntil(`${name} to be a voter again`, async () => (await voters()).includes(name));
    const records = await waitUntil(`${name} to catch up`, async () => {
      const all = await readAll(client(back.rpcAddr));
      return all.length > offset ? all : undefined;
    });
    // Its own data survived the restart (the CLI's records) and it caught up with what it missed.
    expect(records[0]!.value.toString()).toBe('alpha');
    expect(records[offset]!.value.toString()).toBe('while away');
  }, 60_000);

  it('keeps producing through a leader crash, and every acknowledged record is on every remaining node', async () => {
    const leader = await leaderName();
    const lb = createClient({ addr: procs.get(leader)!.rpcAddr, ca: certs.ca, cert: certs.clients.root.cert, key: certs.clients.root.key, minRefreshIntervalMs: 50, serverName: 'localhost' });
    clients.push(lb);
    const acked = new Map<number, string>();
    let seq = 0;
    const produceOne = async (): Promise<void> => {
      const value = `failover-${seq++}`;
      // UNAVAILABLE means "not now" (election, refresh): the same value is retried, as any producer would.
      await waitUntil(`produce of ${value}`, async () => {
        try {
          acked.set(await produce(lb, value, 3000), value);
          return true;
        } catch (err) {
          if ((err as grpc.ServiceError).code === grpc.status.UNAVAILABLE || (err as grpc.ServiceError).code === grpc.status.DEADLINE_EXCEEDED) return false;
          throw err;
        }
      }, 30_000);
    };
    for (let i = 0; i < 20; i++) await produceOne();

    const dead = procs.get(leader)!;
    dead.signal('SIGKILL');
    await dead.exited;
    procs.delete(leader);

    for (let i = 0; i < 20; i++) await produceOne();
    const newLeader = await leaderName();
    expect(newLeader).not.toBe(leader);

    for (const p of procs.values()) {
      const records = await waitUntil(`${p.name} to hold every acknowledged record`, async () => {
        const all = await readAll(client(p.rpcAddr));
        return [...acked].every(([offset, value]) => all[offset]?.value.toString() === value) ? all : undefined;
      });
      expect(records.length).toBeGreaterThanOrEqual(acked.size);
    }
    // A crashed voter is not removed at once, only after the reap time (3 s here) once membership says failed.
    await waitUntil(`${leader} to be reaped from the Raft configuration`, async () => !(await configuration()).includes(leader));
    expect(await configuration()).toEqual(NAMES.filter((n) => n !== leader));
  }, 120_000);
});
