// Helpers for tests that drive nodes by hand (the rule-by-rule tests): boot a node, play the runtime for it,
// and pass messages between nodes with optional cut links. The randomized fault-injecting harness is sim/.
import type { Config } from './config.js';
import { SeededRandom } from './random.js';
import { RawNode } from './raw-node.js';
import { MemoryStorage } from './storage.js';
import type { Entry, Message, NodeId, ReadState } from './types.js';

export interface TestNode {
  raw: RawNode;
  storage: MemoryStorage;
  /** Entries handed out as committed, in order (what the state machine applied). */
  applied: Entry[];
  readStates: ReadState[];
}

/** A founding member of a cluster of `voters` (+ `learners`), with its bootstrap membership applied. */
export function bootNode(id: NodeId, voters: NodeId[], over: Partial<Config> = {}, learners: NodeId[] = []): TestNode {
  const storage = MemoryStorage.bootstrap(voters, learners);
  return startNode(id, storage, over);
}

export function startNode(id: NodeId, storage: MemoryStorage, over: Partial<Config> = {}): TestNode {
  const raw = new RawNode({
    id,
    storage,
    random: new SeededRandom(hashId(id)),
    electionTick: 10,
    heartbeatTick: 1,
    preVote: false,
    checkQuorum: false,
    ...over,
  });
  const n: TestNode = { raw, storage, applied: [], readStates: [] };
  drain(n);
  return n;
}

function hashId(id: string): number {
  let h = 7;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** Plays the runtime until nothing is ready: persists, collects messages, applies, advances. */
export function drain(n: TestNode): Message[] {
  const out: Message[] = [];
  for (let guard = 0; guard < 1000 && n.raw.hasReady(); guard++) {
    const rd = n.raw.ready();
    if (rd.snapshot) n.storage.applySnapshot(rd.snapshot);
    n.storage.append(rd.entries);
    if (rd.hardState) n.storage.setHardState(rd.hardState);
    out.push(...rd.messages);
    n.applied.push(...rd.committedEntries);
    n.readStates.push(...rd.readStates);
    n.raw.advance(rd);
  }
  return out;
}

/** Nodes joined by a perfect network, except for links that are cut or messages a filter rejects. */
export class TestNet {
  readonly nodes = new Map<NodeId, TestNode>();
  private readonly cut = new Set<string>();
  /** Every message delivered, in order (for assertions about what was sent). */
  readonly log: Message[] = [];
  /** Return false to drop a message. */
  filter: (m: Message) => boolean = () => true;

  constructor(ids: NodeId[], private readonly over: Partial<Config> = {}) {
    for (const id of ids) this.nodes.set(id, bootNode(id, ids, over));
  }

  node(id: NodeId): TestNode {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  raft(id: NodeId): RawNode['raft'] {
    return this.node(id).raw.raft;
  }

  /** Crash and restart: a new node over the same storage; only what was persisted survives. */
  restart(id: NodeId, over: Partial<Config> = {}): TestNode {
    const n = startNode(id, this.node(id).storage, { ...this.over, ...over });
    this.nodes.set(id, n);
    return n;
  }

  add(id: NodeId, n: TestNode): void {
    this.nodes.set(id, n);
  }

  isolate(id: NodeId): void {
    for (const other of this.nodes.keys()) {
      if (other === id) continue;
      this.cut.add(`${id}->${other}`);
      this.cut.add(`${other}->${id}`);
    }
  }

  cutLink(from: NodeId, to: NodeId): void {
    this.cut.add(`${from}->${to}`);
  }

  heal(): void {
    this.cut.clear();
  }

  /** Delivers messages (and every message they cause) until the network is quiet. Returns how many were delivered. */
  deliver(msgs: Message[] = []): number {
    const queue: Message[] = [...msgs];
    for (const n of this.nodes.values()) queue.push(...drain(n));
    let delivered = 0;
    for (let guard = 0; queue.length > 0; guard++) {
      if (guard > 100_000) throw new Error('message storm');
      const m = queue.shift()!;
      if (this.cut.has(`${m.from}->${m.to}`) || !this.filter(m)) continue;
      const n = this.nodes.get(m.to);
      if (!n) continue;
      this.log.push(m);
      delivered++;
      n.raw.step(m);
      queue.push(...drain(n));
    }
    return delivered;
  }

  /** Ticks one node `times` times, delivering after each tick. */
  tick(id: NodeId, times = 1): void {
    for (let i = 0; i < times; i++) {
      this.node(id).raw.tick();
      this.deliver();
    }
  }

  /** Ticks every node `times` times, delivering after each round. */
  tickAll(times = 1): void {
    for (let i = 0; i < times; i++) {
      for (const n of this.nodes.values()) n.raw.tick();
      this.deliver();
    }
  }

  /** Makes `id` campaign and delivers the election. */
  elect(id: NodeId): void {
    this.node(id).raw.campaign();
    this.deliver();
  }

  propose(id: NodeId, text: string): number {
    const idx = this.node(id).raw.propose(new TextEncoder().encode(text));
    this.deliver();
    return idx;
  }

  /** Text of the normal entries a node has applied. */
  appliedText(id: NodeId): string[] {
    const dec = new TextDecoder();
    return this.node(id).applied.filter((e) => e.type === 'normal').map((e) => dec.decode(e.data));
  }
}
