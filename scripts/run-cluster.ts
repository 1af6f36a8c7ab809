// `make run`: a three-node proglog cluster on 127.0.0.1, one agent process per node, each with its own data
// dir under one folder. Makes development certificates first if the certs folder has none, prints where every
// node listens and how to use the CLI, and stops all nodes cleanly on Ctrl-C (a second Ctrl-C kills them).
import '../internal/polyfills.js';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { AGENT_ENV, AGENT_NODE_FLAGS } from '../cmd/proglog/agent-runtime.js';
import { peerCertPair, writeDevCerts } from '../internal/config/index.js';
import { createClient } from '../internal/loadbalance/index.js';

const USAGE = `usage: node dist/scripts/run-cluster.js [--dir DIR] [--certs DIR] [--nodes N] [--port-base PORT]

  --dir DIR         folder holding each node's data dir and log file (default: .cluster)
  --certs DIR       certificates; made with the dev CA if missing (default: certs)
  --nodes N         how many nodes (default 3)
  --port-base PORT  node i listens on PORT+10i (RPC), +1 (membership), +2 (metrics) (default 8400)
`;

interface NodePlan {
  name: string;
  dataDir: string;
  logFile: string;
  rpcAddr: string;
  bindAddr: string;
  metricsAddr: string;
  certFile: string;
  keyFile: string;
}

const HOST = '127.0.0.1';
const here = path.dirname(fileURLToPath(import.meta.url));
const proglogBin = path.resolve(here, '../cmd/proglog/main.js');
// dist/scripts -> the repository root, where policy/ lives.
const policyDir = path.resolve(here, '../../policy');

/**
 * The dev certificate set, plus one peer certificate per node whose CN is the node name (membership checks it):
 * what `proglog cert --peer node-1 --peer node-2 ...` writes. Files already there are kept.
 */
async function ensureCerts(certsDir: string, nodes: NodePlan[]): Promise<void> {
  const { written } = await writeDevCerts(certsDir, { peers: nodes.map((n) => n.name) });
  for (const file of written) console.log(`wrote ${file}`);
}

function agentArgs(n: NodePlan, certsDir: string, first: NodePlan): string[] {
  const args = [
    ...AGENT_NODE_FLAGS,
    proglogBin,
    'agent',
    '--node-name', n.name,
    '--data-dir', n.dataDir,
    '--bind-addr', n.bindAddr,
    '--rpc-port', n.rpcAddr.split(':')[1]!,
    '--metrics-addr', n.metricsAddr,
    '--acl-model-file', path.join(policyDir, 'model.conf'),
    '--acl-policy-file', path.join(policyDir, 'policy.csv'),
    '--server-tls-cert-file', path.join(certsDir, 'server.pem'),
    '--server-tls-key-file', path.join(certsDir, 'server-key.pem'),
    '--server-tls-ca-file', path.join(certsDir, 'ca.pem'),
    '--peer-tls-cert-file', n.certFile,
    '--peer-tls-key-file', n.keyFile,
    '--peer-tls-ca-file', path.join(certsDir, 'ca.pem'),
  ];
  if (n === first) args.push('--bootstrap');
  else args.push('--start-join-addrs', first.bindAddr);
  return args;
}

async function clusterView(addr: string, certsDir: string): Promise<{ id: string; rpcAddr: string; isLeader: boolean }[]> {
  const client = createClient({
    addr,
    ca: await readFile(path.join(certsDir, 'ca.pem')),
    cert: await readFile(path.join(certsDir, 'root-client.pem')),
    key: await readFile(path.join(certsDir, 'root-client-key.pem')),
    // The dev server certificate names localhost as well as 127.0.0.1; a name avoids Node's IP-as-SNI warning.
    serverName: 'localhost',
  });
  try {
    return await new Promise((resolve, reject) =>
      client.getServers({}, new grpc.Metadata(), { deadline: Date.now() + 2000 }, (err, res) => (err ? reject(err) : resolve(res.servers))),
    );
  } finally {
    client.close();
  }
}

async function waitFor(what: string, deadlineMs: number, check: () => Promise<boolean>, exited: () => string | null): Promise<void> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const dead = exited();
    if (dead !== null) throw new Error(dead);
    if (await check().catch(() => false)) return;
    if (Date.now() > end) throw new Error(`timed out after ${deadlineMs / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      dir: { type: 'string', default: '.cluster' },
      certs: { type: 'string', default: 'certs' },
      nodes: { type: 'string', default: '3' },
      'port-base': { type: 'string', default: '8400' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const count = Number(values.nodes);
  const base = Number(values['port-base']);
  if (!Number.isInteger(count) || count < 1 || count > 9 || !Number.isInteger(base) || base < 1 || base + 10 * count > 65535) {
    console.error('run-cluster: --nodes must be 1-9 and --port-base a port with room for them');
    return 2;
  }
  const dir = path.resolve(values.dir);
  const certsDir = path.resolve(values.certs);
  const nodes: NodePlan[] = Array.from({ length: count }, (_, i) => {
    const name = `node-${i + 1}`;
    const port = base + 10 * i;
    return {
      name,
      dataDir: path.join(dir, name),
      logFile: path.join(dir, `${name}.log`),
      rpcAddr: `${HOST}:${port}`,
      bindAddr: `${HOST}:${port + 1}`,
      metricsAddr: `${HOST}:${port + 2}`,
      ...peerCertPair(certsDir, name),
    };
  });
  fs.mkdirSync(dir, { recursive: true });
  await ensureCerts(certsDir, nodes);

  const children = new Map<string, ChildProcess>();
  const exitedEarly: string[] = [];
  let stopping = false;
  const start = (n: NodePlan): void => {
    const out = fs.openSync(n.logFile, 'a');
    // Its own process group: a terminal's Ctrl-C reaches only this launcher, which then stops each node once
    // (an agent treats a second signal as "exit now").
    const child = spawn(process.execPath, agentArgs(n, certsDir, nodes[0]!), {
      stdio: ['ignore', out, out],
      detached: true,
      env: { ...process.env, ...AGENT_ENV },
    });
    fs.closeSync(out);
    children.set(n.name, child);
    child.once('exit', (code, signal) => {
      children.delete(n.name);
      if (!stopping) {
        const why = `${n.name} exited (${signal ?? `code ${code}`}); see ${n.logFile}`;
        exitedEarly.push(why);
        console.error(`run-cluster: ${why}`);
      }
    });
  };
  const firstExit = (): string | null => exitedEarly[0] ?? null;

  // One node at a time, the last started first. A stopping agent leaves the cluster (Raft removes it), which
  // needs a quorum of the nodes still there: stopped all at once, each gave up waiting for its removal, and the
  // next run's node-1 found itself one voter among three that never came back, and never led. Stopped in turn,
  // the cluster shrinks to node-1 alone, which leads again at once on the next run, and the others rejoin it.
  const stopAll = async (): Promise<void> => {
    stopping = true;
    const timer = setTimeout(() => {
      for (const c of children.values()) c.kill('SIGKILL');
    }, 60_000);
    for (const n of [...nodes].reverse()) {
      const c = children.get(n.name);
      if (!c || c.exitCode !== null || c.signalCode !== null) continue;
      const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
      c.kill('SIGTERM');
      await exited;
    }
    clearTimeout(timer);
  };

  let interrupted: () => void = () => undefined;
  let wasInterrupted = false;
  const interruption = new Promise<void>((resolve) => (interrupted = resolve));
  const onSignal = (): void => {
    if (stopping || wasInterrupted) {
      for (const c of children.values()) c.kill('SIGKILL');
      process.exit(130);
    }
    console.log('\nstopping the cluster (Ctrl-C again to kill it)...');
    wasInterrupted = true;
    interrupted();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);

  try {
    const first = nodes[0]!;
    console.log(`starting ${count} nodes; data and logs under ${path.relative(process.cwd(), dir) || '.'}/`);
    start(first);
    await Promise.race([
      waitFor(`${first.name} to lead`, 60_000, async () => (await clusterView(first.rpcAddr, certsDir)).some((s) => s.isLeader), firstExit),
      interruption,
    ]);
    if (!wasInterrupted) {
      for (const n of nodes.slice(1)) start(n);
      await Promise.race([
        waitFor(`all ${count} nodes to join`, 90_000, async () => (await clusterView(first.rpcAddr, certsDir)).length === count, firstExit),
        interruption,
      ]);
    }
  } catch (err) {
    console.error(`run-cluster: ${(err as Error).message}`);
    await stopAll();
    return 1;
  }
  if (!wasInterrupted && exitedEarly.length === 0) {
    const rel = (p: string): string => path.relative(process.cwd(), p);
    const cli = `node ${rel(proglogBin)}`;
    console.log(`\nproglog cluster is up on ${HOST}:`);
    for (const n of nodes) {
      console.log(`  ${n.name}  rpc ${n.rpcAddr}  membership ${n.bindAddr}  metrics http://${n.metricsAddr}/metrics  log ${rel(n.logFile)}`);
    }
    const tlsFlag = rel(certsDir) === 'certs' ? '' : ` --certs-dir ${rel(certsDir)}`;
    console.log(`\ntry (from ${process.cwd()}):`);
    console.log(`  ${cli} servers --addr ${nodes[0]!.rpcAddr}${tlsFlag}`);
    console.log(`  ${cli} produce --addr ${nodes[0]!.rpcAddr}${tlsFlag} hello world`);
    console.log(`  seq 1 1000 | ${cli} produce --addr ${nodes[0]!.rpcAddr}${tlsFlag}`);
    console.log(`  ${cli} consume --addr ${nodes[nodes.length - 1]!.rpcAddr}${tlsFlag} --with-offsets`);
    console.log(`  ${cli} consume --addr ${nodes[0]!.rpcAddr}${tlsFlag} --follow`);
    console.log(`  ${cli} produce --addr ${nodes[0]!.rpcAddr}${tlsFlag} --identity nobody x   # denied: the ACL allows nobody nothing`);
    console.log(`\nCtrl-C stops all ${count} nodes.`);
  }
  await interruption;
  await stopAll();
  console.log('cluster stopped.');
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`run-cluster: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
