// The nemesis schedule: which fault happens when, for how long, derived only from a seed, so a failing seed
// replays the same sequence of faults. Targets are chosen by role ("the leader") or by a random pick that the
// runner resolves against the cluster as it is at that moment, since who leads is not known in advance.

import { SeededRandom } from '../../internal/raft/random.js';

/** The schedule's randomness: the Raft core's seeded generator, with the picks a schedule needs. */
export class Rng {
  private readonly random: SeededRandom;

  constructor(seed: number) {
    this.random = new SeededRandom(seed);
  }

  /** A float in [0, 1). */
  next(): number {
    return this.random.float();
  }

  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + this.random.int(hi - lo + 1);
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.random.int(xs.length)]!;
  }
}

/** Who a fault hits: the leader at that moment, or the pick-th (mod count) of the live nodes in name order. */
export type Target = { role: 'leader' } | { role: 'node'; pick: number };

export type Fault =
  /** SIGKILL, then restart with the same data dir when the step ends. */
  | { kind: 'kill'; target: Target }
  /** SIGSTOP, then SIGCONT when the step ends (the step lasts longer than the election timeout). */
  | { kind: 'pause'; target: Target }
  /** The leader cannot reach any other node nor they it; clients still reach every node. */
  | { kind: 'isolate-leader' }
  /** A minority of the nodes (which may hold the leader) is cut off from the majority. */
  | { kind: 'split'; minorityPicks: number[] }
  /** Bytes from one node to another are held; the reverse direction flows. */
  | { kind: 'one-way'; from: Target; toPick: number };

export type FaultKind = Fault['kind'];
export const FAULT_KINDS: readonly FaultKind[] = ['kill', 'pause', 'isolate-leader', 'split', 'one-way'];

export interface NemesisStep {
  /** When the fault starts, ms from the start of the run. */
  at: number;
  /** How long it lasts before it is healed (restart, SIGCONT, links pass again). */
  durationMs: number;
  fault: Fault;
}

export interface ScheduleOptions {
  seed: number;
  durationMs: number;
  nodes: number;
  electionTimeoutMs: number;
  kinds?: readonly FaultKind[];
  /** Quiet time between faults, so the cluster recovers and clients make progress (default 500..2000 ms). */
  gapMs?: [number, number];
  /** How long a fault lasts (default 1000..4000 ms; pauses are at least 2x the election timeout). */
  faultMs?: [number, number];
}

export class InvalidScheduleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidScheduleError';
  }
}

const PICK_RANGE = 1 << 20;

export function generateSchedule(opts: ScheduleOptions): NemesisStep[] {
  const kinds = opts.kinds ?? FAULT_KINDS;
  if (kinds.length === 0) throw new InvalidScheduleError('at least one fault kind is needed');
  if (!(opts.nodes >= 3)) throw new InvalidScheduleError(`a nemesis needs at least 3 nodes, got ${opts.nodes}`);
  if (!(opts.durationMs > 0)) throw new InvalidScheduleError(`duration must be > 0 ms, got ${opts.durationMs}`);
  if (!Number.isInteger(opts.seed)) throw new InvalidScheduleError(`seed must be an integer, got ${opts.seed}`);
  const [gapLo, gapHi] = opts.gapMs ?? [500, 2000];
  const [faultLo, faultHi] = opts.faultMs ?? [1000, 4000];
  const rng = new Rng(opts.seed);
  const target = (): Target => (rng.next() < 0.5 ? { role: 'leader' } : { role: 'node', pick: rng.int(0, PICK_RANGE) });

  const steps: NemesisStep[] = [];
  let t = rng.int(gapLo, gapHi);
  for (;;) {
    const kind = rng.pick(kinds);
    let durationMs = rng.int(faultLo, faultHi);
    let fault: Fault;
    switch (kind) {
      case 'kill':
        fault = { kind, target: target() };
        break;
      case 'pause':
        // Long enough that the other nodes elect a new leader while this one is frozen.
        durationMs = Math.max(durationMs, rng.int(2 * opts.electionTimeoutMs, 4 * opts.electionTimeoutMs));
        fault = { kind, target: target() };
        break;
      case 'isolate-leader':
        fault = { kind };
        break;
      case 'split': {
        const minority = Math.floor((opts.nodes - 1) / 2);
        fault = { kind, minorityPicks: Array.from({ length: minority }, () => rng.int(0, PICK_RANGE)) };
        break;
      }
      case 'one-way':
        fault = { kind, from: target(), toPick: rng.int(0, PICK_RANGE) };
        break;
    }
    if (t + durationMs > opts.durationMs) break;
    steps.push({ at: t, durationMs, fault });
    t += durationMs + rng.int(gapLo, gapHi);
  }
  return steps;
}

/** A compact, human description of a step for logs and histories. */
export function describeStep(step: NemesisStep): string {
  const f = step.fault;
  const tgt = (x: Target): string => (x.role === 'leader' ? 'leader' : `node#${x.pick}`);
  let what: string;
  switch (f.kind) {
    case 'kill':
    case 'pause':
      what = `${f.kind} ${tgt(f.target)}`;
      break;
    case 'isolate-leader':
      what = 'isolate leader';
      break;
    case 'split':
      what = `split minority of ${f.minorityPicks.length}`;
      break;
    case 'one-way':
      what = `one-way from ${tgt(f.from)}`;
      break;
  }
  return `t=${step.at}ms ${what} for ${step.durationMs}ms`;
}
