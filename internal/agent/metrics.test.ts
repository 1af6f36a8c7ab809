import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Log } from '../log/index.js';
import type { LogService } from '../server/log-service.js';
import { AgentMetrics, MeteredLogService, serveMetrics } from './metrics.js';

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

const fakeService: LogService = {
  produce: async (_t, values) => 10 + values.length,
  read: async () => new Uint8Array([1]),
  readRange: async (_t, offset) => [
    { offset, value: new Uint8Array([1]) },
    { offset: offset + 1, value: new Uint8Array([2]) },
  ],
  waitFor: async () => undefined,
  topics: () => [''],
  getServers: async () => [],
};

describe('AgentMetrics', () => {
  it('counts records produced and consumed through the metered service, and passes results through', async () => {
    const m = new AgentMetrics('n1');
    const svc = new MeteredLogService(fakeService, m);
    expect(await svc.produce('', [new Uint8Array(1), new Uint8Array(1), new Uint8Array(1)])).toBe(13);
    expect(await svc.read('', 0)).toEqual(new Uint8Array([1]));
    expect(await svc.readRange('', 5)).toHaveLength(2);
    const text = await m.text();
    expect(text).toContain('proglog_records_produced_total{node="n1"} 3');
    expect(text).toContain('proglog_records_consumed_total{node="n1"} 3');
  });

  it('reads Raft and membership gauges from their sources at scrape time', async () => {
    const m = new AgentMetrics('n2');
    let term = 3;
    m.setSources({ raftStatus: () => ({ term, commitIndex: 7, appliedIndex: 6, leaderId: 'n1' }), membershipSize: () => 3 });
    expect(await m.text()).toContain('proglog_raft_term{node="n2"} 3');
    term = 4;
    const text = await m.text();
    expect(text).toContain('proglog_raft_term{node="n2"} 4');
    expect(text).toContain('proglog_raft_commit_index{node="n2"} 7');
    expect(text).toContain('proglog_raft_applied_index{node="n2"} 6');
    expect(text).toContain('proglog_membership_size{node="n2"} 3');
  });

  it('times every fsync of a real log', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'proglog-metrics-'));
    const m = new AgentMetrics('n3');
    const log = await Log.open(dir, { sync: 'always' }, { datasync: m.timedDatasync() });
    try {
      await log.append(new Uint8Array([1, 2, 3]));
      await log.append(new Uint8Array([4]));
    } finally {
      await log.close();
      await fs.rm(dir, { recursive: true, force: true });
    }
    const count = /proglog_fsync_seconds_count\{node="n3"\} (\d+)/.exec(await m.text());
    expect(Number(count?.[1])).toBeGreaterThanOrEqual(2);
  });

  it('serves Prometheus text at /metrics and 404 elsewhere', async () => {
    const m = new AgentMetrics('n4');
    m.leaderChanges.inc();
    const server = await serveMetrics(m, '127.0.0.1', 0);
    try {
      const ok = await get(`http://${server.addr}/metrics`);
      expect(ok.status).toBe(200);
      expect(ok.body).toContain('proglog_leader_changes_total{node="n4"} 1');
      expect((await get(`http://${server.addr}/other`)).status).toBe(404);
    } finally {
      await server.close();
    }
  });
});
