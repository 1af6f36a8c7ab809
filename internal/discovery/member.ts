// What the rest of proglog sees of the cluster: members, their tags, and the events that change them.

/** Free-form labels a member publishes about itself; `rpc_addr` is where its gRPC server listens. */
export interface MemberTags {
  rpc_addr: string;
  [key: string]: string;
}

/**
 * alive: answering probes. suspect: a probe failed; it has until the suspicion timeout to refute.
 * failed: declared dead (crash or partition). left: announced a graceful leave.
 * failed and left members are tombstones, kept for the reap timeout so stale messages cannot revive them.
 */
export type MemberStatus = 'alive' | 'suspect' | 'failed' | 'left';

export interface Member {
  name: string;
  tags: MemberTags;
  status: MemberStatus;
  /** Raised only by the member itself: on every start and to refute a suspicion. */
  incarnation: number;
  /** host:port of the member's gossip (libp2p TCP) endpoint. */
  addr: string;
}

/** Receives membership changes. Calls are serialized per node and never overlap. */
export interface MembershipHandler {
  /** A member became known, or came back after failing or leaving. */
  join(name: string, tags: MemberTags): void | Promise<void>;
  /** A member announced a graceful leave. */
  leave(name: string): void | Promise<void>;
  /** A member was declared failed: it crashed or is partitioned away. */
  failed(name: string): void | Promise<void>;
  /** A live member changed its tags. */
  update?(name: string, tags: MemberTags): void | Promise<void>;
  /** A member is suspected; it is not failed yet and may refute. For metrics and tests. */
  suspect?(name: string): void | Promise<void>;
}
