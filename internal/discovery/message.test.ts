import { MalformedMessageError } from './errors.js';
import { parseClaim } from './message.js';

describe('claims on the wire', () => {
  test('known fields are kept, unknown ones dropped', () => {
    const text = JSON.stringify({ type: 'left', name: 'a', incarnation: 3, extra: 'x' });
    expect(parseClaim(text)).toEqual({ type: 'left', name: 'a', incarnation: 3 });
  });

  test.each([
    ['not JSON', '{'],
    ['unknown type', JSON.stringify({ type: 'dead', name: 'a', incarnation: 1 })],
    ['negative incarnation', JSON.stringify({ type: 'left', name: 'a', incarnation: -1 })],
    ['fractional incarnation', JSON.stringify({ type: 'left', name: 'a', incarnation: 1.5 })],
    ['empty name', JSON.stringify({ type: 'left', name: '', incarnation: 1 })],
    ['suspect without accuser', JSON.stringify({ type: 'suspect', name: 'a', incarnation: 1 })],
    ['alive without rpc_addr', JSON.stringify({ type: 'alive', name: 'a', incarnation: 1, tags: {}, addr: 'h:1', peerId: 'p' })],
    ['alive with a non-string tag', JSON.stringify({ type: 'alive', name: 'a', incarnation: 1, tags: { rpc_addr: 'h:1', n: 1 }, addr: 'h:1', peerId: 'p' })],
  ])('%s is malformed', (_why, text) => {
    expect(() => parseClaim(text)).toThrow(MalformedMessageError);
  });
});
