// Plays a schedule against a live cluster: resolves each step's target against the cluster as it is at that
// moment (who leads now, which nodes run), applies the fault through the supervisor or the link table, and heals
// it when the step ends. Everything it does goes into the history.
import type { Cluster, ClusterNode } from './cluster.js';
import { HEAL_ALL, type History } from './history.js';
import { describeStep, type NemesisStep, type Target } from './schedule.js';

const LEADER_WAIT_MS = 5000;

export class Nemesis {
  private stopped = false;
  private wake: (() => void) | undefined;
  private readonly killed = new Set<ClusterNode>();
  private readonly paused = new Set<ClusterNode>();
  faultsApplied = 0;
  /** Steps whose target did not exist when they were due (e.g. no leader within LEADER_WAIT_MS). */
  skipped = 0;

  constructor(
    private readonly cluster: Cluster,
    private readonly history: History,
    private readonly log: (line: string) => void = () => undefined,
  ) {}

  /** Runs the steps in order, each at its time from `startedAt`; returns when they are done or on stop(). */
  async run(steps: readonly NemesisStep[], startedAt: number): Promise<void> {
    for (const step of steps) {
      if (!(await this.sleepUntil(startedAt + step.at))) return;
      const heal = await this.apply(step);
      const ok = await this.sleepUntil(startedAt + step.at + step.durationMs);
      await heal();
      if (!ok) return;
    }
  }

  stop(): void {
    this.stopped = true;
    this.wake?.();
  }

  /** Undoes every fault still in force: links pass, paused nodes continue, killed nodes restart. */
  async healAll(): Promise<void> {
    this.cluster.links.heal();
    for (const n of this.paused) if (n.proc.running) n.proc.resume();
    this.paused.clear();
    for (const n of this.killed) if (!n.proc.running) await this.cluster.startNode(n);
    this.killed.clear();
    this.history.nemesis(HEAL_ALL);
  }

  private async apply(step: NemesisStep): Promise<() => Promise<void>> {
    const skippedBefore = this.skipped;
    const heal = await this.applyFault(step);
    if (this.skipped === skippedBefore) this.faultsApplied++;
    return heal;
  }

  private async applyFault(step: NemesisStep): Promise<() => Promise<void>> {
    const f = step.fault;
    const note = (what: string): void => {
      this.history.nemesis(what);
      this.log(`nemesis: ${what}`);
    };
    switch (f.kind) {
      case 'kill': {
        const n = await this.resolve(f.target);
        if (!n) return this.skip(step, note);
        note(`kill ${n.name} (${describeStep(step)})`);
        this.killed.add(n);
        await this.cluster.killNode(n);
        return async () => {
          this.killed.delete(n);
          if (!n.proc.running) await this.cluster.startNode(n);
          note(`restart ${n.name}`);
        };
      }
      case 'pause': {
        const n = await this.resolve(f.target);
        if (!n) return this.skip(step, note);
        note(`pause ${n.name} (${describeStep(step)})`);
        this.paused.add(n);
        n.proc.pause();
        return async () => {
          this.paused.delete(n);
          if (n.proc.running) n.proc.resume();
          note(`resume ${n.name}`);
        };
      }
      case 'isolate-leader': {
        const leader = await this.leaderSoon();
        if (!leader) return this.skip(step, note);
        const others = this.cluster.names().filter((x) => x !== leader);
        note(`isolate leader ${leader} from ${others.join(',')} (${describeStep(step)})`);
        this.cluster.links.split([leader], others);
        return this.healLinks(note);
      }
      case 'split': {
        const names = this.cluster.names();
        const remaining = [...names];
        const minority = f.minorityPicks.map((p) => remaining.splice(p % remaining.length, 1)[0]!);
        note(`split ${minority.join(',')} | ${remaining.join(',')} (${describeStep(step)})`);
        this.cluster.links.split(minority, remaining);
        return this.healLinks(note);
      }
      case 'one-way': {
        const from = await this.resolve(f.from);
        if (!from) return this.skip(step, note);
        const others = this.cluster.names().filter((x) => x !== from.name);
        const to = others[f.toPick % others.length]!;
        note(`one-way loss ${from.name} -> ${to} (${describeStep(step)})`);
        this.cluster.links.oneWay(from.name, to);
        return this.healLinks(note);
      }
    }
  }

  private healLinks(note: (what: string) => void): () => Promise<void> {
    return async () => {
      this.cluster.links.heal();
      note('heal links');
    };
  }

  private skip(step: NemesisStep, note: (what: string) => void): () => Promise<void> {
    this.skipped++;
    note(`skip (no target): ${describeStep(step)}`);
    return async () => undefined;
  }

  /** The leader now, or the pick-th running node; undefined when there is none (e.g. no leader elected). */
  private async resolve(target: Target): Promise<ClusterNode | undefined> {
    if (target.role === 'leader') {
      const name = await this.leaderSoon();
      return name ? this.cluster.node(name) : undefined;
    }
    const live = this.cluster.nodes.filter((n) => n.proc.running && !n.proc.paused);
    return live.length > 0 ? live[target.pick % live.length] : undefined;
  }

  /** The leader, waiting a little for one: right after a fault heals an election may still be running. */
  private async leaderSoon(): Promise<string | undefined> {
    return this.cluster.waitForLeader(LEADER_WAIT_MS).catch(() => undefined);
  }

  private sleepUntil(when: number): Promise<boolean> {
    if (this.stopped) return Promise.resolve(false);
    const ms = Math.max(0, when - Date.now());
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = undefined;
        resolve(!this.stopped);
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve(false);
      };
    });
  }
}
