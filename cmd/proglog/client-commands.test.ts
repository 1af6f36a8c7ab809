// `proglog consume --follow` against a single in-process server: it asks for batched stream messages and still
// prints one line per record, in order, for what exists and for what is produced while it follows.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import type { ConsumeRequest, ConsumeResponse } from '../../api/v1/log.js';
import { ProposalOutcomeUnknownError, type LogService } from '../../internal/server/log-service.js';
import { eventually, makeTestPKI, startTestServer, type TestServer } from '../../internal/server/test-support.js';
import { runConsume, runProduce } from './client-commands.js';
import { captureOutput } from './test-output.js';

/**
 * The local service as a cluster of one leader at `addr()`: the load-balancing client dials what GetServers
 * lists, so it must list the test server's real address. `produce` may stand in for the service's own.
 */
function oneServer(inner: LogService, addr: () => string, produce: LogService['produce'] = (t, v) => inner.produce(t, v)): LogService {
  return {
    produce,
    read: (t, o, opts) => inner.read(t, o, opts),
    readRange: (t, o, limits, opts) => inner.readRange(t, o, limits, opts),
    waitFor: (t, o, s) => inner.waitFor(t, o, s),
    topics: () => inner.topics(),
    getServers: async () => [{ id: 'only', rpcAddr: addr(), isLeader: true, isLearner: false }],
  };
}

describe('proglog consume --follow', () => {
  let dir: string;
  let ts: TestServer;
  let flags: string[];
  const requests: ConsumeRequest[] = [];
  const sent: ConsumeResponse[] = [];
  // Sees the ConsumeStream traffic as the server handles it: what the CLI asked for and the messages it got.
  const observe: grpc.ServerInterceptor = (method, call) =>
    new grpc.ServerInterceptingCall(call, {
      start: (next) =>
        next(
          new grpc.ServerListenerBuilder()
            .withOnReceiveMessage((message: ConsumeRequest, onward) => {
              if (method.path === '/log.v1.Log/ConsumeStream') requests.push(message);
              onward(message);
            })
            .build(),
        ),
      sendMessage: (message: ConsumeResponse, onward) => {
        if (method.path === '/log.v1.Log/ConsumeStream') sent.push(message);
        onward(message);
      },
    });

  beforeAll(async () => {
    const pki = await makeTestPKI();
    dir = await mkdtemp(path.join(os.tmpdir(), 'proglog-cli-follow-'));
    const files = { ca: pki.ca.certPem, cert: pki.clients.root!.certPem, key: pki.clients.root!.keyPem };
    for (const [name, pem] of Object.entries(files)) await writeFile(path.join(dir, `${name}.pem`), pem);
    let addr = '';
    ts = await startTestServer(pki, {
      grpcOptions: { interceptors: [observe] },
      // The load-balancing client dials what GetServers lists, so it must list this server's real address.
      wrapLogService: (inner) => oneServer(inner, () => addr),
    });
    addr = ts.addr;
    flags = ['--addr', addr, '--ca-file', path.join(dir, 'ca.pem'), '--cert-file', path.join(dir, 'cert.pem'), '--key-file', path.join(dir, 'key.pem')];
  }, 30_000);

  afterAll(async () => {
    await ts?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('prints each record on its own line, those that exist and those produced later, from batched messages', async () => {
    const before = Array.from({ length: 600 }, (_, i) => `before-${i}`);
    await ts.logService.produce('follow', before.map((v) => Buffer.from(v)));
    const { stdout, stderr, out, err } = captureOutput();
    const abort = new AbortController();
    const lines = (): string[] => out().split('\n').slice(0, -1);

    const done = runConsume([...flags, '--topic', 'follow', '--offset', '2', '--with-offsets', '--follow'], {
      stdin: new PassThrough(),
      stdout,
      stderr,
      signal: abort.signal,
    });
    try {
      await eventually(() => lines().length === 598, 'the existing records are printed', 10_000);
      const after = ['after-0', 'after-1', 'after-2'];
      await ts.logService.produce('follow', after.map((v) => Buffer.from(v)));
      await eventually(() => lines().length === 601, 'the records produced while following are printed', 10_000);
    } finally {
      abort.abort();
    }
    expect(await done).toBe(0);
    expect(err()).toBe('');
    const expected = [...before.slice(2), 'after-0', 'after-1', 'after-2'].map((v, i) => `${i + 2}\t${v}`);
    expect(lines()).toEqual(expected);
    // It asked for batches and got them: far fewer messages than records, none in the book's one-record form.
    expect(requests.map((r) => r.maxBatchRecords)).toEqual([256]);
    expect(sent.every((m) => m.record === undefined && m.batch !== undefined)).toBe(true);
    expect(sent.flatMap((m) => m.batch?.records.map((r) => r.offset) ?? [])).toEqual(expected.map((_, i) => i + 2));
    expect(sent.length).toBeLessThan(10);
  });
});

describe('proglog produce', () => {
  it('does not resend a write whose outcome is unknown (it may be stored already), and says so', async () => {
    const pki = await makeTestPKI();
    const dir = await mkdtemp(path.join(os.tmpdir(), 'proglog-cli-produce-'));
    const files = { ca: pki.ca.certPem, cert: pki.clients.root!.certPem, key: pki.clients.root!.keyPem };
    for (const [name, pem] of Object.entries(files)) await writeFile(path.join(dir, `${name}.pem`), pem);
    let addr = '';
    let produceCalls = 0;
    const ts = await startTestServer(pki, {
      // The first write fails as an old leader's proposal does; a resent one would succeed.
      wrapLogService: (inner) =>
        oneServer(inner, () => addr, (t, v) =>
          ++produceCalls === 1 ? Promise.reject(new ProposalOutcomeUnknownError('this node stopped leading after proposing it')) : inner.produce(t, v),
        ),
    });
    addr = ts.addr;
    try {
      const flags = ['--addr', addr, '--ca-file', path.join(dir, 'ca.pem'), '--cert-file', path.join(dir, 'cert.pem'), '--key-file', path.join(dir, 'key.pem')];
      const { stdout, stderr, out, err } = captureOutput();
      const code = await runProduce([...flags, 'once'], { stdin: new PassThrough(), stdout, stderr, signal: new AbortController().signal });
      expect(code).toBe(1);
      expect(produceCalls).toBe(1);
      expect(out()).toBe('');
      expect(err()).toContain("UNAVAILABLE: the write's outcome is unknown");
    } finally {
      await ts.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
