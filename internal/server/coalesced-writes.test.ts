// coalesceWrites against a real grpc-js server stream: the shape it relies on exists in the grpc-js we ship
// (a grpc-js upgrade that changes it fails here, not silently in production), messages written while one is in
// flight go down together, and the client still gets every message in order.
import { Writable } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import { coalesceWrites } from './coalesced-writes.js';

const MESSAGES = 2000;

const passthrough = {
  path: '/test.Coalesce/Stream',
  requestStream: false,
  responseStream: true,
  requestSerialize: (b: Buffer): Buffer => b,
  requestDeserialize: (b: Buffer): Buffer => b,
  responseSerialize: (b: Buffer): Buffer => b,
  responseDeserialize: (b: Buffer): Buffer => b,
} satisfies grpc.MethodDefinition<Buffer, Buffer>;

describe('coalesceWrites', () => {
  let server: grpc.Server;
  let client: grpc.Client;
  const batches: number[] = [];
  let installed: boolean | undefined;

  beforeAll(async () => {
    server = new grpc.Server();
    server.addService(
      { Stream: passthrough },
      {
        Stream: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
          installed = coalesceWrites(call);
          const writev = call._writev;
          if (writev) {
            call._writev = (chunks, callback) => {
              batches.push(chunks.length);
              writev.call(call, chunks, callback);
            };
          }
          void (async () => {
            for (let i = 0; i < MESSAGES; i++) {
              const message = Buffer.alloc(8);
              message.writeUInt32BE(i, 0);
              if (!call.write(message)) await new Promise((resolve) => call.once('drain', resolve));
            }
            call.end();
          })();
        },
      },
    );
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  });

  afterAll(async () => {
    client.close();
    await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
  });

  it('sends what queues behind a message in flight as one batch, and the client gets every message in order', async () => {
    const received: number[] = [];
    await new Promise<void>((resolve, reject) => {
      const call = client.makeServerStreamRequest(passthrough.path, passthrough.requestSerialize, passthrough.responseDeserialize, Buffer.alloc(0));
      call.on('data', (m: Buffer) => received.push(m.readUInt32BE(0)));
      call.on('error', reject);
      call.on('end', resolve);
    });
    expect(installed).toBe(true);
    expect(received).toEqual(Array.from({ length: MESSAGES }, (_, i) => i));
    // Without coalescing every message after the first would be a batch of its own (_writev never called).
    expect(batches.length).toBeGreaterThan(0);
    expect(Math.max(...batches)).toBeGreaterThan(1);
    expect(batches.reduce((a, b) => a + b, 0)).toBeLessThan(MESSAGES);
  });

  it('leaves a stream without the grpc-js internals it needs as it was', () => {
    const plain = new Writable({ write: (_c, _e, cb) => cb() });
    const before = plain._writev;
    expect(coalesceWrites(plain)).toBe(false);
    expect(plain._writev).toBe(before);
  });
});
