// Keeps the Raft configuration in step with membership. Only the leader changes the configuration, and it
// compares the whole member list with the whole configuration rather than replaying events, so an event seen
// while there was no leader, or by a node that was not leader, is applied by whoever leads next.
//
// Unlike the book, a member that merely *failed* stays a voter until it has been failed for the reap time: a
// crash-restart or a short partition must not shrink the quorum and force the node to rejoin from scratch.
import type { Logger } from 'pino';
import type { ServerInfo } from '../server/log-service.js';
import type { ClusterMembership, Member, ReplicatedLog } from './seams.js';

export type ReconcileAction =
  | { kind: 'join'; id: string; addr: string }
  | { kind: 'leave'; id: string; reason: 'left' | 'reaped' | 'replaced' };

export interface PlanInput {
  selfId: string;
  members: Member[];
  /** The current Raft configuration. */
  voters: ServerInfo[];
  /** When each member was first seen failed (see FailureClock). */
  failedSince: ReadonlyMap<string, number>;
  now: number;
  reapTimeMs: number;
  /** The Raft id a member joins as (its `raft_id` tag, else its name). */
  raftIdOf?: (member: Member) => string;
  /** The member name a Raft id belongs to. */
  memberNameOf?: (raftId: string) => string;
  /** Members that announced a (re)join: joined again even if a voter by that name exists. */
  rejoined?: ReadonlySet<string>;
}

export const RAFT_ID_TAG = 'raft_id';

/** A Raft id may carry an incarnation after '#': a node that lost its data rejoins under a new id. */
export function defaultMemberNameOf(raftId: string): string {
  const at = raftId.lastIndexOf('#');
  return at < 0 ? raftId : raftId.slice(0, at);
}

export function defaultRaftIdOf(member: Member): string {
  return member.tags[RAFT_ID_TAG] || member.name;
}

/** What the leader must do so that the configuration matches membership. Pure: same input, same plan. */
export function planReconcile(input: PlanInput): ReconcileAction[] {
  const raftIdOf = input.raftIdOf ?? defaultRaftIdOf;
  const memberNameOf = input.memberNameOf ?? defaultMemberNameOf;
  const votersByMember = new Map<string, ServerInfo[]>();
  for (const v of input.voters) {
    const name = memberNameOf(v.id);
    votersByMember.set(name, [...(votersByMember.get(name) ?? []), v]);
  }
  const actions: ReconcileAction[] = [];
  for (const m of input.members) {
    if (m.name === input.selfId || m.name === memberNameOf(input.selfId)) continue;
    const voters = votersByMember.get(m.name) ?? [];
    switch (m.status) {
      case 'alive':
      case 'suspect': {
        const addr = m.tags.rpc_addr;
        if (!addr) break;
        const id = raftIdOf(m);
        // An older incarnation of this member (its data was lost) goes first, so the quorum never counts it.
        for (const v of voters) if (v.id !== id) actions.push({ kind: 'leave', id: v.id, reason: 'replaced' });
        const current = voters.find((v) => v.id === id);
        if (current === undefined || current.rpcAddr !== addr || input.rejoined?.has(m.name)) actions.push({ kind: 'join', id, addr });
        break;
      }
      case 'left':
        for (const v of voters) actions.push({ kind: 'leave', id: v.id, reason: 'left' });
        break;
      case 'failed': {
        const since = input.failedSince.get(m.name) ?? input.now;
        if (input.now - since < input.reapTimeMs) break;
        for (const v of voters) actions.push({ kind: 'leave', id: v.id, reason: 'reaped' });
        break;
      }
    }
  }
  // A voter membership has never heard of is left alone: after a restart the member list fills in gradually,
  // and "unknown" is not "gone".
  return actions;
}

/** Remembers since when each member has been failed, as seen by this node. */
export class FailureClock {
  private readonly since = new Map<string, number>();

  observe(members: Member[], now: number): ReadonlyMap<string, number> {
    const failed = new Set<string>();
    for (const m of members) {
      if (m.status !== 'failed') continue;
      failed.add(m.name);
      if (!this.since.has(m.name)) this.since.set(m.name, now);
    }
    for (const name of this.since.keys()) if (!failed.has(name)) this.since.delete(name);
    return this.since;
  }

  /** The earliest moment a currently failed member becomes due for removal, if any. */
  nextReapAt(reapTimeMs: number, among: ReadonlySet<string>, after: number): number | null {
    let next: number | null = null;
    for (const [name, t] of this.since) {
      const due = t + reapTimeMs;
      if (among.has(name) && due > after && (next === null || due < next)) next = due;
    }
    return next;
  }
}

export interface ReconcilerOptions {
  /** This node's member name or Raft id. */
  selfId: string;
  raftIdOf?: (member: Member) => string;
  memberNameOf?: (raftId: string) => string;
  log: Pick<ReplicatedLog, 'join' | 'leave' | 'isLeader' | 'getServers'>;
  membership: Pick<ClusterMembership, 'members'>;
  reapTimeMs: number;
  intervalMs: number;
  /** How often leadership is checked, so that a new leader reconciles at once. */
  leadershipPollMs?: number;
  logger: Logger;
  onLeadershipChange?: (isLeader: boolean) => void;
  now?: () => number;
}

export class Reconciler {
  private readonly clock = new FailureClock();
  private readonly rejoined = new Set<string>();
  private readonly now: () => number;
  private periodic: NodeJS.Timeout | null = null;
  private leadershipPoll: NodeJS.Timeout | null = null;
  private reapTimer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = false;
  private wasLeader = false;

  constructor(private readonly opts: ReconcilerOptions) {
    this.now = opts.now ?? Date.now;
  }

  start(): void {
    this.periodic = setInterval(() => this.trigger(), this.opts.intervalMs);
    this.leadershipPoll = setInterval(() => this.checkLeadership(), this.opts.leadershipPollMs ?? 100);
    this.trigger();
  }

  /** Asks for a reconcile soon; calls while one runs collapse into one more run. */
  trigger(): void {
    if (this.stopped) return;
    if (this.running !== null) {
      this.again = true;
      return;
    }
    this.running = this.runOnce().finally(() => {
      this.running = null;
      if (this.again) {
        this.again = false;
        this.trigger();
      }
    });
  }

  /** Membership saw `name` join (or come back): the next leader run re-joins it even if it looks current. */
  memberJoined(name: string): void {
    this.rejoined.add(name);
  }

  /** Resolves when no reconcile is running or queued (for tests and shutdown). */
  async idle(): Promise<void> {
    while (this.running !== null) await this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of [this.periodic, this.leadershipPoll]) if (t !== null) clearInterval(t);
    if (this.reapTimer !== null) clearTimeout(this.reapTimer);
    this.periodic = this.leadershipPoll = this.reapTimer = null;
    await this.idle();
  }

  private checkLeadership(): void {
    const leader = this.opts.log.isLeader();
    if (leader === this.wasLeader) return;
    this.wasLeader = leader;
    this.opts.onLeadershipChange?.(leader);
    if (leader) this.trigger();
  }

  private async runOnce(): Promise<void> {
    const { log, logger } = this.opts;
    const members = this.opts.membership.members();
    const now = this.now();
    const failedSince = this.clock.observe(members, now);
    for (const name of this.rejoined) {
      if (!members.some((m) => m.name === name && (m.status === 'alive' || m.status === 'suspect'))) this.rejoined.delete(name);
    }
    if (!log.isLeader()) return;
    let voters: ServerInfo[];
    try {
      voters = await log.getServers();
    } catch (err) {
      logger.warn({ err }, 'reconcile: cannot read the Raft configuration');
      return;
    }
    const actions = planReconcile({
      selfId: this.opts.selfId,
      members,
      voters,
      failedSince,
      now,
      reapTimeMs: this.opts.reapTimeMs,
      ...(this.opts.raftIdOf ? { raftIdOf: this.opts.raftIdOf } : {}),
      ...(this.opts.memberNameOf ? { memberNameOf: this.opts.memberNameOf } : {}),
      rejoined: this.rejoined,
    });
    for (const action of actions) {
      if (this.stopped || !log.isLeader()) return;
      try {
        if (action.kind === 'join') {
          await log.join(action.id, action.addr);
          this.rejoined.delete(action.id);
        } else {
          await log.leave(action.id);
        }
        logger.info({ action }, `reconcile: ${action.kind} ${action.id}`);
      } catch (err) {
        // The next event or period tries again.
        logger.warn({ err, action }, `reconcile: ${action.kind} ${action.id} failed`);
      }
    }
    const memberNameOf = this.opts.memberNameOf ?? defaultMemberNameOf;
    this.scheduleReap(new Set(voters.map((v) => memberNameOf(v.id))));
  }

  /** Wakes up when the next failed voter becomes due, rather than up to a whole period late. */
  private scheduleReap(voterIds: Set<string>): void {
    if (this.stopped) return;
    if (this.reapTimer !== null) clearTimeout(this.reapTimer);
    this.reapTimer = null;
    // Only future deadlines: one already past was acted on (or failed, and the period retries it).
    const at = this.clock.nextReapAt(this.opts.reapTimeMs, voterIds, this.now());
    if (at === null) return;
    this.reapTimer = setTimeout(() => {
      this.reapTimer = null;
      this.trigger();
    }, Math.max(0, at - this.now()) + 1);
  }
}
