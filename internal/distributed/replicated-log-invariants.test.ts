// A node drops messages that are stale or malformed, but when its core finds a broken Raft invariant it stops,
// loudly: going on would serve a log that contradicts what it committed.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { RaftInvariantError, type RawNode } from '../raft/index.js';
import { MemoryNetwork } from './memory-transport.js';
import { encodeMessage } from './message-codec.js';
import type { ReplicatedLog } from './replicated-log.js';
import { openMemoryReplica } from './testing/memory-replica.js';
import { waitUntil } from './testing/wait.js';

describe('a broken Raft invariant', () => {
  let root: string;
  let node: ReplicatedLog | undefined;
  afterEach(async () => {
    await node?.close();
    await rm(root, { recursive: true, force: true });
  });

  it('ignores messages that are malformed or contradict what it committed, and stops when its core breaks', async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'proglog-invariants-'));
    const network = new MemoryNetwork();
    const errors: string[] = [];
    const logger = { error: (_obj: object, msg: string): void => void errors.push(msg) };
    const log = await openMemoryReplica(network, root, 'a', { bootstrap: true, logger });
    node = log;
    await log.waitForLeader(5_000);
    expect(await log.produce('t', [Buffer.from('committed')])).toBe(0);
    const { term, commitIndex } = log.raftStatus();

    const peer = network.transport('impostor', 'mem:impostor');
    peer.setPeer(log.raftId, 'mem:a');
    peer.send(log.raftId, Uint8Array.from([0xff, 0x00, 0x13]));
    // A later term's append that would rewrite entry 1, which this node has committed. The core answers it
    // with its commit index and keeps its log, as Raft says.
    peer.send(
      log.raftId,
      encodeMessage({
        type: 'append',
        from: 'impostor',
        to: log.raftId,
        term: term + 1,
        index: 0,
        logTerm: 0,
        entries: [{ index: 1, term: term + 1, type: 'normal', data: new Uint8Array(0) }],
        commit: commitIndex,
      }),
    );
    await waitUntil('the node has heard the impostor', () => log.raftStatus().term === term + 1);
    expect(log.isOpen()).toBe(true);
    expect(Buffer.from(await log.read('t', 0)).toString()).toBe('committed');
    expect(errors).toEqual([]);

    // No message reaches a broken invariant past those guards: only a bug or corrupted state does. Stand in
    // for one by breaking the core itself.
    const core = (log as unknown as { node: RawNode }).node;
    core.step = (): void => {
      throw new RaftInvariantError('conflict at 1 is at or below commit 2');
    };
    peer.send(log.raftId, encodeMessage({ type: 'heartbeat', from: 'impostor', to: log.raftId, term: term + 1, commit: 0, context: '' }));
    await waitUntil('the node stops', () => !log.isOpen());
    expect(errors).toEqual(['replicated log stopped']);
    await peer.close();
  });
});
