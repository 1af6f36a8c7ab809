// Plays a schedule against a live cluster: resolves each step's target against the cluster as it is at that
// moment (who leads now, which nodes run), applies the fault through the supervisor or the link table, and heals
// it when the step ends. Everything it does goes into the history. A fault that cuts the leader off from a
// majority is also watched for its effect: the majority must elect another leader while it lasts.
import type { Cluster, ClusterNode } from './cluster.js';
import { FAULT_WITHOUT_EFFECT, HEAL_ALL, type History } from './history.js';
import { describeStep, type NemesisStep, type Target } from './schedule.js';

const LEADER_WAIT_MS = 5000;
const WATCH_EVERY_MS = 250;
const ELECTION_SLACK_MS = 1000;

export interface NemesisOptions {
  /** The nodes' election timeout: a cut-off leader is replaced within about twice it (randomized, then a vote). */
  electionTimeoutMs: number;
  /** Beyond the protocol's own bound, how long a majority may take to elect on a loaded machine (default 1 s). */
  electionSlackMs?: number;
  log?: (line: string) => void;
}

/**
 * Polls a majority for a leader other than the one cut off, until one is seen or the watch is stopped. It also
 * notes from when every node of the majority answered: a node the nemesis restarted a moment ago may still be
 * starting, and until it is up the others may be no majority at all.
 */
class LeaderChangeWatch {
  private stopped = false;
  private readonly started = Date.now();
  private wake: (() => void) | undefined;
  /** The new leader and how long into the fault it was seen. */
  seen: { leader: string; afterMs: number } | undefined;
  /** When every node of the majority first answered (Date.now()), if it did. */
  allUpSince: number | undefined;

  constructor(
    private readonly cluster: Cluster,
    readonly oldLeader: string,
    readonly majority: readonly string[],
  ) {
    void this.poll();
  }

  private async poll(): Promise<void> {
    while (!this.stopped && this.seen === undefined) {
      const views = await Promise.all(
        this.majority.map((name) =>
          this.cluster.getServers(name, WATCH_EVERY_MS * 2).then(
            (servers) => ({ name, leads: servers.some((s) => s.isLeader && s.rpcAddr === this.cluster.node(name).rpcAddr) }),
            () => undefined,
          ),
        ),
      );
      // An answer that comes after the fault ended says nothing about the fault.
      if (this.stopped) return;
      if (views.every((v) => v !== undefined)) this.allUpSince ??= Date.now();
      const leader = views.find((v) => v?.leads)?.name;
      if (leader !== undefined && leader !== this.oldLeader) {
        this.seen = { leader, afterMs: Date.now() - this.started };
        return;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, WATCH_EVERY_MS);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** Ends the watch at once (the fault is about to heal), with what was seen so far. */
  stop(): void {
    this.stopped = true;
    this.wake?.();
  }
}

export class Nemesis {
  private stopped = false;
  private wake: (() => void) | undefined;
  private readonly killed = new Set<ClusterNode>();
  private readonly paused = new Set<ClusterNode>();
  faultsApplied = 0;
  /** Steps whose target did not exist when they were due (e.g. no leader within LEADER_WAIT_MS). */
  skipped = 0;

  /** Faults that cut the leader off from a majority; those after which the majority had another leader. */
  leaderCutOffs = 0;
  leaderChangesSeen = 0;
  private readonly log: (line: string) => void;

  constructor(
    private readonly cluster: Cluster,
    private readonly history: History,
    private readonly opts: NemesisOptions,
  ) {
    this.log = opts.log ?? (() => undefined);
  }

  /** Runs the steps in order, each at its time from `startedAt`; returns when they are done or on stop(). */
  async run(steps: readonly NemesisStep[], startedAt: number): Promise<void> {
    for (const step of steps) {
      if (!(await this.sleepUntil(startedAt + step.at))) return;
      const { heal, watch } = await this.apply(step);
      const ok = await this.sleepUntil(startedAt + step.at + step.durationMs);
      if (watch) this.judge(watch, !ok);
      await heal();
      if (!ok) return;
    }
  }

  /**
   * Whether a majority the leader was cut off from elected another while the fault lasted (stopped: cut short by
   * stop()). Only a fault during which the whole majority was up for two election timeouts and a slack must show
   * it: by two a follower has campaigned (its timeout is randomized up to twice the base), and the vote is a round
   * trip; the slack is for a loaded machine.
   */
  private judge(watch: LeaderChangeWatch, stopped: boolean): void {
    watch.stop();
    const now = Date.now();
    const upMs = stopped || watch.allUpSince === undefined ? 0 : now - watch.allUpSince;
    const required = upMs >= 2 * this.opts.electionTimeoutMs + (this.opts.electionSlackMs ?? ELECTION_SLACK_MS);
    const what = `${watch.oldLeader} cut off from ${watch.majority.join(',')}`;
    this.leaderCutOffs++;
    if (watch.seen) {
      this.leaderChangesSeen++;
      this.note(`effect: ${what}; ${watch.seen.leader} led the majority ${watch.seen.afterMs} ms in`);
    } else if (required) {
      this.note(`${FAULT_WITHOUT_EFFECT}: ${what}, the majority up for ${upMs} ms, and it elected no other leader`);
    } else {
      this.note(`no new leader seen: ${what}, the majority up for ${upMs} ms (too short to require one)`);
    }
  }

  private note(what: string): void {
    this.history.nemesis(what);
    this.log(`nemesis: ${what}`);
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

  private async apply(step: NemesisStep): Promise<{ heal: () => Promise<void>; watch?: LeaderChangeWatch }> {
    const skippedBefore = this.skipped;
    // Who leads as the fault begins, and who votes (a node that joined a moment ago may still be a learner), to
    // tell whether the fault cuts the leader off from a majority of the voters.
    const leader = await this.cluster.currentLeader().catch(() => undefined);
    const voters =
      leader === undefined
        ? undefined
        : await this.cluster.getServers(leader).then(
            (servers) => servers.filter((s) => !s.isLearner).map((s) => s.id),
            () => undefined,
          );
    const heal = await this.applyFault(step);
    if (this.skipped !== skippedBefore) return { heal };
    this.faultsApplied++;
    const majority = leader === undefined || voters === undefined ? undefined : this.majorityWithout(leader, voters);
    return majority ? { heal, watch: new LeaderChangeWatch(this.cluster, leader!, majority) } : { heal };
  }

  /**
   * The nodes able to elect a leader other than `leader` under the faults in force now, if `leader` is cut off
   * from them (killed, paused, or unable to reach them either way) and they hold a majority of `voters`.
   */
  private majorityWithout(leader: string, voters: readonly string[]): string[] | undefined {
    const node = this.cluster.node(leader);
    const leaderGone = !node.proc.running || node.proc.paused;
    const links = this.cluster.links;
    const usable = this.cluster.nodes.filter((n) => n.proc.running && !n.proc.paused && n.name !== leader).map((n) => n.name);
    const cutFromLeader = usable.filter((x) => leaderGone || (links.get(leader, x).kind === 'hold' && links.get(x, leader).kind === 'hold'));
    // The cut-off side must hold a majority among themselves: every pair of them must still talk both ways.
    const together = cutFromLeader.filter((x) => cutFromLeader.every((y) => x === y || (links.get(x, y).kind === 'pass' && links.get(y, x).kind === 'pass')));
    return together.filter((x) => voters.includes(x)).length > voters.length / 2 ? together : undefined;
  }

  private async applyFault(step: NemesisStep): Promise<() => Promise<void>> {
    const f = step.fault;
    switch (f.kind) {
      case 'kill': {
        const n = await this.resolve(f.target);
        if (!n) return this.skip(step);
        this.note(`kill ${n.name} (${describeStep(step)})`);
        this.killed.add(n);
        await this.cluster.killNode(n);
        return async () => {
          this.killed.delete(n);
          if (!n.proc.running) await this.cluster.startNode(n);
          this.note(`restart ${n.name}`);
        };
      }
      case 'pause': {
        const n = await this.resolve(f.target);
        if (!n) return this.skip(step);
        this.note(`pause ${n.name} (${describeStep(step)})`);
        this.paused.add(n);
        n.proc.pause();
        return async () => {
          this.paused.delete(n);
          if (n.proc.running) n.proc.resume();
          this.note(`resume ${n.name}`);
        };
      }
      case 'isolate-leader': {
        const leader = await this.leaderSoon();
        if (!leader) return this.skip(step);
        const others = this.cluster.names().filter((x) => x !== leader);
        this.note(`isolate leader ${leader} from ${others.join(',')} (${describeStep(step)})`);
        this.cluster.links.split([leader], others);
        return this.healLinks();
      }
      case 'split': {
        const names = this.cluster.names();
        const remaining = [...names];
        const minority = f.minorityPicks.map((p) => remaining.splice(p % remaining.length, 1)[0]!);
        this.note(`split ${minority.join(',')} | ${remaining.join(',')} (${describeStep(step)})`);
        this.cluster.links.split(minority, remaining);
        return this.healLinks();
      }
      case 'one-way': {
        const from = await this.resolve(f.from);
        if (!from) return this.skip(step);
        const others = this.cluster.names().filter((x) => x !== from.name);
        const to = others[f.toPick % others.length]!;
        this.note(`one-way loss ${from.name} -> ${to} (${describeStep(step)})`);
        this.cluster.links.oneWay(from.name, to);
        return this.healLinks();
      }
    }
  }

  private healLinks(): () => Promise<void> {
    return async () => {
      this.cluster.links.heal();
      this.note('heal links');
    };
  }

  private skip(step: NemesisStep): () => Promise<void> {
    this.skipped++;
    this.note(`skip (no target): ${describeStep(step)}`);
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
