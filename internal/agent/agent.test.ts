// The agent's own rules, with in-memory stand-ins for the replicated log and membership (the real ones are
// exercised in test/agent.test.ts and test/cluster.test.ts): what it serves on its one port, the order of an
// orderly shutdown, and what happens when a part fails.
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import type { LogClient } from '../../api/v1/log.js';
import { agentConfig, consume, directClient, makeClusterCerts, produce, type ClusterCerts } from '../../test/helpers/cluster.js';
import { PolicyLoadError } from '../auth/index.js';
import { DataDirLockedError } from '../config/index.js';
import { TopicLogs } from '../log/index.js';
import { LocalLogService } from '../server/index.js';
import { Agent, type AgentParts, type LogPartContext, type ReplicatedLogPart } from './agent.js';
import type { AgentConfig } from './config.js';
import type { ClusterMembership } from './seams.js';

/** A one-node "replicated" log over local topic logs, recording what the agent asks of it. */
class FakeReplicatedLog extends LocalLogService implements ReplicatedLogPart {
  leader = true;
  readonly raftId = 'fake#1';
  constructor(
    private readonly topicLogs: TopicLogs,
    private readonly calls: string[],
    self: { id: string; rpcAddr: string },
  ) {
    super(topicLogs, self);
  }
  async join(id: string): Promise<void> {
    this.calls.push(`join ${id}`);
  }
  async leave(id: string): Promise<void> {
    this.calls.push(`leave ${id}`);
  }
  async waitForLeader(): Promise<void> {}
  async transferLeadership(): Promise<void> {
    this.calls.push('transfer leadership');
    this.leader = false;
  }
  isLeader(): boolean {
    return this.leader;
  }
  acceptConnection(socket: net.Socket): void {
    socket.destroy();
  }
  async close(): Promise<void> {
    this.calls.push('close log');
    await this.topicLogs.close();
  }
}

class FakeMembership implements ClusterMembership {
  constructor(private readonly calls: string[]) {}
  members() {
    return [];
  }
  async leave(): Promise<void> {
    this.calls.push('leave membership');
  }
  boundAddr(): string {
    return '127.0.0.1:1';
  }
}

interface Harness {
  parts: AgentParts;
  calls: string[];
  log: () => FakeReplicatedLog;
  fatal: () => (err: Error) => void;
}

function fakeParts(over: Partial<AgentParts> = {}): Harness {
  const calls: string[] = [];
  let log: FakeReplicatedLog | undefined;
  let ctxOf: LogPartContext | undefined;
  const parts: AgentParts = {
    openReplicatedLog: async (ctx) => {
      ctxOf = ctx;
      log = new FakeReplicatedLog(await TopicLogs.open(path.join(ctx.config.dataDir, 'logs')), calls, { id: ctx.config.nodeName, rpcAddr: ctx.rpcAddr });
      return log;
    },
    startMembership: async () => new FakeMembership(calls),
    ...over,
  };
  return { parts, calls, log: () => log!, fatal: () => ctxOf!.onFatal };
}

function getText(url: string): Promise<string> {
  return new Promise((resolve, reject) =>
    http
      .get(url, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve(body));
      })
      .on('error', reject),
  );
}

describe('Agent', () => {
  let dir: string;
  let certs: ClusterCerts;
  const clients: LogClient[] = [];
  const agents: Agent[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'proglog-agent-unit-'));
    certs = await makeClusterCerts(path.join(dir, 'certs'), ['n1']);
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await Promise.all(agents.splice(0).map((a) => a.shutdown()));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  let seq = 0;
  function config(over: Partial<AgentConfig> = {}): AgentConfig {
    return agentConfig({ name: 'n1', dataDir: path.join(dir, `data-${seq++}`), bootstrap: true, startJoinAddrs: [] }, certs, over);
  }

  async function start(h: Harness, over: Partial<AgentConfig> = {}): Promise<Agent> {
    const agent = await Agent.start(config(over), { parts: h.parts, logger: pino({ level: 'silent' }) });
    agents.push(agent);
    return agent;
  }

  it('serves the log over mutual TLS with the ACL on its one port', async () => {
    const agent = await start(fakeParts());
    const root = directClient(agent.rpcAddr, certs);
    const nobody = directClient(agent.rpcAddr, certs, 'nobody');
    clients.push(root, nobody);
    const offset = await produce(root, 'hello');
    expect(await consume(root, offset)).toBe('hello');
    await expect(produce(nobody, 'x')).rejects.toMatchObject({ code: grpc.status.PERMISSION_DENIED });
  });

  it('counts what it serves and exports it with the node name at the metrics address', async () => {
    const agent = await start(fakeParts(), { metricsAddr: '127.0.0.1:0' });
    const root = directClient(agent.rpcAddr, certs);
    clients.push(root);
    await produce(root, 'a');
    await consume(root, 0);
    const text = await getText(`http://${agent.metricsAddr}/metrics`);
    expect(text).toContain('proglog_records_produced_total{node="n1"} 1');
    expect(text).toContain('proglog_records_consumed_total{node="n1"} 1');
  });

  it('shuts down in order: leave membership, hand leadership over, stop accepting, close the log', async () => {
    const h = fakeParts();
    const agent = await start(h);
    const addr = agent.rpcAddr;
    await Promise.all([agent.shutdown(), agent.shutdown()]);
    expect(h.calls).toEqual(['leave membership', 'transfer leadership', 'close log']);
    const c = directClient(addr, certs);
    clients.push(c);
    await expect(produce(c, 'late', 1000)).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
  });

  it('does not try to hand over leadership it does not hold', async () => {
    const h = fakeParts();
    const agent = await start(h);
    h.log().leader = false;
    await agent.shutdown();
    expect(h.calls).toEqual(['leave membership', 'close log']);
  });

  it('shuts down and reports the error when the replicated log fails for good', async () => {
    const h = fakeParts();
    const agent = await start(h);
    h.fatal()(new Error('disk on fire'));
    await expect(agent.failed).resolves.toThrow('disk on fire');
    await agent.shutdown();
    expect(h.calls).toContain('close log');
  });

  it('refuses to start with an unreadable ACL policy, before opening any part', async () => {
    const h = fakeParts();
    await expect(start(h, { aclPolicyFile: path.join(dir, 'missing.csv') })).rejects.toBeInstanceOf(PolicyLoadError);
    expect(h.calls).toEqual([]);
  });

  it('refuses a second agent on its data dir, before opening any part, and frees the dir when it shuts down', async () => {
    const first = await start(fakeParts());
    const h = fakeParts();
    const same = { dataDir: first.config.dataDir };
    await expect(start(h, same)).rejects.toBeInstanceOf(DataDirLockedError);
    expect(h.calls).toEqual([]);
    // The first one is untouched and still serves.
    const client = directClient(first.rpcAddr, certs);
    clients.push(client);
    expect(await produce(client, 'still here')).toBe(0);

    await first.shutdown();
    const next = await start(fakeParts(), same);
    const again = directClient(next.rpcAddr, certs);
    clients.push(again);
    expect(await consume(again, 0)).toBe('still here');
  });

  it('lets membership retry its join addresses only for a node that was in a cluster before', async () => {
    const seen: boolean[] = [];
    const withTerm = (term: number): Harness => {
      const h = fakeParts({
        startMembership: async (ctx) => {
          seen.push(ctx.returning);
          return new FakeMembership(h.calls);
        },
      });
      const open = h.parts.openReplicatedLog;
      h.parts.openReplicatedLog = async (ctx) =>
        Object.assign(await open(ctx), { raftStatus: () => ({ term, commitIndex: 0, appliedIndex: 0, leaderId: null }) });
      return h;
    };
    await start(withTerm(0));
    await start(withTerm(3));
    expect(seen).toEqual([false, true]);
  });

  it('closes what it opened when a later part fails to start', async () => {
    const h = fakeParts({
      startMembership: async () => {
        throw new Error('cannot join');
      },
    });
    const dataDir = path.join(dir, `data-${seq}`);
    await expect(start(h)).rejects.toThrow('cannot join');
    expect(h.calls).toEqual(['close log']);
    // Its data dir lock went too.
    await start(fakeParts(), { dataDir });
  });
});
