// A replica on the in-memory network (no TLS), for tests about the runtime's behaviour under partitions and faults.
import path from 'node:path';
import type { MemoryNetwork } from '../memory-transport.js';
import { ReplicatedLog, type ReplicatedLogConfig } from '../replicated-log.js';

export type MemoryReplicaOptions = Partial<Omit<ReplicatedLogConfig, 'id' | 'dataDir' | 'advertiseAddr' | 'transport'>>;

/**
 * Opens replica `name` under `root`, reachable on `network` at `mem:<name>`. Fast ticks unless overridden, but an
 * election timeout of 0.5-1 s: a leader holds back its heartbeats while its own fsync runs, and on a loaded CI
 * machine one took long enough at 100 ms that a leader lost its leadership in the middle of a test that needed
 * none (twice, in two test files). Tests about elections still see one within a second.
 */
export function openMemoryReplica(network: MemoryNetwork, root: string, name: string, options: MemoryReplicaOptions = {}): Promise<ReplicatedLog> {
  return ReplicatedLog.open({
    tickMs: 10,
    electionTicks: 50,
    ...options,
    id: name,
    dataDir: path.join(root, name),
    advertiseAddr: `mem:${name}`,
    transport: (raftId) => network.transport(raftId, `mem:${name}`),
  });
}
