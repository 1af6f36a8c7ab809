import type { Signed } from './envelope.js';
import { MemberTable, supersedes, type TableEvent } from './member-table.js';
import type { AliveClaim, Claim } from './message.js';

// The table never verifies signatures (the runtime does before calling it), so claims here carry dummy envelopes.
function signed<C extends Claim>(claim: C): Signed<C> {
  return { claim, envelope: { claim: JSON.stringify(claim), sig: 'test', cert: 'test' } };
}

function alive(name: string, incarnation: number, tags: Record<string, string> = {}, peerId = `peer-${name}`): Signed<AliveClaim> {
  return signed({ type: 'alive', name, incarnation, tags: { rpc_addr: `${name}:1`, ...tags }, addr: `${name}:2`, peerId });
}
const suspect = (name: string, incarnation: number, from = 'b') => signed({ type: 'suspect' as const, name, incarnation, from });
const failed = (name: string, incarnation: number, from = 'b') => signed({ type: 'failed' as const, name, incarnation, from });
const left = (name: string, incarnation: number) => signed({ type: 'left' as const, name, incarnation });

const timings = { suspicionTimeoutMs: 1000, reapTimeoutMs: 10_000 };

function table(): MemberTable {
  return new MemberTable('self', alive('self', 1), timings, 0);
}

function kinds(events: TableEvent[]): string[] {
  return events.map((e) => (e.kind === 'refute' ? `refute@${e.incarnation}` : `${e.kind}:${e.name}`));
}

describe('MemberTable: joining', () => {
  test('a new member announcing itself joins, with its tags', () => {
    const t = table();
    expect(t.apply(alive('a', 1, { zone: 'x' }), 0)).toEqual([{ kind: 'join', name: 'a', tags: { rpc_addr: 'a:1', zone: 'x' } }]);
    expect(t.members().map((m) => `${m.name}:${m.status}:${m.incarnation}`)).toEqual(['a:alive:1', 'self:alive:1']);
  });

  test('a repeated or older announcement changes nothing', () => {
    const t = table();
    t.apply(alive('a', 2), 0);
    expect(t.apply(alive('a', 2), 0)).toEqual([]);
    expect(t.apply(alive('a', 1), 0)).toEqual([]);
    expect(t.get('a')!.incarnation).toBe(2);
  });

  test('a newer announcement with other tags is an update', () => {
    const t = table();
    t.apply(alive('a', 1), 0);
    expect(kinds(t.apply(alive('a', 2, { role: 'voter' }), 0))).toEqual(['update:a']);
    expect(t.apply(alive('a', 3, { role: 'voter' }), 0)).toEqual([]);
  });
});

describe('MemberTable: suspicion and failure', () => {
  test('a suspicion at the current incarnation makes an alive member suspect, once', () => {
    const t = table();
    t.apply(alive('a', 1), 0);
    expect(kinds(t.apply(suspect('a', 1), 0))).toEqual(['suspect:a']);
    expect(t.apply(suspect('a', 1, 'c'), 0)).toEqual([]);
    expect(t.get('a')!.status).toBe('suspect');
  });

  test('a suspicion about an older incarnation is stale and ignored', () => {
    const t = table();
    t.apply(alive('a', 3), 0);
    expect(t.apply(suspect('a', 2), 0)).toEqual([]);
    expect(t.get('a')!.status).toBe('alive');
  });

  test('a suspect refutes by announcing a higher incarnation; the same incarnation does not refute', () => {
    const t = table();
    t.apply(alive('a', 1), 0);
    t.apply(suspect('a', 1), 0);
    expect(t.apply(alive('a', 1), 0)).toEqual([]);
    expect(t.get('a')!.status).toBe('suspect');
    expect(t.apply(alive('a', 2), 0)).toEqual([]);
    expect(t.get('a')!.status).toBe('alive');
  });

  test('a suspicion expires after the suspicion timeout and is reported for a failed claim', () => {
    const t = table();
    t.apply(alive('a', 4), 0);
    t.apply(suspect('a', 4), 100);
    expect(t.tick(1099)).toEqual([]);
    expect(t.tick(1100)).toEqual([{ name: 'a', incarnation: 4 }]);
  });

  test('time this node spent frozen does not count against a suspect', () => {
    const t = table();
    t.apply(alive('a', 1), 0);
    t.apply(suspect('a', 1), 0);
    t.postponeSuspicions(5000);
    expect(t.tick(1000)).toEqual([]);
    expect(t.tick(6000)).toEqual([{ name: 'a', incarnation: 1 }]);
  });

  test('a failed claim makes an alive or suspect member failed, with one failed event', () => {
    const t = table();
    t.apply(alive('a', 1), 0);
    expect(kinds(t.apply(failed('a', 1), 0))).toEqual(['failed:a']);
    expect(t.apply(failed('a', 1, 'c'), 0)).toEqual([]);
    expect(t.get('a')!.status).toBe('failed');
  });

  test('a tombstone cannot be revived by an old announcement or reopened by a suspicion', () => {
    const t = table();
    t.apply(alive('a', 5), 0);
    t.apply(failed('a', 5), 0);
    expect(t.apply(alive('a', 5), 0)).toEqual([]);
    expect(t.apply(alive('a', 4), 0)).toEqual([]);
    expect(t.apply(suspect('a', 5), 0)).toEqual([]);
    expect(t.get('a')!.status).toBe('failed');
  });

  test('a failed member that comes back with a higher incarnation joins again', () => {
    const t = table();
    t.apply(alive('a', 5), 0);
    t.apply(failed('a', 5), 0);
    expect(kinds(t.apply(alive('a', 6, {}, 'peer-a-restarted'), 0))).toEqual(['join:a']);
    expect(t.get('a')!.alive.claim.peerId).toBe('peer-a-restarted');
  });

  test('claims about a member nobody announced are ignored', () => {
    const t = table();
    expect(t.apply(suspect('ghost', 1), 0)).toEqual([]);
    expect(t.apply(failed('ghost', 1), 0)).toEqual([]);
    expect(t.apply(left('ghost', 1), 0)).toEqual([]);
    expect(t.get('ghost')).toBeUndefined();
  });
});

describe('MemberTable: leaving and reaping', () => {
  test('a leave makes the member left, with one leave event, and outranks failure at the same incarnation', () => {
    const t = table();
    t.apply(alive('a', 1), 0);
    expect(kinds(t.apply(left('a', 1), 0))).toEqual(['leave:a']);
    expect(t.apply(failed('a', 1), 0)).toEqual([]);
    expect(t.get('a')!.status).toBe('left');
  });

  test('tombstones are reaped after the reap timeout, live members never', () => {
    const t = table();
    t.apply(alive('a', 1), 0);
    t.apply(alive('b', 1), 0);
    t.apply(left('a', 1), 1000);
    t.tick(10_999);
    expect(t.get('a')).toBeDefined();
    t.tick(11_000);
    expect(t.get('a')).toBeUndefined();
    expect(t.get('b')!.status).toBe('alive');
  });
});

describe('MemberTable: this node', () => {
  test('a suspicion or failure about this node is refuted one incarnation above it', () => {
    const t = table();
    expect(kinds(t.apply(suspect('self', 1), 0))).toEqual(['refute@2']);
    expect(kinds(t.apply(failed('self', 7), 0))).toEqual(['refute@8']);
    expect(t.apply(suspect('self', 0), 0)).toEqual([]);
  });

  test('an announcement from a previous life of this node (newer, or another peer id) is outlived', () => {
    const t = table();
    expect(kinds(t.apply(alive('self', 4, {}, 'old-peer'), 0))).toEqual(['refute@5']);
    expect(kinds(t.apply(alive('self', 1, {}, 'old-peer'), 0))).toEqual(['refute@2']);
    expect(t.apply(alive('self', 1), 0)).toEqual([]);
  });

  test('once leaving, this node refutes nothing', () => {
    const t = table();
    t.leaveSelf(left('self', 1), 0);
    expect(t.apply(failed('self', 1), 0)).toEqual([]);
    expect(t.self.status).toBe('left');
  });
});

describe('MemberTable: state sync', () => {
  test('the digest and newerThan exchange exactly what the other side lacks', () => {
    const a = table();
    a.apply(alive('x', 2), 0);
    a.apply(alive('y', 1), 0);
    a.apply(suspect('y', 1), 0);
    const b = new MemberTable('other', alive('other', 1), timings, 0);
    b.apply(alive('x', 2), 0);
    b.apply(alive('y', 1), 0);
    const names = a.newerThan(b.digest()).map((e) => `${e.alive.claim.name}${e.verdict ? `/${e.verdict.claim.type}` : ''}`);
    expect(names.sort()).toEqual(['self', 'y/suspect']);
  });

  test('a member first learned of as a tombstone is recorded quietly, without join or failed events', () => {
    const t = table();
    expect(t.merge({ alive: alive('gone', 3), verdict: failed('gone', 3) }, 0)).toEqual([]);
    expect(t.get('gone')!.status).toBe('failed');
    expect(t.apply(alive('gone', 3), 0)).toEqual([]);
  });

  test('a known member merged with a verdict gets the verdict and its event', () => {
    const t = table();
    t.apply(alive('a', 1), 0);
    expect(kinds(t.merge({ alive: alive('a', 1), verdict: left('a', 1) }, 0))).toEqual(['leave:a']);
  });

  test('precedence: higher incarnation first, then left > failed > suspect > alive', () => {
    expect(supersedes({ incarnation: 2, status: 'alive' }, { incarnation: 1, status: 'left' })).toBe(true);
    expect(supersedes({ incarnation: 1, status: 'failed' }, { incarnation: 1, status: 'suspect' })).toBe(true);
    expect(supersedes({ incarnation: 1, status: 'suspect' }, { incarnation: 1, status: 'failed' })).toBe(false);
    expect(supersedes({ incarnation: 1, status: 'alive' }, { incarnation: 1, status: 'alive' })).toBe(false);
    expect(supersedes({ incarnation: 0, status: 'alive' }, undefined)).toBe(true);
  });
});

describe('MemberTable: Lifeguard suspicion', () => {
  function fiveNodes(): MemberTable {
    const t = table();
    for (const n of ['a', 'b', 'c', 'd']) t.apply(alive(n, 1), 0);
    return t;
  }

  test('a lone accuser gives the suspect three suspicion timeouts to refute', () => {
    const t = fiveNodes();
    t.apply(suspect('a', 1, 'b'), 0);
    expect(t.tick(2999)).toEqual([]);
    expect(t.tick(3000)).toEqual([{ name: 'a', incarnation: 1 }]);
  });

  test('independent confirmations bring the timeout down to the configured minimum', () => {
    const t = fiveNodes();
    t.apply(suspect('a', 1, 'b'), 0);
    t.apply(suspect('a', 1, 'c'), 0);
    t.apply(suspect('a', 1, 'd'), 0);
    t.apply(suspect('a', 1, 'self'), 0);
    expect(t.tick(999)).toEqual([]);
    expect(t.tick(1000)).toEqual([{ name: 'a', incarnation: 1 }]);
  });

  test('the same accuser repeating itself is not a confirmation, nor is a suspicion of an older incarnation', () => {
    const t = fiveNodes();
    t.apply(alive('a', 2), 0);
    t.apply(suspect('a', 2, 'b'), 0);
    t.apply(suspect('a', 2, 'b'), 0);
    t.apply(suspect('a', 1, 'c'), 0);
    expect(t.hasAccused('a', 2, 'b')).toBe(true);
    expect(t.hasAccused('a', 2, 'c')).toBe(false);
    expect(t.get('a')!.incarnation).toBe(2);
    expect(t.tick(2999)).toEqual([]);
  });
});
