// The safety checker must catch every kind of violation it claims to, or the simulation proves nothing.
import type { RawNode } from '../raw-node.js';
import type { Entry } from '../types.js';
import { HashStateMachine } from '../state-machine.js';
import { SeededRandom } from '../random.js';
import { SafetyChecker, SafetyViolation } from './checker.js';
import { Cluster, DEFAULT_CLUSTER_OPTIONS } from './cluster.js';

const enc = new TextEncoder();
const e = (index: number, term: number, text: string): Entry => ({ index, term, type: 'normal', data: enc.encode(text) });

/** A stand-in for a node whose log holds `terms` (index 1..n) with the given commit index. */
function fakeNode(id: string, term: number, terms: number[], committed: number): RawNode {
  const log = {
    committed,
    firstIndex: () => 1,
    lastIndex: () => terms.length,
    lastTerm: () => (terms.length === 0 ? 0 : terms[terms.length - 1]!),
    term: (i: number) => (i === 0 ? 0 : terms[i - 1]!),
  };
  return { id, raft: { term, log } } as unknown as RawNode;
}

describe('SafetyChecker', () => {
  test('catches a term going backwards and a second vote in the same term', () => {
    const c = new SafetyChecker();
    c.onHardState('a', { term: 3, vote: 'b', commit: 0 });
    expect(() => c.onHardState('a', { term: 2, vote: '', commit: 0 })).toThrow(SafetyViolation);
    expect(() => c.onHardState('a', { term: 3, vote: 'c', commit: 0 })).toThrow(/voted for b and then c/);
    expect(() => c.onHardState('a', { term: 4, vote: 'c', commit: 0 })).not.toThrow();
  });

  test('catches two different entries with the same index and term (log matching)', () => {
    const c = new SafetyChecker();
    c.onPersistEntries('a', [e(5, 2, 'x')], () => 2);
    expect(() => c.onPersistEntries('b', [e(5, 2, 'x')], () => 2)).not.toThrow();
    expect(() => c.onPersistEntries('b', [e(5, 2, 'y')], () => 2)).toThrow(/log matching/);
    expect(() => c.onPersistEntries('c', [e(5, 2, 'x')], () => 1)).toThrow(/log matching/);
  });

  test('catches two nodes applying different histories at the same index (state machine safety)', () => {
    const c = new SafetyChecker();
    c.onApply('a', 1, HashStateMachine.chain(0, e(1, 1, 'x')));
    expect(() => c.onApply('b', 1, HashStateMachine.chain(0, e(1, 1, 'x')))).not.toThrow();
    expect(() => c.onApply('b', 1, HashStateMachine.chain(0, e(1, 1, 'y')))).toThrow(/state machine safety/);
  });

  test('catches a restore from a snapshot that matches no applied history', () => {
    const c = new SafetyChecker();
    c.onApply('a', 4, 1234);
    expect(() => c.onRestore('b', 4, 1234)).not.toThrow();
    expect(() => c.onRestore('b', 4, 999)).toThrow(SafetyViolation);
    expect(() => c.onRestore('b', 7, 1234)).toThrow(SafetyViolation);
  });

  test('catches a committed entry that changes (a commit lost)', () => {
    const c = new SafetyChecker();
    c.onCommit(fakeNode('a', 2, [1, 2, 2], 3));
    expect(() => c.onCommit(fakeNode('b', 3, [1, 2, 3], 3))).toThrow(/committed entry 3/);
  });

  test('catches two leaders in one term (election safety)', () => {
    const c = new SafetyChecker();
    c.onLeader(fakeNode('a', 5, [1], 0));
    expect(() => c.onLeader(fakeNode('a', 5, [1], 0))).not.toThrow();
    expect(() => c.onLeader(fakeNode('b', 5, [1], 0))).toThrow(/election safety/);
  });

  test('catches a leader elected without every committed entry (leader completeness)', () => {
    const c = new SafetyChecker();
    c.onCommit(fakeNode('a', 2, [1, 2, 2], 3));
    expect(() => c.onLeader(fakeNode('b', 3, [1, 2], 0))).toThrow(/leader completeness/);
    expect(() => c.onLeader(fakeNode('c', 4, [1, 2, 3], 0))).toThrow(/leader completeness/);
    expect(() => c.onLeader(fakeNode('d', 5, [1, 2, 2, 5], 0))).not.toThrow();
  });

  test('catches a leader that believes a follower holds entries it does not (wrong match)', () => {
    const c = new SafetyChecker();
    const withProgress = (node: RawNode, match: number): RawNode => {
      (node.raft as unknown as { tracker: unknown }).tracker = { progress: new Map([['b', { match }]]) };
      return node;
    };
    const leader = withProgress(fakeNode('a', 4, [1, 2, 4, 4], 0), 3);
    const follower = (terms: number[], term = 4) => () => fakeNode('b', term, terms, 0);
    expect(() => c.onLeaderView(leader, follower([1, 2, 4]))).not.toThrow();
    expect(() => c.onLeaderView(leader, follower([1, 2, 3]))).toThrow(/matches it up to 3/);
    expect(() => c.onLeaderView(leader, follower([1, 2]))).toThrow(/holds 3 entries/);
    // A follower already in a later term may have been rewritten by a newer leader: not this leader's concern.
    expect(() => c.onLeaderView(leader, follower([1, 2, 5], 5))).not.toThrow();
    // Nor is one back in our term after a torn write, with a newer leader's entries on disk.
    expect(() => c.onLeaderView(leader, follower([1, 2, 5], 4))).not.toThrow();
  });

  test('catches a read that misses a write acknowledged before it began (linearizability)', () => {
    const c = new SafetyChecker();
    expect(() => c.onReadState('a', 9, 9)).not.toThrow();
    expect(() => c.onReadState('a', 8, 9)).toThrow(/stale read/);
  });
});

describe("the cluster's own checks", () => {
  test.each(['strict', 'pipelined'] as const)("a node whose membership is not the one its applied log leads to is a violation (%s runtime)", (runtime) => {
    const c = new Cluster(new SeededRandom(1), ['n1', 'n2', 'n3'], { ...DEFAULT_CLUSTER_OPTIONS, runtime });
    for (let t = 0; t < 100 && !c.leader(); t++) c.tick();
    expect(c.leader()).not.toBeNull();
    for (let t = 0; t < 5; t++) c.tick();
    // What a membership change undone by a stale Ready looks like from outside: the core and its log disagree.
    const follower = [...c.nodes.values()].find((n) => n !== c.leader())!;
    follower.membership = { voters: ['n1', 'n2'], learners: [] };
    expect(() => {
      for (let t = 0; t < 20; t++) c.tick();
    }).toThrow(/membership is voters n1,n2,n3 learners , but its applied log/);
  });
});

describe('the pipelined runtime', () => {
  test("a node's timer may fire while it handles a Ready, and its clock still keeps pace with the cluster's", () => {
    const c = new Cluster(new SeededRandom(7), ['n1', 'n2', 'n3'], { ...DEFAULT_CLUSTER_OPTIONS, runtime: 'pipelined', stepWhileBusy: 0.9 });
    const ticks = new Map<string, number>();
    for (const n of c.nodes.values()) {
      // Starting up handles a Ready too: a tick may already have been taken early there.
      ticks.set(n.id, n.tickedAheadFor === c.now + 1 ? 1 : 0);
      const raw = n.raw!;
      const tick = raw.tick.bind(raw);
      raw.tick = () => {
        ticks.set(n.id, (ticks.get(n.id) ?? 0) + 1);
        tick();
      };
    }
    for (let t = 0; t < 300; t++) {
      c.tick();
      const leader = c.leader();
      if (leader) c.propose(leader.id, [enc.encode(`v${t}`)]);
      for (const n of c.nodes.values()) {
        const taken = ticks.get(n.id) ?? 0;
        // Each global tick is one tick of every node: taken on time, or once early (mid-Ready).
        expect(taken === c.now || taken === c.now + 1).toBe(true);
      }
    }
    expect(c.ticksWhileBusy).toBeGreaterThan(0);
    expect(c.leader()).not.toBeNull();
  });
});
