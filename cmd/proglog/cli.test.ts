import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { DataDirLock, writeDevCerts } from '../../internal/config/index.js';
import { TEST_KEY_BITS } from '../../internal/server/test-support.js';
import { parseAgentArgs } from './agent-options.js';
import { main } from './cli.js';
import { captureOutput } from './test-output.js';
import { UsageError, oneLine, parseBytes, parseDuration, parseList } from './values.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

async function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const { stdout, stderr, out, err } = captureOutput();
  const code = await main(argv, { stdin: new PassThrough(), stdout, stderr });
  return { code, stdout: out(), stderr: err() };
}

describe('flag values', () => {
  it('reads sizes with binary and decimal units, and plain bytes', () => {
    expect(parseBytes('k', '64MiB')).toBe(64 * 1024 * 1024);
    expect(parseBytes('k', '1kb')).toBe(1000);
    expect(parseBytes('k', 4096)).toBe(4096);
    expect(() => parseBytes('k', '12 parsecs')).toThrow(UsageError);
  });

  it('reads durations, a bare number being milliseconds', () => {
    expect(parseDuration('d', '500ms')).toBe(500);
    expect(parseDuration('d', '2s')).toBe(2000);
    expect(parseDuration('d', '24h')).toBe(86_400_000);
    expect(parseDuration('d', 250)).toBe(250);
    expect(() => parseDuration('d', '-1s')).toThrow(UsageError);
  });

  it('makes an error message one line without stack frames, for stderr', () => {
    const libp2p = [
      'cannot listen on 127.0.0.1:1: Some addresses failed to be listened on:',
      '',
      '  /ip4/127.0.0.1/tcp/1: Error: listen EADDRINUSE: address already in use 127.0.0.1:1',
      '      at Server.setupListenHandle [as _listen2] (node:net:1908:16)',
      '      at process.processTicksAndRejections (node:internal/process/task_queues:83:21)',
      '',
    ].join('\n');
    expect(oneLine(libp2p)).toBe(
      'cannot listen on 127.0.0.1:1: Some addresses failed to be listened on: /ip4/127.0.0.1/tcp/1: Error: listen EADDRINUSE: address already in use 127.0.0.1:1',
    );
    expect(oneLine('plain')).toBe('plain');
  });

  it('reads lists as YAML sequences, comma-separated strings or repeated flags', () => {
    expect(parseList('l', ['a:1', 'b:2'])).toEqual(['a:1', 'b:2']);
    expect(parseList('l', 'a:1, b:2')).toEqual(['a:1', 'b:2']);
    expect(parseList('l', ['a:1,b:2', 'c:3'])).toEqual(['a:1', 'b:2', 'c:3']);
  });
});

describe('proglog agent configuration', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'proglog-cli-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  async function yamlFile(name: string, text: string): Promise<string> {
    const file = path.join(dir, name);
    await writeFile(file, text);
    return file;
  }

  it("uses the book's defaults when nothing is given", async () => {
    const { config } = await parseAgentArgs(['--node-name', 'n1']);
    expect(config).toMatchObject({
      nodeName: 'n1',
      bindAddr: '127.0.0.1:8401',
      rpcPort: 8400,
      startJoinAddrs: [],
      bootstrap: false,
      aclModelFile: 'policy/model.conf',
      aclPolicyFile: 'policy/policy.csv',
      serverTls: { certFile: 'certs/server.pem', keyFile: 'certs/server-key.pem', caFile: 'certs/ca.pem' },
      peerTls: { certFile: 'certs/n1.pem', keyFile: 'certs/n1-key.pem', caFile: 'certs/ca.pem' },
      metricsAddr: '',
    });
  });

  it('reads every key from the YAML config file, and flags override it', async () => {
    const file = await yamlFile(
      'agent.yaml',
      [
        'node-name: from-file',
        'rpc-port: 9000',
        'bootstrap: true',
        'start-join-addrs: ["10.0.0.1:8401", "10.0.0.2:8401"]',
        'segment-max-store-bytes: 2MiB',
        'retention-max-age: 24h',
        'sync: interval',
      ].join('\n'),
    );
    const { config } = await parseAgentArgs(['--config-file', file, '--rpc-port', '9100', '--sync', 'never']);
    expect(config.nodeName).toBe('from-file');
    expect(config.rpcPort).toBe(9100);
    expect(config.bootstrap).toBe(true);
    expect(config.startJoinAddrs).toEqual(['10.0.0.1:8401', '10.0.0.2:8401']);
    expect(config.log.maxStoreBytes).toBe(2 * 1024 * 1024);
    expect(config.log.retentionMaxAgeMs).toBe(86_400_000);
    expect(config.log.sync).toBe('never');
  });

  it('takes --max-topics as a whole number of at least 1, and no limit without it', async () => {
    expect((await parseAgentArgs(['--node-name', 'n1', '--max-topics', '500'])).config.log.maxTopics).toBe(500);
    expect((await parseAgentArgs(['--node-name', 'n1'])).config.log.maxTopics).toBeUndefined();
    await expect(parseAgentArgs(['--node-name', 'n1', '--max-topics', '0'])).rejects.toThrow('max-topics: expected a whole number from 1');
  });

  it('accepts a segment just large enough for a record of max-record-bytes', async () => {
    const { config } = await parseAgentArgs(['--node-name', 'n1', '--segment-max-store-bytes', '1032', '--max-record-bytes', '1KiB']);
    expect(config.log).toMatchObject({ maxStoreBytes: 1032, maxRecordBytes: 1024 });
  });

  it('reads the ACL model from --acl-model-file (the book read acl-mode-file)', async () => {
    const { config } = await parseAgentArgs(['--node-name', 'n1', '--acl-model-file', '/x/model.conf']);
    expect(config.aclModelFile).toBe('/x/model.conf');
    await expect(parseAgentArgs(['--acl-mode-file', '/x/model.conf'])).rejects.toThrow(UsageError);
  });

  it.each([
    [['--rpc-port', 'http'], /^proglog agent: rpc-port: expected a whole number from 0 to 65535, got "http"\n$/],
    [['--bind-addr', 'nowhere'], /^proglog agent: bind-addr: "nowhere" is not host:port\n$/],
    [['--sync', 'sometimes'], /^proglog agent: sync: expected one of always, interval, never, got "sometimes"\n$/],
    [['--raft-election-timeout', '10ms', '--raft-heartbeat-interval', '50ms'], /raft-election-timeout: must be longer than raft-heartbeat-interval\n$/],
    [['--no-such-flag'], /^proglog agent: Unknown option '--no-such-flag'/],
    [['--node-name', 'bad name'], /node-name: "bad name" must be/],
    [['--sync-interval', '30d'], /^proglog agent: sync-interval: 2592000000ms is longer than a timer can wait: at most 2147483647ms/],
    [
      ['--segment-max-store-bytes', '1KiB', '--max-record-bytes', '1KiB'],
      /^proglog agent: segment-max-store-bytes: 1024 cannot hold a record of max-record-bytes \(1024\) plus its 8-byte header: set it to at least 1032/,
    ],
  ])('refuses %j with one line on stderr and exit code 2', async (argv, message) => {
    const res = await run(['agent', ...argv]);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(message);
    expect(res.stderr.trim().split('\n')).toHaveLength(1);
  });

  // For settings that would otherwise get as far as startup: a data dir of its own and a CA file that cannot be
  // read, so that without the check the agent stops there, with another message, and binds nothing.
  const unstartable = (): string[] => ['--node-name', 'n1', '--data-dir', path.join(dir, 'unstarted'), '--server-tls-ca-file', path.join(dir, 'absent-ca.pem')];

  it.each([
    [['--segment-max-index-bytes', '5'], /^proglog agent: segment-max-index-bytes: 5 must be an integer >= 12\n$/],
    [['--segment-max-index-bytes', '0'], /^proglog agent: segment-max-index-bytes: 0 must be an integer >= 12\n$/],
    [['--retention-max-bytes', '0'], /^proglog agent: retention-max-bytes: 0 must be an integer >= 1\n$/],
    [['--retention-max-age', '0s'], /^proglog agent: retention-max-age: 0 must be an integer >= 1\n$/],
  ])('refuses log settings the log would refuse, %j, before starting, with exit code 2', async (argv, message) => {
    const res = await run(['agent', ...unstartable(), ...argv]);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(message);
  });

  it.each([['0.0.0.0:8401'], ['[::]:8401'], ['[0:0:0:0:0:0:0:0]:8401']])(
    'refuses the unspecified bind-addr %s, which the node would advertise to peers and clients, with exit code 2',
    async (addr) => {
      const res = await run(['agent', ...unstartable(), '--bind-addr', addr]);
      expect(res.code).toBe(2);
      expect(res.stderr).toMatch(/^proglog agent: bind-addr: .* is the unspecified address, which other nodes and clients cannot dial/);
      expect(res.stderr.trim().split('\n')).toHaveLength(1);
    },
  );

  it('refuses an rpc-port equal to the port of bind-addr, before anything listens, with one line and exit code 2', async () => {
    const res = await run(['agent', ...unstartable(), '--bind-addr', '127.0.0.1:18401', '--rpc-port', '18401']);
    expect(res.code).toBe(2);
    expect(res.stderr).toBe('proglog agent: rpc-port: 18401 is also the port of bind-addr (127.0.0.1:18401): membership and RPC need a port each\n');
  });

  /** Flags for an agent that can start: certificates (a peer certificate for n1), policy, a data dir of its own. */
  let startableCerts: Promise<string> | undefined;
  async function startable(name: string): Promise<string[]> {
    const certs = path.join(dir, 'certs');
    startableCerts ??= writeDevCerts(certs, { peers: ['n1'], keyBits: TEST_KEY_BITS }).then(() => certs);
    await startableCerts;
    return [
      '--node-name', 'n1',
      '--data-dir', path.join(dir, name),
      '--log-level', 'silent',
      '--acl-model-file', path.join(repoRoot, 'policy/model.conf'),
      '--acl-policy-file', path.join(repoRoot, 'policy/policy.csv'),
      '--server-tls-cert-file', path.join(certs, 'server.pem'),
      '--server-tls-key-file', path.join(certs, 'server-key.pem'),
      '--server-tls-ca-file', path.join(certs, 'ca.pem'),
      '--peer-tls-cert-file', path.join(certs, 'n1.pem'),
      '--peer-tls-key-file', path.join(certs, 'n1-key.pem'),
      '--peer-tls-ca-file', path.join(certs, 'ca.pem'),
    ];
  }

  it('reports a bind-addr port already in use in one line, without stack frames, with exit code 2', async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as net.AddressInfo).port;
    try {
      const res = await run(['agent', ...(await startable('in-use-data')), '--bind-addr', `127.0.0.1:${port}`, '--rpc-port', '0', '--bootstrap']);
      expect(res.code).toBe(2);
      expect(res.stderr).toBe(`proglog agent: cannot listen on 127.0.0.1:${port}: address in use\n`);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });

  it('says why it could not join, in one line with exit code 1', async () => {
    // Port 1: nothing listens there (a port freed for this could be taken, and answered, before the agent dials it).
    const seed = '127.0.0.1:1';
    const res = await run(['agent', ...(await startable('join-refused')), '--bind-addr', '127.0.0.1:0', '--rpc-port', '0', '--start-join-addrs', seed]);
    expect(res).toMatchObject({ code: 1, stderr: `proglog agent: could not join through any of ${seed} (last failure: ${seed}: connection refused)\n` });
  });

  it('names a missing peer certificate by its flag, and says how to make it, with exit code 2', async () => {
    const flags = await startable('no-peer-cert');
    const certs = path.join(dir, 'certs');
    // n2 has no peer certificate; its files are where `proglog cert --peer n2` would put them.
    const res = await run(['agent', ...flags, '--node-name', 'n2', '--peer-tls-cert-file', path.join(certs, 'n2.pem'), '--peer-tls-key-file', path.join(certs, 'n2-key.pem')]);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(new RegExp(`^proglog agent: peer-tls-cert-file: peer certificate file ${certs}/n2.pem cannot be read: .*ENOENT.*\\(make it with: proglog cert --dir ${certs} --peer n2\\)\n$`));
  });

  it('refuses a config file with an unknown key, or that is not YAML, with exit code 2', async () => {
    const unknown = await yamlFile('unknown.yaml', 'node-name: a\nrpc-prot: 1\n');
    const res = await run(['agent', '--config-file', unknown]);
    expect(res).toMatchObject({ code: 2, stderr: `proglog agent: config-file: ${unknown} has unknown key "rpc-prot"\n` });
    const broken = await yamlFile('broken.yaml', 'node-name: [a\n');
    const res2 = await run(['agent', '--config-file', broken]);
    expect(res2.code).toBe(2);
    expect(res2.stderr).toMatch(/is not valid YAML/);
    const missing = await run(['agent', '--config-file', path.join(dir, 'absent.yaml')]);
    expect(missing).toMatchObject({ code: 2, stderr: expect.stringMatching(/cannot read .*absent.yaml: ENOENT/) as unknown as string });
  });

  it('refuses to start an agent whose certificate files are missing, with exit code 2 naming the file', async () => {
    const res = await run(['agent', '--node-name', 'n1', '--data-dir', dir, '--server-tls-ca-file', path.join(dir, 'nope-ca.pem')]);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/^proglog agent: server-tls-ca-file: CA certificate file .*nope-ca.pem cannot be read/);
    expect(res.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('refuses a data dir another agent holds, with exit code 2 naming the holder', async () => {
    const data = path.join(dir, 'held');
    const held = await DataDirLock.acquire(data);
    try {
      const res = await run(['agent', '--node-name', 'n1', '--data-dir', data]);
      expect(res.code).toBe(2);
      expect(res.stderr).toBe(`proglog agent: data dir ${data} is in use by another agent (pid ${process.pid}): stop it, or give this one its own data dir\n`);
    } finally {
      held.release();
    }
  });

  it('refuses a data dir that is a file, or under one, with one clear line and exit code 2', async () => {
    const file = path.join(dir, 'a-file');
    await writeFile(file, 'not a directory');
    const onFile = await run(['agent', ...unstartable(), '--data-dir', file]);
    expect(onFile).toMatchObject({ code: 2, stderr: `proglog agent: data dir ${file} is not a directory\n` });
    const underFile = await run(['agent', ...unstartable(), '--data-dir', path.join(file, 'data')]);
    expect(underFile).toMatchObject({ code: 2, stderr: `proglog agent: data dir ${path.join(file, 'data')} cannot be created: ${file} is not a directory\n` });
  });

  it('prints the agent usage for --help', async () => {
    const res = await run(['agent', '--help']);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain('--start-join-addrs');
    expect(res.stdout).toContain('--peer-tls-ca-file');
  });

  it("shows each option's default in --help", async () => {
    const { stdout } = await run(['agent', '--help']);
    const line = (flag: string): string => stdout.split('\n').find((l) => l.startsWith(`  --${flag} `)) ?? `no line for --${flag}`;
    expect(line('data-dir')).toMatch(new RegExp(`\\(default: ${path.join(os.tmpdir(), 'proglog')}\\)$`));
    expect(line('node-name')).toMatch(new RegExp(`\\(default: the host name, ${os.hostname()}\\)$`));
    expect(line('bind-addr')).toMatch(/\(default: 127\.0\.0\.1:8401\)$/);
    expect(line('rpc-port')).toMatch(/\(default: 8400\)$/);
    expect(line('start-join-addrs')).toMatch(/\(default: none\)$/);
    expect(line('peer-tls-cert-file')).toMatch(/\(default: certs\/<node-name>\.pem\)$/);
    expect(line('segment-max-store-bytes')).toMatch(/\(default: 64MiB\)$/);
    expect(line('sync-interval')).toMatch(/\(default: 100ms\)$/);
    expect(line('reap-time')).toMatch(/\(default: 30s\)$/);
    expect(line('retention-max-bytes')).toMatch(/\(default: keep all\)$/);
    expect(line('metrics-addr')).toMatch(/\(default: off\)$/);
    expect(line('log-level')).toMatch(/\(default: info\)$/);
    // Every option that takes a value says what it is without one.
    const valued = stdout.split('\n').filter((l) => / VALUE /.test(l));
    expect(valued.length).toBeGreaterThan(25);
    for (const l of valued) expect(l).toMatch(/\(default: [^)]+\)$/);
  });
});

describe('proglog command line', () => {
  it('names an unknown command and exits 2', async () => {
    expect(await run(['frobnicate'])).toMatchObject({ code: 2, stderr: 'proglog: unknown command "frobnicate" (try proglog help)\n' });
  });

  // --certs-dir that does not exist: without the check, the command stops there, with another message.
  it('refuses an argument to consume, suggesting --offset, with exit code 2', async () => {
    const res = await run(['consume', '--certs-dir', '/nonexistent', '5']);
    expect(res).toMatchObject({ code: 2, stderr: 'proglog consume: unexpected argument "5": to start at an offset, use --offset 5\n' });
  });

  it('refuses an argument to servers with exit code 2', async () => {
    const res = await run(['servers', '--certs-dir', '/nonexistent', 'all']);
    expect(res).toMatchObject({ code: 2, stderr: 'proglog servers: unexpected argument "all": servers takes only flags\n' });
  });

  it('refuses a client command whose certificates cannot be read, with exit code 2', async () => {
    const res = await run(['produce', '--certs-dir', '/nonexistent', 'x']);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/^proglog produce: ca-file: cannot read \/nonexistent\/ca.pem: ENOENT\n$/);
  });
});
