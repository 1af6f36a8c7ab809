// Shared pieces of the cluster tests: certificates on disk (the dev set plus one peer certificate per node),
// agent configurations for 127.0.0.1 with OS-chosen ports, direct (not load-balanced) clients, promise
// wrappers for the RPCs, and waiting on conditions with deadlines.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { LogClient, type Record as LogRecord, type Server as ClusterServer } from '../../api/v1/log.js';
import type { AgentConfig } from '../../internal/agent/config.js';
import { issueCert, writeDevCerts, type CertificateAuthority } from '../../internal/config/index.js';
import { readFile } from 'node:fs/promises';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const HOST = '127.0.0.1';

export interface Pem {
  certFile: string;
  keyFile: string;
  cert: Buffer;
  key: Buffer;
}

export interface ClusterCerts {
  dir: string;
  caFile: string;
  ca: Buffer;
  server: Pem;
  clients: Record<'root' | 'nobody', Pem>;
  peers: Record<string, Pem>;
}

async function pem(certFile: string, keyFile: string): Promise<Pem> {
  return { certFile, keyFile, cert: await readFile(certFile), key: await readFile(keyFile) };
}

/** The development certificate set in `dir`, and a peer certificate (CN = node name) for each node. */
export async function makeClusterCerts(dir: string, nodeNames: string[]): Promise<ClusterCerts> {
  await mkdir(dir, { recursive: true });
  const { paths } = await writeDevCerts(dir);
  const ca: CertificateAuthority = {
    certPem: await readFile(paths.caFile, 'utf8'),
    keyPem: await readFile(paths.caKeyFile, 'utf8'),
    commonName: 'proglog CA',
  };
  const peers: Record<string, Pem> = {};
  await Promise.all(
    nodeNames.map(async (name) => {
      const issued = await issueCert(ca, { cn: name, hosts: ['localhost', HOST], server: true, client: true });
      const certFile = path.join(dir, `${name}.pem`);
      const keyFile = path.join(dir, `${name}-key.pem`);
      await writeFile(certFile, issued.certPem);
      await writeFile(keyFile, issued.keyPem, { mode: 0o600 });
      peers[name] = await pem(certFile, keyFile);
    }),
  );
  return {
    dir,
    caFile: paths.caFile,
    ca: await readFile(paths.caFile),
    server: await pem(paths.server.certFile, paths.server.keyFile),
    clients: {
      root: await pem(paths.clients.root!.certFile, paths.clients.root!.keyFile),
      nobody: await pem(paths.clients.nobody!.certFile, paths.clients.nobody!.keyFile),
    },
    peers,
  };
}

export interface NodeSpec {
  name: string;
  dataDir: string;
  bootstrap: boolean;
  startJoinAddrs: string[];
}

/** An agent on 127.0.0.1 with OS-chosen ports and test-speed timings. */
export function agentConfig(spec: NodeSpec, certs: ClusterCerts, over: Partial<AgentConfig> = {}): AgentConfig {
  return {
    dataDir: spec.dataDir,
    nodeName: spec.name,
    bindAddr: `${HOST}:0`,
    rpcPort: 0,
    startJoinAddrs: spec.startJoinAddrs,
    bootstrap: spec.bootstrap,
    aclModelFile: path.join(REPO_ROOT, 'policy/model.conf'),
    aclPolicyFile: path.join(REPO_ROOT, 'policy/policy.csv'),
    serverTls: { certFile: certs.server.certFile, keyFile: certs.server.keyFile, caFile: certs.caFile },
    peerTls: { certFile: certs.peers[spec.name]!.certFile, keyFile: certs.peers[spec.name]!.keyFile, caFile: certs.caFile },
    log: { maxStoreBytes: 1024 * 1024, maxIndexBytes: 64 * 1024, maxRecordBytes: 64 * 1024, sync: 'never', syncIntervalMs: 100 },
    raft: { heartbeatIntervalMs: 50, electionTimeoutMs: 500 },
    membership: { probeIntervalMs: 500, suspicionTimeoutMs: 1500 },
    reapTimeMs: 60_000,
    reconcileIntervalMs: 1000,
    drainTimeoutMs: 1000,
    metricsAddr: '',
    logLevel: 'silent',
    ...over,
  };
}

/** The CLI flags for the same configuration, for agent processes. */
export function agentFlags(c: AgentConfig): string[] {
  return [
    '--data-dir', c.dataDir,
    '--node-name', c.nodeName,
    '--bind-addr', c.bindAddr,
    '--rpc-port', String(c.rpcPort),
    ...(c.startJoinAddrs.length > 0 ? ['--start-join-addrs', c.startJoinAddrs.join(',')] : []),
    ...(c.bootstrap ? ['--bootstrap'] : []),
    '--acl-model-file', c.aclModelFile,
    '--acl-policy-file', c.aclPolicyFile,
    '--server-tls-cert-file', c.serverTls.certFile,
    '--server-tls-key-file', c.serverTls.keyFile,
    '--server-tls-ca-file', c.serverTls.caFile,
    '--peer-tls-cert-file', c.peerTls.certFile,
    '--peer-tls-key-file', c.peerTls.keyFile,
    '--peer-tls-ca-file', c.peerTls.caFile,
    '--sync', c.log.sync,
    '--raft-heartbeat-interval', `${c.raft.heartbeatIntervalMs}ms`,
    '--raft-election-timeout', `${c.raft.electionTimeoutMs}ms`,
    '--reconcile-interval', `${c.reconcileIntervalMs}ms`,
    '--reap-time', `${c.reapTimeMs}ms`,
    '--membership-probe-interval', `${c.membership.probeIntervalMs}ms`,
    '--membership-suspicion-timeout', `${c.membership.suspicionTimeoutMs}ms`,
    '--drain-timeout', `${c.drainTimeoutMs}ms`,
    '--log-level', c.logLevel === 'silent' ? 'info' : c.logLevel,
  ];
}

export function directClient(addr: string, certs: ClusterCerts, identity: 'root' | 'nobody' = 'root'): LogClient {
  const id = certs.clients[identity];
  return new LogClient(addr, grpc.credentials.createSsl(certs.ca, id.key, id.cert), { 'grpc.ssl_target_name_override': 'localhost' });
}

type Unary<Req, Res> = (req: Req, md: grpc.Metadata, opts: Partial<grpc.CallOptions>, cb: (err: grpc.ServiceError | null, res: Res) => void) => unknown;

function call<Req, Res>(fn: Unary<Req, Res>, req: Req, timeoutMs: number): Promise<Res> {
  return new Promise((resolve, reject) =>
    fn(req, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) => (err ? reject(err) : resolve(res))),
  );
}

export function produce(client: LogClient, value: string, timeoutMs = 5000, topic = ''): Promise<number> {
  return call(client.produce.bind(client), { record: { value: Buffer.from(value), offset: 0, term: 0, type: 0 }, topic }, timeoutMs).then(
    (r) => r.offset,
  );
}

export function consume(client: LogClient, offset: number, timeoutMs = 5000, topic = ''): Promise<string> {
  return call(client.consume.bind(client), { offset, topic, linearizable: false }, timeoutMs).then((r) => r.record!.value.toString());
}

export function consumeRange(client: LogClient, offset: number, timeoutMs = 5000, topic = ''): Promise<LogRecord[]> {
  return call(client.consumeRange.bind(client), { offset, topic, maxRecords: 0, maxBytes: 0, linearizable: false }, timeoutMs).then(
    (r) => r.records,
  );
}

export function getServers(client: LogClient, timeoutMs = 5000): Promise<ClusterServer[]> {
  return call(client.getServers.bind(client), {}, timeoutMs).then((r) => r.servers);
}

/** Every record of the default log a node holds, from offset 0, page by page. */
export async function readAll(client: LogClient): Promise<LogRecord[]> {
  const out: LogRecord[] = [];
  for (;;) {
    let page: LogRecord[];
    try {
      page = await consumeRange(client, out.length);
    } catch (err) {
      if ((err as grpc.ServiceError).code === grpc.status.OUT_OF_RANGE) return out;
      throw err;
    }
    if (page.length === 0) return out;
    out.push(...page);
  }
}

/** Polls `check` until it returns a value other than undefined/false; fails with `what` after the deadline. */
export async function waitUntil<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown = 'never satisfied';
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${String(last)})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** One figure from Prometheus text, e.g. metric(text, 'proglog_records_produced_total'). */
export function metric(text: string, name: string): number {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}
