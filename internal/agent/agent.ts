// The agent runs one proglog node: membership -> replicated log -> gRPC server, on one TCP port shared by
// gRPC clients and Raft peers (mux.ts), with metrics and structured logs. It is the only module that knows all
// the parts; each is reached through a seam (seams.ts), built by AgentParts (real-parts.ts in production).
import path from 'node:path';
import { pino, type Logger } from 'pino';
import { CasbinAuthorizer } from '../auth/index.js';
import { DataDirLock, loadServerTLS, type ServerTLS } from '../config/index.js';
import type { MembershipHandler } from '../discovery/member.js';
import { createServer, type ProglogServer } from '../server/index.js';
import { rpcAddrOf, splitAddr, type AgentConfig } from './config.js';
import { AgentMetrics, MeteredLogService, serveMetrics, type MetricsServer } from './metrics.js';
import { PortMux } from './mux.js';
import { Reconciler } from './reconciler.js';
import type { ClusterMembership, RaftStatus, ReplicatedLog } from './seams.js';

export interface PeerTlsPem {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

export interface ReplicatedLogPart extends ReplicatedLog {
  /** The id this node has in the Raft configuration (may differ from the node name, e.g. name#incarnation). */
  readonly raftId?: string;
  raftStatus?(): RaftStatus | null;
}

export interface LogPartContext {
  config: AgentConfig;
  /** host:port of the shared port, as peers and clients dial it. */
  rpcAddr: string;
  peerTls: PeerTlsPem;
  logger: Logger;
  /** Timed fdatasync for the log files (internal/log LogDeps.datasync). */
  datasync: (fd: number) => Promise<void>;
  /** The log stopped for good (e.g. a disk error): the agent shuts down and reports it. */
  onFatal: (err: Error) => void;
}

export interface MembershipPartContext {
  config: AgentConfig;
  rpcAddr: string;
  /** Published to the cluster so the leader adds this node under the right Raft id. */
  tags: Record<string, string>;
  peerTls: PeerTlsPem;
  handler: MembershipHandler;
  logger: Logger;
  /**
   * This node was in a cluster before (its Raft state says so): if none of its start-join addresses answers, it
   * runs on its data and keeps trying them, instead of failing to start.
   */
  returning: boolean;
}

export interface AgentParts {
  openReplicatedLog(ctx: LogPartContext): Promise<ReplicatedLogPart>;
  startMembership(ctx: MembershipPartContext): Promise<ClusterMembership>;
}

export interface AgentOptions {
  parts: AgentParts;
  logger?: Logger;
  /** Also export Node.js process metrics (off in tests, where several agents share a process). */
  processMetrics?: boolean;
}

/** Bounds a shutdown step so a stuck part cannot hold the process. */
async function within(ms: number, what: string, logger: Logger, step: () => Promise<unknown>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      step(),
      new Promise<void>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
      }),
    ]);
  } catch (err) {
    logger.warn({ err }, `shutdown: ${what} did not complete`);
  } finally {
    if (timer) clearTimeout(timer);
  }
}

export class Agent {
  private shuttingDown: Promise<void> | null = null;
  /** Resolves with the error if a part fails for good; the agent has then begun shutting down. */
  readonly failed: Promise<Error>;
  private fail!: (err: Error) => void;

  private constructor(
    readonly config: AgentConfig,
    readonly logger: Logger,
    readonly metrics: AgentMetrics,
    private readonly mux: PortMux,
    private readonly log: ReplicatedLogPart,
    private readonly server: ProglogServer,
    private readonly membership: ClusterMembership,
    private readonly reconciler: Reconciler,
    private readonly metricsServer: MetricsServer | null,
    private readonly dataDirLock: DataDirLock,
    earlyFailure: Promise<Error>,
  ) {
    this.failed = new Promise<Error>((resolve) => (this.fail = resolve));
    void earlyFailure.then((err) => this.onFatal(err));
  }

  private onFatal(err: Error): void {
    this.logger.error({ err }, 'a part of the agent failed: shutting down');
    this.fail(err);
    void this.shutdown();
  }

  static async start(config: AgentConfig, options: AgentOptions): Promise<Agent> {
    const logger = options.logger ?? pino({ level: config.logLevel, base: { node: config.nodeName } });
    const metrics = new AgentMetrics(config.nodeName, { processMetrics: options.processMetrics ?? false });
    const undo: Array<() => Promise<unknown>> = [];
    const rollback = async (): Promise<void> => {
      for (const step of undo.reverse()) await step().catch(() => undefined);
    };
    try {
      // First: a second agent on this dir must stop before it touches anything in it.
      const lock = await DataDirLock.acquire(config.dataDir);
      undo.push(async () => lock.release());
      // Named by their settings: a missing peer certificate is otherwise easily taken for the server's.
      const serverTls = await loadServerTLS(config.serverTls, {
        cert: 'server-tls-cert-file: server certificate',
        key: 'server-tls-key-file: server private key',
        ca: 'server-tls-ca-file: CA certificate',
      });
      const peerTls: ServerTLS = await loadServerTLS(config.peerTls, {
        cert: 'peer-tls-cert-file: peer certificate',
        key: 'peer-tls-key-file: peer private key',
        ca: 'peer-tls-ca-file: CA certificate',
      });
      const authorizer = await CasbinAuthorizer.fromFiles(config.aclModelFile, config.aclPolicyFile);

      // Bind first: with rpc-port 0 the address is only known now, and Raft must announce it.
      const { host } = splitAddr(config.bindAddr, 'bind-addr');
      const mux = await PortMux.listen({ host, port: config.rpcPort });
      undo.push(() => mux.close());
      const rpcAddr = rpcAddrOf(config, mux.port);

      const peerPem = { ca: peerTls.ca, cert: peerTls.cert, key: peerTls.key };
      // A failure may come before the Agent object exists; it is handed over once it does.
      let reportFatal!: (err: Error) => void;
      const earlyFailure = new Promise<Error>((resolve) => (reportFatal = resolve));
      const log = await options.parts.openReplicatedLog({
        config,
        rpcAddr,
        peerTls: peerPem,
        logger: logger.child({ component: 'raft' }),
        datasync: metrics.timedDatasync(),
        onFatal: (err) => reportFatal(err),
      });
      undo.push(() => log.close());

      const server = createServer({
        logService: new MeteredLogService(log, metrics),
        authorizer,
        credentials: serverTls.credentials,
        maxRecordBytes: config.log.maxRecordBytes,
        logger: logger.child({ component: 'server' }),
      });
      undo.push(() => server.stop(0));
      // We run gRPC's TLS handshake ourselves so that each connection's client identity is derived once, not per call.
      mux.attach(log, server.createTlsConnectionInjector(serverTls.grpcTlsOptions));

      // The reconciler exists before membership so that no event is missed; it starts once membership is up.
      let membership: ClusterMembership | null = null;
      // Raft ids carry an incarnation, but the replicated log's join/leave/getServers speak member names.
      const raftId = log.raftId ?? config.nodeName;
      const reconciler = new Reconciler({
        selfId: config.nodeName,
        raftIdOf: (m) => m.name,
        log,
        membership: { members: () => membership?.members() ?? [] },
        reapTimeMs: config.reapTimeMs,
        intervalMs: config.reconcileIntervalMs,
        logger: logger.child({ component: 'reconciler' }),
        onLeadershipChange: (leader) => {
          metrics.leaderChanges.inc();
          logger.info({ leader }, leader ? 'became leader' : 'lost leadership');
        },
      });
      undo.push(() => reconciler.stop());
      const onEvent = (event: string) => (name: string) => {
        logger.info({ member: name, event }, `member ${event}: ${name}`);
        // A member that (re)joins may be a new incarnation at an unchanged address: have the leader re-join it.
        if (event === 'join') reconciler.memberJoined(name);
        reconciler.trigger();
      };
      membership = await options.parts.startMembership({
        config,
        rpcAddr,
        tags: { rpc_addr: rpcAddr },
        peerTls: peerPem,
        logger: logger.child({ component: 'membership' }),
        handler: { join: onEvent('join'), leave: onEvent('leave'), failed: onEvent('failed'), update: onEvent('update') },
        returning: (log.raftStatus?.()?.term ?? 0) > 0,
      });
      const started = membership;
      undo.push(() => started.leave());
      reconciler.start();

      metrics.setSources({
        membershipSize: () => started.members().filter((m) => m.status === 'alive' || m.status === 'suspect').length,
        ...(log.raftStatus ? { raftStatus: () => log.raftStatus?.() ?? null } : {}),
      });
      let metricsServer: MetricsServer | null = null;
      if (config.metricsAddr !== '') {
        const m = splitAddr(config.metricsAddr, 'metrics-addr');
        metricsServer = await serveMetrics(metrics, m.host, m.port);
      }
      const agent = new Agent(config, logger, metrics, mux, log, server, started, reconciler, metricsServer, lock, earlyFailure);
      logger.info(
        { rpcAddr, membershipAddr: started.boundAddr(), metricsAddr: metricsServer?.addr ?? null, raftId, dataDir: path.resolve(config.dataDir) },
        'agent started',
      );
      return agent;
    } catch (err) {
      await rollback();
      throw err;
    }
  }

  /** host:port of the shared gRPC + Raft port. */
  get rpcAddr(): string {
    return this.mux.address;
  }

  get membershipAddr(): string {
    return this.membership.boundAddr();
  }

  get metricsAddr(): string | null {
    return this.metricsServer?.addr ?? null;
  }

  isLeader(): boolean {
    return this.log.isLeader();
  }

  /**
   * Orderly stop: leave membership (the cluster sees a graceful leave, not a failure), hand leadership over,
   * stop accepting connections, let open streams finish for drainTimeoutMs, then close Raft and the logs.
   * Idempotent; every step is bounded so a stuck part cannot hold the process.
   */
  shutdown(): Promise<void> {
    this.shuttingDown ??= this.doShutdown();
    return this.shuttingDown;
  }

  /**
   * Our graceful leave makes the leader remove us, and that change needs our vote when few voters remain (of two
   * voters, both): Raft stays reachable until we have seen ourselves removed, or others are gone too (bounded by
   * the caller), so that leaving never strands the rest without a quorum.
   */
  private async untilRemoved(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const self = this.config.nodeName;
    for (;;) {
      const servers = await this.log.getServers();
      const listed = servers.some((s) => s.id === self);
      if (!listed || servers.length <= 1 || Date.now() >= deadline) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  private async doShutdown(): Promise<void> {
    const { logger } = this;
    const stepMs = Math.max(this.config.drainTimeoutMs, 2000);
    logger.info('shutting down');
    await this.reconciler.stop();
    await within(stepMs, 'leaving membership', logger, () => this.membership.leave());
    if (this.log.isLeader()) {
      await within(stepMs, 'leadership transfer', logger, () => this.log.transferLeadership());
    }
    await within(stepMs, 'removal from the Raft configuration', logger, () => this.untilRemoved(stepMs));
    await within(stepMs, 'closing the port', logger, () => this.mux.close());
    await within(this.config.drainTimeoutMs + 1000, 'draining gRPC', logger, () => this.server.stop(this.config.drainTimeoutMs));
    await within(stepMs, 'closing the replicated log', logger, () => this.log.close());
    if (this.metricsServer) await within(stepMs, 'closing metrics', logger, () => this.metricsServer!.close());
    this.dataDirLock.release();
    logger.info('shut down');
  }
}
