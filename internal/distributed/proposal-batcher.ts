// Turns many concurrent produce calls into few Raft entries: calls that arrive in the same turn of the event
// loop (and while the runtime is busy with a Ready, all of them) are grouped per topic into append commands of
// up to maxEntryBytes, proposed together. Each call learns its offsets from its command's first offset.

import { encodeCommand } from './command-codec.js';

export interface ProduceCall {
  values: Uint8Array[];
  resolve: (firstOffset: number) => void;
  reject: (err: unknown) => void;
}

/**
 * A call once its command is encoded: its record count, not its records. The command holds a copy of them, and
 * records kept here until applied would outlive young-generation collections and wait for a full one.
 */
interface ProposedCall {
  count: number;
  resolve: (firstOffset: number) => void;
  reject: (err: unknown) => void;
}

interface PendingCommand {
  calls: ProposedCall[];
}

export class ProposalBatcher {
  private queued = new Map<string, ProduceCall[]>();
  private queuedBytes = 0;
  private scheduled = false;
  private nextProposalId = 1;
  private readonly pending = new Map<number, PendingCommand>();

  /**
   * @param propose hands encoded commands to Raft; throws (e.g. not the leader) to fail every call in them.
   */
  constructor(
    private readonly proposer: string,
    private readonly propose: (commands: Uint8Array[]) => void,
    private readonly maxEntryBytes = 1024 * 1024,
  ) {}

  add(topic: string, values: Uint8Array[]): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      let calls = this.queued.get(topic);
      if (!calls) this.queued.set(topic, (calls = []));
      calls.push({ values, resolve, reject });
      for (const v of values) this.queuedBytes += v.length;
      if (this.queuedBytes >= 4 * this.maxEntryBytes) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Proposes everything queued now. */
  flush(): void {
    this.scheduled = false;
    if (this.queued.size === 0) return;
    const queued = this.queued;
    this.queued = new Map();
    this.queuedBytes = 0;
    const commands: Uint8Array[] = [];
    const ids: number[] = [];
    for (const [topic, calls] of queued) {
      let group: ProduceCall[] = [];
      let bytes = 0;
      const seal = (): void => {
        if (group.length === 0) return;
        const proposalId = this.nextProposalId++;
        const records = group.flatMap((c) => c.values);
        commands.push(encodeCommand({ kind: 'append', proposer: this.proposer, proposalId, topic, records }));
        this.pending.set(proposalId, { calls: group.map((c) => ({ count: c.values.length, resolve: c.resolve, reject: c.reject })) });
        ids.push(proposalId);
        group = [];
        bytes = 0;
      };
      for (const call of calls) {
        let size = 0;
        for (const v of call.values) size += v.length + 5;
        if (bytes > 0 && bytes + size > this.maxEntryBytes) seal();
        group.push(call);
        bytes += size;
      }
      seal();
    }
    try {
      this.propose(commands);
    } catch (err) {
      for (const id of ids) this.fail(id, err);
    }
  }

  /** The command `proposalId` was applied with its records from `firstOffset` on. */
  applied(proposalId: number, firstOffset: number): void {
    const p = this.pending.get(proposalId);
    if (!p) return;
    this.pending.delete(proposalId);
    let offset = firstOffset;
    for (const call of p.calls) {
      call.resolve(offset);
      offset += call.count;
    }
  }

  fail(proposalId: number, err: unknown): void {
    const p = this.pending.get(proposalId);
    if (!p) return;
    this.pending.delete(proposalId);
    for (const call of p.calls) call.reject(err);
  }

  /**
   * Leadership was lost: what was proposed may still commit under the next leader (and then be applied here,
   * answering its callers), or may have been dropped. Whatever is still unanswered after `graceMs` fails with
   * `err`, which must not claim that nothing was stored: those entries may commit later still.
   */
  expireProposed(graceMs: number, err: unknown): void {
    const ids = [...this.pending.keys()];
    if (ids.length === 0) return;
    setTimeout(() => {
      for (const id of ids) this.fail(id, err);
    }, graceMs).unref();
  }

  /**
   * Fails every call (node closing): queued ones with `err`, proposed ones with `proposedErr`, since a proposed
   * entry may still commit.
   */
  failAll(err: unknown, proposedErr: unknown = err): void {
    const queued = this.queued;
    this.queued = new Map();
    this.queuedBytes = 0;
    for (const calls of queued.values()) for (const c of calls) c.reject(err);
    for (const id of [...this.pending.keys()]) this.fail(id, proposedErr);
  }

  pendingCount(): number {
    return this.pending.size;
  }
}
