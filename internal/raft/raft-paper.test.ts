// The rules of the Raft paper (Ongaro & Ousterhout, §5), one test per rule.
import type { Raft } from './raft.js';
import { SeededRandom } from './random.js';
import { bootNode, drain, TestNet } from './testkit.js';
import type { AppendMessage, Entry, Message } from './types.js';
import { NONE } from './types.js';

const enc = new TextEncoder();
const three = ['n1', 'n2', 'n3'];
const five = ['n1', 'n2', 'n3', 'n4', 'n5'];

function entry(index: number, term: number): Entry {
  return { index, term, type: 'normal', data: enc.encode(`e${index}/${term}`) };
}

function termsOf(r: Raft, from = 1): number[] {
  const out: number[] = [];
  for (let i = from; i <= r.log.lastIndex(); i++) out.push(r.log.term(i));
  return out;
}

/** Elects `id` by campaigning until it leads (several rounds may be needed when others voted in a term). */
function campaignUntilLeader(net: TestNet, id: string): void {
  for (let i = 0; i < 5 && net.raft(id).role !== 'leader'; i++) net.elect(id);
  expect(net.raft(id).role).toBe('leader');
}

describe('§5.1 terms', () => {
  test('a node starts as a follower with no leader, at the persisted term', () => {
    const n = bootNode('n1', three);
    expect(n.raw.raft.role).toBe('follower');
    expect(n.raw.raft.lead).toBe(NONE);
    expect(n.raw.raft.term).toBe(1);
  });

  test.each(['follower', 'candidate', 'leader'] as const)('a %s that sees a higher term adopts it and becomes a follower', (role) => {
    const net = new TestNet(three);
    if (role === 'leader') net.elect('n1');
    if (role === 'candidate') {
      net.isolate('n1');
      net.elect('n1');
      net.heal();
    }
    expect(net.raft('n1').role).toBe(role);
    const term = net.raft('n1').term;
    net.raft('n1').step({ type: 'heartbeat', from: 'n2', to: 'n1', term: term + 5, commit: 0, context: '' });
    expect(net.raft('n1').role).toBe('follower');
    expect(net.raft('n1').term).toBe(term + 5);
    expect(net.raft('n1').lead).toBe('n2');
  });

  test('a node answers a message of a stale term with its own term, and the stale leader steps down', () => {
    const net = new TestNet(three);
    net.elect('n1');
    net.isolate('n1');
    net.elect('n2');
    expect(net.raft('n2').term).toBeGreaterThan(net.raft('n1').term);
    net.heal();
    net.propose('n1', 'from a stale leader');
    expect(net.raft('n1').role).toBe('follower');
    expect(net.raft('n1').term).toBe(net.raft('n2').term);
    expect(net.appliedText('n2')).not.toContain('from a stale leader');
  });
});

describe('§5.2 leader election', () => {
  test('a leader sends a heartbeat to every follower each heartbeat interval', () => {
    const net = new TestNet(three, { heartbeatTick: 3 });
    net.elect('n1');
    const before = net.log.length;
    net.tick('n1', 2);
    expect(net.log.slice(before).filter((m) => m.type === 'heartbeat')).toHaveLength(0);
    net.tick('n1', 1);
    const beats = net.log.slice(before).filter((m) => m.type === 'heartbeat');
    expect(beats.map((m) => m.to).sort()).toEqual(['n2', 'n3']);
  });

  test('a follower that hears nothing for an election timeout campaigns: term+1, votes for itself, asks every voter', () => {
    const n = bootNode('n1', three);
    const msgs: Message[] = [];
    for (let i = 0; i < 20 && n.raw.raft.role === 'follower'; i++) {
      n.raw.tick();
      msgs.push(...drain(n));
    }
    const r = n.raw.raft;
    expect(r.role).toBe('candidate');
    expect(r.term).toBe(2);
    expect(r.vote).toBe('n1');
    expect(n.storage.initialState().hardState).toMatchObject({ term: 2, vote: 'n1' });
    const votes = msgs.filter((m) => m.type === 'vote');
    expect(votes.map((m) => m.to).sort()).toEqual(['n2', 'n3']);
    expect(votes.every((m) => m.term === 2)).toBe(true);
  });

  test('election timeouts are randomized within [electionTick, 2 * electionTick)', () => {
    const seen = new Set<number>();
    for (let seed = 1; seed <= 40; seed++) {
      const r = bootNode('n1', three, { random: new SeededRandom(seed), electionTick: 10 }).raw.raft;
      let ticks = 0;
      while (r.role === 'follower' && ticks < 100) {
        r.tick();
        ticks++;
      }
      expect(ticks).toBeGreaterThanOrEqual(10);
      expect(ticks).toBeLessThan(20);
      seen.add(ticks);
    }
    expect(seen.size).toBeGreaterThan(3);
  });

  test('a candidate that wins a majority of votes becomes leader', () => {
    const net = new TestNet(five);
    net.isolate('n4');
    net.isolate('n5');
    net.elect('n1');
    expect(net.raft('n1').role).toBe('leader');
    expect(net.raft('n2').lead).toBe('n1');
  });

  test('a candidate without a majority stays candidate; one rejected by a majority returns to follower', () => {
    const net = new TestNet(five);
    net.isolate('n1');
    net.elect('n1');
    expect(net.raft('n1').role).toBe('candidate');

    const net2 = new TestNet(three);
    net2.elect('n2');
    net2.isolate('n1');
    net2.propose('n2', 'n1 lacks this');
    net2.heal();
    // n1's log is behind both others: each refuses it, a majority against.
    net2.elect('n1');
    expect(net2.raft('n1').role).toBe('follower');
    expect(net2.raft('n1').term).toBe(3);
  });

  test('a voter grants at most one vote per term, first come first served', () => {
    const n = bootNode('n3', three);
    const ask = (from: string): Message[] => {
      n.raw.step({ type: 'vote', from, to: 'n3', term: 2, index: 3, logTerm: 1, transfer: false });
      return drain(n);
    };
    const first = ask('n1');
    expect(first).toEqual([expect.objectContaining({ type: 'voteResponse', to: 'n1', reject: false })]);
    expect(ask('n2')).toEqual([expect.objectContaining({ type: 'voteResponse', to: 'n2', reject: true })]);
    // Asking again (a retransmission) gets the same answer.
    expect(ask('n1')).toEqual([expect.objectContaining({ type: 'voteResponse', to: 'n1', reject: false })]);
    expect(n.storage.initialState().hardState.vote).toBe('n1');
  });

  test('a candidate that hears from a leader of its term becomes its follower', () => {
    const net = new TestNet(three);
    net.isolate('n1');
    net.elect('n1');
    const r = net.raft('n1');
    expect(r.role).toBe('candidate');
    r.step({ type: 'append', from: 'n2', to: 'n1', term: r.term, index: 3, logTerm: 1, entries: [], commit: 3 });
    expect(r.role).toBe('follower');
    expect(r.lead).toBe('n2');
  });
});

describe('§5.3 log replication', () => {
  test('the leader appends a proposal to its log and sends it to every follower', () => {
    const net = new TestNet(three);
    net.elect('n1');
    net.filter = (m) => m.type !== 'appendResponse';
    const before = net.log.length;
    const index = net.propose('n1', 'x');
    const apps = net.log.slice(before).filter((m): m is AppendMessage => m.type === 'append' && m.entries.length > 0);
    expect(apps.map((m) => m.to).sort()).toEqual(['n2', 'n3']);
    expect(apps.every((m) => m.entries[0]!.index === index && m.entries[0]!.term === net.raft('n1').term)).toBe(true);
    expect(net.raft('n1').log.committed).toBeLessThan(index);
  });

  test('an entry commits once a majority stores it; followers learn the commit index and apply it', () => {
    const net = new TestNet(five);
    net.elect('n1');
    net.isolate('n4');
    net.isolate('n5');
    const index = net.propose('n1', 'x');
    expect(net.raft('n1').log.committed).toBe(index);
    net.tick('n1');
    expect(net.raft('n2').log.committed).toBe(index);
    expect(net.appliedText('n2')).toEqual(['x']);
    expect(net.appliedText('n4')).toEqual([]);
  });

  test('a follower rejects an append whose previous entry does not match, with a hint', () => {
    const n = bootNode('n2', three);
    n.raw.step({ type: 'append', from: 'n1', to: 'n2', term: 2, index: 3, logTerm: 1, entries: [entry(4, 2)], commit: 3 });
    drain(n);
    n.raw.step({ type: 'append', from: 'n1', to: 'n2', term: 3, index: 6, logTerm: 3, entries: [entry(7, 3)], commit: 3 });
    const [resp] = drain(n);
    expect(resp).toMatchObject({ type: 'appendResponse', reject: true, index: 6, rejectHint: 4, logTerm: 2 });
    expect(n.raw.raft.log.lastIndex()).toBe(4);
  });

  test('a follower deletes conflicting entries and everything after them, then appends the leader\'s', () => {
    const n = bootNode('n2', three);
    n.raw.step({ type: 'append', from: 'n1', to: 'n2', term: 2, index: 3, logTerm: 1, entries: [entry(4, 2), entry(5, 2), entry(6, 2)], commit: 3 });
    drain(n);
    n.raw.step({ type: 'append', from: 'n3', to: 'n2', term: 3, index: 4, logTerm: 2, entries: [entry(5, 3)], commit: 3 });
    const [resp] = drain(n);
    expect(resp).toMatchObject({ type: 'appendResponse', reject: false, index: 5 });
    expect(termsOf(n.raw.raft, 4)).toEqual([2, 3]);
    expect(n.storage.lastIndex()).toBe(5);
    expect(n.storage.term(5)).toBe(3);
  });

  test('a new leader brings divergent logs in line, skipping a whole term per rejection', () => {
    const net = new TestNet(three, { maxEntriesPerMsg: 1000 });
    net.elect('n2');
    // n2 writes 30 entries that only it stores, then loses leadership.
    net.isolate('n2');
    for (let i = 0; i < 30; i++) net.node('n2').raw.propose(enc.encode(`lost ${i}`));
    net.deliver();
    net.elect('n1');
    net.propose('n1', 'kept');
    net.heal();
    const before = net.log.length;
    net.tick('n1');
    const rejections = net.log.slice(before).filter((m) => m.type === 'appendResponse' && m.from === 'n2' && m.reject);
    expect(rejections.length).toBeLessThanOrEqual(2);
    expect(termsOf(net.raft('n2'))).toEqual(termsOf(net.raft('n1')));
    expect(net.appliedText('n2')).toEqual(['kept']);
  });
});

describe('§5.4 safety', () => {
  test('a voter refuses a candidate whose last term is older, or equal with a shorter log', () => {
    const n = bootNode('n3', three);
    n.raw.step({ type: 'append', from: 'n1', to: 'n3', term: 2, index: 3, logTerm: 1, entries: [entry(4, 2), entry(5, 2)], commit: 3 });
    drain(n);
    const ask = (term: number, index: number, logTerm: number): boolean => {
      n.raw.step({ type: 'vote', from: 'n2', to: 'n3', term, index, logTerm, transfer: false });
      return drain(n).some((m) => m.type === 'voteResponse' && !m.reject);
    };
    expect(ask(3, 9, 1)).toBe(false); // older last term, however long
    expect(ask(4, 4, 2)).toBe(false); // same last term, shorter
    expect(ask(5, 5, 2)).toBe(true); // same last term, as long
  });

  test('a new leader appends an empty entry of its own term', () => {
    const net = new TestNet(three);
    net.elect('n1');
    const r = net.raft('n1');
    const last = r.log.slice(r.log.lastIndex(), r.log.lastIndex() + 1, Infinity)[0]!;
    expect(last).toMatchObject({ type: 'empty', term: r.term });
    expect(r.log.committed).toBe(last.index);
  });

  test('Figure 8: a leader never commits an entry of an earlier term by counting replicas', () => {
    const net = new TestNet(five);
    // (a) n1 leads term 2, and its entry 7 reaches only n2.
    net.elect('n1');
    expect(net.raft('n1').term).toBe(2);
    const committedA = net.raft('n1').log.committed;
    net.isolate('n1');
    net.heal();
    for (const id of ['n3', 'n4', 'n5']) {
      net.cutLink('n1', id);
      net.cutLink(id, 'n1');
    }
    const idx7 = net.propose('n1', 'term-2 entry');
    expect(net.raft('n2').log.term(idx7)).toBe(2);
    // (b) n1 crashes; n5 wins term 3 with n3 and n4, writes entry 7 of term 3 that nobody else receives.
    net.heal();
    net.isolate('n1');
    net.filter = (m) => !(m.from === 'n5' && m.type === 'append');
    net.elect('n5');
    expect(net.raft('n5')).toMatchObject({ role: 'leader', term: 3 });
    expect(net.raft('n5').log.term(idx7)).toBe(3);
    // (c) n5 crashes; n1 restarts and leads term 4 with n2 and n3, and copies its term-2 entry 7 to n3,
    //     so a majority (n1, n2, n3) stores it. Its own term-4 entry reaches nobody yet.
    net.heal();
    net.restart('n1');
    net.isolate('n5');
    net.isolate('n4');
    net.filter = (m) => {
      if (m.type === 'append') m.entries = m.entries.filter((e) => e.term !== 4);
      return true;
    };
    campaignUntilLeader(net, 'n1');
    net.tick('n1', 3);
    expect(net.raft('n3').log.term(idx7)).toBe(2);
    expect(net.raft('n1').tracker.committed()).toBeGreaterThanOrEqual(idx7);
    // The rule: stored on a majority, but of an earlier term, so not committed.
    expect(net.raft('n1').log.committed).toBe(committedA);
    // (d) n1 crashes; n5 can still win (its last term 3 beats their 2) and overwrites entry 7 everywhere.
    net.heal();
    net.filter = () => true;
    net.isolate('n1');
    net.restart('n5');
    campaignUntilLeader(net, 'n5');
    net.tick('n5', 3);
    for (const id of ['n2', 'n3', 'n4', 'n5']) expect(net.raft(id).log.term(idx7)).toBe(3);
    // Nobody ever applied the overwritten entry: committing it in (c) would have lost a committed entry.
    for (const id of five) expect(net.appliedText(id)).not.toContain('term-2 entry');
  });

  test('Figure 8 (e): once an entry of the leader\'s term is on a majority, earlier entries commit with it and survive', () => {
    const net = new TestNet(five);
    net.elect('n1');
    for (const id of ['n3', 'n4', 'n5']) {
      net.cutLink('n1', id);
      net.cutLink(id, 'n1');
    }
    const idx7 = net.propose('n1', 'term-2 entry');
    net.heal();
    net.isolate('n1');
    net.filter = (m) => !(m.from === 'n5' && m.type === 'append');
    net.elect('n5');
    net.heal();
    net.restart('n1');
    net.isolate('n5');
    net.isolate('n4');
    net.filter = () => true;
    campaignUntilLeader(net, 'n1');
    net.tick('n1', 2);
    expect(net.raft('n1').log.committed).toBeGreaterThan(idx7);
    expect(net.appliedText('n1')).toContain('term-2 entry');
    // n5 can no longer win: a majority holds a log more up to date than its own.
    net.heal();
    net.isolate('n1');
    net.restart('n5');
    for (let i = 0; i < 4; i++) net.elect('n5');
    expect(net.raft('n5').role).not.toBe('leader');
  });
});
