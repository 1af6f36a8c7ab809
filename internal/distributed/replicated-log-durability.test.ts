// What a replica may apply before the leader's own write of an entry is durable. The leader sends its appends
// before writing them (Raft thesis 10.2.1); a lone voter's entries are committed as soon as it appends them, so
// those early appends must not tell a learner they are committed: the learner would apply, and serve, a record
// that a power loss on the only voter could still take back.
// Also: the runtime flushes what a Ready sends instead of leaving it for the end of the event-loop turn.
import fs from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { MemoryNetwork } from './memory-transport.js';
import { decodeMessage } from './message-codec.js';
import { isReadIndexMessage } from './read-index-message.js';
import { ReplicatedLog } from './replicated-log.js';
import { openMemoryReplica } from './testing/memory-replica.js';
import { waitUntil } from './testing/wait.js';
import type { Frame, Transport } from './transport.js';

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

/**
 * `inner` with its sends and flushes written to `events`, and a flush of its own (the memory network delivers
 * on its own schedule, so its transport has none).
 */
function recordingTransport(inner: Transport, events: string[]): Transport {
  return new Proxy(inner, {
    get(target, prop) {
      if (prop === 'send') {
        return (to: string, frame: Frame): boolean => {
          const bytes = frame instanceof Uint8Array ? frame : Buffer.concat(frame);
          if (!isReadIndexMessage(bytes)) {
            const m = decodeMessage(bytes);
            events.push(`send ${m.type}${m.type === 'append' && m.entries.length > 0 ? ' with entries' : ''}`);
          }
          return target.send(to, frame);
        };
      }
      if (prop === 'flush') return (): void => void events.push('flush');
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

describe('the runtime hands each Ready to the transport without waiting for the end of the turn', () => {
  let root: string;
  const nodes: ReplicatedLog[] = [];
  afterEach(async () => {
    await Promise.all(nodes.splice(0).map((n) => n.close()));
    await rm(root, { recursive: true, force: true });
  });

  it("flushes the leader's appends before its own write, and every answer as soon as it is sent", async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'proglog-flush-'));
    const network = new MemoryNetwork();
    const events = new Map<string, string[]>([['a', []], ['b', []]]);
    const open = (name: string, bootstrap: boolean): Promise<ReplicatedLog> => {
      const log = events.get(name)!;
      return ReplicatedLog.open({
        tickMs: 10,
        electionTicks: 10,
        bootstrap,
        id: name,
        dataDir: path.join(root, name),
        advertiseAddr: `mem:${name}`,
        transport: (raftId) => recordingTransport(network.transport(raftId, `mem:${name}`), log),
        logDeps: {
          datasync: (fd) => {
            log.push('fsync');
            return new Promise<void>((resolve, reject) => fs.fdatasync(fd, (err) => (err ? reject(err) : resolve())));
          },
        },
      });
    };
    const a = await open('a', true);
    nodes.push(a);
    const b = await open('b', false);
    nodes.push(b);
    await a.waitForLeader(5_000);
    await a.join('b', 'mem:b');
    for (let i = 0; i < 20; i++) await a.produce('t', [Buffer.from(`r${i}`)]);
    await waitUntil('b applies every record', () => b.appliedIndex() >= a.appliedIndex());

    // Between an append that carries entries and the leader's next fsync (the one that makes them durable), a flush.
    const leader = events.get('a')!;
    const appends = leader.flatMap((e, i) => (e === 'send append with entries' ? [i] : []));
    expect(appends.length).toBeGreaterThanOrEqual(20);
    for (const i of appends) {
      const nextFsync = leader.indexOf('fsync', i);
      const nextFlush = leader.indexOf('flush', i);
      expect(nextFlush).toBeGreaterThan(i);
      if (nextFsync !== -1) expect(nextFlush).toBeLessThan(nextFsync);
    }
    // The follower's answers: each followed by a flush before anything else the runtime does that is recorded.
    const follower = events.get('b')!;
    const answers = follower.flatMap((e, i) => (e === 'send appendResponse' ? [i] : []));
    expect(answers.length).toBeGreaterThanOrEqual(20);
    for (const i of answers) {
      let j = i + 1;
      while (follower[j]?.startsWith('send ')) j++;
      expect(follower[j]).toBe('flush');
    }
  });
});
