// The core's only source of randomness (election timeout jitter), injected so a run is reproducible.

export interface Random {
  /** A uniformly distributed integer in [0, n). */
  int(n: number): number;
}

/**
 * splitmix32-style generator: tiny, fast, and good enough for jitter and fault injection.
 * The same seed always yields the same sequence.
 */
export class SeededRandom implements Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** The next 32-bit unsigned value. */
  next32(): number {
    this.state = (this.state + 0x9e3779b9) >>> 0;
    let z = this.state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  }

  int(n: number): number {
    if (n <= 1) return 0;
    return this.next32() % n;
  }

  /** A float in [0, 1). */
  float(): number {
    return this.next32() / 4294967296;
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.float() < p;
  }

  /** A new independent generator derived from this one. */
  fork(): SeededRandom {
    return new SeededRandom(this.next32() ^ 0x5bd1e995);
  }
}
