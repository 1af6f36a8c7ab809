// Membership benchmark with 5 local nodes: how long a crash takes to be detected everywhere, how long a new
// member takes to be known by all, and what the cluster costs on the wire at rest. Each figure is printed
// beside a baseline measured in this run:
//   crash detection   vs. a graceful leave reaching everyone (one signed claim gossiped, no probing)
//   join known by all vs. a tag update reaching everyone (one gossip round, no state sync)
//   bytes/s at rest   vs. the bare transport (gossipsub heartbeats + one ping per probe interval, no membership),
//                     with the bench's fast timings and with the LAN defaults
import '../internal/polyfills.js';
import net from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Libp2pTransport } from '../internal/discovery/libp2p-transport.js';
import { loadOrCreatePeerKey } from '../internal/discovery/peer-key.js';
import { TestCluster, fastTimings } from '../internal/discovery/testkit/cluster.js';
import { waitFor } from '../internal/discovery/testkit/wait-for.js';
import { defaultTimings, type MembershipTimings } from '../internal/discovery/index.js';
import { median, percentile, progress, report } from './report.js';

const bench = 'discovery';
const nodes = 5;
const repeats = Number(process.env.DISCOVERY_REPEATS ?? 8);
const restWindowMs = Number(process.env.DISCOVERY_REST_MS ?? 10_000);
const timings: MembershipTimings = { ...(fastTimings as MembershipTimings), indirectProbes: 3 };

// Every byte any libp2p connection in this process writes goes through net.Socket#write.
let bytesWritten = 0;
const socketWrite = net.Socket.prototype.write as (this: net.Socket, chunk: unknown, ...rest: unknown[]) => boolean;
(net.Socket.prototype as unknown as { write: typeof socketWrite }).write = function (this: net.Socket, chunk: unknown, ...rest: unknown[]) {
  if (typeof chunk === 'string') bytesWritten += Buffer.byteLength(chunk);
  else if (chunk instanceof Uint8Array) bytesWritten += chunk.byteLength;
  return socketWrite.call(this, chunk, ...rest);
};

async function bytesPerSecond(windowMs: number): Promise<number> {
  const before = bytesWritten;
  const start = Date.now();
  await new Promise((resolve) => setTimeout(resolve, windowMs));
  return ((bytesWritten - before) * 1000) / (Date.now() - start);
}

const names = Array.from({ length: nodes }, (_, i) => `n${i}`);
const seenBy = (cluster: TestCluster, member: string, status: string, observers: string[]): boolean =>
  observers.every((o) => cluster.statusAt(o, member) === status);

async function measureRest(t: MembershipTimings): Promise<number> {
  const cluster = await TestCluster.create(t);
  try {
    await cluster.prepare(...names);
    for (const n of names) await cluster.start(n);
    await waitFor(() => cluster.allSeeAlive(names), 30_000, 'cluster formed');
    // Let every node probe every other once, so all connections exist, before counting.
    await new Promise((resolve) => setTimeout(resolve, t.probeIntervalMs * nodes));
    progress(`at rest for ${restWindowMs} ms (probe ${t.probeIntervalMs} ms, sync ${t.syncIntervalMs} ms)`);
    return (await bytesPerSecond(restWindowMs)) / nodes;
  } finally {
    await cluster.close();
  }
}

async function measureMembership(): Promise<{ detect: number[]; leave: number[]; join: number[]; update: number[]; rest: number }> {
  const cluster = await TestCluster.create(timings);
  const detect: number[] = [];
  const leave: number[] = [];
  const joinTimes: number[] = [];
  const update: number[] = [];
  try {
    await cluster.prepare(...names, ...Array.from({ length: repeats }, (_, i) => `joiner${i}`));
    for (const n of names) await cluster.start(n);
    await waitFor(() => cluster.allSeeAlive(names), 30_000, 'cluster formed');

    progress(`at rest for ${restWindowMs} ms`);
    const rest = (await bytesPerSecond(restWindowMs)) / nodes;

    const victim = names[nodes - 1]!;
    const observers = names.filter((n) => n !== victim);
    for (let i = 0; i < repeats; i++) {
      const dataDir = await cluster.crash(victim);
      const crashed = Date.now();
      await waitFor(() => seenBy(cluster, victim, 'failed', observers), 60_000, `${victim} failed`, 5);
      detect.push(Date.now() - crashed);
      await cluster.start(victim, { dataDir, join: [cluster.node('n0').membership.boundAddr()] });
      await waitFor(() => cluster.allSeeAlive(names), 30_000, `${victim} back`);
      progress(`crash ${i + 1}/${repeats}: detected in ${detect[i]} ms`);
    }

    for (let i = 0; i < repeats; i++) {
      const name = `joiner${i}`;
      const started = Date.now();
      await cluster.start(name, { join: [cluster.node(names[i % nodes]!).membership.boundAddr()] });
      await waitFor(() => seenBy(cluster, name, 'alive', names), 30_000, `${name} known`, 5);
      joinTimes.push(Date.now() - started);

      const updated = Date.now();
      await cluster.node(name).membership.setTags({ rpc_addr: `127.0.0.1:${20000 + i}`, round: String(i) });
      await waitFor(() => names.every((o) => cluster.node(o).events.of('update', name).length > 0), 30_000, `${name} updated`, 5);
      update.push(Date.now() - updated);

      const leaving = Date.now();
      await cluster.leave(name);
      await waitFor(() => seenBy(cluster, name, 'left', names), 30_000, `${name} left`, 5);
      leave.push(Date.now() - leaving);
      progress(`join ${i + 1}/${repeats}: known by all in ${joinTimes[i]} ms`);
    }
    return { detect, leave, join: joinTimes, update, rest };
  } finally {
    await cluster.close();
  }
}

/** The same five libp2p endpoints with nothing but gossipsub heartbeats and one ping per probe interval. */
async function measureBareTransport(timings: MembershipTimings): Promise<number> {
  const dirs: string[] = [];
  const transports: Libp2pTransport[] = [];
  const timers: NodeJS.Timeout[] = [];
  try {
    for (let i = 0; i < nodes; i++) {
      const dir = await mkdtemp(join(tmpdir(), 'proglog-discovery-bench-'));
      dirs.push(dir);
      transports.push(
        await Libp2pTransport.start({
          bindAddr: '127.0.0.1:0',
          privateKey: await loadOrCreatePeerKey(dir),
          gossipIntervalMs: timings.gossipIntervalMs,
          directory: { nameOf: () => undefined, peerIdOf: () => undefined },
        }),
      );
    }
    const peers = transports.map((t) => ({ addr: t.boundAddr(), peerId: t.peerId }));
    transports.forEach((t, i) => {
      let k = 0;
      timers.push(
        setInterval(() => {
          k = (k + 1) % (nodes - 1);
          const j = (i + 1 + k) % nodes;
          void t.ping(peers[j]!, timings.probeTimeoutMs).catch(() => undefined);
        }, timings.probeIntervalMs),
      );
    });
    // Let every pair connect and the gossipsub mesh settle before counting.
    await new Promise((resolve) => setTimeout(resolve, timings.probeIntervalMs * nodes));
    return (await bytesPerSecond(restWindowMs)) / nodes;
  } finally {
    for (const t of timers) clearInterval(t);
    await Promise.allSettled(transports.map((t) => t.stop()));
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  }
}

async function main(): Promise<void> {
  progress(
    `${nodes} nodes, ${repeats} repeats; probe ${timings.probeIntervalMs} ms, probe timeout ${timings.probeTimeoutMs} ms, ` +
      `suspicion ${timings.suspicionTimeoutMs} ms, gossip ${timings.gossipIntervalMs} ms, sync ${timings.syncIntervalMs} ms`,
  );
  const m = await measureMembership();
  progress('bare transport');
  const bare = await measureBareTransport(timings);
  const lan: MembershipTimings = { ...defaultTimings };
  progress('LAN default timings');
  const lanRest = await measureRest(lan);
  const lanBare = await measureBareTransport(lan);

  const leaveP50 = median(m.leave);
  report({ bench, figure: 'crash detected by all, p50', value: median(m.detect), unit: 'ms', baseline: 'graceful leave seen by all p50', baselineValue: leaveP50 });
  report({ bench, figure: 'crash detected by all, p99', value: percentile(m.detect, 99), unit: 'ms', baseline: 'graceful leave seen by all p99', baselineValue: percentile(m.leave, 99) });
  report({ bench, figure: 'new member known by all, p50', value: median(m.join), unit: 'ms', baseline: 'tag update seen by all p50', baselineValue: median(m.update) });
  report({ bench, figure: 'new member known by all, p99', value: percentile(m.join, 99), unit: 'ms', baseline: 'tag update seen by all p99', baselineValue: percentile(m.update, 99) });
  report({ bench, figure: 'bytes/s per node at rest (bench timings)', value: m.rest, unit: 'B/s', baseline: 'bare transport (gossipsub + pings)', baselineValue: bare });
  report({ bench, figure: 'bytes/s per node at rest (LAN defaults)', value: lanRest, unit: 'B/s', baseline: 'bare transport (gossipsub + pings)', baselineValue: lanBare });
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${String((err as Error)?.stack ?? err)}\n`);
    process.exit(1);
  },
);
