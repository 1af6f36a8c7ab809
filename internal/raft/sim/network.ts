// A simulated network between nodes in one process: messages take a random number of ticks to arrive, may be
// dropped or duplicated, arrive in any order, and do not cross partitioned links (a link is directed, so a
// partition can be one-way). All randomness comes from the seeded source, so a run replays exactly.
import type { SeededRandom } from '../random.js';
import type { Message, NodeId } from '../types.js';

export interface Faults {
  /** Probability that a message is lost. */
  drop: number;
  /** Probability that a message is delivered twice. */
  duplicate: number;
  /** Max extra ticks a message may take (0 = delivered within the tick it was sent). */
  maxDelay: number;
}

export const RELIABLE: Faults = { drop: 0, duplicate: 0, maxDelay: 0 };

interface InFlight {
  at: number;
  m: Message;
}

export class SimNetwork {
  faults: Faults = RELIABLE;
  private inflight: InFlight[] = [];
  /** Directed links that are cut, as "from->to". */
  private readonly cut = new Set<string>();
  sent = 0;
  delivered = 0;
  dropped = 0;
  duplicated = 0;
  /** Messages delivered, by type (shows what a run exercised). */
  readonly deliveredByType = new Map<string, number>();

  constructor(private readonly rng: SeededRandom) {}

  send(m: Message, now: number): void {
    this.sent++;
    if (this.rng.chance(this.faults.drop)) {
      this.dropped++;
      return;
    }
    const copies = this.rng.chance(this.faults.duplicate) ? 2 : 1;
    if (copies === 2) this.duplicated++;
    for (let i = 0; i < copies; i++) {
      this.inflight.push({ at: now + (this.faults.maxDelay > 0 ? this.rng.int(this.faults.maxDelay + 1) : 0), m });
    }
  }

  /** Removes and returns one message due by `now`, picked at random among those due (reordering), or null. */
  next(now: number): Message | null {
    let due = 0;
    for (const f of this.inflight) if (f.at <= now) due++;
    if (due === 0) return null;
    let pick = this.rng.int(due);
    for (let i = 0; i < this.inflight.length; i++) {
      const f = this.inflight[i]!;
      if (f.at > now) continue;
      if (pick-- === 0) {
        this.inflight.splice(i, 1);
        if (this.cut.has(`${f.m.from}->${f.m.to}`)) return this.next(now);
        this.delivered++;
        this.deliveredByType.set(f.m.type, (this.deliveredByType.get(f.m.type) ?? 0) + 1);
        return f.m;
      }
    }
    return null;
  }

  /** Like next(), among the messages due to `to` only: what a node reads while it is busy with something else. */
  nextFor(to: NodeId, now: number): Message | null {
    const due: number[] = [];
    for (let i = 0; i < this.inflight.length; i++) {
      const f = this.inflight[i]!;
      if (f.at <= now && f.m.to === to) due.push(i);
    }
    if (due.length === 0) return null;
    const [f] = this.inflight.splice(due[this.rng.int(due.length)]!, 1);
    if (this.cut.has(`${f!.m.from}->${f!.m.to}`)) return this.nextFor(to, now);
    this.delivered++;
    this.deliveredByType.set(f!.m.type, (this.deliveredByType.get(f!.m.type) ?? 0) + 1);
    return f!.m;
  }

  pending(): number {
    return this.inflight.length;
  }

  cutLink(from: NodeId, to: NodeId): void {
    this.cut.add(`${from}->${to}`);
  }

  /** Splits nodes into two sides that cannot reach each other. */
  partition(a: NodeId[], b: NodeId[]): void {
    for (const x of a) {
      for (const y of b) {
        this.cutLink(x, y);
        this.cutLink(y, x);
      }
    }
  }

  isolated(): boolean {
    return this.cut.size > 0;
  }

  heal(): void {
    this.cut.clear();
  }

  /** Forgets messages to a node (it crashed: whatever was in its socket buffers is gone). */
  dropTo(id: NodeId): void {
    this.inflight = this.inflight.filter((f) => f.m.to !== id);
  }
}
