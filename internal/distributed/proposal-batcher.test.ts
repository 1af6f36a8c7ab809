import { decodeCommand, type AppendCommand } from './command-codec.js';
import { ProposalBatcher } from './proposal-batcher.js';

const v = (s: string): Uint8Array => Buffer.from(s);

function recorder(): { proposals: AppendCommand[][]; propose: (cmds: Uint8Array[]) => void } {
  const proposals: AppendCommand[][] = [];
  return { proposals, propose: (cmds) => proposals.push(cmds.map((c) => decodeCommand(c) as AppendCommand)) };
}

describe('ProposalBatcher', () => {
  test('calls in the same turn become one command per topic, proposed together', async () => {
    const r = recorder();
    const b = new ProposalBatcher('me', r.propose);
    const calls = [b.add('t', [v('a')]), b.add('t', [v('b'), v('c')]), b.add('u', [v('x')]), b.add('t', [v('d')])];
    await new Promise((resolve) => setImmediate(resolve));
    expect(r.proposals).toHaveLength(1);
    const [t, u] = r.proposals[0]!;
    expect(t!.topic).toBe('t');
    expect(t!.records.map((x) => Buffer.from(x).toString())).toEqual(['a', 'b', 'c', 'd']);
    expect(u!.topic).toBe('u');
    b.applied(t!.proposalId, 100);
    b.applied(u!.proposalId, 7);
    expect(await Promise.all(calls)).toEqual([100, 101, 7, 103]);
    expect(b.pendingCount()).toBe(0);
  });

  test('a command never exceeds maxEntryBytes unless one call alone does', async () => {
    const r = recorder();
    const b = new ProposalBatcher('me', r.propose, 100);
    for (let i = 0; i < 5; i++) void b.add('t', [Buffer.alloc(40)]);
    void b.add('t', [Buffer.alloc(500)]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(r.proposals[0]!.map((c) => c.records.length)).toEqual([2, 2, 1, 1]);
  });

  test('a failed proposal or a typed rejection fails exactly the calls it carried', async () => {
    const b = new ProposalBatcher('me', () => {
      throw new Error('not the leader');
    });
    await expect(b.add('t', [v('a')])).rejects.toThrow('not the leader');
    const r = recorder();
    const b2 = new ProposalBatcher('me', r.propose);
    const ok = b2.add('ok', [v('a')]);
    const bad = b2.add('bad', [v('b')]);
    await new Promise((resolve) => setImmediate(resolve));
    const [okCmd, badCmd] = r.proposals[0]!;
    b2.fail(badCmd!.proposalId, new Error('too large'));
    b2.applied(okCmd!.proposalId, 0);
    await expect(ok).resolves.toBe(0);
    await expect(bad).rejects.toThrow('too large');
  });

  test('failAll rejects queued and in-flight calls, each with its own error', async () => {
    const r = recorder();
    const b = new ProposalBatcher('me', r.propose);
    const inflight = b.add('t', [v('a')]);
    await new Promise((resolve) => setImmediate(resolve));
    const queued = b.add('t', [v('b')]);
    b.failAll(new Error('closed'), new Error('proposed, outcome unknown'));
    await expect(inflight).rejects.toThrow('outcome unknown');
    await expect(queued).rejects.toThrow('closed');
  });

  test('after losing leadership, proposals still answered by a later apply succeed; the rest fail after a grace', async () => {
    const r = recorder();
    const b = new ProposalBatcher('me', r.propose);
    const committedLater = b.add('t', [v('a')]);
    const dropped = b.add('u', [v('b')]);
    await new Promise((resolve) => setImmediate(resolve));
    const [t] = r.proposals[0]!;
    b.expireProposed(20, new Error('not the leader'));
    b.applied(t!.proposalId, 5);
    await expect(committedLater).resolves.toBe(5);
    await expect(dropped).rejects.toThrow('not the leader');
  });
});
