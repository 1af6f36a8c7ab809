// Failover time as a client sees it: from SIGKILL of the leader process to the first produce acknowledged by the
// new leader, through the load-balancing client (so it includes finding the new leader, not only electing it).
import * as grpc from '@grpc/grpc-js';
import type { LogClient } from '../../api/v1/log.js';
import type { Cluster } from '../../test/nemesis/cluster.js';
import { DeadlineExceededError } from '../../test/nemesis/wait.js';

function produce(client: LogClient, value: Buffer, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) =>
    client.produce(
      { record: { value, offset: 0, term: 0, type: 0 }, topic: '' },
      new grpc.Metadata(),
      { deadline: Date.now() + timeoutMs },
      (err) => resolve(!err),
    ),
  );
}

async function produceUntilAcked(client: LogClient, value: Buffer, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await produce(client, value, 250)) return;
  }
  throw new DeadlineExceededError('an acknowledged produce', timeoutMs);
}

/**
 * One failover: kill the leader, time the first ack after it, then bring the old leader back and wait until it
 * replicates again. (Its membership never lapsed, so the leader lists it at once; waiting only for that let the
 * next kill land while it was still starting, and that failover then measured its restart, as the survivors
 * had no quorum without it.) Returns undefined when no write was acknowledged within `giveUpMs` of the kill (a
 * failover that did not happen is a figure too, not a reason to stop the bench).
 */
export async function measureFailover(cluster: Cluster, client: LogClient, value: Buffer, giveUpMs = 30_000): Promise<number | undefined> {
  const leader = await cluster.waitForLeader(30_000);
  await produceUntilAcked(client, value, 30_000);
  const t0 = performance.now();
  const node = cluster.node(leader);
  await cluster.killNode(node);
  let ms: number | undefined;
  try {
    await produceUntilAcked(client, value, giveUpMs);
    ms = performance.now() - t0;
  } catch (err) {
    if (!(err instanceof DeadlineExceededError)) throw err;
  }
  await cluster.startNode(node);
  await cluster.waitForMembers(cluster.nodes.length, 60_000);
  await cluster.waitForReplication(60_000);
  return ms;
}
