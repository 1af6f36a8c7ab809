import { pino } from 'pino';
import type { ServerInfo } from '../server/log-service.js';
import { FailureClock, planReconcile, Reconciler, type PlanInput } from './reconciler.js';
import type { Member } from './seams.js';

function member(name: string, status: Member['status'], rpcAddr = `${name}:8400`): Member {
  return { name, status, tags: { rpc_addr: rpcAddr }, incarnation: 1, addr: `${name}:8401` };
}

function voter(id: string, rpcAddr = `${id}:8400`): ServerInfo {
  return { id, rpcAddr, isLeader: id === 'n1', isLearner: false };
}

function plan(over: Partial<PlanInput>): ReturnType<typeof planReconcile> {
  return planReconcile({ selfId: 'n1', members: [], voters: [voter('n1')], failedSince: new Map(), now: 1000, reapTimeMs: 500, ...over });
}

describe('planReconcile', () => {
  it('adds a live member that is not a voter, at its rpc_addr', () => {
    expect(plan({ members: [member('n1', 'alive'), member('n2', 'alive')] })).toEqual([{ kind: 'join', id: 'n2', addr: 'n2:8400' }]);
  });

  it('treats a suspect member as live: suspicion alone changes nothing', () => {
    expect(plan({ members: [member('n2', 'suspect')], voters: [voter('n1'), voter('n2')] })).toEqual([]);
  });

  it('re-adds a voter whose rpc_addr changed', () => {
    expect(plan({ members: [member('n2', 'alive', 'n2:9000')], voters: [voter('n1'), voter('n2')] })).toEqual([
      { kind: 'join', id: 'n2', addr: 'n2:9000' },
    ]);
  });

  it('removes a voter that left gracefully', () => {
    expect(plan({ members: [member('n2', 'left')], voters: [voter('n1'), voter('n2')] })).toEqual([{ kind: 'leave', id: 'n2', reason: 'left' }]);
  });

  it('keeps a failed voter until it has been failed for the reap time, then removes it', () => {
    const base = { members: [member('n2', 'failed')], voters: [voter('n1'), voter('n2')], failedSince: new Map([['n2', 1000]]) };
    expect(plan({ ...base, now: 1499 })).toEqual([]);
    expect(plan({ ...base, now: 1500 })).toEqual([{ kind: 'leave', id: 'n2', reason: 'reaped' }]);
  });

  it('replaces an older incarnation of a member (raft_id tag) by removing it first, then adding the new one', () => {
    const m = { ...member('n2', 'alive'), tags: { rpc_addr: 'n2:8400', raft_id: 'n2#b' } };
    expect(plan({ members: [m], voters: [voter('n1#a'), voter('n2#a')], selfId: 'n1#a' })).toEqual([
      { kind: 'leave', id: 'n2#a', reason: 'replaced' },
      { kind: 'join', id: 'n2#b', addr: 'n2:8400' },
    ]);
  });

  it('matches voters to members by the name before "#": a left member loses its voter', () => {
    expect(plan({ members: [member('n2', 'left')], voters: [voter('n1#a'), voter('n2#x')], selfId: 'n1#a' })).toEqual([
      { kind: 'leave', id: 'n2#x', reason: 'left' },
    ]);
  });

  it('joins again a member that announced a rejoin, even when a voter by its name looks current', () => {
    expect(plan({ members: [member('n2', 'alive')], voters: [voter('n1'), voter('n2')], rejoined: new Set(['n2']) })).toEqual([
      { kind: 'join', id: 'n2', addr: 'n2:8400' },
    ]);
  });

  it('never touches itself, nor a voter membership does not know', () => {
    expect(plan({ members: [member('n1', 'left')], voters: [voter('n1'), voter('n9')] })).toEqual([]);
  });
});

describe('FailureClock', () => {
  it('remembers when a member was first seen failed and forgets it once it is back', () => {
    const clock = new FailureClock();
    expect(clock.observe([member('n2', 'failed')], 100).get('n2')).toBe(100);
    expect(clock.observe([member('n2', 'failed')], 200).get('n2')).toBe(100);
    expect(clock.observe([member('n2', 'alive')], 300).has('n2')).toBe(false);
    expect(clock.observe([member('n2', 'failed')], 400).get('n2')).toBe(400);
  });
});

class FakeRaft {
  leader = false;
  voters = new Map<string, string>([['n1', 'n1:8400']]);
  failNextJoin = 0;
  calls: string[] = [];
  isLeader(): boolean {
    return this.leader;
  }
  async getServers(): Promise<ServerInfo[]> {
    return [...this.voters].map(([id, rpcAddr]) => ({ id, rpcAddr, isLeader: id === 'n1' && this.leader, isLearner: false }));
  }
  async join(id: string, addr: string): Promise<void> {
    this.calls.push(`join ${id}`);
    if (this.failNextJoin > 0) {
      this.failNextJoin--;
      throw new Error('quorum unavailable');
    }
    this.voters.set(id, addr);
  }
  async leave(id: string): Promise<void> {
    this.calls.push(`leave ${id}`);
    this.voters.delete(id);
  }
}

async function until(what: string, cond: () => boolean, timeoutMs = 3000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('Reconciler', () => {
  const logger = pino({ level: 'silent' });
  let raft: FakeRaft;
  let members: Member[];
  let reconciler: Reconciler;

  function start(over: { reapTimeMs?: number; intervalMs?: number } = {}): void {
    reconciler = new Reconciler({
      selfId: 'n1',
      log: raft,
      membership: { members: () => members },
      reapTimeMs: over.reapTimeMs ?? 60_000,
      intervalMs: over.intervalMs ?? 60_000,
      leadershipPollMs: 10,
      logger,
    });
    reconciler.start();
  }

  beforeEach(() => {
    raft = new FakeRaft();
    members = [member('n1', 'alive')];
  });
  afterEach(() => reconciler.stop());

  it('does nothing on a node that is not the leader', async () => {
    members.push(member('n2', 'alive'));
    start();
    reconciler.trigger();
    await reconciler.idle();
    expect(raft.calls).toEqual([]);
  });

  it('applies, on becoming leader, a join that was seen while it was not leader', async () => {
    members.push(member('n2', 'alive'));
    start();
    await reconciler.idle();
    raft.leader = true;
    await until('n2 is a voter', () => raft.voters.has('n2'));
    expect(raft.calls).toEqual(['join n2']);
  });

  it('reconciles on every event', async () => {
    raft.leader = true;
    start();
    await reconciler.idle();
    members.push(member('n3', 'alive'));
    reconciler.trigger();
    await reconciler.idle();
    expect(raft.voters.get('n3')).toBe('n3:8400');
  });

  it('re-joins a member after a join event once, then leaves it alone', async () => {
    raft.leader = true;
    raft.voters.set('n2', 'n2:8400');
    members.push(member('n2', 'alive'));
    start();
    await reconciler.idle();
    reconciler.memberJoined('n2');
    reconciler.trigger();
    await reconciler.idle();
    reconciler.trigger();
    await reconciler.idle();
    expect(raft.calls).toEqual(['join n2']);
  });

  it('retries a failed change on the next period', async () => {
    raft.leader = true;
    raft.failNextJoin = 1;
    members.push(member('n2', 'alive'));
    start({ intervalMs: 30 });
    await until('n2 is a voter', () => raft.voters.has('n2'));
    expect(raft.calls).toEqual(['join n2', 'join n2']);
  });

  it('removes a failed voter once the reap time has passed, with no further event', async () => {
    raft.leader = true;
    raft.voters.set('n2', 'n2:8400');
    members.push(member('n2', 'failed'));
    const started = Date.now();
    start({ reapTimeMs: 150 });
    await reconciler.idle();
    expect(raft.voters.has('n2')).toBe(true);
    await until('n2 is removed', () => !raft.voters.has('n2'));
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(raft.calls).toEqual(['leave n2']);
  });

  it('keeps a failed voter that comes back before the reap time', async () => {
    let now = 1_000;
    raft.leader = true;
    raft.voters.set('n2', 'n2:8400');
    members.push(member('n2', 'failed'));
    reconciler = new Reconciler({ selfId: 'n1', log: raft, membership: { members: () => members }, reapTimeMs: 200, intervalMs: 60_000, logger, now: () => now });
    reconciler.start();
    await reconciler.idle();
    members[1] = member('n2', 'alive');
    now += 100;
    reconciler.trigger();
    await reconciler.idle();
    now += 10_000;
    reconciler.trigger();
    await reconciler.idle();
    expect(raft.voters.has('n2')).toBe(true);
    expect(raft.calls).toEqual([]);
  });
});
