// Starting the harness's cluster: a port taken between being picked and being bound costs a retry, not the run;
// any other failure to start says which node failed and what it logged.
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Cluster, ClusterStartError } from './cluster.js';
import { freePort } from '../helpers/ports.js';

describe('Cluster.start', () => {
  const dirs: string[] = [];
  const servers: net.Server[] = [];
  let cluster: Cluster | undefined;

  afterEach(async () => {
    await cluster?.close();
    cluster = undefined;
    await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
    await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
  });

  async function tempDir(): Promise<string> {
    const d = await mkdtemp(path.join(os.tmpdir(), 'nemesis-cluster-'));
    dirs.push(d);
    return d;
  }

  /** A port someone else listens on. */
  async function takenPort(): Promise<number> {
    const s = net.createServer();
    servers.push(s);
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    return (s.address() as net.AddressInfo).port;
  }

  it('gives a node whose membership port was taken before it bound it another, and the cluster forms', async () => {
    const taken = await takenPort();
    const handedOut: number[] = [];
    // The first node's membership port is the first one picked: hand out the taken one there.
    const pickPort = async (): Promise<number> => {
      const port = handedOut.length === 0 ? taken : await freePort();
      handedOut.push(port);
      return port;
    };
    cluster = await Cluster.start({ nodes: 2, rootDir: await tempDir(), faults: false, electionTimeoutMs: 600, heartbeatMs: 60, pickPort });
    const first = cluster.node('node-1');
    expect(handedOut[0]).toBe(taken);
    expect(first.bindAddr).not.toBe(`127.0.0.1:${taken}`);
    expect(first.proc.incarnation).toBe(2);
    expect(first.proc.spec.args[first.proc.spec.args.indexOf('--bind-addr') + 1]).toBe(first.bindAddr);
    // The second node joined through the first one's new address.
    expect(cluster.node('node-2').proc.spec.args).toContain(first.bindAddr);
    const servers = await cluster.getServers(await cluster.waitForLeader(10_000));
    expect(servers.map((s) => s.id).sort()).toEqual(['node-1', 'node-2']);
  }, 90_000);

  it('fails with the node, its exit and the end of its log when a node cannot start for another reason', async () => {
    const rootDir = await tempDir();
    const started = Cluster.start({ nodes: 1, rootDir, faults: false, extraArgs: ['--raft-heartbeat-interval', 'often'] });
    const err: unknown = await started.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClusterStartError);
    const message = (err as ClusterStartError).message;
    expect(message).toMatch(/node-1 exited as it started \(attempt 1\)/);
    expect(message).toMatch(/exited \(code 2\)/);
    expect(message).toMatch(/raft-heartbeat-interval/);
    expect((err as ClusterStartError).nodeReports).toHaveLength(1);
  }, 60_000);
});
