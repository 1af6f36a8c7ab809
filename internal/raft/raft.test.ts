// The rules of the features beyond the paper's core: pre-vote, check-quorum and leases, batching and
// pipelining, not-leader errors, membership changes, leadership transfer, ReadIndex, snapshots, restarts.
import { decodeConfChange } from './confchange.js';
import {
  ConfChangePendingError,
  InvalidConfChangeError,
  InvalidConfigError,
  InvalidMessageError,
  LeadershipTransferInProgressError,
  LearnerNotCaughtUpError,
  NotLeaderError,
  NotMemberError,
} from './errors.js';
import { SeededRandom } from './random.js';
import { RawNode } from './raw-node.js';
import { MemoryStorage } from './storage.js';
import { drain, startNode, TestNet } from './testkit.js';
import type { AppendMessage, Message, SnapshotMessage } from './types.js';
import { NONE } from './types.js';

const enc = new TextEncoder();
const three = ['n1', 'n2', 'n3'];

function proposeMany(net: TestNet, id: string, n: number, prefix = 'e'): void {
  for (let i = 0; i < n; i++) net.node(id).raw.propose(enc.encode(`${prefix}${i}`));
  net.deliver();
}

describe('pre-vote', () => {
  test('a partitioned node does not raise its term, so it does not disrupt the leader when it returns', () => {
    const net = new TestNet(three, { preVote: true, checkQuorum: true });
    net.elect('n1');
    const term = net.raft('n1').term;
    net.isolate('n3');
    net.tick('n3', 100);
    expect(net.raft('n3').term).toBe(term);
    expect(net.raft('n3').role).toBe('preCandidate');
    net.heal();
    net.tickAll(3);
    expect(net.raft('n1')).toMatchObject({ role: 'leader', term });
    expect(net.raft('n3')).toMatchObject({ role: 'follower', lead: 'n1' });
  });

  test('a pre-vote round that succeeds is followed by a real election at term + 1', () => {
    const net = new TestNet(three, { preVote: true });
    net.elect('n2');
    const kinds = net.log.map((m) => m.type);
    expect(kinds.indexOf('preVote')).toBeLessThan(kinds.indexOf('vote'));
    expect(net.raft('n2')).toMatchObject({ role: 'leader', term: 2 });
  });
});

describe('check-quorum and leader leases', () => {
  test('a leader that has not heard from a majority within an election timeout steps down', () => {
    const net = new TestNet(three, { checkQuorum: true, preVote: true });
    net.elect('n1');
    net.isolate('n1');
    net.tick('n1', 10);
    expect(net.raft('n1').role).toBe('leader');
    net.tick('n1', 10);
    expect(net.raft('n1').role).toBe('follower');
    expect(net.raft('n1').lead).toBe(NONE);
  });

  test('a leader that hears from a majority stays leader through many election timeouts', () => {
    const net = new TestNet(three, { checkQuorum: true, preVote: true });
    net.elect('n1');
    net.isolate('n3');
    for (let i = 0; i < 50; i++) {
      net.tick('n1');
      net.node('n2').raw.tick();
    }
    expect(net.raft('n1').role).toBe('leader');
  });

  test('followers that know a live leader ignore vote requests, even of higher terms', () => {
    const net = new TestNet(three, { checkQuorum: true, preVote: false });
    net.elect('n1');
    const term = net.raft('n2').term;
    net.raft('n2').step({ type: 'vote', from: 'n3', to: 'n2', term: term + 1, index: 100, logTerm: 100, transfer: false });
    expect(net.raft('n2').term).toBe(term);
    expect(drain(net.node('n2'))).toEqual([]);
  });

  test('a follower that forgets its leader answers vote requests again, without campaigning itself', () => {
    const net = new TestNet(three, { checkQuorum: true, preVote: false });
    net.elect('n1');
    const term = net.raft('n2').term;
    net.node('n2').raw.forgetLeader();
    expect(net.raft('n2')).toMatchObject({ role: 'follower', lead: NONE, term });
    expect(drain(net.node('n2'))).toEqual([]);
    net.raft('n2').step({ type: 'vote', from: 'n3', to: 'n2', term: term + 1, index: 100, logTerm: 100, transfer: false });
    expect(net.raft('n2').term).toBe(term + 1);
    expect(drain(net.node('n2'))).toEqual([expect.objectContaining({ type: 'voteResponse', reject: false })]);
  });

  test('a leader asked to forget its leader stays leader; a follower follows again at the next heartbeat', () => {
    const net = new TestNet(three, { checkQuorum: true, preVote: true });
    net.elect('n1');
    net.node('n1').raw.forgetLeader();
    expect(net.raft('n1')).toMatchObject({ role: 'leader', lead: 'n1' });
    net.node('n3').raw.forgetLeader();
    expect(net.raft('n3').lead).toBe(NONE);
    net.tickAll(2);
    expect(net.raft('n3')).toMatchObject({ role: 'follower', lead: 'n1' });
  });

  test('without check-quorum, a higher-term vote request is answered', () => {
    const net = new TestNet(three, { checkQuorum: false, preVote: false });
    net.elect('n1');
    const term = net.raft('n2').term;
    net.raft('n2').step({ type: 'vote', from: 'n3', to: 'n2', term: term + 1, index: 100, logTerm: 100, transfer: false });
    expect(net.raft('n2').term).toBe(term + 1);
    expect(drain(net.node('n2'))).toEqual([expect.objectContaining({ type: 'voteResponse', reject: false })]);
  });
});

describe('replication: batching, pipelining, back-off', () => {
  test('an append carries at most maxEntriesPerMsg entries and about maxSizePerMsg bytes', () => {
    const net = new TestNet(three, { maxEntriesPerMsg: 4, maxSizePerMsg: 1 << 20, maxInflightMsgs: 1000 });
    net.elect('n1');
    net.isolate('n2');
    proposeMany(net, 'n1', 30);
    net.heal();
    const before = net.log.length;
    net.tick('n1');
    const apps = net.log.slice(before).filter((m): m is AppendMessage => m.type === 'append' && m.to === 'n2');
    expect(Math.max(...apps.map((m) => m.entries.length))).toBe(4);
    expect(net.raft('n2').log.lastIndex()).toBe(net.raft('n1').log.lastIndex());

    const bytes = new TestNet(three, { maxEntriesPerMsg: 1000, maxSizePerMsg: 200 });
    bytes.elect('n1');
    bytes.isolate('n2');
    for (let i = 0; i < 20; i++) bytes.node('n1').raw.propose(new Uint8Array(50));
    bytes.deliver();
    bytes.heal();
    const b0 = bytes.log.length;
    bytes.tick('n1');
    const sized = bytes.log.slice(b0).filter((m): m is AppendMessage => m.type === 'append' && m.to === 'n2' && m.entries.length > 0);
    // Each entry counts 50 bytes + a 24-byte header: three would be 222 > 200.
    for (const m of sized) expect(m.entries.length).toBeLessThanOrEqual(2);
    expect(sized.length).toBeGreaterThan(5);
  });

  test('a follower in sync has at most maxInflightMsgs appends unacknowledged (the pipeline window)', () => {
    const net = new TestNet(three, { maxEntriesPerMsg: 1, maxInflightMsgs: 3 });
    net.elect('n1');
    net.filter = (m) => m.type !== 'appendResponse' || m.from !== 'n2';
    const before = net.log.length;
    proposeMany(net, 'n1', 10);
    const toN2 = net.log.slice(before).filter((m) => m.type === 'append' && m.to === 'n2');
    expect(toN2).toHaveLength(3);
    expect(net.raft('n1').status().progress['n2']).toMatchObject({ state: 'replicate', inflight: 3 });
    // n3 acknowledges, so it receives everything and the entries commit with the leader and n3.
    expect(net.raft('n1').log.committed).toBe(net.raft('n1').log.lastIndex());
    net.filter = () => true;
    net.tickAll(3);
    expect(net.raft('n2').log.lastIndex()).toBe(net.raft('n1').log.lastIndex());
  });

  test('a lost append in the window is recovered through heartbeats', () => {
    const net = new TestNet(three, { maxEntriesPerMsg: 1, maxInflightMsgs: 2 });
    net.elect('n1');
    let dropped = 0;
    net.filter = (m) => !(m.type === 'append' && m.to === 'n2' && m.entries.length > 0 && dropped++ < 1);
    proposeMany(net, 'n1', 6);
    net.filter = () => true;
    net.tickAll(5);
    expect(net.raft('n2').log.lastIndex()).toBe(net.raft('n1').log.lastIndex());
    expect(net.appliedText('n2')).toEqual(['e0', 'e1', 'e2', 'e3', 'e4', 'e5']);
  });

  test('followers learn a new commit index from the next append or heartbeat; no empty append is sent to tell them', () => {
    const net = new TestNet(three);
    net.elect('n1');
    net.tickAll(1);
    net.log.length = 0;
    const first = net.propose('n1', 'a');
    expect(net.raft('n1').log.committed).toBe(first);
    expect(net.log.filter((m) => m.type === 'append' && m.entries.length === 0)).toEqual([]);
    // The followers hold the entry but do not know yet that it is committed.
    expect(net.raft('n2').log.lastIndex()).toBe(first);
    expect(net.raft('n2').log.committed).toBeLessThan(first);
    // The next append carries the commit index of the entries before it.
    const second = net.propose('n1', 'b');
    expect(net.appliedText('n2')).toEqual(['a']);
    expect(net.appliedText('n3')).toEqual(['a']);
    // With nothing more to send, the next heartbeat does.
    net.tickAll(1);
    expect(net.raft('n2').log.committed).toBe(second);
    expect(net.appliedText('n3')).toEqual(['a', 'b']);
  });
});

describe('proposals', () => {
  test('a proposal on a follower fails with NotLeaderError naming the leader', () => {
    const net = new TestNet(three);
    net.elect('n2');
    const err = (() => {
      try {
        net.node('n1').raw.propose(enc.encode('x'));
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(err).toBeInstanceOf(NotLeaderError);
    expect((err as NotLeaderError).leader).toBe('n2');
    expect((err as Error).message).toContain('n2');
  });

  test('a proposal with no known leader fails with NotLeaderError naming nobody', () => {
    const n = startNode('n1', MemoryStorage.bootstrap(three));
    expect(() => n.raw.propose(enc.encode('x'))).toThrow(NotLeaderError);
    try {
      n.raw.propose(enc.encode('x'));
    } catch (e) {
      expect((e as NotLeaderError).leader).toBe(NONE);
    }
  });

  test('a single-node cluster commits a batch at once', () => {
    const n = startNode('n1', MemoryStorage.bootstrap(['n1']));
    n.raw.campaign();
    drain(n);
    const last = n.raw.proposeBatch([enc.encode('a'), enc.encode('b'), enc.encode('c')]);
    drain(n);
    expect(n.raw.raft.log.committed).toBe(last);
    expect(n.applied.filter((e) => e.type === 'normal')).toHaveLength(3);
  });
});

describe('membership changes', () => {
  test('a voter can be added; it learns the whole log and counts in the quorum', () => {
    const net = new TestNet(three);
    net.elect('n1');
    net.propose('n1', 'before');
    net.add('n4', startNode('n4', new MemoryStorage()));
    net.node('n1').raw.proposeConfChange({ type: 'addVoter', nodeId: 'n4', context: 'addr4' });
    net.deliver();
    net.tickAll(2);
    expect(net.raft('n1').tracker.voters).toEqual(['n1', 'n2', 'n3', 'n4']);
    expect(net.raft('n4').tracker.voters).toEqual(['n1', 'n2', 'n3', 'n4']);
    expect(net.appliedText('n4')).toEqual(['before']);
    // With four voters, a majority is three: two nodes down stops commits.
    net.isolate('n3');
    net.isolate('n4');
    const idx = net.propose('n1', 'stuck');
    expect(net.raft('n1').log.committed).toBeLessThan(idx);
  });

  test('a learner receives the log but does not vote or count toward commit; once caught up it is promoted', () => {
    const net = new TestNet(three);
    net.elect('n1');
    net.add('n4', startNode('n4', new MemoryStorage()));
    net.isolate('n4');
    net.node('n1').raw.proposeConfChange({ type: 'addLearner', nodeId: 'n4', context: '' });
    net.deliver();
    proposeMany(net, 'n1', 5);
    expect(() => net.node('n1').raw.proposeConfChange({ type: 'addVoter', nodeId: 'n4', context: '' })).toThrow(LearnerNotCaughtUpError);
    net.heal();
    net.tickAll(2);
    expect(net.raft('n4').tracker.learners).toEqual(['n4']);
    expect(net.appliedText('n4')).toHaveLength(5);
    // A learner never campaigns.
    net.tick('n4', 50);
    expect(net.raft('n4').role).toBe('follower');
    net.node('n1').raw.proposeConfChange({ type: 'addVoter', nodeId: 'n4', context: '' });
    net.deliver();
    net.tickAll(2);
    expect(net.raft('n1').tracker.confState()).toEqual({ voters: ['n1', 'n2', 'n3', 'n4'], learners: [] });
    expect(net.raft('n4').promotable()).toBe(true);
  });

  test('only one membership change may be pending at a time', () => {
    const net = new TestNet(three);
    net.elect('n1');
    net.isolate('n2');
    net.isolate('n3');
    net.node('n1').raw.proposeConfChange({ type: 'addLearner', nodeId: 'n4', context: '' });
    expect(() => net.node('n1').raw.proposeConfChange({ type: 'addLearner', nodeId: 'n5', context: '' })).toThrow(ConfChangePendingError);
    net.heal();
    net.tickAll(2);
    expect(() => net.node('n1').raw.proposeConfChange({ type: 'addLearner', nodeId: 'n5', context: '' })).not.toThrow();
  });

  test('a new leader allows no change until it has applied the changes of earlier leaders', () => {
    const net = new TestNet(three);
    net.elect('n1');
    net.filter = (m) => m.type !== 'appendResponse';
    net.node('n1').raw.proposeConfChange({ type: 'addLearner', nodeId: 'n4', context: '' });
    net.deliver();
    net.elect('n2');
    const raw = net.node('n2').raw;
    expect(raw.raft.role).toBe('leader');
    expect(() => raw.proposeConfChange({ type: 'addLearner', nodeId: 'n5', context: '' })).toThrow(ConfChangePendingError);
    net.filter = () => true;
    net.tickAll(2);
    expect(raw.raft.tracker.learners).toEqual(['n4']);
    expect(() => raw.proposeConfChange({ type: 'addLearner', nodeId: 'n5', context: '' })).not.toThrow();
  });

  test('invalid changes are refused with InvalidConfChangeError and change nothing', () => {
    const net = new TestNet(three);
    net.elect('n1');
    const raw = net.node('n1').raw;
    const last = raw.raft.log.lastIndex();
    expect(() => raw.proposeConfChange({ type: 'addVoter', nodeId: 'n2', context: '' })).toThrow(InvalidConfChangeError);
    expect(() => raw.proposeConfChange({ type: 'removeNode', nodeId: 'n9', context: '' })).toThrow(InvalidConfChangeError);
    expect(() => raw.proposeConfChange({ type: 'addLearner', nodeId: 'n3', context: '' })).toThrow(InvalidConfChangeError);
    expect(() => raw.proposeConfChange({ type: 'addVoter', nodeId: '', context: '' })).toThrow(InvalidConfChangeError);
    expect(raw.raft.log.lastIndex()).toBe(last);
  });

  test('a removed follower leaves the quorum; a removed leader steps down and the rest elect a new one', () => {
    const net = new TestNet(three, { checkQuorum: true, preVote: true });
    net.elect('n1');
    net.node('n1').raw.proposeConfChange({ type: 'removeNode', nodeId: 'n3', context: '' });
    net.deliver();
    net.tickAll(2);
    expect(net.raft('n1').tracker.voters).toEqual(['n1', 'n2']);

    net.node('n1').raw.proposeConfChange({ type: 'removeNode', nodeId: 'n1', context: '' });
    net.deliver();
    net.tickAll(1);
    expect(net.raft('n1').role).toBe('follower');
    expect(net.raft('n2').tracker.voters).toEqual(['n2']);
    net.tickAll(40);
    expect(net.raft('n2').role).toBe('leader');
    const idx = net.propose('n2', 'alone');
    expect(net.raft('n2').log.committed).toBe(idx);
    // The removed node cannot lead any more.
    net.tick('n1', 50);
    expect(net.raft('n1').role).toBe('follower');
  });

  test('conf change entries carry the change, readable by the runtime', () => {
    const net = new TestNet(three);
    net.elect('n1');
    net.add('n4', startNode('n4', new MemoryStorage()));
    net.node('n1').raw.proposeConfChange({ type: 'addLearner', nodeId: 'n4', context: '10.0.0.4:8400' });
    net.deliver();
    const e = net.node('n2').applied.filter((x) => x.type === 'confChange').pop()!;
    expect(decodeConfChange(e.data)).toEqual({ type: 'addLearner', nodeId: 'n4', context: '10.0.0.4:8400' });
  });
});

describe('leadership transfer', () => {
  test('the target catches up, is told to campaign at once, and becomes leader', () => {
    const net = new TestNet(three, { checkQuorum: true, preVote: true });
    net.elect('n1');
    net.isolate('n3');
    proposeMany(net, 'n1', 5);
    net.heal();
    net.node('n1').raw.transferLeadership('n3');
    net.deliver();
    expect(net.log.some((m) => m.type === 'timeoutNow' && m.to === 'n3')).toBe(true);
    expect(net.raft('n3').role).toBe('leader');
    expect(net.raft('n1')).toMatchObject({ role: 'follower', lead: 'n3' });
    expect(net.appliedText('n3')).toHaveLength(5);
  });

  test('proposals are refused while a transfer is in progress, and an unfinished transfer is abandoned', () => {
    const net = new TestNet(three);
    net.elect('n1');
    net.isolate('n3');
    proposeMany(net, 'n1', 2);
    net.node('n1').raw.transferLeadership('n3');
    expect(() => net.node('n1').raw.propose(enc.encode('x'))).toThrow(LeadershipTransferInProgressError);
    net.tick('n1', 10);
    expect(net.raft('n1')).toMatchObject({ role: 'leader', leadTransferee: NONE });
    expect(() => net.node('n1').raw.propose(enc.encode('x'))).not.toThrow();
  });

  test('only voters can be transfer targets', () => {
    const net = new TestNet(three);
    net.elect('n1');
    expect(() => net.node('n1').raw.transferLeadership('n9')).toThrow(NotMemberError);
    expect(() => net.node('n2').raw.transferLeadership('n3')).toThrow(NotLeaderError);
  });
});

describe('ReadIndex', () => {
  test('a read is confirmed by a quorum heartbeat round at the commit index', () => {
    const net = new TestNet(three);
    net.elect('n1');
    const idx = net.propose('n1', 'w');
    net.node('n1').raw.readIndex('r1');
    net.deliver();
    expect(net.node('n1').readStates).toEqual([{ index: idx, context: 'r1' }]);
  });

  test('a leader cut off from the majority confirms no read', () => {
    const net = new TestNet(three);
    net.elect('n1');
    net.isolate('n1');
    net.node('n1').raw.readIndex('r1');
    net.tick('n1', 5);
    expect(net.node('n1').readStates).toEqual([]);
  });

  test('a new leader answers reads only after committing an entry of its term', () => {
    const net = new TestNet(three);
    net.elect('n1');
    net.filter = (m) => m.type !== 'appendResponse';
    net.elect('n2');
    const r = net.raft('n2');
    expect(r.role).toBe('leader');
    expect(r.log.term(r.log.committed)).not.toBe(r.term);
    net.node('n2').raw.readIndex('early');
    net.tickAll(2);
    expect(net.node('n2').readStates).toEqual([]);
    net.filter = () => true;
    net.tickAll(2);
    expect(net.node('n2').readStates).toEqual([{ index: r.log.committed, context: 'early' }]);
    expect(r.log.term(r.log.committed)).toBe(r.term);
  });

  test('a read on a follower fails with NotLeaderError', () => {
    const net = new TestNet(three);
    net.elect('n1');
    expect(() => net.node('n2').raw.readIndex('r')).toThrow(NotLeaderError);
  });
});

describe('snapshots', () => {
  test('a follower too far behind receives the snapshot in chunks, restores it and catches up', () => {
    const net = new TestNet(three, { maxSnapshotChunkBytes: 10 });
    net.elect('n1');
    net.isolate('n3');
    proposeMany(net, 'n1', 20);
    const leader = net.node('n1');
    const applied = leader.raw.raft.log.applied;
    const snapData = enc.encode('state-machine-state-at-' + applied);
    leader.storage.createSnapshot(applied, leader.raw.status().confState, snapData);
    leader.storage.compact(applied);
    proposeMany(net, 'n1', 2, 'after');
    net.heal();
    net.tickAll(3);
    const chunks = net.log.filter((m): m is SnapshotMessage => m.type === 'snapshot' && m.to === 'n3');
    expect(chunks.length).toBe(Math.ceil(snapData.length / 10));
    expect(chunks.map((c) => c.offset)).toEqual(chunks.map((_, i) => i * 10));
    expect(chunks[chunks.length - 1]!.done).toBe(true);
    const n3 = net.node('n3');
    expect(n3.storage.snapshot().data).toEqual(snapData);
    expect(n3.storage.snapshot().meta.index).toBe(applied);
    expect(net.appliedText('n3')).toEqual(['after0', 'after1']);
    expect(n3.raw.raft.log.lastIndex()).toBe(leader.raw.raft.log.lastIndex());
    expect(net.raft('n1').status().progress['n3']!.state).toBe('replicate');
  });

  test('a lost snapshot chunk is sent again', () => {
    const net = new TestNet(three, { maxSnapshotChunkBytes: 4 });
    net.elect('n1');
    net.isolate('n3');
    proposeMany(net, 'n1', 3);
    const leader = net.node('n1');
    leader.storage.createSnapshot(leader.raw.raft.log.applied, leader.raw.status().confState, enc.encode('0123456789'));
    leader.storage.compact(leader.raw.raft.log.applied);
    net.heal();
    let dropped = false;
    net.filter = (m) => {
      if (m.type === 'snapshot' && m.offset === 4 && !dropped) {
        dropped = true;
        return false;
      }
      return true;
    };
    net.tickAll(25);
    expect(dropped).toBe(true);
    expect(net.node('n3').storage.snapshot().data).toEqual(enc.encode('0123456789'));
  });

  test('a follower acknowledges each chunk, repeats its acknowledgement for a duplicate, and rejects a gap', () => {
    const n = startNode('n2', MemoryStorage.bootstrap(three));
    const meta = { index: 50, term: 3, confState: { voters: three, learners: [] } };
    const chunk = (offset: number, text: string, done = false): SnapshotMessage => ({
      type: 'snapshot', from: 'n1', to: 'n2', term: 3, meta, offset, data: enc.encode(text), done,
    });
    const answer = (m: SnapshotMessage): Message[] => {
      n.raw.step(m);
      return drain(n).filter((x) => x.type === 'snapshotResponse' || x.type === 'appendResponse');
    };
    expect(answer(chunk(0, 'abcd'))).toEqual([expect.objectContaining({ type: 'snapshotResponse', offset: 4, reject: false })]);
    expect(answer(chunk(4, 'efgh'))).toEqual([expect.objectContaining({ offset: 8, reject: false })]);
    // The same chunk again (a duplicate): the same acknowledgement, nothing appended twice.
    expect(answer(chunk(4, 'efgh'))).toEqual([expect.objectContaining({ type: 'snapshotResponse', offset: 8, reject: false })]);
    expect(answer(chunk(12, 'mnop'))).toEqual([expect.objectContaining({ type: 'snapshotResponse', reject: true })]);
    // The transfer can continue where it was: the gap did not discard what arrived.
    const last = answer(chunk(8, 'ij', true));
    expect(last).toEqual([expect.objectContaining({ type: 'appendResponse', index: 50, reject: false })]);
    expect(n.storage.snapshot().data).toEqual(enc.encode('abcdefghij'));
    expect(n.raw.raft.log.committed).toBe(50);
  });

  test('a transfer that starts over resumes where the follower is (same snapshot, same bytes)', () => {
    const n = startNode('n2', MemoryStorage.bootstrap(three));
    const meta = { index: 50, term: 3, confState: { voters: three, learners: [] } };
    const chunk = (offset: number, text: string, done = false): SnapshotMessage => ({
      type: 'snapshot', from: 'n1', to: 'n2', term: 3, meta, offset, data: enc.encode(text), done,
    });
    n.raw.step(chunk(0, 'abcd'));
    n.raw.step(chunk(4, 'efgh'));
    drain(n);
    n.raw.step(chunk(0, 'abcd'));
    expect(drain(n)).toEqual([expect.objectContaining({ type: 'snapshotResponse', offset: 8, reject: false })]);
    n.raw.step(chunk(8, 'ij', true));
    drain(n);
    expect(n.storage.snapshot().data).toEqual(enc.encode('abcdefghij'));
  });

  test('a snapshot the follower no longer needs is answered with its commit index, not installed', () => {
    const net = new TestNet(three);
    net.elect('n1');
    const n2 = net.node('n2');
    const committed = n2.raw.raft.log.committed;
    n2.raw.step({ type: 'snapshot', from: 'n1', to: 'n2', term: n2.raw.raft.term, meta: { index: 2, term: 1, confState: { voters: three, learners: [] } }, offset: 0, data: enc.encode('old'), done: true });
    const out = drain(n2);
    expect(out).toEqual([expect.objectContaining({ type: 'appendResponse', index: committed })]);
    expect(n2.storage.snapshot().meta.index).toBe(0);
  });

  test('a node restarts from its persisted snapshot and log only', () => {
    const net = new TestNet(three);
    net.elect('n1');
    proposeMany(net, 'n1', 4);
    net.tickAll(1); // followers learn the last commit index from the next heartbeat
    const n2 = net.node('n2');
    expect(net.appliedText('n2')).toEqual(['e0', 'e1', 'e2', 'e3']);
    n2.storage.createSnapshot(n2.raw.raft.log.applied, n2.raw.status().confState, enc.encode('s'));
    proposeMany(net, 'n1', 2, 'late');
    net.tickAll(1);
    const restarted = net.restart('n2', { applied: n2.storage.snapshot().meta.index });
    expect(restarted.raw.raft.term).toBe(net.raft('n1').term);
    expect(restarted.raw.raft.log.lastIndex()).toBe(net.raft('n1').log.lastIndex());
    expect(restarted.raw.raft.tracker.voters).toEqual(three);
    // Entries after the snapshot are applied again; those before are not.
    expect(net.appliedText('n2')).toEqual(['late0', 'late1']);
  });
});

describe('restarts', () => {
  test('a node whose state machine is durable past the snapshot restarts with the membership of its applied log', () => {
    const net = new TestNet(three);
    net.elect('n1');
    net.add('n4', startNode('n4', new MemoryStorage()));
    net.node('n1').raw.proposeConfChange({ type: 'addLearner', nodeId: 'n4', context: '' });
    net.deliver();
    net.tickAll(2);
    const n2 = net.node('n2');
    const applied = n2.raw.raft.log.applied;
    // Restarting with applied = everything: the learner added after the (index 0) snapshot must be known at once.
    const restarted = net.restart('n2', { applied });
    expect(restarted.raw.raft.tracker.confState()).toEqual({ voters: three, learners: ['n4'] });
    expect(restarted.applied).toEqual([]);
  });

  test('a node that restarts lost only what it had not persisted: its vote survives', () => {
    const net = new TestNet(three);
    net.isolate('n1');
    net.elect('n1');
    const term = net.raft('n1').term;
    const restarted = net.restart('n1');
    expect(restarted.raw.raft).toMatchObject({ term, vote: 'n1', role: 'follower' });
  });
});

describe('bad input', () => {
  test('a config without an id, or with heartbeatTick >= electionTick, is an InvalidConfigError', () => {
    const storage = MemoryStorage.bootstrap(three);
    const random = new SeededRandom(1);
    expect(() => new RawNode({ id: '', storage, random })).toThrow(InvalidConfigError);
    expect(() => new RawNode({ id: 'n1', storage, random, electionTick: 2, heartbeatTick: 2 })).toThrow(InvalidConfigError);
    expect(() => new RawNode({ id: 'n1', storage, random, applied: 99 })).toThrow(InvalidConfigError);
  });

  test('a message addressed to another node is an InvalidMessageError and changes nothing', () => {
    const n = startNode('n1', MemoryStorage.bootstrap(three));
    const before = n.raw.status();
    const m: Message = { type: 'heartbeat', from: 'n2', to: 'n3', term: 9, commit: 0, context: '' };
    expect(() => n.raw.step(m)).toThrow(InvalidMessageError);
    expect(n.raw.status()).toEqual(before);
  });
});
