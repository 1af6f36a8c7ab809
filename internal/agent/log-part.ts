// The replicated log for a real agent: internal/distributed over the peer TLS identity, its topic logs under
// the data dir, Raft timings derived from the agent's heartbeat and election settings.
import { ReplicatedLog } from '../distributed/replicated-log.js';
import type { LogConfigInput } from '../log/index.js';
import type { LogPartContext, ReplicatedLogPart } from './agent.js';
import type { RaftStatus } from './seams.js';

export function logConfigOf(config: LogPartContext['config']): LogConfigInput {
  const { log } = config;
  const retention: NonNullable<LogConfigInput['retention']> = {};
  if (log.retentionMaxBytes !== undefined) retention.maxLogBytes = log.retentionMaxBytes;
  if (log.retentionMaxAgeMs !== undefined) retention.maxAgeMs = log.retentionMaxAgeMs;
  return {
    segment: { maxStoreBytes: log.maxStoreBytes, maxIndexBytes: log.maxIndexBytes },
    sync: log.sync,
    syncIntervalMs: log.syncIntervalMs,
    maxRecordBytes: log.maxRecordBytes,
    retention,
  };
}

/** What the replicated log can report for metrics; term and commit index only if it exposes them. */
function statusOf(log: ReplicatedLog, own: (() => Partial<RaftStatus>) | undefined): RaftStatus {
  const reported = own?.() ?? {};
  return {
    term: reported.term ?? Number.NaN,
    commitIndex: reported.commitIndex ?? Number.NaN,
    appliedIndex: reported.appliedIndex ?? log.appliedIndex(),
    leaderId: reported.leaderId ?? log.leaderId() ?? null,
  };
}

export async function openReplicatedLog(ctx: LogPartContext): Promise<ReplicatedLogPart> {
  const { config } = ctx;
  const tickMs = config.raft.heartbeatIntervalMs;
  const log = await ReplicatedLog.open({
    id: config.nodeName,
    dataDir: config.dataDir,
    advertiseAddr: ctx.rpcAddr,
    peerTls: { ca: ctx.peerTls.ca, cert: ctx.peerTls.cert, key: ctx.peerTls.key },
    bootstrap: config.bootstrap,
    tickMs,
    heartbeatTicks: 1,
    electionTicks: Math.max(2, Math.round(config.raft.electionTimeoutMs / tickMs)),
    log: logConfigOf(config),
    logger: {
      error: (obj, msg) => {
        ctx.logger.error(obj, msg);
        const err = (obj as { err?: unknown }).err;
        ctx.onFatal(err instanceof Error ? err : new Error(msg));
      },
    },
  });
  const ownMethod = (log as unknown as { raftStatus?: () => Partial<RaftStatus> }).raftStatus;
  const own = typeof ownMethod === 'function' ? ownMethod.bind(log) : undefined;
  return Object.assign(log, { raftStatus: () => statusOf(log, own) }) as ReplicatedLogPart;
}
