// The replicated log for a real agent: internal/distributed over the peer TLS identity, its topic logs under
// the data dir, Raft timings derived from the agent's heartbeat and election settings.
import { memberName } from '../distributed/node-identity.js';
import { ReplicatedLog } from '../distributed/replicated-log.js';
import { topicLogConfig } from '../distributed/topic-state-machine.js';
import type { LogConfigInput } from '../log/index.js';
import type { LogPartContext, ReplicatedLogPart } from './agent.js';

export function logConfigOf(config: Pick<LogPartContext['config'], 'log'>): LogConfigInput {
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

/**
 * Throws InvalidConfigError for log settings the replicated log would refuse: the check ReplicatedLog.open makes,
 * for a caller that wants to refuse them before anything starts.
 */
export function checkLogConfig(config: Pick<LogPartContext['config'], 'log'>): void {
  topicLogConfig(logConfigOf(config));
}

export async function openReplicatedLog(ctx: LogPartContext): Promise<ReplicatedLogPart> {
  const { config } = ctx;
  const tickMs = config.raft.heartbeatIntervalMs;
  const log = await ReplicatedLog.open({
    id: config.nodeName,
    dataDir: config.dataDir,
    advertiseAddr: ctx.rpcAddr,
    peerTls: {
      ca: ctx.peerTls.ca,
      cert: ctx.peerTls.cert,
      key: ctx.peerTls.key,
      // Peer certificates carry the node name as CN (membership requires it), so one node's certificate cannot
      // speak for another node's Raft id.
      verifyPeerId: (raftId, cert) => memberName(raftId) === cert.subject?.CN,
    },
    bootstrap: config.bootstrap,
    tickMs,
    heartbeatTicks: 1,
    electionTicks: Math.max(2, Math.round(config.raft.electionTimeoutMs / tickMs)),
    log: logConfigOf(config),
    ...(config.log.maxTopics !== undefined ? { maxTopics: config.log.maxTopics } : {}),
    logDeps: { datasync: ctx.datasync },
    logger: {
      error: (obj, msg) => {
        ctx.logger.error(obj, msg);
        const err = (obj as { err?: unknown }).err;
        ctx.onFatal(err instanceof Error ? err : new Error(msg));
      },
    },
  });
  if (log.bootstrapIgnored) {
    ctx.logger.warn(
      { dataDir: config.dataDir },
      '--bootstrap ignored: the data dir already holds Raft state of a cluster this node joined (bootstrapping would overwrite it)',
    );
  }
  return log;
}
