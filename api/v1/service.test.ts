import { LogService } from './log.js';
import { keptWriterSerializer, LOG_SERVICE } from './service.js';
import { ProduceRequest, ProduceResponse, type ConsumeResponse } from './log.js';

/** Buffer equality without jest's element-by-element comparison, which takes seconds per megabyte. */
function expectSameBytes(actual: Buffer, expected: Buffer): void {
  expect(actual.byteLength).toBe(expected.byteLength);
  expect(Buffer.compare(actual, expected)).toBe(0);
}

const record = (bytes: number, offset = 0) => ({ value: Buffer.alloc(bytes, offset % 251), offset, term: 3, type: 0 });

describe('LOG_SERVICE serializers (one kept writer per method and direction)', () => {
  it('make the bytes the generated serializers make, message after message of changing size', () => {
    const produces = [0, 256, 1, 70_000, 0, 300, 2 * 1024 * 1024, 5].map((n, i) => ({ record: record(n, i), topic: i % 2 ? 'orders' : '' }));
    for (const method of ['produce', 'produceStream'] as const) {
      for (const req of produces) {
        expectSameBytes(LOG_SERVICE[method].requestSerialize(req), LogService[method].requestSerialize(req));
      }
      for (const offset of [0, 1, 127, 128, 2 ** 40, Number.MAX_SAFE_INTEGER, 5]) {
        expectSameBytes(LOG_SERVICE[method].responseSerialize({ offset }), LogService[method].responseSerialize({ offset }));
      }
    }
    for (const n of [100, 0, 1, 3000, 2]) {
      const req = { topic: 't', values: Array.from({ length: n }, (_, i) => Buffer.alloc(256 + (i % 7), i % 250)) };
      expectSameBytes(LOG_SERVICE.produceBatch.requestSerialize(req), LogService.produceBatch.requestSerialize(req));
    }
    const consumed: ConsumeResponse[] = [
      { record: record(256, 9) },
      { record: undefined, batch: { records: Array.from({ length: 256 }, (_, i) => record(256, i)) } },
      { record: record(0, 0) },
      { record: undefined },
    ];
    for (const res of consumed) {
      for (const method of ['consume', 'consumeStream'] as const) {
        expectSameBytes(LOG_SERVICE[method].responseSerialize(res), LogService[method].responseSerialize(res));
      }
    }
    for (const n of [500, 0, 3]) {
      const res = { records: Array.from({ length: n }, (_, i) => record(100, i)), nextOffset: n };
      expectSameBytes(LOG_SERVICE.consumeRange.responseSerialize(res), LogService.consumeRange.responseSerialize(res));
    }
  });

  it('return Buffers that later messages do not overwrite', () => {
    const serialize = keptWriterSerializer(ProduceResponse);
    const first = serialize({ offset: 300 });
    const copy = Buffer.from(first);
    serialize({ offset: 2 ** 50 });
    serialize({ offset: 7 });
    expect(first).toEqual(copy);
  });

  it('start the next message clean after one that failed half-way', () => {
    const serialize = keptWriterSerializer(ProduceRequest);
    // The record is written before the topic is read: the writer holds part of a message when it fails.
    const failing = {
      record: record(10, 3),
      get topic(): never {
        throw new Error('unreadable topic');
      },
    };
    serialize({ record: record(10, 1), topic: 'a' });
    expect(() => serialize(failing as unknown as ProduceRequest)).toThrow('unreadable topic');
    const next = { record: record(20, 2), topic: 'b' };
    expectSameBytes(serialize(next), LogService.produce.requestSerialize(next));
  });

  it('keep the generated deserializers and paths', () => {
    for (const [name, method] of Object.entries(LOG_SERVICE)) {
      const generated = LogService[name as keyof typeof LogService];
      expect(method.path).toBe(generated.path);
      expect(method.requestDeserialize).toBe(generated.requestDeserialize);
      expect(method.responseDeserialize).toBe(generated.responseDeserialize);
    }
  });
});
