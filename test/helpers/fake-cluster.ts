// Real gRPC servers on 127.0.0.1 with a scripted cluster behind them: the test says who leads, every node
// answers GetServers from that, non-leaders refuse writes like a Raft follower does, and each node records the
// calls it served so a test can see where the client sent them.
import * as grpc from '@grpc/grpc-js';
import { LogService, type ConsumeResponse, type GetServersResponse, type ProduceResponse } from '../../api/v1/log.js';

export interface FakeNode {
  id: string;
  addr: string;
  served: string[];
  server: grpc.Server;
  stopped: boolean;
  /** Still listed by GetServers while stopped, as a crashed agent is until membership reaps it. */
  listedWhileStopped: boolean;
  /** Answers GetServers as a node that knows of no leader (partitioned or lagging). */
  blind: boolean;
  /** Listed by GetServers as a learner: a node that has joined and is still catching up on the log. */
  learner: boolean;
}

export class FakeCluster {
  readonly nodes: FakeNode[] = [];
  leaderId: string | null = null;
  private nextOffset = 0;

  private constructor(private readonly credentials: grpc.ServerCredentials) {}

  static async start(ids: string[], credentials = grpc.ServerCredentials.createInsecure()): Promise<FakeCluster> {
    const cluster = new FakeCluster(credentials);
    for (const id of ids) await cluster.addNode(id);
    return cluster;
  }

  node(id: string): FakeNode {
    const n = this.nodes.find((x) => x.id === id);
    if (n === undefined) throw new Error(`no node ${id}`);
    return n;
  }

  /** How many calls of a method (e.g. "produce") each node served, by node id. */
  counts(method: string): Record<string, number> {
    const out: Record<string, number> = {};
    for (const n of this.nodes) out[n.id] = n.served.filter((m) => m === method).length;
    return out;
  }

  async addNode(id: string): Promise<FakeNode> {
    const node: FakeNode = { id, addr: '', served: [], server: new grpc.Server(), stopped: false, listedWhileStopped: false, blind: false, learner: false };
    const port = await this.serve(node, '127.0.0.1:0');
    node.addr = `127.0.0.1:${port}`;
    this.nodes.push(node);
    return node;
  }

  /** Serves the node's service on `address` with a new grpc.Server; resolves with the port. */
  private async serve(node: FakeNode, address: string): Promise<number> {
    const { id } = node;
    const server = new grpc.Server();
    node.server = server;
    const notLeader = (): grpc.ServiceError => {
      const md = new grpc.Metadata();
      if (this.leaderId !== null) md.set('proglog-leader-id', this.leaderId);
      return Object.assign(new Error('not the leader'), {
        code: grpc.status.UNAVAILABLE,
        details: 'not the leader',
        metadata: md,
      });
    };
    server.addService(LogService, {
      getServers: (_call: unknown, cb: grpc.sendUnaryData<GetServersResponse>) => {
        node.served.push('getServers');
        cb(null, {
          servers: this.nodes
            .filter((n) => !n.stopped || n.listedWhileStopped)
            .map((n) => ({ id: n.id, rpcAddr: n.addr, isLeader: !node.blind && n.id === this.leaderId, isLearner: n.learner })),
        });
      },
      produce: (_call: unknown, cb: grpc.sendUnaryData<ProduceResponse>) => {
        node.served.push('produce');
        if (this.leaderId !== id) return cb(notLeader());
        cb(null, { offset: this.nextOffset++ });
      },
      consume: (_call: unknown, cb: grpc.sendUnaryData<ConsumeResponse>) => {
        node.served.push('consume');
        cb(null, { record: { value: Buffer.from(id), offset: 0, term: 0, type: 0 } });
      },
      listTopics: (_call: unknown, cb: grpc.sendUnaryData<{ topics: string[] }>) => {
        node.served.push('listTopics');
        cb(null, { topics: [id] });
      },
    });
    return new Promise<number>((resolve, reject) =>
      server.bindAsync(address, this.credentials, (err, p) => (err ? reject(err) : resolve(p))),
    );
  }

  /** `listed`: GetServers keeps naming it (a crashed member), so clients keep trying to reconnect to it. */
  async stopNode(id: string, options: { listed?: boolean } = {}): Promise<void> {
    const n = this.node(id);
    n.stopped = true;
    n.listedWhileStopped = options.listed ?? false;
    n.server.forceShutdown();
  }

  /** Serves a stopped node again at its old address. */
  async restartNode(id: string): Promise<void> {
    const n = this.node(id);
    await this.serve(n, n.addr);
    n.stopped = false;
    n.listedWhileStopped = false;
  }

  async close(): Promise<void> {
    for (const n of this.nodes) if (!n.stopped) n.server.forceShutdown();
    this.nodes.length = 0;
  }
}
