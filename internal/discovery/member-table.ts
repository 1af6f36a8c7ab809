// The SWIM state machine: which members exist, in which state, at which incarnation. It does no I/O and reads
// no clock (callers pass `now`), so every rule below is a unit test away. The runtime (membership.ts) feeds it
// verified claims and acts on the events it returns.
//
// Precedence, as in SWIM and memberlist: a higher incarnation always wins; at the same incarnation
// left > failed > suspect > alive. Only a member raises its own incarnation (by announcing alive), which is how a
// suspect refutes and how a restarted member comes back over its own tombstone.
import type { Signed } from './envelope.js';
import type { Member, MemberStatus, MemberTags } from './member.js';
import type { AliveClaim, Claim, FailedClaim, LeftClaim, SuspectClaim } from './message.js';
import { expectedConfirmations, suspicionTimeout } from './suspicion.js';

export type Verdict = SuspectClaim | FailedClaim | LeftClaim;

export interface MemberRecord {
  name: string;
  status: MemberStatus;
  incarnation: number;
  /** The latest alive claim: tags, address, peer id. */
  alive: Signed<AliveClaim>;
  /** The claim that put the member in its current non-alive status. */
  verdict?: Signed<Verdict>;
  /** When the status last changed: the start of a suspicion or of a tombstone. */
  since: number;
  /** Members who independently suspected it at the current incarnation (the first accuser included). */
  accusers?: ReadonlySet<string>;
}

export type TableEvent =
  | { kind: 'join'; name: string; tags: MemberTags }
  | { kind: 'update'; name: string; tags: MemberTags }
  | { kind: 'suspect'; name: string }
  | { kind: 'failed'; name: string }
  | { kind: 'leave'; name: string }
  /** Someone claims this node is suspect, failed, or newer than it is: announce alive at `incarnation`. */
  | { kind: 'refute'; incarnation: number };

/** What a node knows of a member, in the order of precedence, for anti-entropy. */
export interface DigestEntry {
  incarnation: number;
  status: MemberStatus;
}
export type Digest = Record<string, DigestEntry>;

/** A member's full state as exchanged by state sync: every part signed by whoever claimed it. */
export interface SyncEntry {
  alive: Signed<AliveClaim>;
  verdict?: Signed<Verdict>;
}

const rank: Record<MemberStatus, number> = { alive: 0, suspect: 1, failed: 2, left: 3 };

/** True if (incarnation, status) `a` supersedes `b`. */
export function supersedes(a: DigestEntry, b: DigestEntry | undefined): boolean {
  if (!b) return true;
  return a.incarnation > b.incarnation || (a.incarnation === b.incarnation && rank[a.status] > rank[b.status]);
}

function sameTags(a: MemberTags, b: MemberTags): boolean {
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a[k] === b[k]);
}

export interface TableTimings {
  suspicionTimeoutMs: number;
  reapTimeoutMs: number;
}

export class MemberTable {
  private readonly records = new Map<string, MemberRecord>();
  /** Once leaving, this node stops refuting: it is going away on purpose. */
  leaving = false;

  constructor(
    readonly selfName: string,
    self: Signed<AliveClaim>,
    private readonly timings: TableTimings,
    now: number,
  ) {
    this.records.set(selfName, { name: selfName, status: 'alive', incarnation: self.claim.incarnation, alive: self, since: now });
  }

  get self(): MemberRecord {
    return this.records.get(this.selfName)!;
  }

  get(name: string): MemberRecord | undefined {
    return this.records.get(name);
  }

  /** Records this node's own newer alive claim (after a refutation or a tag change). */
  announceSelf(signed: Signed<AliveClaim>, now: number): void {
    this.records.set(this.selfName, { name: this.selfName, status: 'alive', incarnation: signed.claim.incarnation, alive: signed, since: now });
  }

  /** Records this node's own leave; later claims about it are not refuted. */
  leaveSelf(signed: Signed<LeftClaim>, now: number): void {
    this.leaving = true;
    const self = this.self;
    this.records.set(this.selfName, { ...self, status: 'left', incarnation: signed.claim.incarnation, verdict: signed, since: now });
  }

  /** True if `name` is suspect at `incarnation` and `accuser` already said so. */
  hasAccused(name: string, incarnation: number, accuser: string): boolean {
    const r = this.records.get(name);
    return r?.status === 'suspect' && r.incarnation === incarnation && (r.accusers?.has(accuser) ?? false);
  }

  /** Applies a verified claim received from the network. */
  apply(signed: Signed, now: number): TableEvent[] {
    const claim: Claim = signed.claim;
    if (claim.name === this.selfName) return this.aboutSelf(claim);
    switch (claim.type) {
      case 'alive':
        return this.applyAlive(signed as Signed<AliveClaim>, now);
      case 'suspect':
      case 'failed':
      case 'left':
        return this.applyVerdict(signed as Signed<Verdict>, now);
    }
  }

  /**
   * Applies a sync entry. A member first learned of as a tombstone is recorded quietly: announcing a join
   * immediately followed by a failure of a member this node never saw alive would only mislead the handler.
   */
  merge(entry: SyncEntry, now: number): TableEvent[] {
    const { alive, verdict } = entry;
    if (verdict && verdict.claim.name !== alive.claim.name) return [];
    if (
      alive.claim.name !== this.selfName &&
      !this.records.has(alive.claim.name) &&
      verdict &&
      verdict.claim.type !== 'suspect' &&
      verdict.claim.incarnation >= alive.claim.incarnation
    ) {
      const status = verdict.claim.type === 'left' ? 'left' : 'failed';
      this.records.set(alive.claim.name, {
        name: alive.claim.name,
        status,
        incarnation: verdict.claim.incarnation,
        alive,
        verdict,
        since: now,
      });
      return [];
    }
    const events = this.apply(alive, now);
    return verdict ? events.concat(this.apply(verdict, now)) : events;
  }

  private aboutSelf(claim: Claim): TableEvent[] {
    const self = this.self;
    if (this.leaving) return [];
    switch (claim.type) {
      case 'alive':
        // Our own echo, or an announcement from a previous life of this node with a newer incarnation.
        if (claim.incarnation > self.incarnation || (claim.incarnation === self.incarnation && claim.peerId !== self.alive.claim.peerId)) {
          return [{ kind: 'refute', incarnation: claim.incarnation + 1 }];
        }
        return [];
      case 'suspect':
      case 'failed':
        if (claim.incarnation < self.incarnation) return [];
        return [{ kind: 'refute', incarnation: claim.incarnation + 1 }];
      case 'left':
        // Only this node signs its own leave: a newer one is from a previous life; outlive it.
        if (claim.incarnation < self.incarnation) return [];
        return [{ kind: 'refute', incarnation: claim.incarnation + 1 }];
    }
  }

  private applyAlive(signed: Signed<AliveClaim>, now: number): TableEvent[] {
    const claim = signed.claim;
    const cur = this.records.get(claim.name);
    if (cur && claim.incarnation <= cur.incarnation) return [];
    this.records.set(claim.name, { name: claim.name, status: 'alive', incarnation: claim.incarnation, alive: signed, since: now });
    if (!cur || cur.status === 'failed' || cur.status === 'left') {
      return [{ kind: 'join', name: claim.name, tags: claim.tags }];
    }
    if (!sameTags(cur.alive.claim.tags, claim.tags)) return [{ kind: 'update', name: claim.name, tags: claim.tags }];
    return [];
  }

  private applyVerdict(signed: Signed<Verdict>, now: number): TableEvent[] {
    const claim = signed.claim;
    const cur = this.records.get(claim.name);
    // Nothing can be said about a member nobody announced: there would be no tags, address or peer id.
    if (!cur) return [];
    const status: MemberStatus = claim.type;
    if (claim.incarnation < cur.incarnation) return [];
    if (claim.type === 'suspect') {
      // A tombstone is final: a suspicion cannot reopen it.
      if (cur.status === 'failed' || cur.status === 'left') return [];
      // Another member independently suspects the same incarnation: a confirmation that shortens the timeout.
      if (cur.status === 'suspect' && claim.incarnation === cur.incarnation) {
        if (cur.accusers?.has(claim.from)) return [];
        this.records.set(claim.name, { ...cur, accusers: new Set([...(cur.accusers ?? []), claim.from]) });
        return [];
      }
    } else if (!supersedes({ incarnation: claim.incarnation, status }, cur)) {
      return [];
    }
    const wasLive = cur.status === 'alive' || cur.status === 'suspect';
    const { accusers: _previous, ...rest } = cur;
    const next: MemberRecord = { ...rest, status, incarnation: claim.incarnation, verdict: signed, since: now };
    if (claim.type === 'suspect') next.accusers = new Set([claim.from]);
    this.records.set(claim.name, next);
    switch (claim.type) {
      case 'suspect':
        return cur.status === 'suspect' ? [] : [{ kind: 'suspect', name: claim.name }];
      case 'failed':
        return wasLive ? [{ kind: 'failed', name: claim.name }] : [];
      case 'left':
        // A member declared failed that turns out to have left on purpose: tell the handler it left.
        return [{ kind: 'leave', name: claim.name }];
    }
  }

  /**
   * Advances time: drops tombstones older than the reap timeout and returns the suspects whose suspicion
   * expired, for the runtime to declare failed (it signs that claim, so the table cannot).
   */
  tick(now: number): { name: string; incarnation: number }[] {
    const expired: { name: string; incarnation: number }[] = [];
    const expected = expectedConfirmations(this.others('alive', 'suspect').length + 1);
    for (const r of this.records.values()) {
      if (r.name === this.selfName) continue;
      const confirmations = Math.max(0, (r.accusers?.size ?? 1) - 1);
      if (r.status === 'suspect' && now - r.since >= suspicionTimeout(this.timings.suspicionTimeoutMs, confirmations, expected)) {
        expired.push({ name: r.name, incarnation: r.incarnation });
      } else if ((r.status === 'failed' || r.status === 'left') && now - r.since >= this.timings.reapTimeoutMs) {
        this.records.delete(r.name);
      }
    }
    return expired;
  }

  /**
   * Pushes every running suspicion's deadline back by `ms`: while this node was frozen (GC, CPU starvation)
   * it could not hear refutations, so that time must not count against the suspects.
   */
  postponeSuspicions(ms: number): void {
    for (const r of this.records.values()) if (r.status === 'suspect') r.since += ms;
  }

  digest(): Digest {
    const d: Digest = {};
    for (const r of this.records.values()) d[r.name] = { incarnation: r.incarnation, status: r.status };
    return d;
  }

  /** The entries this node knows better than the holder of `digest` does. */
  newerThan(digest: Digest): SyncEntry[] {
    const out: SyncEntry[] = [];
    for (const r of this.records.values()) {
      if (supersedes(r, digest[r.name])) out.push(r.verdict ? { alive: r.alive, verdict: r.verdict } : { alive: r.alive });
    }
    return out;
  }

  /** Every known member, this node included, sorted by name. */
  members(): Member[] {
    return [...this.records.values()]
      .map((r) => ({
        name: r.name,
        tags: { ...r.alive.claim.tags },
        status: r.status,
        incarnation: r.incarnation,
        addr: r.alive.claim.addr,
      }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Other members in the given statuses. */
  others(...statuses: MemberStatus[]): MemberRecord[] {
    return [...this.records.values()].filter((r) => r.name !== this.selfName && statuses.includes(r.status));
  }
}
