// What a replica may apply before the leader's own write of an entry is durable. The leader sends its appends
// before writing them (Raft thesis 10.2.1); a lone voter's entries are committed as soon as it appends them, so
// those early appends must not tell a learner they are committed: the learner would apply, and serve, a record
// that a power loss on the only voter could still take back.
import fs from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { MemoryNetwork } from './memory-transport.js';
import { decodeMessage } from './message-codec.js';
import { isReadIndexMessage } from './read-index-message.js';
import type { ReplicatedLog } from './replicated-log.js';
import { openMemoryReplica } from './testing/memory-replica.js';
import { waitUntil } from './testing/wait.js';

/** fdatasync that a test can hold back: held calls wait (and then really sync) until released. */
class HeldSync {
  private holding = false;
  private readonly waiting: Array<() => void> = [];
  held = 0;

  readonly datasync = async (fd: number): Promise<void> => {
    if (this.holding) {
      this.held++;
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    await new Promise<void>((resolve, reject) => fs.fdatasync(fd, (err) => (err ? reject(err) : resolve())));
  };

  hold(): void {
    this.holding = true;
  }

  release(): void {
    this.holding = false;
    for (const resume of this.waiting.splice(0)) resume();
  }
}

describe('a lone voter with a learner', () => {
  let root: string;
  const nodes: ReplicatedLog[] = [];
  const sync = new HeldSync();
  afterEach(async () => {
    sync.release();
    await Promise.all(nodes.splice(0).map((n) => n.close()));
    await rm(root, { recursive: true, force: true });
  });

  it('tells the learner an entry is committed only once the voter has written it durably', async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'proglog-durability-'));
    const network = new MemoryNetwork();
    // Slow ticks keep the leader from promoting the learner (it checks every five ticks) during the test.
    const a = await openMemoryReplica(network, root, 'a', { bootstrap: true, tickMs: 2_000, logDeps: { datasync: sync.datasync } });
    nodes.push(a);
    const b = await openMemoryReplica(network, root, 'b');
    nodes.push(b);
    await a.waitForLeader(5_000);
    await a.produce('t', [Buffer.from('before')]);
    const joining = a.join('b', 'mem:b').catch(() => {});
    await waitUntil('b is a learner that has caught up', async () => {
      const servers = await a.getServers();
      return servers.some((s) => s.id === 'b' && s.isLearner) && b.appliedIndex() >= a.appliedIndex();
    });

    // Watch b's answers to a: once b acknowledges an entry, it has stepped the append that carried it (and
    // with it the commit index) and written the entry.
    const committedBefore = a.raftStatus().commitIndex;
    let acknowledged = 0;
    network.loseFrames((from, to, frame) => {
      if (from === b.raftId && to === a.raftId && !isReadIndexMessage(frame)) {
        const m = decodeMessage(frame);
        if (m.type === 'appendResponse' && !m.reject) acknowledged = Math.max(acknowledged, m.index);
      }
      return false;
    });
    sync.hold();
    const produced = a.produce('t', [Buffer.from('not yet durable on the voter')]);
    await waitUntil('b acknowledges the new entry', () => acknowledged > committedBefore);
    expect(sync.held).toBeGreaterThan(0);
    expect(b.raftStatus().commitIndex).toBeLessThanOrEqual(committedBefore);
    expect(b.appliedIndex()).toBeLessThanOrEqual(committedBefore);
    await expect(b.read('t', 1)).rejects.toThrow();

    // Once the voter's write is durable the produce is answered, and the learner applies the record too.
    sync.release();
    expect(await produced).toBe(1);
    await waitUntil('b applies the record', () => b.appliedIndex() >= acknowledged, 15_000);
    expect(Buffer.from(await b.read('t', 1)).toString()).toBe('not yet durable on the voter');
    network.loseFrames(undefined);
    void joining;
  });
});
