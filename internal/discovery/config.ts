// Membership configuration and the timing defaults, checked once at start so a typo fails loudly.
import { MembershipConfigError, type RejectedMessageError } from './errors.js';
import type { LinkFaults } from './link-faults.js';
import type { MemberTags, MembershipHandler } from './member.js';

export interface MembershipTimings {
  /** How often this node probes one other member (round robin). */
  probeIntervalMs: number;
  /** How long a direct ping may take before indirect probes are tried. */
  probeTimeoutMs: number;
  /** How long a suspect has to refute before it is declared failed. */
  suspicionTimeoutMs: number;
  /** How long failed and left members are kept as tombstones. */
  reapTimeoutMs: number;
  /** Gossipsub heartbeat: mesh upkeep and lazy gossip of recent messages. */
  gossipIntervalMs: number;
  /** Anti-entropy: how often full state is reconciled with one live member and one failed one. */
  syncIntervalMs: number;
  /** Members asked to ping a target this node could not reach, before suspecting it. */
  indirectProbes: number;
}

/** LAN defaults, in the spirit of memberlist's LAN profile and Serf's tombstone lifetime. */
export const defaultTimings: Readonly<MembershipTimings> = Object.freeze({
  probeIntervalMs: 1000,
  probeTimeoutMs: 500,
  suspicionTimeoutMs: 5000,
  reapTimeoutMs: 24 * 60 * 60 * 1000,
  gossipIntervalMs: 1000,
  syncIntervalMs: 10_000,
  indirectProbes: 3,
});

export interface MembershipTls {
  /** PEM of the cluster CA (one or more certificates). */
  caPem: string;
  /** PEM of this node's certificate; its common name must equal `nodeName`. */
  certPem: string;
  /** PEM of this node's private key. */
  keyPem: string;
}

export interface MembershipConfig {
  nodeName: string;
  /** host:port to listen on for gossip; port 0 picks a free port (see `boundAddr()`). */
  bindAddr: string;
  tags: MemberTags;
  /** Plain host:port of any members; no peer ids needed. Empty to start a new cluster. */
  startJoinAddrs: string[];
  tls: MembershipTls;
  /** Where this node's libp2p key and incarnation persist across restarts. */
  dataDir: string;
  timings?: Partial<MembershipTimings>;
  /** 32 random bytes shared by the cluster: a libp2p private network (pnet) under the certificates. */
  preSharedKey?: Uint8Array;
  /**
   * When no start-join address answers: start alone and keep trying them (every probe interval, while no other
   * member is known alive) instead of failing with JoinError. For a node coming back with its data, whose seeds
   * may be down at the moment (Serf's and Consul's retry-join).
   */
  retryJoin?: boolean;
  handler?: MembershipHandler;
  /** Called for every refused message (bad certificate, signature, shape), for logs and metrics. */
  onRejected?: (error: RejectedMessageError) => void;
  /** Cuts links to named members, for tests and chaos experiments. */
  faults?: LinkFaults;
}

export interface HostPort {
  host: string;
  port: number;
}

export function parseHostPort(addr: string): HostPort {
  const i = addr.lastIndexOf(':');
  const host = i > 0 ? addr.slice(0, i).replace(/^\[(.*)\]$/, '$1') : '';
  const portText = i > 0 ? addr.slice(i + 1) : '';
  const port = Number(portText);
  if (!host || !/^\d+$/.test(portText) || port > 65535) {
    throw new MembershipConfigError(`address ${JSON.stringify(addr)} is not host:port`);
  }
  return { host, port };
}

export function resolveTimings(partial: Partial<MembershipTimings> = {}): MembershipTimings {
  const t: MembershipTimings = { ...defaultTimings };
  for (const [key, value] of Object.entries(partial) as [keyof MembershipTimings, number | undefined][]) {
    if (value === undefined) continue;
    const min = key === 'indirectProbes' ? 0 : 1;
    if (!Number.isInteger(value) || value < min) {
      throw new MembershipConfigError(`timings.${key} must be an integer >= ${min}, got ${String(value)}`);
    }
    t[key] = value;
  }
  if (t.probeTimeoutMs >= t.probeIntervalMs) {
    throw new MembershipConfigError('timings.probeTimeoutMs must be shorter than timings.probeIntervalMs');
  }
  return t;
}

export function validateConfig(cfg: MembershipConfig): void {
  if (!cfg.nodeName || /\s/.test(cfg.nodeName)) {
    throw new MembershipConfigError('nodeName must be a non-empty name without spaces');
  }
  parseHostPort(cfg.bindAddr);
  cfg.startJoinAddrs.forEach(parseHostPort);
  if (typeof cfg.tags?.rpc_addr !== 'string') throw new MembershipConfigError('tags.rpc_addr is required');
  for (const [k, v] of Object.entries(cfg.tags)) {
    if (typeof v !== 'string') throw new MembershipConfigError(`tag ${k} must be a string`);
  }
  if (!cfg.tls?.caPem || !cfg.tls.certPem || !cfg.tls.keyPem) {
    throw new MembershipConfigError('tls.caPem, tls.certPem and tls.keyPem are required');
  }
  if (!cfg.dataDir) throw new MembershipConfigError('dataDir is required');
  if (cfg.preSharedKey !== undefined && cfg.preSharedKey.length !== 32) {
    throw new MembershipConfigError('preSharedKey must be exactly 32 bytes');
  }
}
