// An in-memory network for protocol tests: the same MembershipTransport contract as libp2p, with no sockets,
// no handshakes and no CPU-bound crypto between nodes, so the protocol's rules can be tested apart from the
// network's timing. Links honour each node's LinkFaults exactly as the libp2p transport does; gossip is
// relayed by every node it reaches, like a gossipsub mesh, so a single cut link is routed around.
import { randomUUID } from 'node:crypto';
import { parseHostPort } from './config.js';
import { ExchangeRefusedError } from './errors.js';
import type { Libp2pTransportOptions } from './libp2p-transport.js';
import type { GossipVerdict, MembershipTransport, PeerAddress, PeerDirectory } from './transport.js';
import type { LinkFaults } from './link-faults.js';

class UnreachableError extends Error {}

export class InMemoryNetwork {
  private readonly nodes = new Map<string, InMemoryTransport>();
  private nextPort = 20000;
  /** Messages and bytes carried, for tests that care about cost. */
  messages = 0;

  /** A TransportFactory for Membership.start. */
  readonly open = async (options: Libp2pTransportOptions): Promise<MembershipTransport> => {
    const { host, port } = parseHostPort(options.bindAddr);
    const addr = `${host}:${port === 0 ? this.nextPort++ : port}`;
    const t = new InMemoryTransport(this, `mem-${randomUUID()}`, addr, options.directory, options.faults);
    this.nodes.set(t.peerId, t);
    return t;
  };

  find(to: PeerAddress): InMemoryTransport | undefined {
    if (to.peerId !== undefined) {
      const t = this.nodes.get(to.peerId);
      return t && t.boundAddr() === to.addr ? t : undefined;
    }
    return [...this.nodes.values()].find((t) => t.boundAddr() === to.addr);
  }

  remove(t: InMemoryTransport): void {
    this.nodes.delete(t.peerId);
  }

  linked(a: InMemoryTransport, b: InMemoryTransport): boolean {
    return !a.cuts(b.peerId) && !b.cuts(a.peerId);
  }

  /** Everyone the sender's gossip reaches, relayed hop by hop over uncut links. */
  reachedFrom(sender: InMemoryTransport): InMemoryTransport[] {
    const seen = new Set([sender]);
    const queue = [sender];
    while (queue.length > 0) {
      const from = queue.shift()!;
      for (const t of this.nodes.values()) {
        if (!seen.has(t) && this.linked(from, t)) {
          seen.add(t);
          queue.push(t);
        }
      }
    }
    seen.delete(sender);
    return [...seen];
  }
}

// A hop takes a turn of the event loop, as a real network takes time; nothing is delivered synchronously.
const hop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class InMemoryTransport implements MembershipTransport {
  private judge: (data: Uint8Array) => GossipVerdict = () => 'ignore';
  private handler: (data: Uint8Array, from: string) => Promise<Uint8Array> = () => Promise.reject(new Error('not serving'));
  private stopped = false;

  constructor(
    private readonly network: InMemoryNetwork,
    readonly peerId: string,
    private readonly addr: string,
    private readonly directory: PeerDirectory,
    private readonly faults?: LinkFaults,
  ) {}

  cuts(peerId: string): boolean {
    return this.faults?.isCut(this.directory.nameOf(peerId)) ?? false;
  }

  boundAddr(): string {
    return this.addr;
  }

  onGossip(judge: (data: Uint8Array) => GossipVerdict): void {
    this.judge = judge;
  }

  onRequest(handler: (data: Uint8Array, fromPeerId: string) => Promise<Uint8Array>): void {
    this.handler = handler;
  }

  async broadcast(data: Uint8Array): Promise<void> {
    if (this.stopped) return;
    const copy = Uint8Array.from(data);
    for (const t of this.network.reachedFrom(this)) {
      this.network.messages++;
      void hop().then(() => {
        if (!t.stopped) t.judge(copy);
      });
    }
  }

  private target(to: PeerAddress): InMemoryTransport {
    const t = this.network.find(to);
    if (this.stopped || !t || t.stopped || !this.network.linked(this, t)) throw new UnreachableError(`${to.addr} is unreachable`);
    return t;
  }

  async ping(to: PeerAddress): Promise<void> {
    this.target(to);
    await hop();
    this.target(to);
  }

  async request(to: PeerAddress, data: Uint8Array): Promise<Uint8Array> {
    const t = this.target(to);
    this.network.messages++;
    await hop();
    let response: Uint8Array;
    try {
      response = await t.handler(Uint8Array.from(data), this.peerId);
    } catch (err) {
      throw new ExchangeRefusedError(`${to.addr} refused the exchange`, { cause: err });
    }
    await hop();
    this.target(to);
    return response;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.network.remove(this);
  }
}
