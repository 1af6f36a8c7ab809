// Public API of the Raft core.
//
// Runtime contract
// ----------------
// The core (RawNode) is a pure, deterministic state machine: no timers, clocks, sockets, files or randomness
// of its own (election jitter comes from the injected `random`). The runtime drives it and does all I/O.
//
//   Driving the node (all synchronous; none of them does I/O):
//     node.tick()                      once per tick of the runtime's clock (e.g. every 100 ms);
//                                      electionTick / heartbeatTick are counted in ticks
//     node.step(message)               for every Message received from a peer; a malformed one throws
//                                      InvalidMessageError and changes nothing
//     node.propose(data)               append opaque bytes; on a non-leader throws NotLeaderError(leader);
//                                      LeadershipTransferInProgressError / ProposalDroppedError are retryable
//     node.proposeBatch([data, ...])   many entries in one append (the way to reach high throughput)
//     node.proposeConfChange(cc)       one-server-at-a-time membership change: ConfChangePendingError if one is
//                                      in flight, LearnerNotCaughtUpError when promoting a lagging learner,
//                                      InvalidConfChangeError if it makes no sense
//     node.readIndex(context)          linearizable read barrier (leader only); answered by a ReadState with the
//                                      same context in a later Ready; serve the read once that index is applied
//     node.transferLeadership(to)      hand leadership to voter `to` once it has caught up (abandoned after an
//                                      election timeout)
//     node.campaign()                  start an election now (e.g. a single-node cluster after bootstrap)
//     node.status()                    term, vote, commit, role, leader, applied, membership, per-peer progress
//
//   Consuming Ready, strictly in this order (see Ready in types.ts):
//     while (node.hasReady()) {
//       const rd = node.ready();
//       1. persist: rd.snapshot (if any), then rd.entries (append, truncating any conflicting suffix), then
//          rd.hardState (if any); fsync when rd.mustSync. Then make them visible to the core's Storage.
//          (A crash part-way through these writes, in this order, is safe: nothing of this Ready was sent.)
//       2. send rd.messages: only now, because a vote or an append acknowledgement must never outrun its fsync.
//          Messages may be lost, duplicated or reordered; the core copes.
//       3. apply: restore the state machine from rd.snapshot (if any), then apply rd.committedEntries in order
//          (`confChange` entries carry a ConfChange: decodeConfChange; the core applies it to its own
//          membership in advance()); `empty` entries are no-ops. Serve reads whose ReadState index is applied.
//       4. node.advance(rd)
//     }
//
//   Compaction: after applying up to index i, the runtime may snapshot its state machine, store it with the
//   membership node.status().confState (WritableStorage.createSnapshot), and compact the log up to i or below.
//   The core reads snapshots back through Storage.snapshot() when a follower is too far behind, and sends them
//   in chunks of maxSnapshotChunkBytes, each after the previous one is acknowledged (resent if lost).
//
//   Restart: build a new RawNode over the same Storage, with `applied` = the index the state machine holds
//   (the snapshot's index if the state machine is rebuilt from it). Nothing else survives, and nothing else
//   needs to.
//
//   Bootstrap: every founding member starts from MemoryStorage.bootstrap(voters) (or its equivalent on disk):
//   the membership is written as committed entries 1..n so that members added later learn it from the log.
//   A member added later starts with an empty log and learns everything from the leader.
//
// Storage seam (storage.ts): what the runtime provides so the core can read the persisted log, synchronously:
//     initialState(): { hardState, confState }
//     entries(lo, hi, maxBytes): Entry[]     // [lo, hi), at least one entry, capped by size
//     term(i): number                        // i may be firstIndex()-1 (the snapshot's last entry)
//     firstIndex(): number                   // snapshot index + 1
//     lastIndex(): number
//     snapshot(): Snapshot
//   WritableStorage adds the writes Ready asks for; MemoryStorage implements both in memory (the simulation's
//   "disk", and the view a disk-backed runtime keeps beside its files). StateMachine (state-machine.ts) is the
//   shape of what the runtime applies entries to; HashStateMachine is the in-memory one the simulation uses.

export * from './types.js';
export * from './errors.js';
export { type Storage, type WritableStorage, type InitialState, MemoryStorage, entrySize, emptySnapshot } from './storage.js';
export { type StateMachine, HashStateMachine } from './state-machine.js';
export { type Random, SeededRandom } from './random.js';
export { type Config } from './config.js';
export { validateMessage } from './validate.js';
export { RawNode } from './raw-node.js';
export { encodeConfChange, decodeConfChange, applyConfChange, validateConfChange } from './confchange.js';
