import '../../internal/polyfills.js';
import os from 'node:os';
import path from 'node:path';
import { mkdtemp } from 'node:fs/promises';
import { Cluster } from './cluster.js';
import { waitUntil } from './wait.js';
import { readFileSync } from 'node:fs';
const dir = await mkdtemp(path.join(os.tmpdir(), 'nemesis-smoke-'));
const c = await Cluster.start({ nodes: 3, rootDir: dir, faults: process.argv[2] === 'faults', electionTimeoutMs: 600, heartbeatMs: 60, logLevel: 'debug' });
const n = c.node(process.argv[3] ?? 'node-1');
await n.proc.kill();
console.log('killed', n.name, new Date().toISOString());
c.startNode(n);
try {
  await waitUntil('restarted agent', () => readFileSync(n.logFile, 'utf8').split('agent started').length > 2, 30000, 200);
  console.log('restarted OK', new Date().toISOString());
} catch (e) { console.log('FAILED', String(e)); }
await c.close({ keepFiles: true });
console.log(dir);
