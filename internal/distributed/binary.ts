// A minimal growable binary writer and a bounds-checked reader, shared by the wire and disk codecs.
// Integers are unsigned LEB128 varints (safe integers up to 2^53), strings and byte arrays are length-prefixed.

export class DecodeError extends Error {
  readonly code = 'DECODE_FAILED';
  constructor(what: string) {
    super(`cannot decode ${what}`);
    this.name = 'DecodeError';
  }
}

export class BinaryWriter {
  private buf: Buffer;
  private pos = 0;

  constructor(initialBytes = 256) {
    this.buf = Buffer.allocUnsafe(initialBytes);
  }

  private reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  u8(v: number): this {
    this.reserve(1);
    this.buf[this.pos++] = v;
    return this;
  }

  bool(v: boolean): this {
    return this.u8(v ? 1 : 0);
  }

  varint(v: number): this {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`varint out of range: ${v}`);
    this.reserve(8);
    while (v >= 0x80) {
      this.buf[this.pos++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.pos++] = v;
    return this;
  }

  bytes(v: Uint8Array): this {
    this.varint(v.length);
    this.reserve(v.length);
    this.buf.set(v, this.pos);
    this.pos += v.length;
    return this;
  }

  string(v: string): this {
    const n = Buffer.byteLength(v, 'utf8');
    this.varint(n);
    this.reserve(n);
    this.pos += this.buf.write(v, this.pos, 'utf8');
    return this;
  }

  /** The bytes written so far (a view: do not write after taking it). */
  finish(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

export class BinaryReader {
  private pos = 0;
  private readonly buf: Buffer;

  constructor(bytes: Uint8Array) {
    this.buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  }

  private need(n: number, what: string): void {
    if (this.pos + n > this.buf.length) throw new DecodeError(`${what}: truncated`);
  }

  u8(): number {
    this.need(1, 'u8');
    return this.buf[this.pos++]!;
  }

  bool(): boolean {
    return this.u8() !== 0;
  }

  varint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      this.need(1, 'varint');
      const b = this.buf[this.pos++]!;
      result += (b & 0x7f) * scale;
      if (b < 0x80) {
        if (!Number.isSafeInteger(result)) throw new DecodeError('varint: too large');
        return result;
      }
      scale *= 0x80;
    }
    throw new DecodeError('varint: too long');
  }

  /** A view into the input (no copy). */
  bytes(): Uint8Array {
    const n = this.varint();
    this.need(n, 'bytes');
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  string(): string {
    const n = this.varint();
    this.need(n, 'string');
    const out = this.buf.toString('utf8', this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  position(): number {
    return this.pos;
  }

  done(): boolean {
    return this.pos === this.buf.length;
  }

  expectDone(what: string): void {
    if (!this.done()) throw new DecodeError(`${what}: trailing bytes`);
  }
}
