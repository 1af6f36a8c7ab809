// The verdict on a run: from the history and every node's full read of its log after healing and quiescing,
// find each way a replicated log can break its promise. Every kind of anomaly is counted separately, so a
// summary says what broke, and each carries examples to start debugging from.
import { FAULT_WITHOUT_EFFECT, HEAL_ALL, type HistoryEvent } from './history.js';

export interface StoredRecord {
  offset: number;
  value: string;
}

/** One node's log, read from its lowest to its highest offset. */
export interface ReplicaRead {
  node: string;
  records: StoredRecord[];
  /** Set when the node's log could not be read (it is then left out of the other checks). */
  error?: string;
}

/**
 * How soon after the last heal a write must be acknowledged. Generous: restarted nodes replay their logs and elect
 * a leader first, on a machine other jobs share.
 */
export const RECOVERY_WINDOW_MS = 30_000;

export interface CheckOptions {
  /** The offset every replica's log should start at (0 unless retention dropped a prefix). */
  lowestOffset?: number;
  /** How many examples of each anomaly to keep. */
  examples?: number;
  /** Default RECOVERY_WINDOW_MS. */
  recoveryWindowMs?: number;
}

export interface Anomalies {
  /** A node whose log could not be read at the end (it did not come back, or does not answer). */
  unreadable: Array<{ node: string; error: string }>;
  /** An acknowledged value that some node does not hold anywhere. */
  ackedMissing: Array<{ value: string; offset: number; nodes: string[] }>;
  /** An acknowledged value that a node holds, but not at the acknowledged offset. */
  ackedWrongOffset: Array<{ value: string; acked: number; node: string; found: number[] }>;
  /** An offset that two nodes both hold with different values. */
  divergent: Array<{ offset: number; values: Record<string, string> }>;
  /** A node whose log is shorter than the longest one after quiescing (it never caught up). */
  lagging: Array<{ node: string; next: number; longest: number }>;
  /** Offsets of one node's log that are not consecutive from the lowest offset. */
  notDense: Array<{ node: string; expected: number; found: number }>;
  /** A value in a log that no client ever produced. */
  neverProduced: Array<{ value: string; offset: number; node: string }>;
  /** A value stored more times than it was attempted: a write applied twice. */
  duplicatesUnexplained: Array<{ value: string; offsets: number[]; attempts: number }>;
  /** A value stored though every attempt to produce it was refused outright. */
  failedButPresent: Array<{ value: string; offset: number }>;
  /** A consumer read a value at an offset that the final log does not hold there. */
  readsInconsistent: Array<{ value: string; offset: number; node?: string; stored?: string }>;
  /**
   * Every fault healed (the history's last HEAL_ALL), and no write acknowledged within the recovery window: the
   * cluster stayed safe but stopped serving, e.g. left without a leader.
   */
  noWriteAfterHeal: Array<{ healedAt: number; windowMs: number; firstAckAt?: number }>;
  /**
   * A fault cut the leader off from a majority, all up for two election timeouts and more, and it elected no other
   * (the nemesis's FAULT_WITHOUT_EFFECT events): the fault did not happen as scheduled, or the cluster could not
   * elect; either way the run did not test what it says it did.
   */
  faultWithoutEffect: Array<{ time: number; info: string }>;
}

export interface CheckResult {
  ok: boolean;
  counts: {
    produceAttempts: number;
    distinctValues: number;
    acked: number;
    failed: number;
    indeterminate: number;
    reads: number;
    replicas: number;
    longestLog: number;
    /** Values stored more than once, each extra copy explained by an unacknowledged retry (allowed). */
    duplicatesFromRetries: number;
    /** Unacknowledged attempts whose value made it into the log anyway (allowed, and worth knowing). */
    indeterminateApplied: number;
  };
  anomalies: Anomalies;
  /** For each anomaly kind, how many there were in total (the arrays keep only examples). */
  anomalyCounts: Record<keyof Anomalies, number>;
}

/** Collects anomalies, counting all of them and keeping the first few as examples. */
class Tally {
  readonly anomalies: Anomalies = {
    unreadable: [],
    ackedMissing: [],
    ackedWrongOffset: [],
    divergent: [],
    lagging: [],
    notDense: [],
    neverProduced: [],
    duplicatesUnexplained: [],
    failedButPresent: [],
    readsInconsistent: [],
    noWriteAfterHeal: [],
    faultWithoutEffect: [],
  };
  readonly counts = Object.fromEntries(Object.keys(this.anomalies).map((k) => [k, 0])) as Record<
    keyof Anomalies,
    number
  >;

  constructor(private readonly examples: number) {}

  add<K extends keyof Anomalies>(kind: K, example: Anomalies[K][number]): void {
    this.counts[kind]++;
    const list = this.anomalies[kind] as Array<Anomalies[K][number]>;
    if (list.length < this.examples) list.push(example);
  }
}

interface ValueFacts {
  attempts: number;
  definiteFailures: number;
  acks: number[];
}

export function check(history: readonly HistoryEvent[], allReplicas: readonly ReplicaRead[], opts: CheckOptions = {}): CheckResult {
  const tally = new Tally(opts.examples ?? 10);
  for (const r of allReplicas) if (r.error !== undefined) tally.add('unreadable', { node: r.node, error: r.error });
  const replicas = allReplicas.filter((r) => r.error === undefined);
  const lowest = opts.lowestOffset ?? 0;

  // What the clients did, per value.
  const facts = new Map<string, ValueFacts>();
  const factsOf = (v: string): ValueFacts => {
    let f = facts.get(v);
    if (!f) facts.set(v, (f = { attempts: 0, definiteFailures: 0, acks: [] }));
    return f;
  };
  let produceAttempts = 0;
  let acked = 0;
  let failed = 0;
  let indeterminate = 0;
  const reads: HistoryEvent[] = [];
  for (const e of history) {
    if (e.op === 'produce' && e.value !== undefined) {
      if (e.type === 'invoke') {
        produceAttempts++;
        factsOf(e.value).attempts++;
      } else if (e.type === 'ok' && e.offset !== undefined) {
        acked++;
        factsOf(e.value).acks.push(e.offset);
      } else if (e.type === 'fail') {
        failed++;
        factsOf(e.value).definiteFailures++;
      } else if (e.type === 'timeout') {
        indeterminate++;
      }
    } else if (e.op === 'read' && e.type === 'ok' && e.value !== undefined && e.offset !== undefined) {
      reads.push(e);
    }
  }

  // Each replica on its own: dense offsets, and an index of where each value sits.
  const byOffset = new Map<string, Map<number, string>>();
  const positions = new Map<string, Map<string, number[]>>();
  let longestNext = lowest;
  for (const r of replicas) {
    const at = new Map<number, string>();
    const where = new Map<string, number[]>();
    let expected = lowest;
    let denseBroken = false;
    for (const rec of r.records) {
      if (!denseBroken && rec.offset !== expected) {
        tally.add('notDense', { node: r.node, expected, found: rec.offset });
        denseBroken = true;
      }
      expected = rec.offset + 1;
      at.set(rec.offset, rec.value);
      const list = where.get(rec.value);
      if (list) list.push(rec.offset);
      else where.set(rec.value, [rec.offset]);
    }
    byOffset.set(r.node, at);
    positions.set(r.node, where);
    longestNext = Math.max(longestNext, expected);
  }

  // Replicas against each other: same value at every offset both hold, and nobody left behind.
  const reference = new Map<number, string>();
  for (let off = lowest; off < longestNext; off++) {
    const values: Record<string, string> = {};
    const distinct = new Set<string>();
    for (const r of replicas) {
      const v = byOffset.get(r.node)!.get(off);
      if (v !== undefined) {
        values[r.node] = v;
        distinct.add(v);
      }
    }
    if (distinct.size > 1) tally.add('divergent', { offset: off, values });
    // The value most replicas hold stands for the cluster's log at this offset.
    const first = majorityValue(Object.values(values));
    if (first !== undefined) reference.set(off, first);
  }
  for (const r of replicas) {
    const next = r.records.length > 0 ? r.records[r.records.length - 1]!.offset + 1 : lowest;
    if (next < longestNext) tally.add('lagging', { node: r.node, next, longest: longestNext });
  }

  // Acknowledged writes: present on every node, at the acknowledged offset.
  for (const [value, f] of facts) {
    for (const offset of f.acks) {
      const missingOn: string[] = [];
      for (const r of replicas) {
        if (byOffset.get(r.node)!.get(offset) === value) continue;
        const found = positions.get(r.node)!.get(value);
        if (found) tally.add('ackedWrongOffset', { value, acked: offset, node: r.node, found });
        else missingOn.push(r.node);
      }
      if (missingOn.length > 0) tally.add('ackedMissing', { value, offset, nodes: missingOn });
    }
  }

  // What is stored: produced by someone, at most once per attempt, never after a definite refusal.
  let duplicatesFromRetries = 0;
  let indeterminateApplied = 0;
  const storedCopies = new Map<string, number[]>();
  for (const [offset, value] of reference) {
    const list = storedCopies.get(value);
    if (list) list.push(offset);
    else storedCopies.set(value, [offset]);
  }
  for (const [value, offsets] of storedCopies) {
    const f = facts.get(value);
    if (!f || f.attempts === 0) {
      for (const offset of offsets) {
        const node = replicas.find((r) => byOffset.get(r.node)!.get(offset) === value)?.node ?? '?';
        tally.add('neverProduced', { value, offset, node });
      }
      continue;
    }
    const mayHaveApplied = f.attempts - f.definiteFailures;
    if (mayHaveApplied <= 0) {
      tally.add('failedButPresent', { value, offset: offsets[0]! });
      continue;
    }
    if (offsets.length > mayHaveApplied) {
      tally.add('duplicatesUnexplained', { value, offsets, attempts: f.attempts });
    } else if (offsets.length > 1) {
      duplicatesFromRetries++;
    }
    const unackedCopies = offsets.filter((o) => !f.acks.includes(o)).length;
    indeterminateApplied += unackedCopies;
  }

  // Reads seen by consumers during the run must agree with the final log (when any replica could be read).
  for (const e of replicas.length > 0 ? reads : []) {
    const stored = reference.get(e.offset!);
    if (stored !== e.value) {
      tally.add('readsInconsistent', {
        value: e.value!,
        offset: e.offset!,
        ...(e.node !== undefined ? { node: e.node } : {}),
        ...(stored !== undefined ? { stored } : {}),
      });
    }
  }

  checkRecovery(history, opts.recoveryWindowMs ?? RECOVERY_WINDOW_MS, tally);

  checkFaultsTookEffect(history, tally);

  const ok = Object.values(tally.counts).every((n) => n === 0);
  return {
    ok,
    counts: {
      produceAttempts,
      distinctValues: facts.size,
      acked,
      failed,
      indeterminate,
      reads: reads.length,
      replicas: replicas.length,
      longestLog: longestNext - lowest,
      duplicatesFromRetries,
      indeterminateApplied,
    },
    anomalies: tally.anomalies,
    anomalyCounts: tally.counts,
  };
}

/**
 * A history without HEAL_ALL (a unit test's, or a run stopped before healing) has nothing to check here. The run
 * stops its clients soon after the window, so an acknowledgement may follow it: that one is too late all the same.
 */
function checkRecovery(history: readonly HistoryEvent[], windowMs: number, tally: Tally): void {
  let healIndex = -1;
  for (let i = history.length - 1; i >= 0 && healIndex < 0; i--) {
    const e = history[i]!;
    if (e.type === 'nemesis' && e.info === HEAL_ALL) healIndex = i;
  }
  if (healIndex < 0) return;
  const healedAt = history[healIndex]!.time;
  const firstAck = history.slice(healIndex + 1).find((e) => e.op === 'produce' && e.type === 'ok');
  if (firstAck !== undefined && firstAck.time - healedAt <= windowMs) return;
  tally.add('noWriteAfterHeal', { healedAt, windowMs, ...(firstAck !== undefined ? { firstAckAt: firstAck.time } : {}) });
}

/** The nemesis's own verdict on each fault that had to change the leader (see nemesis.ts). */
function checkFaultsTookEffect(history: readonly HistoryEvent[], tally: Tally): void {
  for (const e of history) {
    if (e.type === 'nemesis' && e.info?.startsWith(FAULT_WITHOUT_EFFECT)) tally.add('faultWithoutEffect', { time: e.time, info: e.info });
  }
}

function majorityValue(values: string[]): string | undefined {
  const n = new Map<string, number>();
  let best: string | undefined;
  let bestN = 0;
  for (const v of values) {
    const c = (n.get(v) ?? 0) + 1;
    n.set(v, c);
    if (c > bestN) {
      best = v;
      bestN = c;
    }
  }
  return best;
}

const LABELS: Record<keyof Anomalies, string> = {
  unreadable: 'replicas that could not be read',
  ackedMissing: 'acknowledged values missing',
  ackedWrongOffset: 'acknowledged values at another offset',
  divergent: 'offsets where replicas differ',
  lagging: 'replicas behind after quiescing',
  notDense: 'replicas with offset gaps',
  neverProduced: 'values never produced',
  duplicatesUnexplained: 'duplicates beyond retries',
  failedButPresent: 'refused writes present',
  readsInconsistent: 'reads disagreeing with the log',
  noWriteAfterHeal: 'no write acknowledged after healing',
  faultWithoutEffect: 'leader cut off and not replaced',
};

/** One screen: the counts, each anomaly kind with its number (must be 0), and a few examples of each. */
export function formatSummary(result: CheckResult, title = 'nemesis check'): string {
  const c = result.counts;
  const lines = [
    `${title}: ${result.ok ? 'PASS' : 'FAIL'}`,
    `  produce attempts ${c.produceAttempts} (distinct values ${c.distinctValues}): ` +
      `acked ${c.acked}, refused ${c.failed}, indeterminate ${c.indeterminate}; reads ${c.reads}`,
    `  replicas ${c.replicas}, log length ${c.longestLog}; ` +
      `indeterminate writes applied ${c.indeterminateApplied}, duplicates from retries ${c.duplicatesFromRetries} (allowed)`,
  ];
  for (const kind of Object.keys(LABELS) as Array<keyof Anomalies>) {
    const n = result.anomalyCounts[kind];
    lines.push(`  ${n === 0 ? 'ok  ' : 'FAIL'} ${LABELS[kind].padEnd(40)} ${n}`);
    for (const ex of result.anomalies[kind].slice(0, 3)) lines.push(`         e.g. ${JSON.stringify(ex)}`);
  }
  return lines.join('\n');
}
