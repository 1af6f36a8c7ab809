// Keeps dead Buffers from piling up in an agent process. V8 frees a dead Buffer's memory only in a full
// collection, and starts one on account of external memory only once it has grown by about 64 MB since the last.
// An agent allocates Buffers fast (a produce passes through several: the request, the Raft entry, a frame per
// follower, the topic log's write), so tens of MB of dead ones accumulated between collections, in glibc's heap,
// which keeps its high-water mark: a leader ended a 1 GB write at ~190 MB resident instead of ~130. This asks V8
// for a full collection whenever ArrayBuffer memory has grown by `slackBytes` since the previous one. It needs
// Node's --expose-gc (AGENT_NODE_FLAGS); without it, it stays off.
//
// A collection asked for this way is a full, atomic one (25-35 ms), and after it V8 sets its old-generation limit
// close above what survived (about 1.35x here): with the ~25 MB an agent keeps, incremental marking then started
// again every 300 ms under load, and V8's collector took a quarter of a busy node's CPU. So while the bound is on,
// the heap growing factor is fixed (`heapGrowingPercent`). Measured writing 1 GB in 100-record batches on a
// three-node cluster, against the same run without the flag: at 100%, the leader's full collections went from
// 320-392 to ~144, its CPU per record from 11.4-12.7 to 9.4 us, throughput from 12.4-13.2 to 15.0-15.8 MB/s, but
// the nodes' resident peaks from 121-131 to 133-141 MB, close to the 150 MB we hold them to; at 60%, the default,
// 12.8-15.0 MB/s, 10.3-12.4 us, peaks of 128-132 MB.

import v8 from 'node:v8';

type Collect = (options: { type: 'major'; execution: 'async' }) => Promise<void> | void;

export interface ExternalGarbageOptions {
  /** Growth of ArrayBuffer memory since the last collection that asks for the next. Default 16 MiB. */
  slackBytes?: number;
  /** How often to look. Default 250 ms. */
  intervalMs?: number;
  /** Default: the `gc` that --expose-gc installs. */
  collect?: Collect | undefined;
  /** Default: process.memoryUsage().arrayBuffers. */
  arrayBuffers?: () => number;
  /** V8's old-generation growing factor while the bound is on, as (1 + percent / 100). Default 60. */
  heapGrowingPercent?: number;
  /** Default: v8.setFlagsFromString. */
  setV8Flags?: (flags: string) => void;
}

export class ExternalGarbageBound {
  private readonly slackBytes: number;
  private readonly intervalMs: number;
  private readonly collect: Collect | undefined;
  private readonly arrayBuffers: () => number;
  private readonly heapGrowingPercent: number;
  private readonly setV8Flags: (flags: string) => void;
  private base: number;
  private collecting = false;
  private timer: NodeJS.Timeout | undefined;
  /** Collections asked for so far. */
  collections = 0;

  constructor(options: ExternalGarbageOptions = {}) {
    this.slackBytes = options.slackBytes ?? 16 * 1024 * 1024;
    this.intervalMs = options.intervalMs ?? 250;
    this.collect = 'collect' in options ? options.collect : exposedGc();
    this.arrayBuffers = options.arrayBuffers ?? (() => process.memoryUsage().arrayBuffers);
    this.heapGrowingPercent = options.heapGrowingPercent ?? 60;
    this.setV8Flags = options.setV8Flags ?? ((flags) => v8.setFlagsFromString(flags));
    this.base = this.arrayBuffers();
  }

  /** Starts looking every intervalMs; false (and nothing started) when no collection can be asked for. */
  start(): boolean {
    if (this.collect === undefined) return false;
    // V8 reads the flag each time it sets a limit, so setting it in a running process takes effect.
    this.setV8Flags(`--heap-growing-percent=${this.heapGrowingPercent}`);
    this.timer ??= setInterval(() => this.check(), this.intervalMs).unref();
    return true;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Asks for a collection if ArrayBuffer memory grew by more than the slack since the last one ended. */
  check(): void {
    if (this.collect === undefined || this.collecting) return;
    if (this.arrayBuffers() <= this.base + this.slackBytes) return;
    this.collecting = true;
    this.collections++;
    const done = (): void => {
      this.collecting = false;
      this.base = this.arrayBuffers();
    };
    try {
      Promise.resolve(this.collect({ type: 'major', execution: 'async' })).then(done, done);
    } catch {
      done();
    }
  }
}

function exposedGc(): Collect | undefined {
  const gc: unknown = (globalThis as { gc?: unknown }).gc;
  return typeof gc === 'function' ? (gc as Collect) : undefined;
}
