import '../../internal/polyfills.js';
import os from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { mkdtemp } from 'node:fs/promises';
import { Cluster } from './cluster.js';
const dir = await mkdtemp(path.join(os.tmpdir(), 'nemesis-smoke-'));
const t0 = Date.now();
const c = await Cluster.start({ nodes: 3, rootDir: dir, faults: true, electionTimeoutMs: 1000, heartbeatMs: 100 }).catch((e) => { console.error('start failed', e); process.exit(1); });
console.log('started in', Date.now() - t0, 'ms; leader', await c.currentLeader());
for (const n of c.nodes) {
  const s = net.connect(n.proxy!.port, '127.0.0.1');
  await new Promise<void>((r) => { s.on('connect', () => { console.log(n.name, 'connected'); s.write('GET / HTTP/1.1\r\n\r\n'); }); s.on('data', (d) => { console.log(n.name, 'data', d.length); s.destroy(); r(); }); s.on('error', (e) => { console.log(n.name, 'error', e.message); r(); }); s.on('close', () => r()); });
}
for (const n of c.nodes) console.log(n.name, await c.getServers(n.name).catch((e) => e.message));
await c.close({ keepFiles: false });
