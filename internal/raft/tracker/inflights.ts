// A bounded window of append messages sent to one follower and not yet acknowledged (pipelining):
// each slot remembers the last index the message carried and its size in bytes.

export class Inflights {
  private readonly indexes: number[] = [];
  private readonly sizes: number[] = [];
  private start = 0;
  private bytes = 0;

  constructor(readonly maxMessages: number, readonly maxBytes: number = Infinity) {}

  get count(): number {
    return this.indexes.length - this.start;
  }

  get full(): boolean {
    return this.count >= this.maxMessages || this.bytes >= this.maxBytes;
  }

  add(lastIndex: number, size: number): void {
    this.indexes.push(lastIndex);
    this.sizes.push(size);
    this.bytes += size;
  }

  /** Frees every message whose last index is at or below `to` (they were all acknowledged). */
  freeLE(to: number): void {
    while (this.start < this.indexes.length && this.indexes[this.start]! <= to) {
      this.bytes -= this.sizes[this.start]!;
      this.start++;
    }
    if (this.start > 64 && this.start * 2 > this.indexes.length) {
      this.indexes.splice(0, this.start);
      this.sizes.splice(0, this.start);
      this.start = 0;
    }
  }

  /** Frees the oldest message, whatever it carried (used when its acknowledgement was probably lost). */
  freeFirstOne(): void {
    if (this.count === 0) return;
    this.freeLE(this.indexes[this.start]!);
  }

  reset(): void {
    this.indexes.length = 0;
    this.sizes.length = 0;
    this.start = 0;
    this.bytes = 0;
  }
}
