// The state of the simulated network: one rule per directed link between named endpoints (nodes, and 'client'
// for every process that is not a node). Proxies consult it for every byte they forward, so a partition is just
// a set of rules, and healing is clearing them.

/**
 * What happens to bytes sent over a directed link.
 * - pass: forwarded at once.
 * - hold: not forwarded, kept in order and delivered when the link heals, as TCP does with a cable pulled out and
 *   plugged back before the connection times out. This is how a partition and one-way loss look to the endpoints.
 * - delay: forwarded `ms` after they arrived, in order.
 */
export type LinkFault = { kind: 'pass' } | { kind: 'hold' } | { kind: 'delay'; ms: number };

export const PASS: LinkFault = Object.freeze({ kind: 'pass' });
export const HOLD: LinkFault = Object.freeze({ kind: 'hold' });

export class InvalidLinkError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidLinkError';
  }
}

export const CLIENT = 'client';

export class LinkTable {
  private readonly faults = new Map<string, LinkFault>();
  private readonly listeners = new Set<() => void>();

  /** Sets the rule for bytes travelling from `from` to `to`. */
  set(from: string, to: string, fault: LinkFault): void {
    if (from === to) throw new InvalidLinkError(`a link needs two different endpoints, got ${from} -> ${to}`);
    if (fault.kind === 'delay' && !(Number.isFinite(fault.ms) && fault.ms >= 0)) {
      throw new InvalidLinkError(`delay must be a finite number of ms >= 0, got ${fault.ms}`);
    }
    if (fault.kind === 'pass') this.faults.delete(key(from, to));
    else this.faults.set(key(from, to), fault);
    this.changed();
  }

  get(from: string, to: string): LinkFault {
    return this.faults.get(key(from, to)) ?? PASS;
  }

  /** Holds every byte between the two groups, both ways. */
  split(groupA: readonly string[], groupB: readonly string[]): void {
    for (const a of groupA) {
      for (const b of groupB) {
        this.faults.set(key(a, b), HOLD);
        this.faults.set(key(b, a), HOLD);
      }
    }
    this.changed();
  }

  /** Holds bytes from `from` to `to` only; the other direction still flows. */
  oneWay(from: string, to: string): void {
    this.set(from, to, HOLD);
  }

  /** Every link passes again; held bytes are delivered. */
  heal(): void {
    this.faults.clear();
    this.changed();
  }

  /** Links currently not passing, as "from->to" strings (for logs and histories). */
  describe(): string[] {
    return [...this.faults.entries()].map(([k, f]) => `${k}:${f.kind === 'delay' ? `delay${f.ms}` : f.kind}`).sort();
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(): void {
    for (const l of this.listeners) l();
  }
}

function key(from: string, to: string): string {
  return `${from}->${to}`;
}
