// Keeps dead Buffers from piling up in an agent process. V8 frees a dead Buffer's memory only in a full
// collection, and starts one on account of external memory only once it has grown by about 64 MB since the last.
// An agent allocates Buffers fast (a produce passes through several: the request, the Raft entry, a frame per
// follower, the topic log's write), so tens of MB of dead ones accumulated between collections, in glibc's heap,
// which keeps its high-water mark: a leader ended a 1 GB write at ~190 MB resident instead of ~130. This asks V8
// for a collection, incremental so that it does not stop the event loop, whenever ArrayBuffer memory has grown
// by `slackBytes` since the previous one. It needs Node's --expose-gc (AGENT_NODE_FLAGS); without it, it stays off.

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
}

export class ExternalGarbageBound {
  private readonly slackBytes: number;
  private readonly intervalMs: number;
  private readonly collect: Collect | undefined;
  private readonly arrayBuffers: () => number;
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
    this.base = this.arrayBuffers();
  }

  /** Starts looking every intervalMs; false (and nothing started) when no collection can be asked for. */
  start(): boolean {
    if (this.collect === undefined) return false;
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
