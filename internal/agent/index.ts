// The agent: one proglog node wiring membership, the replicated log and the gRPC server on one port.
export { Agent, type AgentOptions, type AgentParts, type LogPartContext, type MembershipPartContext, type PeerTlsPem, type ReplicatedLogPart } from './agent.js';
export { AgentConfigError, DEFAULT_AGENT_TIMINGS, rpcAddrOf, type AgentConfig, type SyncPolicy, type TlsFiles } from './config.js';
export { AgentMetrics, MeteredLogService, serveMetrics, type MetricsServer } from './metrics.js';
export { MuxAddressInUseError, PortMux, RAFT_CONNECTION_BYTE, type GrpcConnectionInjector, type PortMuxOptions, type RaftConnectionAcceptor } from './mux.js';
export { FailureClock, planReconcile, Reconciler, type ReconcileAction } from './reconciler.js';
export { realParts } from './real-parts.js';
export type { ClusterMembership, RaftStatus, ReplicatedLog } from './seams.js';
