// One seeded nemesis run, start to verdict: a fresh cluster behind fault proxies, clients producing and
// consuming, the seed's schedule of faults, then heal, quiesce, read every node's log and check. A failing run
// keeps its directory: node logs and data, the history, every replica's log, the schedule, the summary; so does a
// run that throws, with what it had.
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { check, formatSummary, RECOVERY_WINDOW_MS, type CheckResult, type ReplicaRead } from './checker.js';
import { Cluster } from './cluster.js';
import { History } from './history.js';
import { Nemesis } from './nemesis.js';
import { processCpuSeconds, processState } from './supervisor.js';
import { describeStep, generateSchedule, type FaultKind, type NemesisStep } from './schedule.js';
import { waitUntil } from './wait.js';
import { DEFAULT_WORKLOAD, readWholeLog, Workload, type WorkloadOptions } from './workload.js';

export interface RunOptions {
  seed: number;
  durationMs: number;
  nodes: number;
  electionTimeoutMs?: number;
  heartbeatMs?: number;
  kinds?: readonly FaultKind[];
  workload?: Partial<WorkloadOptions>;
  /** Where a failing run's directory is kept (default: the OS temp dir). */
  keepDir?: string;
  log?: (line: string) => void;
}

export interface RunOutcome {
  seed: number;
  result: CheckResult;
  summary: string;
  /** Set when the run failed and its files were kept. */
  keptDir?: string;
  faults: number;
  /** Steps that found no target when due (e.g. no leader). */
  skipped: number;
  /** Faults that cut the leader off from a majority, and those where the majority was seen to elect another. */
  leaderCutOffs: number;
  leaderChangesSeen: number;
}

export const HISTORY_FILE = 'history.jsonl';
export const REPLICAS_FILE = 'replicas.json';
export const SCHEDULE_FILE = 'schedule.json';

export async function runSeed(opts: RunOptions): Promise<RunOutcome> {
  const log = opts.log ?? (() => undefined);
  const electionTimeoutMs = opts.electionTimeoutMs ?? 1000;
  const heartbeatMs = opts.heartbeatMs ?? 100;
  const rootDir = await mkdtemp(path.join(opts.keepDir ?? os.tmpdir(), `proglog-nemesis-seed${opts.seed}-`));
  const steps = generateSchedule({
    seed: opts.seed,
    durationMs: opts.durationMs,
    nodes: opts.nodes,
    electionTimeoutMs,
    ...(opts.kinds ? { kinds: opts.kinds } : {}),
  });
  log(`seed ${opts.seed}: ${steps.length} faults over ${opts.durationMs} ms; files in ${rootDir}`);
  const cluster = await Cluster.start({ nodes: opts.nodes, rootDir, faults: true, electionTimeoutMs, heartbeatMs });
  let keep = false;
  const history = new History();
  try {
    const workload = new Workload(cluster, history, { ...DEFAULT_WORKLOAD, ...opts.workload });
    const nemesis = new Nemesis(cluster, history, { electionTimeoutMs, log });
    const startedAt = Date.now();
    workload.start();
    const progress = setInterval(
      () => log(`seed ${opts.seed}: ${Math.round((Date.now() - startedAt) / 1000)} s, acked ${workload.acked}/${workload.attempts}, reads ${workload.readsSeen}`),
      5000,
    );
    try {
      await nemesis.run(steps, startedAt);
      const left = startedAt + opts.durationMs - Date.now();
      if (left > 0) await new Promise((r) => setTimeout(r, left));
      await nemesis.healAll();
      // Clients keep writing for a moment after healing: the cluster must serve again, not only stay safe. The
      // checker judges it from the history (so a recheck agrees); waiting here only gives the writes the time.
      const ackedAtHeal = workload.acked;
      await waitUntil('a write acknowledged after healing', () => workload.acked > ackedAtHeal, RECOVERY_WINDOW_MS, 100).catch(() =>
        log(`seed ${opts.seed}: no write acknowledged within ${RECOVERY_WINDOW_MS / 1000} s of healing`),
      );
    } finally {
      clearInterval(progress);
      await workload.stop();
    }
    const replicas = await quiesceAndRead(cluster, log);
    const result = check(history.events, replicas);
    // For a node that could not be read, what its process was doing helps tell a hang from a busy loop.
    const unreadableNotes = await Promise.all(
      replicas
        .filter((r) => r.error !== undefined)
        .map(async (r) => {
          const pid = cluster.node(r.node).proc.pid;
          if (pid === undefined) return `${r.node} unreadable: process not running`;
          return `${r.node} unreadable: pid ${pid} state ${(await processState(pid)) ?? '?'}, cpu ${(await processCpuSeconds(pid))?.toFixed(1) ?? '?'} s`;
        }),
    );
    const crashes = cluster.nodes.flatMap((n) =>
      n.proc.unexpectedExits.map((e) => `${n.name} incarnation ${e.incarnation} exited by itself (${e.signal ?? `code ${e.code}`})`),
    );
    const unattributed = cluster.unattributedConnections();
    const summary =
      formatSummary(result, `seed ${opts.seed} (${opts.nodes} nodes, ${nemesis.faultsApplied} faults, ${nemesis.skipped} skipped)`) +
      `\n  leader cut off from a majority ${nemesis.leaderCutOffs} times, the majority seen to elect another ${nemesis.leaderChangesSeen} times` +
      (Object.values(unattributed).some((n) => n > 0)
        ? `\n  note: connections reset by the proxies because their caller could not be named: ${unattributed.gone} whose caller was gone (or not in /proc/net/tcp), ` +
          `${unattributed.stranger} held by a process that is neither a node nor the harness, ${unattributed.failed} whose lookup failed`
        : '') +
      [...crashes, ...unreadableNotes].map((c) => `\n  note: ${c}; see ${rootDir}`).join('');
    if (!result.ok) {
      keep = true;
      await saveRun(rootDir, history, replicas, steps, summary);
    }
    return {
      seed: opts.seed,
      result,
      summary,
      faults: nemesis.faultsApplied,
      skipped: nemesis.skipped,
      leaderCutOffs: nemesis.leaderCutOffs,
      leaderChangesSeen: nemesis.leaderChangesSeen,
      ...(keep ? { keptDir: rootDir } : {}),
    };
  } catch (err) {
    keep = true;
    // A run that breaks (an agent that will not restart, a bug here) is as worth replaying as one that fails its
    // check: keep what it saw, and each log as it stands, so --recheck and the history can say how far it got.
    try {
      await keepThrownRun(rootDir, history, await readReplicas(cluster, 2000), steps, err);
      log(`seed ${opts.seed}: the run threw; its history so far, each node's log and the summary are in ${rootDir}`);
    } catch (saveErr) {
      log(`seed ${opts.seed}: the run threw, and saving its history in ${rootDir} failed too: ${String(saveErr)}`);
    }
    throw err;
  } finally {
    await cluster.close({ keepFiles: keep });
  }
}

/** Each node's whole log as it stands; a node slower than `pageTimeoutMs` to answer a page is reported unreadable. */
function readReplicas(cluster: Cluster, pageTimeoutMs?: number): Promise<ReplicaRead[]> {
  return Promise.all(
    cluster.nodes.map(async (n): Promise<ReplicaRead> => {
      try {
        return { node: n.name, records: await readWholeLog(cluster.directClient(n.name), pageTimeoutMs) };
      } catch (err) {
        return { node: n.name, records: [], error: err instanceof Error ? err.message : String(err) };
      }
    }),
  );
}

/** Waits until every node holds the same log twice in a row (or a deadline), then returns each node's log. */
async function quiesceAndRead(cluster: Cluster, log: (line: string) => void): Promise<ReplicaRead[]> {
  let previous = '';
  let last: ReplicaRead[] = [];
  try {
    await waitUntil(
      'replicas to converge',
      async () => {
        last = await readReplicas(cluster);
        const shape = last.map((r) => `${r.records.length}:${r.records[r.records.length - 1]?.value ?? ''}`).join('|');
        const converged =
          last.every((r) => r.error === undefined) && new Set(last.map((r) => r.records.length)).size === 1 && shape === previous;
        previous = shape;
        return converged;
      },
      60_000,
      500,
    );
  } catch {
    log('replicas did not converge within 60 s; checking what they hold');
  }
  return last;
}

async function saveRun(dir: string, history: History, replicas: ReplicaRead[], steps: NemesisStep[], summary: string): Promise<void> {
  await history.save(path.join(dir, HISTORY_FILE));
  await writeFile(path.join(dir, REPLICAS_FILE), JSON.stringify(replicas));
  await writeFile(path.join(dir, SCHEDULE_FILE), JSON.stringify(steps.map((s) => ({ ...s, text: describeStep(s) })), null, 1));
  await writeFile(path.join(dir, 'summary.txt'), summary + '\n');
}

/**
 * Keeps the files of a run that threw, as saveRun does for one that failed its check, with the error heading the
 * summary; the check below it is of a cluster that was neither healed nor quiesced, so it may report more than
 * the cluster did wrong.
 */
export async function keepThrownRun(dir: string, history: History, replicas: ReplicaRead[], steps: NemesisStep[], err: unknown): Promise<void> {
  const error = err instanceof Error ? (err.stack ?? err.message) : String(err);
  const summary = `ERROR ${error}\n\n${formatSummary(check(history.events, replicas), 'check of the history so far (not healed, not quiesced)')}`;
  await saveRun(dir, history, replicas, steps, summary);
}

/** Re-checks a kept run from its files (no cluster needed). */
export async function recheck(dir: string): Promise<CheckResult> {
  const history = await History.load(path.join(dir, HISTORY_FILE));
  const replicas = JSON.parse(await readFile(path.join(dir, REPLICAS_FILE), 'utf8')) as ReplicaRead[];
  return check(history.events, replicas);
}
