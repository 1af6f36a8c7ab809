// The seam between the membership protocol and the network. The protocol needs three things: broadcast to
// everyone (gossip), ping one member, and a request/response exchange with one member (state sync, indirect
// probes, leave). libp2p-transport.ts provides them over libp2p; nothing outside this folder sees libp2p.

/** Where to reach a member: its host:port, and its peer id when known (start-join addresses have none). */
export interface PeerAddress {
  addr: string;
  peerId?: string;
}

/** accept: deliver and forward. reject: drop and penalize the sender. ignore: drop quietly. */
export type GossipVerdict = 'accept' | 'reject' | 'ignore';

export interface MembershipTransport {
  /** This node's peer id. */
  readonly peerId: string;
  /** host:port actually listened on. */
  boundAddr(): string;
  /** Sends to every reachable member; returns once handed to the connected peers. */
  broadcast(data: Uint8Array): Promise<void>;
  /** Judges each gossip message once, before it is delivered or forwarded. */
  onGossip(judge: (data: Uint8Array) => GossipVerdict): void;
  /** Round trip to the member; rejects on timeout or when it cannot be reached. */
  ping(to: PeerAddress, timeoutMs: number): Promise<void>;
  /** One request, one response. Rejects on timeout or when the other side refuses. */
  request(to: PeerAddress, data: Uint8Array, timeoutMs: number): Promise<Uint8Array>;
  /** Serves requests; a handler that throws makes the transport drop the exchange and the connection. */
  onRequest(handler: (data: Uint8Array, fromPeerId: string) => Promise<Uint8Array>): void;
  stop(): Promise<void>;
}

/** Who is who, so the transport can honour link faults named by member. */
export interface PeerDirectory {
  nameOf(peerId: string): string | undefined;
  peerIdOf(name: string): string | undefined;
}
