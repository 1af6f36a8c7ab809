// Reproduction of a safety failure the nemesis found (seed 21, --faults kill): a node restarted with its data
// dir after a SIGKILL claims leadership within ~100 ms, while the rest of the cluster still follows the leader
// elected in its absence, and BOTH acknowledge a different write at the same offset (two leaders committing).
//
//   node dist/test/nemesis/repro/restart-split-brain.js       exit 0: not reproduced; exit 1: reproduced
//   (or from sources: node --import ./test/helpers/ts-loader/register.mjs test/nemesis/repro/restart-split-brain.ts)
//
// Once fixed this becomes a jest test beside the campaign; it is not one yet because it fails today.
import '../../../internal/polyfills.js';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { LogClient } from '../../../api/v1/log.js';
import { Cluster } from '../cluster.js';
import { waitUntil } from '../wait.js';

function produce(client: LogClient, value: string): Promise<number | string> {
  return new Promise((resolve) =>
    client.produce(
      { record: { value: Buffer.from(value), offset: 0, term: 0, type: 0 }, topic: '' },
      new grpc.Metadata(),
      { deadline: Date.now() + 3000 },
      (err, res) => resolve(err ? `error: ${err.details}` : res.offset),
    ),
  );
}

const dir = await mkdtemp(path.join(os.tmpdir(), 'proglog-repro-split-brain-'));
const cluster = await Cluster.start({ nodes: 3, rootDir: dir, faults: false, electionTimeoutMs: 600, heartbeatMs: 60 });
let reproduced = false;
try {
  const client = cluster.client();
  for (let i = 0; i < 50; i++) await produce(client, `before-${i}`);
  const victim = cluster.node((await cluster.waitForLeader(10_000))!);
  await cluster.killNode(victim);
  const successor = await waitUntil('a new leader', async () => {
    const l = await cluster.currentLeader();
    return l !== victim.name ? l : undefined;
  }, 20_000);
  console.log(`killed leader ${victim.name}; ${successor} took over`);
  await cluster.startNode(victim);
  await waitUntil('the restarted node to answer', () => cluster.getServers(victim.name).then(() => true, () => false), 20_000);
  // Give the restarted node a few election timeouts to settle as a follower.
  await new Promise((r) => setTimeout(r, 3000));
  const a = await produce(cluster.directClient(victim.name), 'through-restarted-node');
  const b = await produce(cluster.directClient(successor), 'through-successor');
  console.log(`produce through restarted ${victim.name}: ${a}`);
  console.log(`produce through ${successor}: ${b}`);
  for (const n of cluster.nodes) {
    const servers = await cluster.getServers(n.name).catch(() => []);
    console.log(`${n.name} says leader is ${servers.find((s) => s.isLeader)?.id ?? 'nobody'}`);
  }
  reproduced = typeof a === 'number' && typeof b === 'number';
  console.log(reproduced ? `REPRODUCED: two nodes acknowledged writes (offsets ${a} and ${b}) at once; files in ${dir}` : 'not reproduced');
} finally {
  await cluster.close({ keepFiles: reproduced });
}
process.exit(reproduced ? 1 : 0);
