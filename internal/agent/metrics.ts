// The agent's Prometheus metrics. Each agent owns its registry (several agents share a process in tests), and
// every series carries the node name.
import fs from 'node:fs';
import http from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { LogRecord, ReadLimits } from '../log/index.js';
import type { LogService, ReadOptions, ServerInfo } from '../server/log-service.js';
import type { RaftStatus } from './seams.js';

export interface MetricSources {
  raftStatus?: () => RaftStatus | null;
  membershipSize?: () => number;
}

export class AgentMetrics {
  readonly registry = new Registry();
  readonly recordsProduced: Counter;
  readonly recordsConsumed: Counter;
  readonly leaderChanges: Counter;
  readonly fsyncSeconds: Histogram;
  private sources: MetricSources = {};

  constructor(nodeName: string, options: { processMetrics?: boolean } = {}) {
    this.registry.setDefaultLabels({ node: nodeName });
    const registers = [this.registry];
    this.recordsProduced = new Counter({ name: 'proglog_records_produced_total', help: 'Records appended through this node', registers });
    this.recordsConsumed = new Counter({ name: 'proglog_records_consumed_total', help: 'Records read through this node', registers });
    this.leaderChanges = new Counter({ name: 'proglog_leader_changes_total', help: 'Times this node gained or lost leadership', registers });
    this.fsyncSeconds = new Histogram({
      name: 'proglog_fsync_seconds',
      help: 'Latency of fdatasync on log files',
      buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    });
    const raftGauge = (name: string, help: string, pick: (s: RaftStatus) => number): void => {
      const sources = (): MetricSources => this.sources;
      new Gauge({
        name,
        help,
        registers,
        collect() {
          const s = sources().raftStatus?.();
          // A figure the replicated log does not report is left out rather than exported as NaN.
          if (s && Number.isFinite(pick(s))) this.set(pick(s));
        },
      });
    };
    raftGauge('proglog_raft_term', 'Current Raft term', (s) => s.term);
    raftGauge('proglog_raft_commit_index', 'Highest Raft index known committed', (s) => s.commitIndex);
    raftGauge('proglog_raft_applied_index', 'Highest Raft index applied to the log', (s) => s.appliedIndex);
    const sources = (): MetricSources => this.sources;
    new Gauge({
      name: 'proglog_membership_size',
      help: 'Live members (alive or suspect) seen by this node, itself included',
      registers,
      collect() {
        const n = sources().membershipSize?.();
        if (n !== undefined) this.set(n);
      },
    });
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry });
  }

  /** Connects the gauges read at scrape time to the parts that know their values. */
  setSources(sources: MetricSources): void {
    this.sources = { ...this.sources, ...sources };
  }

  /** A datasync for internal/log's LogDeps that times every call. */
  timedDatasync(): (fd: number) => Promise<void> {
    return (fd) => {
      const end = this.fsyncSeconds.startTimer();
      return new Promise((resolve, reject) =>
        fs.fdatasync(fd, (err) => {
          end();
          if (err) reject(err);
          else resolve();
        }),
      );
    };
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}

/** Counts records as they pass between the gRPC server and the log, whichever log that is. */
export class MeteredLogService implements LogService {
  constructor(
    private readonly inner: LogService,
    private readonly metrics: AgentMetrics,
  ) {}

  async produce(topic: string, values: Uint8Array[]): Promise<number> {
    const first = await this.inner.produce(topic, values);
    this.metrics.recordsProduced.inc(values.length);
    return first;
  }

  async read(topic: string, offset: number, opts?: ReadOptions): Promise<Uint8Array> {
    const value = await this.inner.read(topic, offset, opts);
    this.metrics.recordsConsumed.inc();
    return value;
  }

  async readRange(topic: string, offset: number, limits?: ReadLimits, opts?: ReadOptions): Promise<LogRecord[]> {
    const records = await this.inner.readRange(topic, offset, limits, opts);
    this.metrics.recordsConsumed.inc(records.length);
    return records;
  }

  waitFor(topic: string, offset: number, signal?: AbortSignal): Promise<void> {
    return this.inner.waitFor(topic, offset, signal);
  }

  topics(): string[] {
    return this.inner.topics();
  }

  getServers(): Promise<ServerInfo[]> {
    return this.inner.getServers();
  }
}

export interface MetricsServer {
  /** host:port actually bound. */
  addr: string;
  close(): Promise<void>;
}

/** Serves the registry as Prometheus text at /metrics on addr (port 0: one from the OS). */
export async function serveMetrics(metrics: AgentMetrics, host: string, port: number): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404).end('not found\n');
      return;
    }
    metrics.text().then(
      (body) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(body),
      (err: Error) => res.writeHead(500).end(`${err.message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address() as { port: number };
  return {
    addr: `${host.includes(':') ? `[${host}]` : host}:${bound.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
