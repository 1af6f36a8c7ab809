// How the Node.js process that runs an agent should be started: flags and environment that Node and glibc read
// only at process start, so the agent cannot set them on itself. The launchers (scripts/run-cluster.ts, the test
// and bench harness) use these; README.md shows the same for running `proglog agent` by hand.
//
// Why each one (measured on a three-node cluster writing 1 GB, see internal/distributed/DESIGN.md, Memory):
// - --max-semi-space-size=2: V8's young generation otherwise grows to 3 x 16 MB per process; an agent's
//   short-lived garbage (request buffers, decoded messages) does not need it. About 25 MB less per node, with no
//   throughput change we could measure.
// - --expose-gc: lets the agent ask for a collection when dead Buffers pile up (external-garbage.ts).
// - MALLOC_ARENA_MAX=2: glibc gives each thread that allocates (libuv's pool, V8's GC helpers) its own arena
//   and keeps their freed memory; two arenas bound what that holds.
// - MALLOC_MMAP_THRESHOLD_=65536: buffers of 64 KiB and more (socket reads, Raft messages) get their own
//   mappings, returned to the system when freed. Left to itself glibc raises this threshold after the first large
//   free, and then such buffers fragment its heap, which never shrinks: the leader, which allocates the most,
//   ended 1 GB at 170-190 MB instead of ~130. (At 16 KiB the mmap calls cost 15% of batch throughput; at 64 KiB
//   nothing we could measure.)

/** Flags for `node` ahead of the script, e.g. `node ${AGENT_NODE_FLAGS.join(' ')} dist/cmd/proglog/main.js agent`. */
export const AGENT_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=2', '--expose-gc'];

/** Environment for the agent process (added to the launcher's own). */
export const AGENT_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '65536' };
