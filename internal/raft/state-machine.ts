// The state machine seam: what the runtime applies committed entries to. The core never calls it (it only
// hands entries out in Ready); the runtime does, in order, and takes snapshots of it for compaction.
import type { Entry, Snapshot } from './types.js';

export interface StateMachine {
  /** Applies one committed entry; entries arrive in index order, each exactly once per life of the machine. */
  apply(entry: Entry): void;
  /** The index of the last entry applied (or restored from a snapshot). */
  appliedIndex(): number;
  /** Serializes the whole state, for a snapshot at appliedIndex(). */
  snapshot(): Uint8Array;
  /** Replaces the whole state with a snapshot's. */
  restore(snapshot: Snapshot): void;
}

/**
 * A state machine that keeps only a running hash of everything applied: two replicas that applied the same
 * entries in the same order have the same hash. Used by the simulation to compare replicas cheaply.
 */
export class HashStateMachine implements StateMachine {
  private index = 0;
  private h = 0;

  /** Bytes of filler added to each snapshot so tests can make snapshots span several chunks. */
  constructor(private readonly snapshotPadding = 0) {}

  get hash(): number {
    return this.h;
  }

  apply(e: Entry): void {
    if (e.index !== this.index + 1) throw new Error(`state machine: entry ${e.index} applied after ${this.index}`);
    this.index = e.index;
    this.h = HashStateMachine.chain(this.h, e);
  }

  appliedIndex(): number {
    return this.index;
  }

  snapshot(): Uint8Array {
    const out = new Uint8Array(12 + this.snapshotPadding);
    const v = new DataView(out.buffer);
    v.setFloat64(0, this.index);
    v.setUint32(8, this.h);
    for (let i = 0; i < this.snapshotPadding; i++) out[12 + i] = (this.h + i) & 0xff;
    return out;
  }

  restore(s: Snapshot): void {
    if (s.meta.index === 0 || s.data.length < 12) {
      this.index = s.meta.index;
      this.h = 0;
      return;
    }
    const v = new DataView(s.data.buffer, s.data.byteOffset, s.data.byteLength);
    this.index = v.getFloat64(0);
    this.h = v.getUint32(8);
  }

  /** The hash after applying `e` on top of `prev` (FNV-1a over index, term, type and data). */
  static chain(prev: number, e: Entry): number {
    let h = Math.imul((prev ^ e.index) >>> 0, 0x01000193);
    h = Math.imul(h ^ e.term, 0x01000193);
    h = Math.imul(h ^ (e.type === 'normal' ? 1 : e.type === 'confChange' ? 2 : 3), 0x01000193);
    const d = e.data;
    for (let i = 0; i < d.length; i++) h = Math.imul(h ^ d[i]!, 0x01000193);
    return h >>> 0;
  }
}
