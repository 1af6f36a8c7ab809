// The ceiling of the transport: a `log.v1.Log` server over the same mutual TLS as an agent that acknowledges
// everything and stores nothing. What the cluster bench measures against it is the cost of gRPC + TLS + the
// client on this machine; the cluster's figures read as a fraction of that.
import * as grpc from '@grpc/grpc-js';
import {
  type ConsumeRequest,
  type ConsumeResponse,
  type LogServer,
  type ProduceRequest,
  type ProduceResponse,
} from '../../api/v1/log.js';
import { LOG_SERVICE } from '../../api/v1/service.js';
import { coalesceWrites } from '../../internal/server/coalesced-writes.js';
import { DEFAULT_LIMITS, streamBatchRecords } from '../../internal/server/requests.js';
import { SERVER_TRANSPORT_OPTIONS } from '../../internal/server/server.js';

export interface NoopServerOptions {
  host?: string;
  port?: number;
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
  /** Size of the synthetic records ConsumeStream and ConsumeRange return. */
  recordBytes?: number;
}

export interface NoopServer {
  port: number;
  address: string;
  close(): Promise<void>;
}

export async function startNoopServer(opts: NoopServerOptions): Promise<NoopServer> {
  const host = opts.host ?? '127.0.0.1';
  const payload = Buffer.alloc(opts.recordBytes ?? 256, 0x61);
  let next = 0;
  let address = '';
  const record = (offset: number) => ({ value: payload, offset, term: 1, type: 0 });

  const impl: LogServer = {
    produce: (_call, cb) => cb(null, { offset: next++ }),
    produceBatch: (call, cb) => {
      const first = next;
      next += call.request.values.length;
      cb(null, { firstOffset: first, count: call.request.values.length });
    },
    produceStream: (call: grpc.ServerDuplexStream<ProduceRequest, ProduceResponse>) => {
      // The same transport as an agent's, message batching included, so the ceiling stays a ceiling.
      coalesceWrites(call);
      call.on('data', () => call.write({ offset: next++ }));
      call.on('end', () => call.end());
      call.on('error', () => undefined);
    },
    consume: (call, cb) => cb(null, { record: record(call.request.offset) }),
    consumeRange: (call, cb) => {
      const n = call.request.maxRecords || 100;
      cb(null, {
        records: Array.from({ length: n }, (_, i) => record(call.request.offset + i)),
        nextOffset: call.request.offset + n,
      });
    },
    consumeStream: (call: grpc.ServerWritableStream<ConsumeRequest, ConsumeResponse>) => {
      coalesceWrites(call);
      let offset = call.request.offset;
      let open = true;
      call.on('cancelled', () => (open = false));
      call.on('error', () => (open = false));
      // Batches as the real server makes them with its default limits (the same cap on the count, and a page's
      // byte budget), so that the baseline is measured with the same number of records per message.
      const batch = Math.min(
        streamBatchRecords(call.request.maxBatchRecords, DEFAULT_LIMITS),
        Math.max(1, Math.floor(DEFAULT_LIMITS.defaultPageBytes / payload.length)),
      );
      const message = (): ConsumeResponse => {
        if (batch === 0) return { record: record(offset++) };
        const records = Array.from({ length: batch }, (_, i) => record(offset + i));
        offset += batch;
        return { record: undefined, batch: { records } };
      };
      // Honour flow control as the real server must: write until the stream says stop, resume on drain.
      const pump = (): void => {
        while (open) {
          if (!call.write(message())) {
            call.once('drain', pump);
            return;
          }
        }
      };
      pump();
    },
    getServers: (_call, cb) => cb(null, { servers: [{ id: 'noop', rpcAddr: address, isLeader: true, isLearner: false }] }),
    listTopics: (_call, cb) => cb(null, { topics: [''] }),
  };

  // The agents' transport options and serializers, so that the ceiling differs from them only in doing nothing.
  const server = new grpc.Server(SERVER_TRANSPORT_OPTIONS);
  server.addService(LOG_SERVICE, impl);
  const creds = grpc.ServerCredentials.createSsl(opts.ca, [{ cert_chain: opts.cert, private_key: opts.key }], true);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:${opts.port ?? 0}`, creds, (err, p) => (err ? reject(err) : resolve(p))),
  );
  address = `${host}:${port}`;
  return {
    port,
    address,
    close: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
        // Open streams would hold a graceful shutdown forever; a bench has no use for that.
        setTimeout(() => server.forceShutdown(), 1000).unref();
      }),
  };
}
