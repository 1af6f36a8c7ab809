// Everything one agent needs to run, already parsed and checked. The CLI (cmd/proglog) builds it from flags and
// a YAML file; tests build it directly.

export type SyncPolicy = 'always' | 'interval' | 'never';

export interface TlsFiles {
  certFile: string;
  keyFile: string;
  caFile: string;
}

export interface AgentConfig {
  /** Holds the node's logs, Raft state and membership identity; restarting with it brings the node back as itself. */
  dataDir: string;
  /** Unique in the cluster; also the CN the node's peer certificate must carry. */
  nodeName: string;
  /** host:port of membership (gossip). Its host is also the host of the RPC port. */
  bindAddr: string;
  /** The one port shared by gRPC clients and Raft peers (0: the OS picks; tests only). */
  rpcPort: number;
  /** Membership addresses (host:port) of nodes already in the cluster. */
  startJoinAddrs: string[];
  /** Start a new cluster with this node as its only voter. Only the first node of a new cluster sets it. */
  bootstrap: boolean;
  aclModelFile: string;
  aclPolicyFile: string;
  /** What gRPC clients see. */
  serverTls: TlsFiles;
  /** Between nodes: Raft and membership. The certificate's CN must be nodeName. */
  peerTls: TlsFiles;
  log: {
    maxStoreBytes: number;
    maxIndexBytes: number;
    maxRecordBytes: number;
    sync: SyncPolicy;
    syncIntervalMs: number;
    retentionMaxBytes?: number;
    retentionMaxAgeMs?: number;
    /** Most topics, the default log included; the leader refuses a produce that would create one more. */
    maxTopics?: number;
  };
  raft: {
    heartbeatIntervalMs: number;
    electionTimeoutMs: number;
  };
  /** Failure detection: how often a member probes another, and how long a suspect has to refute. */
  membership: {
    probeIntervalMs: number;
    suspicionTimeoutMs: number;
  };
  /** A member declared failed stays a Raft voter this long before the leader removes it. */
  reapTimeMs: number;
  /** The leader reconciles the Raft configuration with the member list at least this often. */
  reconcileIntervalMs: number;
  /** On shutdown, open streams get this long to finish before they are cut. */
  drainTimeoutMs: number;
  /** host:port serving Prometheus text at /metrics; empty: no metrics server. */
  metricsAddr: string;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
}

export const DEFAULT_AGENT_TIMINGS = {
  heartbeatIntervalMs: 50,
  electionTimeoutMs: 500,
  reapTimeMs: 30_000,
  probeIntervalMs: 1_000,
  suspicionTimeoutMs: 5_000,
  reconcileIntervalMs: 5_000,
  drainTimeoutMs: 5_000,
} as const;

export class AgentConfigError extends Error {
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(`${key}: ${message}`);
    this.name = 'AgentConfigError';
  }
}

/** The host of bindAddr joined with rpcPort: the address clients and peers dial. */
export function rpcAddrOf(config: Pick<AgentConfig, 'bindAddr' | 'rpcPort'>, port = config.rpcPort): string {
  const { host } = splitAddr(config.bindAddr, 'bind-addr');
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export function splitAddr(addr: string, key: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:\s]+)):(\d{1,5})$/.exec(addr);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new AgentConfigError(key, `"${addr}" is not host:port`);
  return { host: (m[1] ?? m[2])!, port };
}
