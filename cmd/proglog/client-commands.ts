// `proglog produce | consume | servers`: thin commands over the load-balancing client, so that what a user
// types exercises the same routing (writes to the leader, reads on followers) as any program would.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import readline from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import type { ConsumeResponse, LogClient, Record as LogRecord } from '../../api/v1/log.js';
import { createClient, leaderRoute, streamedRecords } from '../../internal/loadbalance/index.js';
import { UsageError, parseDuration, parseInteger } from './values.js';

export interface CommandIO {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
  /** Aborted on SIGINT: a --follow consume ends cleanly. */
  signal?: AbortSignal;
}

const CONNECTION_OPTIONS = {
  addr: { type: 'string' },
  'certs-dir': { type: 'string' },
  identity: { type: 'string' },
  'ca-file': { type: 'string' },
  'cert-file': { type: 'string' },
  'key-file': { type: 'string' },
  'server-name': { type: 'string' },
  topic: { type: 'string' },
  timeout: { type: 'string' },
  help: { type: 'boolean' },
} as const;

export const CLIENT_USAGE = [
  'usage: proglog produce [flags] [VALUE...]     values from the arguments, or one per line of stdin',
  '       proglog consume [flags] [--offset N] [--follow] [--with-offsets] [--linearizable]',
  '       proglog servers [flags]',
  '',
  'flags:',
  '  --addr HOST:PORT       any server of the cluster (default 127.0.0.1:8400)',
  '  --topic NAME           the topic (default: the default log)',
  '  --certs-dir DIR        where the certificates are (default certs)',
  '  --identity NAME        use DIR/NAME-client.pem and its key (default root)',
  '  --ca-file, --cert-file, --key-file FILE   explicit TLS files instead',
  '  --server-name NAME     the name the server certificates carry (default: the host of --addr)',
  '  --timeout DURATION     give up after this long per request, failover included (default 10s)',
  '  --linearizable         (consume) read from the leader, reflecting every acknowledged write',
].join('\n');

interface Connection {
  client: LogClient;
  topic: string;
  timeoutMs: number;
}

async function readPem(file: string, flag: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    throw new UsageError(`${flag}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

async function connect(values: Record<string, unknown>): Promise<Connection> {
  const dir = (values['certs-dir'] as string | undefined) ?? 'certs';
  const identity = (values.identity as string | undefined) ?? 'root';
  const caFile = (values['ca-file'] as string | undefined) ?? path.join(dir, 'ca.pem');
  const certFile = (values['cert-file'] as string | undefined) ?? path.join(dir, `${identity}-client.pem`);
  const keyFile = (values['key-file'] as string | undefined) ?? path.join(dir, `${identity}-client-key.pem`);
  const addr = (values.addr as string | undefined) ?? '127.0.0.1:8400';
  const timeoutMs = values.timeout === undefined ? 10_000 : parseDuration('timeout', values.timeout);
  const ca = await readPem(caFile, 'ca-file');
  const cert = await readPem(certFile, 'cert-file');
  const key = await readPem(keyFile, 'key-file');
  const serverName = values['server-name'] as string | undefined;
  let client: LogClient;
  try {
    client = createClient({ addr, ca, cert, key, ...(serverName !== undefined ? { serverName } : {}) });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  return { client, topic: (values.topic as string | undefined) ?? '', timeoutMs };
}

function parse(argv: string[], extra: Record<string, { type: 'string' | 'boolean' }>): { values: Record<string, unknown>; positionals: string[] } {
  try {
    return parseArgs({ args: argv, options: { ...CONNECTION_OPTIONS, ...extra }, strict: true, allowPositionals: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/**
 * Statuses after which a request is worth retrying: the cluster is electing, or the client is refreshing. Not a
 * write the server says may or may not have been stored (proglog-outcome: unknown): sending it again could store
 * it twice, so the user is told instead.
 */
function retryable(err: grpc.ServiceError): boolean {
  return err.code === grpc.status.UNAVAILABLE && !err.metadata?.get('proglog-outcome').includes('unknown');
}

async function withRetry<T>(deadline: number, call: (deadline: number) => Promise<T>): Promise<T> {
  let delay = 50;
  for (;;) {
    try {
      return await call(deadline);
    } catch (err) {
      const e = err as grpc.ServiceError;
      if (!retryable(e) || Date.now() + delay >= deadline) throw err;
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 1000);
    }
  }
}

function unary<Req, Res>(
  fn: (req: Req, md: grpc.Metadata, opts: Partial<grpc.CallOptions>, cb: (err: grpc.ServiceError | null, res: Res) => void) => unknown,
  req: Req,
  deadline: number,
  metadata = new grpc.Metadata(),
): Promise<Res> {
  return new Promise((resolve, reject) => fn(req, metadata, { deadline }, (err, res) => (err ? reject(err) : resolve(res))));
}

function describe(err: unknown): string {
  const e = err as Partial<grpc.ServiceError>;
  if (typeof e.code === 'number') return `${grpc.status[e.code] ?? e.code}: ${e.details ?? e.message}`;
  return (err as Error).message;
}

async function* stdinLines(stdin: Readable): AsyncGenerator<string> {
  const rl = readline.createInterface({ input: stdin, crlfDelay: Infinity });
  for await (const line of rl) yield line;
}

const BATCH = 500;

export async function runProduce(argv: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parse(argv, {});
  if (values.help === true) {
    io.stdout.write(`${CLIENT_USAGE}\n`);
    return 0;
  }
  const conn = await connect(values);
  try {
    const send = async (batch: string[]): Promise<void> => {
      const res = await withRetry(Date.now() + conn.timeoutMs, (deadline) =>
        unary(conn.client.produceBatch.bind(conn.client), { topic: conn.topic, values: batch.map((v) => Buffer.from(v)) }, deadline),
      );
      io.stdout.write(batch.map((_, i) => `${res.firstOffset + i}\n`).join(''));
    };
    if (positionals.length > 0) {
      await send(positionals);
    } else {
      let batch: string[] = [];
      for await (const line of stdinLines(io.stdin)) {
        batch.push(line);
        if (batch.length >= BATCH) {
          await send(batch);
          batch = [];
        }
      }
      if (batch.length > 0) await send(batch);
    }
    return 0;
  } catch (err) {
    io.stderr.write(`proglog produce: ${describe(err)}\n`);
    return 1;
  } finally {
    conn.client.close();
  }
}

function formatRecord(r: LogRecord, withOffsets: boolean): string {
  return withOffsets ? `${r.offset}\t${r.value.toString('utf8')}\n` : `${r.value.toString('utf8')}\n`;
}

/** Only produce takes arguments: elsewhere one would be silently dropped (`consume 5` would read from 0). */
function refuseArguments(positionals: string[], hint: (arg: string) => string): void {
  const arg = positionals[0];
  if (arg !== undefined) throw new UsageError(`unexpected argument ${JSON.stringify(arg)}: ${hint(arg)}`);
}

export async function runConsume(argv: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parse(argv, {
    offset: { type: 'string' },
    follow: { type: 'boolean' },
    'with-offsets': { type: 'boolean' },
    linearizable: { type: 'boolean' },
  });
  const linearizable = values.linearizable === true;
  if (values.help === true) {
    io.stdout.write(`${CLIENT_USAGE}\n`);
    return 0;
  }
  refuseArguments(positionals, (arg) => `to start at an offset, use --offset ${/^\d+$/.test(arg) ? arg : 'N'}`);
  const offset = values.offset === undefined ? 0 : parseInteger('offset', values.offset, 0, Number.MAX_SAFE_INTEGER);
  const withOffsets = values['with-offsets'] === true;
  const conn = await connect(values);
  try {
    if (values.follow === true) return await follow(conn, offset, withOffsets, linearizable, io);
    let next = offset;
    for (;;) {
      let page: { records: LogRecord[]; nextOffset: number };
      try {
        page = await withRetry(Date.now() + conn.timeoutMs, (deadline) =>
          unary(
            conn.client.consumeRange.bind(conn.client),
            { topic: conn.topic, offset: next, maxRecords: 0, maxBytes: 0, linearizable },
            deadline,
            linearizable ? leaderRoute() : new grpc.Metadata(),
          ),
        );
      } catch (err) {
        // Past the first page this is the head of a follower that lags the one that served the last page:
        // everything there was has been printed. On the first page the requested offset itself is out of
        // range (beyond the head, or below what retention kept), which the user must hear about.
        if ((err as grpc.ServiceError).code === grpc.status.OUT_OF_RANGE && next !== offset) return 0;
        throw err;
      }
      if (page.records.length === 0) return 0;
      io.stdout.write(page.records.map((r) => formatRecord(r, withOffsets)).join(''));
      next = page.nextOffset;
    }
  } catch (err) {
    io.stderr.write(`proglog consume: ${describe(err)}\n`);
    return 1;
  } finally {
    conn.client.close();
  }
}

/**
 * Records per message a --follow stream asks for: catching up on a long log then costs one message per batch
 * rather than per record; at the head a message holds whatever has been appended, so nothing waits to fill one.
 */
const FOLLOW_BATCH = 256;

/** Streams from `offset` on; when a stream breaks (the server went away) it resumes after the last record. */
async function follow(conn: Connection, offset: number, withOffsets: boolean, linearizable: boolean, io: CommandIO): Promise<number> {
  let next = offset;
  let failures = 0;
  while (!io.signal?.aborted) {
    const stream = conn.client.consumeStream(
      { topic: conn.topic, offset: next, linearizable, maxBatchRecords: FOLLOW_BATCH },
      linearizable ? leaderRoute() : new grpc.Metadata(),
    );
    const onAbort = (): void => stream.cancel();
    io.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      for await (const res of stream as AsyncIterable<ConsumeResponse>) {
        const records = streamedRecords(res);
        const last = records[records.length - 1];
        if (last === undefined) continue;
        failures = 0;
        io.stdout.write(records.map((r) => formatRecord(r, withOffsets)).join(''));
        next = last.offset + 1;
      }
    } catch (err) {
      const e = err as grpc.ServiceError;
      if (e.code === grpc.status.CANCELLED && io.signal?.aborted) break;
      if (!retryable(e) || ++failures > 20) throw err;
      await new Promise((r) => setTimeout(r, Math.min(100 * failures, 1000)));
    } finally {
      io.signal?.removeEventListener('abort', onAbort);
    }
  }
  return 0;
}

export async function runServers(argv: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parse(argv, {});
  if (values.help === true) {
    io.stdout.write(`${CLIENT_USAGE}\n`);
    return 0;
  }
  refuseArguments(positionals, () => 'servers takes only flags');
  const conn = await connect(values);
  try {
    const res = await withRetry(Date.now() + conn.timeoutMs, (deadline) => unary(conn.client.getServers.bind(conn.client), {}, deadline));
    const rows = res.servers.map((s) => [s.id, s.rpcAddr, s.isLeader ? 'leader' : s.isLearner ? 'learner' : 'follower']);
    const widths = [0, 1].map((i) => Math.max(i === 0 ? 2 : 8, ...rows.map((r) => r[i]!.length)));
    const line = (cols: string[]): string => `${cols[0]!.padEnd(widths[0]!)}  ${cols[1]!.padEnd(widths[1]!)}  ${cols[2]}\n`;
    io.stdout.write(line(['ID', 'RPC ADDR', 'ROLE']) + rows.map(line).join(''));
    return 0;
  } catch (err) {
    io.stderr.write(`proglog servers: ${describe(err)}\n`);
    return 1;
  } finally {
    conn.client.close();
  }
}
