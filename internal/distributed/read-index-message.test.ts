import { DecodeError } from './binary.js';
import { decodeReadIndexMessage, encodeReadIndexMessage, isReadIndexMessage } from './read-index-message.js';
import { encodeMessage } from './message-codec.js';

describe('read index messages', () => {
  test('round-trip, and are told apart from Raft messages by their tag', () => {
    const req = { type: 'readIndexRequest', context: 'b#1/7' } as const;
    const res = { type: 'readIndexResponse', context: 'b#1/7', ok: true, index: 2 ** 40 } as const;
    expect(decodeReadIndexMessage(encodeReadIndexMessage(req))).toEqual(req);
    expect(decodeReadIndexMessage(encodeReadIndexMessage(res))).toEqual(res);
    expect(isReadIndexMessage(encodeReadIndexMessage(req))).toBe(true);
    expect(isReadIndexMessage(encodeMessage({ type: 'timeoutNow', from: 'a', to: 'b', term: 1 }))).toBe(false);
    expect(() => decodeReadIndexMessage(Buffer.of(0x80))).toThrow(DecodeError);
  });
});
