// Committed entries per second through a simulated 3-node Raft cluster with no I/O: batched proposals of
// 256-byte entries go through the whole protocol (append to the leader's log, replicate, persist into each
// node's MemoryStorage, acknowledge, commit, apply on every node). The baseline, measured in the same run, is
// the "no consensus" ceiling: a plain loop copying the same entries into an array per node.
import { MemoryStorage } from '../internal/raft/storage.js';
import { RawNode } from '../internal/raft/raw-node.js';
import { SeededRandom } from '../internal/raft/random.js';
import type { Message } from '../internal/raft/types.js';
import { medianOf, progress, report } from './report.js';

const ENTRY_BYTES = 256;
const BATCH = 256;
const TOTAL = Number(process.env.RAFT_BENCH_ENTRIES ?? 1_000_000);
const REPEATS = 5;

interface BenchNode {
  raw: RawNode;
  disk: MemoryStorage;
  applied: number;
}

function makeCluster(): Map<string, BenchNode> {
  const ids = ['n1', 'n2', 'n3'];
  const nodes = new Map<string, BenchNode>();
  for (const id of ids) {
    const disk = MemoryStorage.bootstrap(ids);
    const raw = new RawNode({ id, storage: disk, random: new SeededRandom(ids.indexOf(id) + 1), preVote: false });
    nodes.set(id, { raw, disk, applied: 0 });
  }
  return nodes;
}

/** Plays the runtime for every node until nothing is ready and no message is in flight. */
function pump(nodes: Map<string, BenchNode>): void {
  const queue: Message[] = [];
  for (let guard = 0; guard < 1_000_000; guard++) {
    let progressed = false;
    for (const n of nodes.values()) {
      while (n.raw.hasReady()) {
        progressed = true;
        const rd = n.raw.ready();
        if (rd.snapshot) n.disk.applySnapshot(rd.snapshot);
        n.disk.append(rd.entries);
        if (rd.hardState) n.disk.setHardState(rd.hardState);
        for (const m of rd.messages) queue.push(m);
        n.applied += rd.committedEntries.length;
        n.raw.advance(rd);
      }
    }
    if (queue.length === 0 && !progressed) return;
    for (let i = 0; i < queue.length; i++) {
      const m = queue[i]!;
      nodes.get(m.to)!.raw.step(m);
    }
    queue.length = 0;
  }
  throw new Error('cluster did not settle');
}

function makeBatch(seq: number): Uint8Array[] {
  const out: Uint8Array[] = new Array(BATCH);
  for (let i = 0; i < BATCH; i++) {
    const d = new Uint8Array(ENTRY_BYTES);
    d[0] = seq & 0xff;
    d[1] = i & 0xff;
    out[i] = d;
  }
  return out;
}

/** Entries per second committed by the cluster (and applied on all three nodes). */
function raftRate(batches: Uint8Array[][]): number {
  const nodes = makeCluster();
  const leader = nodes.get('n1')!;
  pump(nodes); // apply the bootstrap membership first: a node campaigns only once it knows it is a voter
  leader.raw.campaign();
  pump(nodes);
  if (leader.raw.raft.role !== 'leader') throw new Error('n1 did not become leader');
  const startCommit = leader.raw.raft.log.committed;
  const startApplied = [...nodes.values()].map((n) => n.applied);
  const t0 = process.hrtime.bigint();
  for (const b of batches) {
    leader.raw.proposeBatch(b);
    pump(nodes);
  }
  // Followers learn the last commit index lazily, from the leader's next heartbeat (as in a real cluster).
  const want = batches.length * BATCH;
  const allApplied = (): boolean => [...nodes.values()].every((n, i) => n.applied - startApplied[i]! >= want);
  for (let beat = 0; beat < 3 && !allApplied(); beat++) {
    leader.raw.tick();
    pump(nodes);
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const committed = leader.raw.raft.log.committed - startCommit;
  if (committed !== want) throw new Error(`committed ${committed}, expected ${want}`);
  [...nodes.values()].forEach((n, i) => {
    if (n.applied - startApplied[i]! !== want) throw new Error(`node applied ${n.applied - startApplied[i]!}, expected ${want}`);
  });
  return committed / secs;
}

/** The ceiling without consensus: the same entries copied into one array per node. */
function copyRate(batches: Uint8Array[][]): number {
  const logs: { index: number; term: number; data: Uint8Array }[][] = [[], [], []];
  let index = 0;
  const t0 = process.hrtime.bigint();
  for (const b of batches) {
    for (const data of b) {
      index++;
      for (const log of logs) log.push({ index, term: 1, data });
    }
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  if (logs[0]!.length !== batches.length * BATCH) throw new Error('baseline lost entries');
  return index / secs;
}

async function main(): Promise<void> {
  const batches: Uint8Array[][] = [];
  for (let s = 0; s < Math.ceil(TOTAL / BATCH); s++) batches.push(makeBatch(s));
  progress(`raft: ${batches.length * BATCH} entries of ${ENTRY_BYTES} B in batches of ${BATCH}, 3 nodes, ${REPEATS} runs each`);
  raftRate(batches.slice(0, 200)); // warm up the JIT
  copyRate(batches.slice(0, 200));
  const baseline = await medianOf(REPEATS, () => copyRate(batches));
  const rate = await medianOf(REPEATS, () => raftRate(batches));
  report({
    bench: 'raft',
    figure: 'committed entries/s (3 nodes, 256 B, batch 256)',
    value: rate,
    unit: 'entries/s',
    baseline: 'array copy per node (no consensus)',
    baselineValue: baseline,
    target: '>= 500000',
  });
  report({
    bench: 'raft',
    figure: 'committed MB/s (3 nodes, 256 B entries)',
    value: (rate * ENTRY_BYTES) / 1e6,
    unit: 'MB/s',
    baseline: 'array copy per node (no consensus)',
    baselineValue: (baseline * ENTRY_BYTES) / 1e6,
  });
}

await main();
