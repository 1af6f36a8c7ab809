// `proglog agent` options: the book's flags under the book's names, plus ours. A YAML file (--config-file) may
// set any of them under the same names; a flag given on the command line overrides the file. Unknown keys and
// malformed values are refused with a UsageError naming the key.
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import YAML from 'yaml';
import { DEFAULT_AGENT_TIMINGS, splitAddr, type AgentConfig } from '../../internal/agent/config.js';
import { checkLogConfig } from '../../internal/agent/log-part.js';
import { FRAME_HEADER_BYTES, InvalidConfigError, MAX_TIMER_MS } from '../../internal/log/index.js';
import {
  UsageError,
  parseBoolean,
  parseBytes,
  parseChoice,
  parseDuration,
  parseInteger,
  parseList,
  parseString,
} from './values.js';

type Kind = 'string' | 'boolean' | 'port' | 'count' | 'bytes' | 'duration' | 'list' | 'sync' | 'level';

interface OptionSpec {
  name: string;
  kind: Kind;
  help: string;
  /** The value when none is given; computed from the options resolved so far (peer TLS defaults depend on the node name). */
  fallback?: (resolved: Map<string, unknown>) => unknown;
  /** How --help states the default, where the fallback's value alone would not say it (or there is none). */
  shownDefault?: string;
}

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const SYNCS = ['always', 'interval', 'never'] as const;

export const AGENT_OPTIONS: readonly OptionSpec[] = [
  { name: 'data-dir', kind: 'string', help: 'directory for logs, Raft state and membership identity', fallback: () => path.join(os.tmpdir(), 'proglog') },
  { name: 'node-name', kind: 'string', help: 'unique node name (the CN of its peer certificate)', fallback: () => os.hostname(), shownDefault: `the host name, ${os.hostname()}` },
  { name: 'bind-addr', kind: 'string', help: 'host:port for membership (gossip), advertised as is: not 0.0.0.0', fallback: () => '127.0.0.1:8401' },
  { name: 'rpc-port', kind: 'port', help: 'port for gRPC clients and Raft peers, on the host of bind-addr', fallback: () => 8400 },
  { name: 'start-join-addrs', kind: 'list', help: 'membership addresses of nodes to join (comma-separated)', fallback: () => [] },
  { name: 'bootstrap', kind: 'boolean', help: 'start a new cluster with this node as leader', fallback: () => false },
  { name: 'acl-model-file', kind: 'string', help: 'Casbin model', fallback: () => 'policy/model.conf' },
  { name: 'acl-policy-file', kind: 'string', help: 'Casbin policy', fallback: () => 'policy/policy.csv' },
  { name: 'server-tls-cert-file', kind: 'string', help: 'certificate gRPC clients see', fallback: () => 'certs/server.pem' },
  { name: 'server-tls-key-file', kind: 'string', help: 'its private key', fallback: () => 'certs/server-key.pem' },
  { name: 'server-tls-ca-file', kind: 'string', help: 'CA that signs client certificates', fallback: () => 'certs/ca.pem' },
  {
    name: 'peer-tls-cert-file',
    kind: 'string',
    help: 'certificate for Raft and membership (CN = node-name; proglog cert --peer NODE makes it)',
    fallback: (r) => `certs/${String(r.get('node-name'))}.pem`,
    shownDefault: 'certs/<node-name>.pem',
  },
  {
    name: 'peer-tls-key-file',
    kind: 'string',
    help: 'its private key',
    fallback: (r) => `certs/${String(r.get('node-name'))}-key.pem`,
    shownDefault: 'certs/<node-name>-key.pem',
  },
  { name: 'peer-tls-ca-file', kind: 'string', help: 'CA that signs peer certificates', fallback: () => 'certs/ca.pem' },
  { name: 'segment-max-store-bytes', kind: 'bytes', help: 'store file size at which a segment is sealed', fallback: () => 64 * 1024 ** 2 },
  { name: 'segment-max-index-bytes', kind: 'bytes', help: 'index file size at which a segment is sealed', fallback: () => 8 * 1024 ** 2 },
  { name: 'max-record-bytes', kind: 'bytes', help: 'largest record accepted', fallback: () => 1024 ** 2 },
  { name: 'sync', kind: 'sync', help: 'fsync policy: always | interval | never', fallback: () => 'always' },
  { name: 'sync-interval', kind: 'duration', help: 'fsync period for sync=interval', fallback: () => 100 },
  { name: 'retention-max-bytes', kind: 'bytes', help: 'drop oldest segments above this size per topic', shownDefault: 'keep all' },
  { name: 'retention-max-age', kind: 'duration', help: 'drop segments older than this', shownDefault: 'keep all' },
  { name: 'max-topics', kind: 'count', help: 'most topics the cluster holds; a produce creating one more is refused', shownDefault: 'no limit' },
  { name: 'raft-heartbeat-interval', kind: 'duration', help: 'leader heartbeat period', fallback: () => DEFAULT_AGENT_TIMINGS.heartbeatIntervalMs },
  { name: 'raft-election-timeout', kind: 'duration', help: 'follower election timeout', fallback: () => DEFAULT_AGENT_TIMINGS.electionTimeoutMs },
  { name: 'membership-probe-interval', kind: 'duration', help: 'how often a member probes another', fallback: () => DEFAULT_AGENT_TIMINGS.probeIntervalMs },
  { name: 'membership-suspicion-timeout', kind: 'duration', help: 'how long a suspect member has to refute before it is failed', fallback: () => DEFAULT_AGENT_TIMINGS.suspicionTimeoutMs },
  { name: 'reap-time', kind: 'duration', help: 'a failed member stays a voter this long before removal', fallback: () => DEFAULT_AGENT_TIMINGS.reapTimeMs },
  { name: 'reconcile-interval', kind: 'duration', help: 'how often the leader reconciles Raft with membership', fallback: () => DEFAULT_AGENT_TIMINGS.reconcileIntervalMs },
  { name: 'drain-timeout', kind: 'duration', help: 'how long open streams get on shutdown', fallback: () => DEFAULT_AGENT_TIMINGS.drainTimeoutMs },
  { name: 'metrics-addr', kind: 'string', help: 'host:port for Prometheus /metrics (empty: off)', fallback: () => '', shownDefault: 'off' },
  { name: 'log-level', kind: 'level', help: 'fatal | error | warn | info | debug | trace | silent', fallback: () => 'info' },
];

export const AGENT_USAGE = [
  'usage: proglog agent [--config-file FILE] [flags]',
  '',
  'Runs one proglog node. Every flag may also be set in the YAML config file under the same name;',
  'flags override the file. Sizes take units (64MiB), durations too (500ms, 10s, 24h).',
  '',
  ...usageRows([
    ['--config-file FILE', 'YAML file with any of the keys below'],
    ...AGENT_OPTIONS.map((o): [string, string] => {
      const shown = shownDefault(o);
      return [`--${o.name}${o.kind === 'boolean' ? '' : ' VALUE'}`, shown === undefined ? o.help : `${o.help} (default: ${shown})`];
    }),
  ]),
].join('\n');

/** The default as one would type it: 64MiB, 30s, none. Booleans go unsaid: a flag that is not given is off. */
function shownDefault(o: OptionSpec): string | undefined {
  if (o.shownDefault !== undefined) return o.shownDefault;
  if (o.fallback === undefined || o.kind === 'boolean') return undefined;
  const value = o.fallback(new Map());
  switch (o.kind) {
    case 'bytes':
      return withUnit(value as number, [['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]], '');
    case 'duration':
      return withUnit(value as number, [['h', 3_600_000], ['m', 60_000], ['s', 1000]], 'ms');
    case 'list':
      return (value as string[]).length === 0 ? 'none' : (value as string[]).join(',');
    default:
      return String(value);
  }
}

/** In the largest unit that divides it evenly. */
function withUnit(n: number, units: [string, number][], base: string): string {
  const fit = units.find(([, size]) => n !== 0 && n % size === 0);
  return fit ? `${n / fit[1]}${fit[0]}` : `${n}${base}`;
}

/** Aligns the help column after the longest flag, so no flag runs into its text. */
function usageRows(rows: [string, string][]): string[] {
  const width = Math.max(...rows.map(([flag]) => flag.length)) + 2;
  return rows.map(([flag, help]) => `  ${flag.padEnd(width)}${help}`);
}

function convert(spec: OptionSpec, raw: unknown): unknown {
  const key = spec.name;
  switch (spec.kind) {
    case 'string':
      return parseString(key, raw);
    case 'boolean':
      return parseBoolean(key, raw);
    case 'port':
      return parseInteger(key, raw, 0, 65535);
    case 'count':
      return parseInteger(key, raw, 1, Number.MAX_SAFE_INTEGER);
    case 'bytes':
      return parseBytes(key, raw);
    case 'duration':
      return parseDuration(key, raw);
    case 'list':
      return parseList(key, raw);
    case 'sync':
      return parseChoice(key, raw, SYNCS);
    case 'level':
      return parseChoice(key, raw, LEVELS);
  }
}

async function readConfigFile(file: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new UsageError(`config-file: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = YAML.parse(text);
  } catch (err) {
    throw new UsageError(`config-file: ${file} is not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new UsageError(`config-file: ${file} must be a mapping of option: value`);
  const known = new Set(AGENT_OPTIONS.map((o) => o.name));
  for (const key of Object.keys(doc)) {
    if (!known.has(key)) throw new UsageError(`config-file: ${file} has unknown key "${key}"`);
  }
  return doc as Record<string, unknown>;
}

export interface ParsedAgentArgs {
  help: boolean;
  config: AgentConfig;
}

export async function parseAgentArgs(argv: string[]): Promise<ParsedAgentArgs> {
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }> = {
    'config-file': { type: 'string' },
    help: { type: 'boolean' },
  };
  for (const o of AGENT_OPTIONS) {
    options[o.name] = o.kind === 'boolean' ? { type: 'boolean' } : o.kind === 'list' ? { type: 'string', multiple: true } : { type: 'string' };
  }
  let values: Record<string, unknown>;
  try {
    ({ values } = parseArgs({ args: argv, options, strict: true, allowPositionals: false }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const fromFile = typeof values['config-file'] === 'string' ? await readConfigFile(values['config-file']) : {};
  const resolved = new Map<string, unknown>();
  for (const spec of AGENT_OPTIONS) {
    const raw = values[spec.name] ?? fromFile[spec.name];
    if (raw !== undefined && raw !== null) resolved.set(spec.name, convert(spec, raw));
    else if (spec.fallback !== undefined) resolved.set(spec.name, spec.fallback(resolved));
  }
  return { help: values.help === true, config: toAgentConfig(resolved) };
}

function toAgentConfig(r: Map<string, unknown>): AgentConfig {
  const str = (k: string): string => r.get(k) as string;
  const num = (k: string): number => r.get(k) as number;
  const optNum = (k: string): number | undefined => r.get(k) as number | undefined;
  const nodeName = str('node-name');
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(nodeName)) {
    throw new UsageError(`node-name: "${nodeName}" must be 1-64 characters of [A-Za-z0-9._-] starting with a letter or digit`);
  }
  if (str('data-dir') === '') throw new UsageError('data-dir: must not be empty');
  const bindPort = requireDialableBindAddr(str('bind-addr'));
  // The RPC port is on the host of bind-addr, so the two can only both be bound if they differ (0: the OS picks).
  if (num('rpc-port') !== 0 && num('rpc-port') === bindPort) {
    throw new UsageError(`rpc-port: ${num('rpc-port')} is also the port of bind-addr (${str('bind-addr')}): membership and RPC need a port each`);
  }
  for (const a of r.get('start-join-addrs') as string[]) wrapAddr(a, 'start-join-addrs');
  if (str('metrics-addr') !== '') wrapAddr(str('metrics-addr'), 'metrics-addr');
  if (num('raft-heartbeat-interval') < 1) throw new UsageError('raft-heartbeat-interval: must be at least 1ms');
  if (num('raft-election-timeout') <= num('raft-heartbeat-interval')) {
    throw new UsageError('raft-election-timeout: must be longer than raft-heartbeat-interval');
  }
  if (num('membership-probe-interval') < 2) throw new UsageError('membership-probe-interval: must be at least 2ms');
  for (const k of ['max-record-bytes', 'reconcile-interval', 'sync-interval', 'membership-suspicion-timeout']) {
    if (num(k) < 1) throw new UsageError(`${k}: must be greater than 0`);
  }
  if (num('sync-interval') > MAX_TIMER_MS) {
    throw new UsageError(`sync-interval: ${num('sync-interval')}ms is longer than a timer can wait: at most ${MAX_TIMER_MS}ms (about 24.8 days)`);
  }
  // Replicas commit a record before their topic log sees it: a segment that cannot hold it would stop them all.
  const recordNeeds = num('max-record-bytes') + FRAME_HEADER_BYTES;
  if (num('segment-max-store-bytes') < recordNeeds) {
    throw new UsageError(
      `segment-max-store-bytes: ${num('segment-max-store-bytes')} cannot hold a record of max-record-bytes (${num('max-record-bytes')}) ` +
        `plus its ${FRAME_HEADER_BYTES}-byte header: set it to at least ${recordNeeds} or lower max-record-bytes`,
    );
  }
  const log: AgentConfig['log'] = {
    maxStoreBytes: num('segment-max-store-bytes'),
    maxIndexBytes: num('segment-max-index-bytes'),
    maxRecordBytes: num('max-record-bytes'),
    sync: str('sync') as AgentConfig['log']['sync'],
    syncIntervalMs: num('sync-interval'),
  };
  const retentionMaxBytes = optNum('retention-max-bytes');
  const retentionMaxAgeMs = optNum('retention-max-age');
  if (retentionMaxBytes !== undefined) log.retentionMaxBytes = retentionMaxBytes;
  if (retentionMaxAgeMs !== undefined) log.retentionMaxAgeMs = retentionMaxAgeMs;
  const maxTopics = optNum('max-topics');
  if (maxTopics !== undefined) log.maxTopics = maxTopics;
  requireValidLog(log);
  return {
    dataDir: str('data-dir'),
    nodeName,
    bindAddr: str('bind-addr'),
    rpcPort: num('rpc-port'),
    startJoinAddrs: r.get('start-join-addrs') as string[],
    bootstrap: r.get('bootstrap') as boolean,
    aclModelFile: str('acl-model-file'),
    aclPolicyFile: str('acl-policy-file'),
    serverTls: { certFile: str('server-tls-cert-file'), keyFile: str('server-tls-key-file'), caFile: str('server-tls-ca-file') },
    peerTls: { certFile: str('peer-tls-cert-file'), keyFile: str('peer-tls-key-file'), caFile: str('peer-tls-ca-file') },
    log,
    raft: { heartbeatIntervalMs: num('raft-heartbeat-interval'), electionTimeoutMs: num('raft-election-timeout') },
    membership: { probeIntervalMs: num('membership-probe-interval'), suspicionTimeoutMs: num('membership-suspicion-timeout') },
    reapTimeMs: num('reap-time'),
    reconcileIntervalMs: num('reconcile-interval'),
    drainTimeoutMs: num('drain-timeout'),
    metricsAddr: str('metrics-addr'),
    logLevel: str('log-level') as AgentConfig['logLevel'],
  };
}

/** The flag behind each field of the log's config, for naming it when the log refuses the value. */
const LOG_FLAGS: Readonly<Record<string, string>> = {
  'segment.maxStoreBytes': 'segment-max-store-bytes',
  'segment.maxIndexBytes': 'segment-max-index-bytes',
  maxRecordBytes: 'max-record-bytes',
  sync: 'sync',
  syncIntervalMs: 'sync-interval',
  'retention.maxLogBytes': 'retention-max-bytes',
  'retention.maxAgeMs': 'retention-max-age',
};

/**
 * Runs the log's own validation, the one the agent runs when it opens its log, so that the CLI refuses exactly
 * what the log would refuse (its minimums included: an index holds at least one 12-byte entry), by flag name.
 */
function requireValidLog(log: AgentConfig['log']): void {
  try {
    checkLogConfig({ log });
  } catch (err) {
    if (err instanceof InvalidConfigError) throw new UsageError(`${LOG_FLAGS[err.field] ?? err.field}: ${err.detail}`);
    throw err;
  }
}

function wrapAddr(addr: string, key: string): { host: string; port: number } {
  try {
    return splitAddr(addr, key);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

const UNSPECIFIED = new net.BlockList();
UNSPECIFIED.addAddress('0.0.0.0', 'ipv4');
UNSPECIFIED.addAddress('::', 'ipv6');

/**
 * The node advertises its bind address as is (membership, and the RPC address Raft peers and the load-balancing
 * client dial), and there is no separate advertise address: listening on every interface would announce an
 * address nobody can reach.
 */
function requireDialableBindAddr(addr: string): number {
  const { host, port } = wrapAddr(addr, 'bind-addr');
  const family = net.isIP(host);
  if (family !== 0 && UNSPECIFIED.check(host, family === 6 ? 'ipv6' : 'ipv4')) {
    throw new UsageError(
      `bind-addr: ${addr} is the unspecified address, which other nodes and clients cannot dial, and the node advertises ` +
        `its bind address: give an address of this host that they can reach (e.g. 10.0.0.1:8401)`,
    );
  }
  return port;
}
