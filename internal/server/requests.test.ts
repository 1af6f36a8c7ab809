import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { ProduceBatchRequest } from '../../api/v1/log.js';
import { InvalidRequestError } from './errors.js';
import { DEFAULT_LIMITS, checkBatch, precheckBatch } from './requests.js';

const limits = { ...DEFAULT_LIMITS, maxBatchRecords: 2 };
const encoded = (values: number): Uint8Array =>
  ProduceBatchRequest.encode({ topic: 't', values: Array.from({ length: values }, () => Buffer.alloc(0)) }).finish();

describe('precheckBatch: the record limit, read from the bytes before decoding', () => {
  it('lets a batch within the limit through and refuses one over it', () => {
    expect(() => precheckBatch(encoded(2), limits)).not.toThrow();
    expect(() => precheckBatch(encoded(3), limits)).toThrow(InvalidRequestError);
    expect(() => precheckBatch(encoded(3), limits)).toThrow(/at most 2 records/);
  });

  it('counts values after fields the decoder skips (unknown fields, a group), as the decoder would decode them', () => {
    const w = new BinaryWriter();
    w.tag(7, WireType.Varint).uint32(1);
    w.tag(8, WireType.StartGroup).tag(1, WireType.Bit32).fixed32(5).tag(8, WireType.EndGroup);
    for (let i = 0; i < 3; i++) w.tag(2, WireType.LengthDelimited).bytes(new Uint8Array(0));
    const bytes = w.finish();
    expect(ProduceBatchRequest.decode(bytes).values).toHaveLength(3);
    expect(() => precheckBatch(bytes, limits)).toThrow(InvalidRequestError);
  });

  it('leaves bytes that do not parse to the decoder, and ignores what the decoder ignores', () => {
    expect(() => precheckBatch(Buffer.from([0x12, 0x7f]), limits)).not.toThrow();
    const afterEnd = Buffer.concat([Buffer.from([0x00]), encoded(3)]);
    expect(ProduceBatchRequest.decode(afterEnd).values).toHaveLength(0);
    expect(() => precheckBatch(afterEnd, limits)).not.toThrow();
  });

  it('is also enforced on a decoded batch', () => {
    expect(() => checkBatch([Buffer.alloc(0), Buffer.alloc(0), Buffer.alloc(0)], limits)).toThrow(/holds 3/);
  });
});
