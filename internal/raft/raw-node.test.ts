// The Ready / advance handshake with the runtime.
import { encodeConfChange } from './confchange.js';
import { InvalidMessageError, InvalidProposalError, ProposalDroppedError } from './errors.js';
import { SeededRandom } from './random.js';
import { RawNode } from './raw-node.js';
import { MemoryStorage } from './storage.js';
import { drain, startNode, TestNet } from './testkit.js';
import type { Message } from './types.js';

const enc = new TextEncoder();

describe('RawNode', () => {
  test('a fresh bootstrapped node has its membership entries to apply, then nothing to do', () => {
    const storage = MemoryStorage.bootstrap(['n1', 'n2', 'n3']);
    const raw = new RawNode({ id: 'n1', storage, random: new SeededRandom(1) });
    expect(raw.hasReady()).toBe(true);
    const rd = raw.ready();
    expect(rd.committedEntries.map((e) => e.type)).toEqual(['confChange', 'confChange', 'confChange']);
    expect(rd.entries).toEqual([]);
    expect(rd.messages).toEqual([]);
    raw.advance(rd);
    expect(raw.hasReady()).toBe(false);
    expect(raw.status().confState.voters).toEqual(['n1', 'n2', 'n3']);
  });

  test('a vote is handed out with the hard state that records it, and must be synced before it is sent', () => {
    const n = startNode('n2', MemoryStorage.bootstrap(['n1', 'n2', 'n3']));
    n.raw.step({ type: 'vote', from: 'n1', to: 'n2', term: 2, index: 3, logTerm: 1, transfer: false });
    const rd = n.raw.ready();
    expect(rd.hardState).toEqual({ term: 2, vote: 'n1', commit: 3 });
    expect(rd.mustSync).toBe(true);
    expect(rd.messages).toEqual([expect.objectContaining({ type: 'voteResponse', reject: false })]);
    n.raw.advance(rd);
  });

  test("a snapshot restored while a Ready is handled keeps its membership: the Ready's older changes do not undo it", () => {
    const n = startNode('n2', MemoryStorage.bootstrap(['n1', 'n2', 'n3']));
    const removeN3 = encodeConfChange({ type: 'removeNode', nodeId: 'n3', context: '' });
    n.raw.step({ type: 'append', from: 'n1', to: 'n2', term: 2, index: 3, logTerm: 1, entries: [{ index: 4, term: 2, type: 'confChange', data: removeN3 }], commit: 4 });
    const rd = n.raw.ready();
    expect(rd.committedEntries.map((e) => e.index)).toEqual([4]);
    n.storage.append(rd.entries);
    if (rd.hardState) n.storage.setHardState(rd.hardState);
    // The runtime steps messages while it applies rd: the leader's snapshot lands, taken after n3 came back.
    const confState = { voters: ['n1', 'n2', 'n3'], learners: [] };
    n.raw.step({ type: 'snapshot', from: 'n1', to: 'n2', term: 2, meta: { index: 10, term: 2, confState }, offset: 0, data: new Uint8Array(0), done: true });
    n.raw.advance(rd);
    drain(n);
    expect(n.raw.status().applied).toBe(10);
    expect(n.raw.status().confState).toEqual(confState);
  });

  test('entries to persist and the acknowledgement that depends on them come in the same Ready', () => {
    const n = startNode('n2', MemoryStorage.bootstrap(['n1', 'n2', 'n3']));
    n.raw.step({ type: 'append', from: 'n1', to: 'n2', term: 2, index: 3, logTerm: 1, entries: [{ index: 4, term: 2, type: 'normal', data: enc.encode('x') }], commit: 3 });
    const rd = n.raw.ready();
    expect(rd.entries.map((e) => e.index)).toEqual([4]);
    expect(rd.mustSync).toBe(true);
    expect(rd.messages).toEqual([expect.objectContaining({ type: 'appendResponse', index: 4, reject: false })]);
    n.raw.advance(rd);
    expect(n.raw.raft.log.unstableEntries()).toEqual([]);
  });

  test('a commit-only change needs no sync; unchanged state is not handed out again', () => {
    const n = startNode('n2', MemoryStorage.bootstrap(['n1', 'n2', 'n3']));
    n.raw.step({ type: 'append', from: 'n1', to: 'n2', term: 2, index: 3, logTerm: 1, entries: [{ index: 4, term: 2, type: 'normal', data: enc.encode('x') }], commit: 3 });
    drain(n);
    n.raw.step({ type: 'heartbeat', from: 'n1', to: 'n2', term: 2, commit: 4, context: '' });
    const rd = n.raw.ready();
    expect(rd.hardState).toEqual({ term: 2, vote: '', commit: 4 });
    expect(rd.mustSync).toBe(false);
    expect(rd.committedEntries.map((e) => e.index)).toEqual([4]);
    expect(rd.softState).toBeNull();
    n.raw.advance(rd);
    n.raw.step({ type: 'heartbeat', from: 'n1', to: 'n2', term: 2, commit: 4, context: '' });
    const again = n.raw.ready();
    expect(again.hardState).toBeNull();
    expect(again.committedEntries).toEqual([]);
  });

  test('the soft state is reported when the role or leader changes', () => {
    const n = startNode('n1', MemoryStorage.bootstrap(['n1']));
    n.raw.campaign();
    const rd = n.raw.ready();
    expect(rd.softState).toEqual({ leader: 'n1', role: 'leader' });
    n.raw.advance(rd);
  });

  test('malformed messages are InvalidMessageError and change nothing', () => {
    const n = startNode('n2', MemoryStorage.bootstrap(['n1', 'n2', 'n3']));
    const before = n.raw.status();
    const bad: unknown[] = [
      { type: 'gossip', from: 'n1', to: 'n2', term: 1 },
      { type: 'heartbeat', from: '', to: 'n2', term: 1, commit: 0, context: '' },
      { type: 'heartbeat', from: 'n2', to: 'n2', term: 1, commit: 0, context: '' },
      { type: 'heartbeat', from: 'n1', to: 'n2', term: -1, commit: 0, context: '' },
      { type: 'append', from: 'n1', to: 'n2', term: 5, index: 3, logTerm: 1, entries: [{ index: 9, term: 5, type: 'normal', data: new Uint8Array() }], commit: 0 },
      { type: 'append', from: 'n1', to: 'n2', term: 5, index: 3, logTerm: 1, entries: [{ index: 4, term: 6, type: 'normal', data: new Uint8Array() }], commit: 0 },
      { type: 'append', from: 'n1', to: 'n2', term: 5, index: 3, logTerm: 1, entries: [{ index: 4, term: 5, type: 'normal', data: 'text' }], commit: 0 },
      { type: 'snapshot', from: 'n1', to: 'n2', term: 5, meta: { index: 9, term: 5 }, offset: 0, data: new Uint8Array(), done: true },
    ];
    for (const m of bad) expect(() => n.raw.step(m as Message)).toThrow(InvalidMessageError);
    expect(n.raw.status()).toEqual(before);
    expect(n.raw.hasReady()).toBe(false);
  });

  test('a proposal that is not bytes is an InvalidProposalError', () => {
    const n = startNode('n1', MemoryStorage.bootstrap(['n1']));
    n.raw.campaign();
    drain(n);
    expect(() => n.raw.proposeBatch(['text' as unknown as Uint8Array])).toThrow(InvalidProposalError);
    expect(n.raw.raft.log.lastIndex()).toBe(2);
  });

  test('past maxUncommittedBytes proposals are dropped with ProposalDroppedError until entries apply', () => {
    const net = new TestNet(['n1', 'n2', 'n3'], { maxUncommittedBytes: 100 });
    net.elect('n1');
    net.isolate('n1');
    const raw = net.node('n1').raw;
    raw.propose(new Uint8Array(60));
    expect(() => raw.propose(new Uint8Array(60))).toThrow(ProposalDroppedError);
    net.heal();
    net.tickAll(2);
    expect(() => raw.propose(new Uint8Array(60))).not.toThrow();
  });
});
