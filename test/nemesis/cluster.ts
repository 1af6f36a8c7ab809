// A local cluster of real agent processes for the fault suite and the cluster benchmark. With `faults` on, each
// node sits behind a FaultProxy: the node is told to listen on the proxy's port (so that is the address it
// advertises to peers and clients) and listen-redirect.ts moves its real listener aside, so every Raft and gRPC
// byte between nodes, and from clients, crosses a proxy the nemesis controls.
import fs from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { LogClient, type Server as ServerInfo } from '../../api/v1/log.js';
import { createClient } from '../../internal/loadbalance/index.js';
import { writeClusterCerts, type ClusterCerts } from './cluster-certs.js';
import { LinkTable } from './link-table.js';
import { ADVERTISED_PORT_ENV, REAL_PORT_FILE_ENV } from './listen-redirect.js';
import { FaultProxy, noUnattributed, type UnattributedCounts } from './proxy.js';
import { freePort } from '../helpers/ports.js';
import { processListensOn, processSourceIdentifier } from './socket-owner.js';
import { Supervisor, type SupervisedProcess } from './supervisor.js';
import { waitUntil } from './wait.js';
import { AGENT_ENV, AGENT_NODE_FLAGS } from '../../cmd/proglog/agent-runtime.js';
import { splitAddr } from '../../internal/agent/config.js';

export interface ClusterOptions {
  nodes: number;
  /** Everything of the run lives under here: certs, data dirs, logs. */
  rootDir: string;
  /** Put a fault proxy in front of each node. */
  faults: boolean;
  electionTimeoutMs?: number;
  heartbeatMs?: number;
  sync?: 'always' | 'interval' | 'never';
  logLevel?: string;
  extraArgs?: string[];
  /** Flags for the node processes' Node.js itself (e.g. --cpu-prof when profiling a bench). */
  nodeArgs?: string[];
  /** Where nodes' ports come from (default: freePort); a test hands out a taken one through it. */
  pickPort?: () => Promise<number>;
}

export interface ClusterNode {
  name: string;
  dataDir: string;
  logFile: string;
  /** The address peers and clients use (the proxy's, with faults on). */
  rpcAddr: string;
  bindAddr: string;
  proxy: FaultProxy | undefined;
  proc: SupervisedProcess;
}

const HOST = '127.0.0.1';
/** The harness's own topic, so its readiness write never mixes with what a workload checks in the default log. */
export const READY_TOPIC = 'nemesis-ready';

export class ClusterStartError extends Error {
  constructor(
    readonly rootDir: string,
    cause: unknown,
    /** Each node's state and the end of its log: on a CI machine the kept files are gone with the machine. */
    readonly nodeReports: string[] = [],
  ) {
    super(
      `the cluster did not form (node logs kept in ${rootDir}): ${cause instanceof Error ? cause.message : String(cause)}` +
        nodeReports.map((r) => `\n${r}`).join(''),
      { cause },
    );
    this.name = 'ClusterStartError';
  }
}

/** Attempts at starting a new node whose freshly picked ports someone else took before it bound them. */
const PORT_ATTEMPTS = 5;
/** How much of a node's log a start failure quotes. */
const LOG_TAIL_LINES = 12;

/** How to run the agent: compiled JavaScript when this file runs from dist/, else the TypeScript sources. */
interface Launch {
  main: string;
  preload: string[];
  redirect: string;
  diagnostics: string;
}

function launch(): Launch {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const distIndex = here.lastIndexOf(`${path.sep}dist${path.sep}`);
  if (distIndex >= 0 && fs.existsSync(path.join(here, 'listen-redirect.js'))) {
    const dist = here.slice(0, distIndex + 5);
    return {
      main: path.join(dist, 'cmd/proglog/main.js'),
      preload: [],
      redirect: pathToFileURL(path.join(here, 'listen-redirect.js')).href,
      diagnostics: pathToFileURL(path.join(here, 'crash-diagnostics.js')).href,
    };
  }
  const root = path.resolve(here, '../..');
  return {
    main: path.join(root, 'cmd/proglog/main.ts'),
    preload: ['tsx'],
    redirect: pathToFileURL(path.join(here, 'listen-redirect.ts')).href,
    diagnostics: pathToFileURL(path.join(here, 'crash-diagnostics.ts')).href,
  };
}

function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

/** What a file holds from byte `from` on ('' if it does not exist). */
function readFrom(file: string, from: number): string {
  try {
    return fs.readFileSync(file).subarray(from).toString('utf8');
  } catch {
    return '';
  }
}

function repoRoot(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const distIndex = here.lastIndexOf(`${path.sep}dist${path.sep}`);
  return distIndex >= 0 ? here.slice(0, distIndex) : path.resolve(here, '../..');
}

export class Cluster {
  readonly links = new LinkTable();
  readonly supervisor = new Supervisor();
  readonly nodes: ClusterNode[] = [];
  private readonly clients: grpc.Client[] = [];
  private readonly direct = new Map<string, LogClient>();

  private constructor(
    readonly opts: ClusterOptions,
    readonly certs: ClusterCerts,
  ) {}

  static async start(opts: ClusterOptions): Promise<Cluster> {
    const names = Array.from({ length: opts.nodes }, (_, i) => `node-${i + 1}`);
    const certs = await writeClusterCerts(path.join(opts.rootDir, 'certs'), names);
    const cluster = new Cluster(opts, certs);
    try {
      // The bootstrap node first, then the others join through it. Each node's ports are picked just before it
      // starts: a port found free is free only until someone else takes it (test/helpers/ports.ts), and picking
      // them all up front once lost one while the first node was electing itself.
      const [first, ...rest] = names;
      await cluster.startNew(await cluster.addNode(first!));
      await cluster.waitForLeader(30_000);
      for (const name of rest) await cluster.startNew(await cluster.addNode(name));
      await cluster.waitForMembers(opts.nodes, 60_000);
      await cluster.waitForReplication(60_000);
      // From now on any node restarts by joining through whichever of the others is up, as an operator lists
      // several seeds; the first node keeps --bootstrap (its data dir already holds the cluster).
      for (const n of cluster.nodes) {
        const others = cluster.nodes.filter((x) => x !== n).map((x) => x.bindAddr);
        const args = n.proc.spec.args;
        const at = args.indexOf('--start-join-addrs');
        if (at >= 0) args.splice(at, 2);
        args.push('--start-join-addrs', others.join(','));
      }
      return cluster;
    } catch (err) {
      // Keep the node logs: a cluster that does not form is a finding too.
      const reports = cluster.nodes.map((n) => cluster.report(n));
      await cluster.close({ keepFiles: true });
      throw new ClusterStartError(opts.rootDir, err, reports);
    }
  }

  node(name: string): ClusterNode {
    const n = this.nodes.find((x) => x.name === name);
    if (!n) throw new Error(`no node ${name}`);
    return n;
  }

  names(): string[] {
    return this.nodes.map((n) => n.name);
  }

  /** A load-balancing client (the product's), entering through the first node. */
  client(opts: { entry?: string; channelOptions?: grpc.ChannelOptions } = {}): LogClient {
    const c = createClient({
      addr: opts.entry ?? this.nodes[0]!.rpcAddr,
      ca: this.certs.ca,
      cert: this.certs.client.cert,
      key: this.certs.client.key,
      ...(opts.channelOptions ? { channelOptions: opts.channelOptions } : {}),
    });
    this.clients.push(c);
    return c;
  }

  /** A plain client bound to one node (no balancing): to read that node's own copy of the log. */
  directClient(name: string): LogClient {
    let c = this.direct.get(name);
    if (!c) {
      const creds = grpc.credentials.createSsl(
        Buffer.from(this.certs.ca),
        Buffer.from(this.certs.client.key),
        Buffer.from(this.certs.client.cert),
      );
      c = new LogClient(this.node(name).rpcAddr, creds);
      this.direct.set(name, c);
    }
    return c;
  }

  /** Asks one node who the servers are. */
  getServers(name: string, timeoutMs = 1000): Promise<ServerInfo[]> {
    return new Promise((resolve, reject) =>
      this.directClient(name).getServers({}, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) =>
        err ? reject(err) : resolve(res.servers),
      ),
    );
  }

  /** Connections the nodes' proxies reset because they could not name the caller (see FaultProxy.unattributed). */
  unattributedConnections(): UnattributedCounts {
    const sum = noUnattributed();
    for (const n of this.nodes) {
      const by = n.proxy?.unattributedBy() ?? noUnattributed();
      for (const reason of Object.keys(sum) as Array<keyof UnattributedCounts>) sum[reason] += by[reason];
    }
    return sum;
  }

  /** The running, unpaused node that reports itself leader now (the one with the newest view if two do). */
  async currentLeader(timeoutMs = 1000): Promise<string | undefined> {
    const votes = new Map<string, number>();
    const live = this.nodes.filter((n) => n.proc.running && !n.proc.paused);
    await Promise.all(
      live.map(async (n) => {
        try {
          const servers = await this.getServers(n.name, timeoutMs);
          // Only a node that says so itself counts: a follower's view of the leader may be stale (the leader it
          // names may be dead or restarting), and a nemesis aimed at "the leader" must hit the real one.
          if (servers.some((s) => s.isLeader && s.rpcAddr === n.rpcAddr)) votes.set(n.name, (votes.get(n.name) ?? 0) + 1);
        } catch {
          // Unreachable or not answering: no vote.
        }
      }),
    );
    let best: string | undefined;
    let bestVotes = 0;
    for (const [name, v] of votes) {
      if (v > bestVotes) {
        best = name;
        bestVotes = v;
      }
    }
    return best;
  }

  async waitForLeader(timeoutMs: number): Promise<string> {
    return waitUntil('a leader', () => this.currentLeader(), timeoutMs, 100);
  }

  /**
   * Until the leader lists `count` voters. A node that joined is a learner until it has caught up; a fault that
   * comes before it votes would hit a smaller cluster than the run says (pausing one of two voters stops it).
   */
  async waitForMembers(count: number, timeoutMs: number): Promise<void> {
    await waitUntil(
      `${count} voters in the leader's configuration`,
      async () => {
        const leader = await this.currentLeader();
        if (!leader) return false;
        const servers = await this.getServers(leader).catch(() => []);
        return servers.filter((s) => !s.isLearner).length >= count && servers.some((s) => s.isLeader);
      },
      timeoutMs,
      200,
    );
  }

  /** Until a write through the balanced client is readable from every node: all of them replicate. */
  async waitForReplication(timeoutMs: number): Promise<void> {
    const client = this.client();
    const value = `ready-${Date.now()}`;
    const offset = await waitUntil(
      'a write acknowledged',
      () =>
        new Promise<number | undefined>((resolve) =>
          client.produce(
            { record: { value: Buffer.from(value), offset: 0, term: 0, type: 0 }, topic: READY_TOPIC },
            new grpc.Metadata(),
            { deadline: Date.now() + 2000 },
            (err, res) => resolve(err ? undefined : res.offset),
          ),
        ),
      timeoutMs,
      200,
    );
    for (const n of this.nodes) {
      await waitUntil(
        `${n.name} to hold the readiness write`,
        () =>
          new Promise<boolean>((resolve) =>
            this.directClient(n.name).consume(
              { offset, topic: READY_TOPIC, linearizable: false },
              new grpc.Metadata(),
              { deadline: Date.now() + 1000 },
              (err, res) => resolve(!err && res.record?.value.toString() === value),
            ),
          ),
        timeoutMs,
        100,
      );
    }
  }

  async startNode(n: ClusterNode): Promise<void> {
    if (n.proxy) {
      fs.rmSync(this.portFile(n), { force: true });
      n.proxy.setAccepting(true);
    }
    n.proc.start();
  }

  /**
   * Starts a node for the first time and waits until it listens on its membership port. Its ports were free when
   * picked, but only until someone else took them (another test's listener, an outgoing connection's source
   * port): a node that exits for that gets fresh ports and starts again.
   */
  private async startNew(n: ClusterNode): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const logFrom = fileSize(n.logFile);
      await this.startNode(n);
      const { port } = splitAddr(n.bindAddr, 'bind-addr');
      const outcome = await waitUntil(
        `${n.name} to listen on ${n.bindAddr}`,
        async () => {
          const pid = n.proc.pid;
          if (pid === undefined) return 'exited';
          return (await processListensOn(pid, HOST, port)) ? 'listening' : false;
        },
        30_000,
        50,
      );
      if (outcome === 'listening') return;
      const said = readFrom(n.logFile, logFrom);
      if (!said.includes('address in use') || attempt === PORT_ATTEMPTS) {
        throw new Error(`${n.name} exited as it started (attempt ${attempt})`);
      }
      await this.movePorts(n);
    }
  }

  /** New ports for a node that has not joined yet (nobody knows its addresses). */
  private async movePorts(n: ClusterNode): Promise<void> {
    const args = n.proc.spec.args;
    n.bindAddr = `${HOST}:${await this.pickPort()}`;
    args[args.indexOf('--bind-addr') + 1] = n.bindAddr;
    if (!n.proxy) {
      const rpcPort = await this.pickPort();
      n.rpcAddr = `${HOST}:${rpcPort}`;
      args[args.indexOf('--rpc-port') + 1] = String(rpcPort);
    }
  }

  /** One node's state and the end of its log, for a failure's message. */
  private report(n: ClusterNode): string {
    const state = n.proc.running
      ? `running (pid ${n.proc.pid})`
      : n.proc.incarnation === 0
        ? 'never started'
        : `exited (${n.proc.unexpectedExits.map((e) => e.signal ?? `code ${e.code}`).join(', ') || 'stopped'})`;
    const lines = readFrom(n.logFile, 0).trimEnd().split('\n').slice(-LOG_TAIL_LINES);
    return `${n.name} at ${n.bindAddr}, ${state}; the end of its log:\n${lines.map((l) => `    ${l}`).join('\n')}`;
  }

  /** SIGKILL; connections to its address then fail at once, as they do against a dead process's port. */
  async killNode(n: ClusterNode): Promise<void> {
    if (n.proc.running) await n.proc.kill();
    if (n.proxy) {
      n.proxy.setAccepting(false);
      n.proxy.sever();
    }
  }

  /** Stops every process, proxy and client; removes the run's files unless `keepFiles`. */
  async close(opts: { keepFiles?: boolean } = {}): Promise<void> {
    for (const c of this.clients.splice(0)) c.close();
    for (const c of this.direct.values()) c.close();
    this.direct.clear();
    this.links.heal();
    await this.supervisor.killAll();
    this.supervisor.dispose();
    await Promise.all(this.nodes.map((n) => n.proxy?.close()));
    if (!opts.keepFiles) await rm(this.opts.rootDir, { recursive: true, force: true });
  }

  private pickPort(): Promise<number> {
    return (this.opts.pickPort ?? freePort)();
  }

  private portFile(n: Pick<ClusterNode, 'dataDir'>): string {
    return `${n.dataDir}.real-port`;
  }

  private async addNode(name: string): Promise<ClusterNode> {
    const dataDir = path.join(this.opts.rootDir, name);
    await mkdir(dataDir, { recursive: true });
    const logFile = path.join(this.opts.rootDir, `${name}.log`);
    const bindAddr = `${HOST}:${await this.pickPort()}`;
    let proxy: FaultProxy | undefined;
    let rpcPort: number;
    const portFile = this.portFile({ dataDir });
    if (this.opts.faults) {
      proxy = await FaultProxy.start({
        name,
        links: this.links,
        host: HOST,
        target: () => {
          try {
            return { host: HOST, port: Number(fs.readFileSync(portFile, 'utf8').trim()) };
          } catch {
            return undefined;
          }
        },
        identify: processSourceIdentifier(() => this.supervisor.pids()),
      });
      rpcPort = proxy.port;
    } else {
      rpcPort = await this.pickPort();
    }
    const first = this.nodes[0];
    const l = launch();
    const root = repoRoot();
    const peer = this.certs.peers.get(name)!;
    const args = [
      ...AGENT_NODE_FLAGS,
      ...(this.opts.nodeArgs ?? []),
      ...l.preload.flatMap((p) => ['--import', p]),
      ...(proxy ? ['--import', l.redirect, '--import', l.diagnostics] : []),
      l.main,
      'agent',
      '--node-name', name,
      '--data-dir', dataDir,
      '--bind-addr', bindAddr,
      '--rpc-port', String(rpcPort),
      '--acl-model-file', path.join(root, 'policy/model.conf'),
      '--acl-policy-file', path.join(root, 'policy/policy.csv'),
      '--server-tls-cert-file', this.certs.server.certFile,
      '--server-tls-key-file', this.certs.server.keyFile,
      '--server-tls-ca-file', this.certs.caFile,
      '--peer-tls-cert-file', peer.certFile,
      '--peer-tls-key-file', peer.keyFile,
      '--peer-tls-ca-file', this.certs.caFile,
      '--sync', this.opts.sync ?? 'always',
      '--log-level', this.opts.logLevel ?? 'info',
      ...(this.opts.electionTimeoutMs ? ['--raft-election-timeout', `${this.opts.electionTimeoutMs}ms`] : []),
      ...(this.opts.heartbeatMs ? ['--raft-heartbeat-interval', `${this.opts.heartbeatMs}ms`] : []),
      ...(first ? ['--start-join-addrs', first.bindAddr] : ['--bootstrap']),
      ...(this.opts.extraArgs ?? []),
    ];
    const env = { ...process.env, ...AGENT_ENV };
    // A jest worker's NODE_OPTIONS (vm modules) must not leak into the agents.
    delete env.NODE_OPTIONS;
    if (proxy) {
      env[ADVERTISED_PORT_ENV] = String(rpcPort);
      env[REAL_PORT_FILE_ENV] = portFile;
    }
    const proc = this.supervisor.add({ name, command: process.execPath, args, env, logFile });
    const node: ClusterNode = { name, dataDir, logFile, rpcAddr: `${HOST}:${rpcPort}`, bindAddr, proxy, proc };
    this.nodes.push(node);
    return node;
  }
}
