// A client that knows only the book's proto (no topics, no batch RPCs) must work against this server unchanged.
// It is built here from the book's message definitions alone, encoding exactly the fields the book declares:
//   Record{bytes value=1; uint64 offset=2; uint64 term=3; uint32 type=4}  ProduceRequest{Record record=1}
//   ProduceResponse{uint64 offset=1}  ConsumeRequest{uint64 offset=1}  ConsumeResponse{Record record=2}
import * as grpc from '@grpc/grpc-js';
import { BinaryReader, BinaryWriter } from '@bufbuild/protobuf/wire';
import {
  cancel,
  clientCredentials,
  logClient,
  makeTestPKI,
  startTestServer,
  take,
  unary,
  type TestPKI,
  type TestServer,
} from './test-support.js';

interface BookRecord {
  value: Buffer;
  offset: number;
}

function encodeRecordRequest(value: Uint8Array): Buffer {
  const w = new BinaryWriter();
  w.uint32((1 << 3) | 2).fork(); // ProduceRequest.record
  w.uint32((1 << 3) | 2).bytes(value); // Record.value
  w.join();
  return Buffer.from(w.finish());
}

function encodeConsumeRequest(offset: number): Buffer {
  return Buffer.from(new BinaryWriter().uint32((1 << 3) | 0).uint64(offset).finish());
}

function decodeOffset(buf: Buffer): { offset: number } {
  const r = new BinaryReader(buf);
  let offset = 0;
  while (r.pos < r.len) {
    const [field, wireType] = r.tag();
    if (field === 1) offset = Number(r.uint64());
    else r.skip(wireType);
  }
  return { offset };
}

function decodeRecord(bytes: Uint8Array): BookRecord {
  const r = new BinaryReader(bytes);
  const record: BookRecord = { value: Buffer.alloc(0), offset: 0 };
  while (r.pos < r.len) {
    const [field, wireType] = r.tag();
    if (field === 1) record.value = Buffer.from(r.bytes());
    else if (field === 2) record.offset = Number(r.uint64());
    else r.skip(wireType);
  }
  return record;
}

function decodeConsumeResponse(buf: Buffer): { record: BookRecord } {
  const r = new BinaryReader(buf);
  let record: BookRecord = { value: Buffer.alloc(0), offset: 0 };
  while (r.pos < r.len) {
    const [field, wireType] = r.tag();
    if (field === 2) record = decodeRecord(r.bytes());
    else r.skip(wireType);
  }
  return { record };
}

const unused = (): never => {
  throw new Error('server side only');
};

const BookLogClient = grpc.makeGenericClientConstructor(
  {
    Produce: {
      path: '/log.v1.Log/Produce',
      requestStream: false,
      responseStream: false,
      requestSerialize: (value: Uint8Array) => encodeRecordRequest(value),
      responseDeserialize: decodeOffset,
      requestDeserialize: unused,
      responseSerialize: unused,
    },
    Consume: {
      path: '/log.v1.Log/Consume',
      requestStream: false,
      responseStream: false,
      requestSerialize: (offset: number) => encodeConsumeRequest(offset),
      responseDeserialize: decodeConsumeResponse,
      requestDeserialize: unused,
      responseSerialize: unused,
    },
    // Not the book's: raw request bytes, to send what no well-behaved client would.
    ConsumeRaw: {
      path: '/log.v1.Log/Consume',
      requestStream: false,
      responseStream: false,
      requestSerialize: (bytes: Buffer) => bytes,
      responseDeserialize: decodeConsumeResponse,
      requestDeserialize: unused,
      responseSerialize: unused,
    },
    ConsumeStream: {
      path: '/log.v1.Log/ConsumeStream',
      requestStream: false,
      responseStream: true,
      requestSerialize: (offset: number) => encodeConsumeRequest(offset),
      responseDeserialize: decodeConsumeResponse,
      requestDeserialize: unused,
      responseSerialize: unused,
    },
  },
  'log.v1.Log',
);

type BookClient = grpc.Client & {
  Produce: (value: Uint8Array, metadata: grpc.Metadata, options: Partial<grpc.CallOptions>, cb: (err: grpc.ServiceError | null, res: { offset: number }) => void) => grpc.ClientUnaryCall;
  Consume: (offset: number, metadata: grpc.Metadata, options: Partial<grpc.CallOptions>, cb: (err: grpc.ServiceError | null, res: { record: BookRecord }) => void) => grpc.ClientUnaryCall;
  ConsumeStream: (offset: number) => grpc.ClientReadableStream<{ record: BookRecord }>;
  ConsumeRaw: (bytes: Buffer, metadata: grpc.Metadata, options: Partial<grpc.CallOptions>, cb: (err: grpc.ServiceError | null, res: { record: BookRecord }) => void) => grpc.ClientUnaryCall;
};

describe("a client generated from the book's proto", () => {
  let pki: TestPKI;
  let ts: TestServer;
  let book: BookClient;
  beforeAll(async () => {
    pki = await makeTestPKI();
    ts = await startTestServer(pki);
    book = new BookLogClient(ts.addr, clientCredentials(pki, pki.clients.root)) as unknown as BookClient;
  });
  afterAll(async () => {
    book.close();
    await ts.close();
  });

  it('produces and consumes on the default log, and sees OUT_OF_RANGE past its end', async () => {
    expect(await unary(book.Produce.bind(book), Buffer.from('from the book'))).toEqual({ offset: 0 });
    const { record } = await unary(book.Consume.bind(book), 0);
    expect(record).toEqual({ value: Buffer.from('from the book'), offset: 0 });
    await expect(unary(book.Consume.bind(book), 1)).rejects.toMatchObject({ code: grpc.status.OUT_OF_RANGE });
  });

  it('shares the default log with topic-aware clients', async () => {
    const ours = logClient(ts.addr, clientCredentials(pki, pki.clients.root));
    try {
      const { offset } = await unary(ours.produce.bind(ours), {
        record: { value: Buffer.from('from us'), offset: 0, term: 0, type: 0 },
        topic: '',
      });
      expect((await unary(book.Consume.bind(book), offset)).record.value.toString()).toBe('from us');
    } finally {
      ours.close();
    }
  });

  it('gets INVALID_ARGUMENT, not INTERNAL, for request bytes that do not decode', async () => {
    const beyondSafeInteger = Buffer.from(new BinaryWriter().uint32((1 << 3) | 0).uint64(2n ** 60n).finish());
    await expect(unary(book.ConsumeRaw.bind(book), beyondSafeInteger)).rejects.toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
      details: expect.stringContaining('malformed request'),
    });
    const truncated = Buffer.from([(2 << 3) | 2, 50, 1, 2]); // a field claiming 50 bytes, holding 2
    await expect(unary(book.ConsumeRaw.bind(book), truncated)).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
  });

  it('streams the default log from an offset', async () => {
    const stream = book.ConsumeStream(0);
    const got = await take<{ record: BookRecord }>(stream, 2);
    cancel(stream);
    expect(got.map((m) => m.record.value.toString())).toEqual(['from the book', 'from us']);
  });
});
