// One seeded simulation run: a period of chaos (faulty network, partitions, crashes and restarts, membership
// changes, leadership transfers, reads, compaction) with safety checked after every step, then the faults
// heal and liveness is checked: a leader is elected and a new proposal commits within a bounded number of ticks.
import { RaftError } from '../errors.js';
import { SeededRandom } from '../random.js';
import { NONE, type ConfChange, type NodeId } from '../types.js';
import { SafetyViolation } from './checker.js';
import { Cluster, DEFAULT_CLUSTER_OPTIONS, type ClusterOptions } from './cluster.js';
import { RELIABLE } from './network.js';

export interface SimOptions {
  seed: number;
  nodes: 3 | 5;
  /** Ticks of chaos before healing. */
  chaosTicks: number;
  /** Ticks allowed, after healing, to elect a leader and commit a proposal. */
  livenessTicks: number;
}

export interface SimResult {
  seed: number;
  nodes: number;
  ok: boolean;
  /** What failed (safety violation or liveness), with the tick. */
  error?: string;
  ticks: number;
  committed: number;
  elections: number;
  crashes: number;
  confChanges: number;
  snapshotsTaken: number;
  snapshotsInstalled: number;
  reads: number;
  promotions: number;
  transfers: number;
  partitions: number;
  oneWayPartitions: number;
  dropped: number;
  duplicated: number;
  /** Crashes in the middle of persisting a Ready (part of it on disk; nothing sent, or only a leader's appends). */
  tornWrites: number;
  /** Messages stepped into a node while its runtime handled a Ready (pipelined runtime only). */
  steppedWhileBusy: number;
  /** Proposals a leader took while its runtime handled a Ready (pipelined runtime only). */
  proposedWhileBusy: number;
  /** Ticks a node's timer fired while its runtime handled a Ready (pipelined runtime only). */
  ticksWhileBusy: number;
}

/** The command that replays one seed, printed beside every failure. */
export function replayCommand(o: SimOptions): string {
  return `node dist/internal/raft/sim/campaign.js --seed ${o.seed} --nodes ${o.nodes} --chaos-ticks ${o.chaosTicks} --liveness-ticks ${o.livenessTicks}`;
}

const encoder = new TextEncoder();

export function runSimulation(o: SimOptions): SimResult {
  const rng = new SeededRandom(o.seed);
  const founders = Array.from({ length: o.nodes }, (_, i) => `n${i + 1}`);
  // Each seed draws its own cluster tuning, so the seed space also covers timeouts, batching and window sizes.
  const opts: ClusterOptions = {
    ...DEFAULT_CLUSTER_OPTIONS,
    maxEntriesPerMsg: 1 + rng.int(8),
    maxInflightMsgs: 1 + rng.int(4),
    compactEvery: rng.chance(0.7) ? 5 + rng.int(20) : 0,
    compactKeep: rng.int(4),
    maxSnapshotChunkBytes: 16 + rng.int(64),
    preVote: rng.chance(0.8),
    checkQuorum: rng.chance(0.8),
    electionTick: 6 + rng.int(10),
    heartbeatTick: 1 + rng.int(2),
    // Half the seeds play the runtime as the real one does, with the liberties the contract allows.
    runtime: rng.chance(0.5) ? 'pipelined' : 'strict',
  };
  const c = new Cluster(rng.fork(), founders, opts);
  const ev = rng.fork();
  const res: SimResult = {
    seed: o.seed,
    nodes: o.nodes,
    ok: true,
    ticks: 0,
    committed: 0,
    elections: 0,
    crashes: 0,
    confChanges: 0,
    snapshotsTaken: 0,
    snapshotsInstalled: 0,
    reads: 0,
    promotions: 0,
    transfers: 0,
    partitions: 0,
    oneWayPartitions: 0,
    dropped: 0,
    duplicated: 0,
    tornWrites: 0,
    steppedWhileBusy: 0,
    proposedWhileBusy: 0,
    ticksWhileBusy: 0,
  };
  c.net.faults = { drop: ev.float() * 0.2, duplicate: ev.float() * 0.1, maxDelay: ev.int(4) };
  let nextId = o.nodes + 1;
  let payload = 0;
  const crashBudget = Math.floor(o.nodes / 2);

  const members = (): { voters: NodeId[]; learners: NodeId[] } => {
    const l = c.leader();
    const cs = (l ?? c.live()[0])?.raw?.raft.tracker.confState();
    return cs ?? { voters: [], learners: [] };
  };
  const pick = <T>(xs: T[]): T | undefined => (xs.length === 0 ? undefined : xs[ev.int(xs.length)]);
  const proposeOn = (id: NodeId, n: number): boolean => {
    const datas: Uint8Array[] = [];
    for (let i = 0; i < n; i++) datas.push(encoder.encode(`s${o.seed}-p${++payload}`));
    return c.propose(id, datas);
  };

  const conf = (leader: NodeId): void => {
    const raw = c.nodes.get(leader)?.raw;
    if (!raw) return;
    const { voters, learners } = members();
    let cc: ConfChange | undefined;
    const r = ev.int(4);
    if (r === 0 && learners.length > 0) cc = { type: 'addVoter', nodeId: pick(learners)!, context: '' };
    else if (r === 1 && voters.length + learners.length < o.nodes + 2) cc = { type: 'addLearner', nodeId: `n${nextId++}`, context: '' };
    else if (r === 2 && voters.length < o.nodes + 1) cc = { type: 'addVoter', nodeId: `n${nextId++}`, context: '' };
    else if (r === 3 && voters.length > 3) cc = { type: 'removeNode', nodeId: pick([...voters, ...learners])!, context: '' };
    if (!cc) return;
    try {
      raw.proposeConfChange(cc);
    } catch (e) {
      // Refusals are part of the game (a change pending, a learner behind, a transfer under way).
      if (e instanceof RaftError) return;
      throw e;
    }
    res.confChanges++;
    if (cc.type === 'addVoter' && learners.includes(cc.nodeId)) res.promotions++;
    // The runtime starts a process for a node the moment it is added; it learns the log from the leader.
    if (cc.type !== 'removeNode' && !c.nodes.has(cc.nodeId)) c.addNode(cc.nodeId);
    c.handleReady(c.nodes.get(leader)!);
  };

  try {
    for (let t = 0; t < o.chaosTicks; t++) {
      c.tick();
      const leader = c.leader();
      const ids = [...c.nodes.keys()];
      if (leader && ev.chance(0.4)) proposeOn(leader.id, 1 + ev.int(3));
      if (ev.chance(0.05)) {
        // A proposal on a follower must fail with a NotLeaderError naming the leader it knows (checked in Cluster).
        const f = pick(ids.filter((id) => id !== leader?.id));
        if (f) proposeOn(f, 1);
      }
      if (leader && ev.chance(0.05)) c.readIndex(leader.id);
      if (leader && ev.chance(0.02)) conf(leader.id);
      if (leader && ev.chance(0.01)) {
        const to = pick(members().voters.filter((v) => v !== leader.id));
        // (The leader may have crashed during an earlier event of this tick.)
        if (to && leader.raw) {
          try {
            leader.raw.transferLeadership(to);
            c.handleReady(leader);
          } catch (e) {
            if (!(e instanceof RaftError)) throw e;
          }
        }
      }
      const downNow = (): NodeId[] => ids.filter((id) => !c.nodes.get(id)!.raw);
      const down = downNow();
      if (ev.chance(0.02) && down.length < crashBudget) {
        const victim = pick(ids.filter((id) => c.nodes.get(id)!.raw));
        if (victim) {
          c.crash(victim);
          res.crashes++;
        }
      }
      if (ev.chance(0.01) && downNow().length < crashBudget) {
        const victim = pick(ids.filter((id) => c.nodes.get(id)!.raw));
        if (victim) c.nodes.get(victim)!.tornWriteArmed = true;
      }
      if (down.length > 0 && ev.chance(0.05)) c.restart(pick(down)!);
      if (ev.chance(0.015)) {
        c.net.heal();
        const side = ids.filter(() => ev.chance(0.5));
        const other = ids.filter((id) => !side.includes(id));
        res.partitions++;
        if (ev.chance(0.5)) c.net.partition(side, other);
        else {
          res.oneWayPartitions++;
          // One-way: some links carry messages in one direction only.
          for (const a of side) for (const b of other) c.net.cutLink(a, b);
        }
      }
      if (leader && ev.chance(0.01)) {
        // Cut the leader off alone: it keeps appending entries that only it stores while the others elect a new
        // leader, so logs diverge and must later be reconciled (the raw material of Figure 8).
        c.net.heal();
        c.net.partition([leader.id], ids.filter((id) => id !== leader.id));
        res.partitions++;
      }
      if (leader && ev.chance(0.005) && downNow().length < crashBudget) {
        c.crash(leader.id);
        res.crashes++;
      }
      if (c.net.isolated() && ev.chance(0.03)) c.net.heal();
      if (ev.chance(0.01)) c.net.faults = { drop: ev.float() * 0.3, duplicate: ev.float() * 0.1, maxDelay: ev.int(5) };
    }

    // Heal: every node back up, the network reliable, and check the cluster makes progress again.
    c.net.heal();
    c.net.faults = RELIABLE;
    for (const n of c.nodes.values()) n.tornWriteArmed = false;
    for (const id of c.nodes.keys()) c.restart(id);
    const healedAt = c.now;
    const marker = encoder.encode(`s${o.seed}-liveness`);
    let proposedAt = -1;
    let markerIndex = -1;
    for (let t = 0; t < o.livenessTicks; t++) {
      c.tick();
      const leader = c.leader();
      if (!leader) continue;
      const raw = leader.raw!;
      if (proposedAt < 0 || raw.raft.term !== proposedAt) {
        try {
          markerIndex = raw.proposeBatch([marker]);
          proposedAt = raw.raft.term;
          c.handleReady(leader);
        } catch (e) {
          if (!(e instanceof RaftError)) throw e;
          continue;
        }
      }
      // Committed and applied by every voter of the leader's configuration.
      const voters = raw.raft.tracker.voters;
      const done = voters.every((id) => {
        const n = c.nodes.get(id);
        return n !== undefined && n.fsm.appliedIndex() >= markerIndex;
      });
      if (done && c.checker.committedTermAt(markerIndex) === proposedAt) {
        res.ticks = c.now;
        break;
      }
    }
    if (res.ticks === 0) {
      res.ok = false;
      res.error = `liveness: no leader committed a proposal within ${o.livenessTicks} ticks after healing at tick ${healedAt}`;
    } else if (opts.preVote && opts.checkQuorum) {
      // Stability: in a healthy cluster nobody (a rejoining node, a removed one) may depose the leader.
      // A leadership transfer asked for during the chaos may still complete first (its timeoutNow may even be
      // still on the way, delayed): that change is legitimate, so let the chaos's messages drain first.
      const settling = (): boolean => c.net.pending() > 0 || c.leader()?.raw?.raft.leadTransferee !== NONE;
      for (let t = 0; t < 2 * opts.electionTick && settling(); t++) c.tick();
      const leader = c.leader()!;
      const term = leader.raw!.raft.term;
      for (let t = 0; t < 3 * opts.electionTick; t++) c.tick();
      const now = c.leader();
      if (now !== leader || leader.raw?.raft.term !== term) {
        res.ok = false;
        res.error = `stability: ${leader.id} led term ${term} in a healthy cluster, then ${now?.id ?? 'nobody'} led term ${now?.raw?.raft.term ?? '-'}`;
      }
    }
  } catch (e) {
    res.ok = false;
    res.error = e instanceof SafetyViolation ? `tick ${c.now}: ${e.message}` : `tick ${c.now}: ${e instanceof Error ? e.stack : String(e)}`;
  }
  res.ticks = res.ticks || c.now;
  res.committed = c.checker.maxCommitted;
  res.elections = c.checker.leaderElections;
  res.reads = c.checker.readsChecked;
  for (const n of c.nodes.values()) {
    res.snapshotsTaken += n.snapshotsTaken;
    res.snapshotsInstalled += n.snapshotsInstalled;
    res.tornWrites += n.tornWrites;
  }
  res.transfers = c.net.deliveredByType.get('timeoutNow') ?? 0;
  res.dropped = c.net.dropped;
  res.duplicated = c.net.duplicated;
  res.steppedWhileBusy = c.steppedWhileBusy;
  res.proposedWhileBusy = c.proposedWhileBusy;
  res.ticksWhileBusy = c.ticksWhileBusy;
  return res;
}

export const CI_OPTIONS = { chaosTicks: 250, livenessTicks: 400 };

/** Runs seeds [from, from+count) with the CI sizing and returns every result. */
export function runSeeds(from: number, count: number, nodes: 3 | 5): SimResult[] {
  const out: SimResult[] = [];
  for (let seed = from; seed < from + count; seed++) out.push(runSimulation({ seed, nodes, ...CI_OPTIONS }));
  return out;
}

/** Sums the counters of many runs (what a campaign exercised). */
export function totals(results: SimResult[]): Record<string, number> {
  const t: Record<string, number> = {};
  for (const r of results) {
    for (const [k, v] of Object.entries(r)) if (typeof v === 'number' && k !== 'seed' && k !== 'nodes') t[k] = (t[k] ?? 0) + v;
  }
  return t;
}
