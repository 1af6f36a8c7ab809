import { MalformedMessageError } from './errors.js';
import { decodeAck, decodeRequest, decodeSyncResponse } from './exchange.js';

describe('direct exchanges on the wire', () => {
  const hello = { claim: '{}', sig: 's', cert: 'c' };
  const bytes = (o: unknown) => Buffer.from(JSON.stringify(o));

  test('each request kind decodes', () => {
    expect(decodeRequest(bytes({ kind: 'sync', hello, digest: { a: { incarnation: 1, status: 'alive' } } })).kind).toBe('sync');
    expect(decodeRequest(bytes({ kind: 'push', hello, entries: [{ alive: hello }] })).kind).toBe('push');
    expect(decodeRequest(bytes({ kind: 'ping-req', hello, target: 'a' })).kind).toBe('ping-req');
  });

  test('a hello is either a full envelope or a reference by name and incarnation', () => {
    expect(decodeRequest(bytes({ kind: 'push', hello: { name: 'a', incarnation: 2 }, entries: [] })).hello).toEqual({ name: 'a', incarnation: 2 });
    expect(() => decodeRequest(bytes({ kind: 'push', hello: { name: 'a' }, entries: [] }))).toThrow(MalformedMessageError);
  });

  test('a responder may ask for a full introduction instead of answering', () => {
    expect(decodeAck(bytes({ kind: 'introduce' })).kind).toBe('introduce');
    expect(decodeSyncResponse(bytes({ kind: 'introduce' })).kind).toBe('introduce');
  });

  test.each([
    ['empty', Buffer.alloc(0)],
    ['no hello', bytes({ kind: 'sync', digest: {} })],
    ['unknown kind', bytes({ kind: 'gossip', hello })],
    ['bad digest status', bytes({ kind: 'sync', hello, digest: { a: { incarnation: 1, status: 'zombie' } } })],
    ['entries not a list', bytes({ kind: 'push', hello, entries: {} })],
    ['ping-req without target', bytes({ kind: 'ping-req', hello })],
  ])('a request that is %s is malformed', (_why, data) => {
    expect(() => decodeRequest(data)).toThrow(MalformedMessageError);
  });

  test('responses of the wrong kind are malformed', () => {
    expect(() => decodeSyncResponse(bytes({ kind: 'ack', ok: true }))).toThrow(MalformedMessageError);
    expect(() => decodeAck(bytes({ kind: 'ack', ok: 'yes' }))).toThrow(MalformedMessageError);
  });
});
