// What the agent needs from the parts it wires, as interfaces: the real replicated log and membership implement
// them, and the agent's own tests use small in-memory ones.
import type net from 'node:net';
import type { Member, MemberTags } from '../discovery/member.js';
import type { LogService } from '../server/log-service.js';

export type { Member, MemberTags };

/** The Raft-replicated log, as the agent drives it. */
export interface ReplicatedLog extends LogService {
  /** Adds (or re-addresses) a voter. Only the leader may; others reject. */
  join(id: string, addr: string): Promise<void>;
  /** Removes a voter. Only the leader may. */
  leave(id: string): Promise<void>;
  /** Resolves once some node leads; rejects after timeoutMs. */
  waitForLeader(timeoutMs: number): Promise<unknown>;
  /** Hands leadership to an up-to-date follower. */
  transferLeadership(): Promise<void>;
  isLeader(): boolean;
  /** A raw peer socket whose RAFT_CONNECTION_BYTE was consumed by the mux. */
  acceptConnection(socket: net.Socket): void;
  close(): Promise<void>;
}

/** Raft figures for metrics, when the replicated log can report them. */
export interface RaftStatus {
  term: number;
  commitIndex: number;
  appliedIndex: number;
  leaderId: string | null;
}

export interface ClusterMembership {
  /** Every known member (this node included) with its status; failed and left ones until they are reaped. */
  members(): Member[];
  /** Graceful leave: tells the cluster, then stops. */
  leave(): Promise<void>;
  /** host:port the membership endpoint is bound to. */
  boundAddr(): string;
}
