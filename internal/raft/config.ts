// How a node is configured. Ticks are the runtime's unit of time; the core never reads a clock.
import { InvalidConfigError } from './errors.js';
import type { Random } from './random.js';
import type { Storage } from './storage.js';
import type { NodeId } from './types.js';

export interface Config {
  id: NodeId;
  storage: Storage;
  /** Jitter for election timeouts. Inject a SeededRandom for reproducible runs. */
  random: Random;
  /** Ticks without hearing from a leader before a follower campaigns (randomized in [n, 2n)). Default 10. */
  electionTick?: number;
  /** Ticks between leader heartbeats; must be below electionTick. Default 1. */
  heartbeatTick?: number;
  /** Last index the runtime's state machine has applied (on restart). Default: the snapshot index. */
  applied?: number;
  /** Max bytes of entries in one append message (at least one entry is always sent). Default 1 MiB. */
  maxSizePerMsg?: number;
  /** Max entries in one append message. Default 4096. */
  maxEntriesPerMsg?: number;
  /** Max append messages in flight to one follower (pipelining window). Default 256. */
  maxInflightMsgs?: number;
  /** Max bytes in flight to one follower. Default unlimited. */
  maxInflightBytes?: number;
  /** Max bytes of committed entries handed out in one Ready. Default 64 MiB. */
  maxApplyBytes?: number;
  /**
   * Leader only: max bytes of proposed entries not yet applied; beyond it proposals fail with
   * ProposalDroppedError (back-pressure when followers or the disk fall behind). Default unlimited.
   */
  maxUncommittedBytes?: number;
  /** Max bytes per snapshot chunk. Default 1 MiB. */
  maxSnapshotChunkBytes?: number;
  /** Leader steps down without a quorum heard within an election timeout; followers honor leader leases. Default true. */
  checkQuorum?: boolean;
  /** Run a pre-vote round before bumping the term. Default true. */
  preVote?: boolean;
}

export type ResolvedConfig = Required<Omit<Config, 'applied'>> & { applied: number | undefined };

export function resolveConfig(c: Config): ResolvedConfig {
  const r: ResolvedConfig = {
    id: c.id,
    storage: c.storage,
    random: c.random,
    electionTick: c.electionTick ?? 10,
    heartbeatTick: c.heartbeatTick ?? 1,
    applied: c.applied,
    maxSizePerMsg: c.maxSizePerMsg ?? 1 << 20,
    maxEntriesPerMsg: c.maxEntriesPerMsg ?? 4096,
    maxInflightMsgs: c.maxInflightMsgs ?? 256,
    maxInflightBytes: c.maxInflightBytes ?? Infinity,
    maxApplyBytes: c.maxApplyBytes ?? 64 << 20,
    maxUncommittedBytes: c.maxUncommittedBytes ?? Infinity,
    maxSnapshotChunkBytes: c.maxSnapshotChunkBytes ?? 1 << 20,
    checkQuorum: c.checkQuorum ?? true,
    preVote: c.preVote ?? true,
  };
  if (typeof r.id !== 'string' || r.id === '') throw new InvalidConfigError('id must be a non-empty string');
  if (!r.storage) throw new InvalidConfigError('storage is required');
  if (!r.random) throw new InvalidConfigError('random is required');
  if (!(r.heartbeatTick >= 1)) throw new InvalidConfigError('heartbeatTick must be >= 1');
  if (!(r.electionTick > r.heartbeatTick)) throw new InvalidConfigError('electionTick must be greater than heartbeatTick');
  if (!(r.maxInflightMsgs >= 1)) throw new InvalidConfigError('maxInflightMsgs must be >= 1');
  if (!(r.maxEntriesPerMsg >= 1)) throw new InvalidConfigError('maxEntriesPerMsg must be >= 1');
  if (!(r.maxUncommittedBytes > 0)) throw new InvalidConfigError('maxUncommittedBytes must be > 0');
  if (!(r.maxSnapshotChunkBytes >= 1)) throw new InvalidConfigError('maxSnapshotChunkBytes must be >= 1');
  return r;
}
