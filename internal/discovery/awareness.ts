// Local health awareness (from Lifeguard, as memberlist does it): a node that keeps failing its own probes, or
// has to refute suspicions about itself, is more likely slow itself (CPU starvation, GC, a saturated link)
// than surrounded by dead members. It then waits longer for answers before accusing anyone.

export class Awareness {
  private score = 0;

  constructor(private readonly max = 8) {}

  /** 0 when healthy, up to `max` when this node looks unhealthy. */
  get health(): number {
    return this.score;
  }

  /** A probe was answered: evidence this node works. */
  succeeded(): void {
    this.score = Math.max(0, this.score - 1);
  }

  /** A probe failed directly and indirectly, this node had to refute, or its event loop stalled. */
  degraded(by = 1): void {
    this.score = Math.min(this.max, this.score + by);
  }

  /** Scales a timeout by the current health: a node at health h waits (h + 1) times as long. */
  scale(ms: number): number {
    return ms * (this.score + 1);
  }
}
