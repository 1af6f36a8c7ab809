// ReadIndex: a linearizable read barrier. The leader records its commit index for the request, then proves
// it is still the leader by a heartbeat round acknowledged by a quorum; the read may be served once the
// state machine has applied that index.
import { hasQuorum } from './quorum.js';
import type { NodeId, ReadState } from './types.js';

interface PendingRead {
  index: number;
  context: string;
  acks: Set<NodeId>;
}

export class ReadOnly {
  private readonly pending = new Map<string, PendingRead>();
  /** Contexts in the order they were requested; a quorum ack for one confirms all earlier ones too. */
  private queue: string[] = [];

  has(context: string): boolean {
    return this.pending.has(context);
  }

  add(index: number, context: string, self: NodeId): void {
    if (this.pending.has(context)) return;
    this.pending.set(context, { index, context, acks: new Set([self]) });
    this.queue.push(context);
  }

  /** Records a heartbeat acknowledgement; returns the reads now confirmed (in request order), removing them. */
  ack(context: string, from: NodeId, voters: readonly NodeId[]): ReadState[] {
    const p = this.pending.get(context);
    if (!p) return [];
    p.acks.add(from);
    if (!hasQuorum(voters, (id) => p.acks.has(id))) return [];
    const at = this.queue.indexOf(context);
    const done = this.queue.slice(0, at + 1);
    this.queue = this.queue.slice(at + 1);
    const out: ReadState[] = [];
    for (const c of done) {
      const r = this.pending.get(c)!;
      this.pending.delete(c);
      out.push({ index: r.index, context: r.context });
    }
    return out;
  }

  /** The newest pending context, to piggyback on heartbeats; '' if none. */
  lastContext(): string {
    return this.queue.length > 0 ? this.queue[this.queue.length - 1]! : '';
  }

  reset(): void {
    this.pending.clear();
    this.queue = [];
  }
}
