import type { Entry, Message } from '../raft/index.js';
import { DecodeError } from './binary.js';
import { decodeMessage, decodeStoredEntry, encodeMessage, encodeMessageParts, encodeStoredEntry } from './message-codec.js';

const entry = (index: number, term: number, type: Entry['type'], data: string): Entry => ({ index, term, type, data: Buffer.from(data) });
const base = { from: 'a#1', to: 'b#2', term: 7 };
const meta = { index: 40, term: 6, confState: { voters: ['a#1', 'b#2'], learners: ['c#3'] } };

const samples: Message[] = [
  { ...base, type: 'append', index: 10, logTerm: 6, commit: 9, entries: [entry(11, 7, 'normal', 'x'), entry(12, 7, 'confChange', '{}'), entry(13, 7, 'empty', '')] },
  { ...base, type: 'append', index: 0, logTerm: 0, commit: 0, entries: [] },
  { ...base, type: 'appendResponse', index: 12, reject: true, rejectHint: 8, logTerm: 5 },
  { ...base, type: 'vote', index: 12, logTerm: 7, transfer: true },
  { ...base, type: 'preVote', index: 12, logTerm: 7, transfer: false },
  { ...base, type: 'voteResponse', reject: false },
  { ...base, type: 'preVoteResponse', reject: true },
  { ...base, type: 'heartbeat', commit: 12, context: 'read-1' },
  { ...base, type: 'heartbeatResponse', context: '' },
  { ...base, type: 'snapshot', meta, offset: 1024, data: Buffer.from('chunk'), done: true },
  { ...base, type: 'snapshotResponse', snapshotIndex: 40, offset: 2048, reject: false },
  { ...base, type: 'timeoutNow' },
  { ...base, term: 2 ** 53 - 1, type: 'heartbeat', commit: 2 ** 40, context: 'ünïcødé' },
];

function plain(m: Message | Entry): unknown {
  return JSON.parse(JSON.stringify(m, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v)));
}

describe('message codec', () => {
  test.each(samples.map((m) => [m.type, m] as const))('%s round-trips', (_type, m) => {
    expect(plain(decodeMessage(encodeMessage(m)))).toEqual(plain(m));
  });

  test.each(samples.map((m) => [m.type, m] as const))('%s in parts is the same bytes', (_type, m) => {
    expect(Buffer.concat(encodeMessageParts(m)).equals(encodeMessage(m))).toBe(true);
  });

  test('an append in parts references its entries instead of copying them, long ids and many entries included', () => {
    const long = { from: 'node-1#'.padEnd(200, 'x'), to: 'node-2#'.padEnd(200, 'y'), term: 3 };
    const entries = Array.from({ length: 300 }, (_, i) => entry(i + 1, 3, i % 7 === 0 ? 'empty' : 'normal', i % 7 === 0 ? '' : `record ${i}`));
    const m: Message = { ...long, type: 'append', index: 0, logTerm: 0, commit: 0, entries };
    const parts = encodeMessageParts(m);
    expect(Buffer.concat(parts).equals(encodeMessage(m))).toBe(true);
    for (const e of entries) if (e.data.length > 0) expect(parts).toContain(e.data);
    expect(plain(decodeMessage(Buffer.concat(parts)))).toEqual(plain(m));
  });

  test('a heartbeat is compact', () => {
    expect(encodeMessage({ ...base, type: 'heartbeat', commit: 1000, context: '' }).length).toBeLessThan(20);
  });

  test('truncated, unknown or padded input is a DecodeError', () => {
    const bytes = encodeMessage(samples[0]!);
    for (let n = 0; n < bytes.length; n++) expect(() => decodeMessage(bytes.subarray(0, n))).toThrow(DecodeError);
    expect(() => decodeMessage(Buffer.concat([bytes, Buffer.of(0)]))).toThrow(DecodeError);
    expect(() => decodeMessage(Buffer.of(99, 0, 0, 0))).toThrow(DecodeError);
  });

  test('stored entries keep term, type and data; the index comes from the log offset', () => {
    const e = entry(5, 3, 'confChange', 'payload');
    expect(plain(decodeStoredEntry(5, Buffer.concat(encodeStoredEntry(e))))).toEqual(plain(e));
  });
});
