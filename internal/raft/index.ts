// Public API of the Raft core.
//
// Runtime contract
// ----------------
// The core (RawNode) is a pure, deterministic state machine: no timers, clocks, sockets, files or randomness
// of its own (jitter comes from the injected `random`). The runtime drives it and does all I/O:
//
//   Driving the node (all synchronous; none of them does I/O):
//     node.tick()                      once per tick of the runtime's clock (e.g. every 100 ms);
//                                      electionTick / heartbeatTick are counted in ticks
//     node.step(message)               for every Message received from a peer (unknown peers included)
//     node.propose(data)               append opaque bytes; on a non-leader throws NotLeaderError(leader)
//     node.proposeBatch([data, ...])   many entries in one append (the way to reach high throughput)
//     node.proposeConfChange(cc)       one-server-at-a-time membership change (ConfChangePendingError if one is
//                                      in flight; LearnerNotCaughtUpError when promoting a lagging learner)
//     node.readIndex(context)          linearizable read barrier; answered by a ReadState in a later Ready
//     node.transferLeadership(to)      hand leadership to `to` once it has caught up
//     node.campaign()                  start an election now (tests, bootstrapping a single node)
//
//   Consuming Ready, strictly in this order (see Ready in types.ts):
//     if (node.hasReady()) {
//       const rd = node.ready();
//       1. persist: rd.snapshot (if any), then rd.entries (append, truncating any conflicting suffix), then
//          rd.hardState (if any); fsync when rd.mustSync. Then make them visible to the core's Storage.
//       2. send rd.messages (only now: a vote or an append acknowledgement must never outrun its fsync).
//       3. apply: restore the state machine from rd.snapshot (if any), then apply rd.committedEntries in order
//          (conf change entries are decoded with decodeConfChange; the core applies them to its own
//          membership in advance()); serve reads whose ReadState index is now applied.
//       4. node.advance(rd)
//     }
//
//   Compaction: after applying up to index i, the runtime may take a state machine snapshot, store it with the
//   membership node.status().confState (MemoryStorage.createSnapshot does this) and compact the log before i.
//   The core reads snapshots back through Storage.snapshot() when a follower is too far behind and sends them
//   in chunks of maxSnapshotChunkBytes.
//
//   Restart: build a new RawNode over the same Storage (what was persisted); nothing else survives.
//
// Storage seam (storage.ts): what the runtime provides so the core can read the persisted log, synchronously:
//     initialState(): { hardState, confState }
//     entries(lo, hi, maxBytes): Entry[]     // [lo, hi), at least one entry, capped by size
//     term(i): number                        // i may be firstIndex()-1 (the snapshot's last entry)
//     firstIndex(): number                   // snapshot index + 1
//     lastIndex(): number
//     snapshot(): Snapshot
//   MemoryStorage is the in-memory implementation (also the simulation's "disk").

export * from './types.js';
export * from './errors.js';
export { type Storage, type WritableStorage, type InitialState, MemoryStorage, entrySize, emptySnapshot } from './storage.js';
export { type StateMachine, HashStateMachine } from './state-machine.js';
export { type Random, SeededRandom } from './random.js';
export { type Config } from './config.js';
export { validateMessage } from './validate.js';
export { RawNode } from './raw-node.js';
export { encodeConfChange, decodeConfChange, applyConfChange, validateConfChange } from './confchange.js';
