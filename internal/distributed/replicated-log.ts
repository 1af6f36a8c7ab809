// The replicated log: the Raft core driven over durable storage and the peer transport, with the topic logs
// as its state machine, served through the same LogService seam as the single-node log.
//
// The runtime loop takes one Ready at a time, in the order the core's contract requires:
//   1. the leader's append messages leave at once, flushed before its own write starts (a leader counts itself
//      only once its own write is durable, so followers may persist in parallel with it; Raft thesis 10.2.1)
//   2. persist: snapshot, entries (one write and one fsync for the whole Ready: group commit), hard state;
//      committed entries (already durable on a quorum) are applied to their topics meanwhile
//   3. every other message leaves, flushed at once (a vote or an acknowledgement never outruns its fsync)
//   4. a received snapshot is restored (then the entries committed after it are applied)
//   5. advance
// Produce calls arriving meanwhile are batched (proposal-batcher.ts) into the next Ready, so the number of
// fsyncs per record falls as concurrency rises.

import { randomBytes, randomInt } from 'node:crypto';
import type net from 'node:net';
import path from 'node:path';
import {
  DEFAULT_TOPIC,
  LogClosedError,
  RecordTooLargeError,
  TooManyTopicsError,
  validateTopic,
  type LogConfigInput,
  type LogDeps,
  type LogRecord,
  type ReadLimits,
} from '../log/index.js';
import {
  ConfChangePendingError,
  LeadershipTransferInProgressError,
  NONE,
  NotLeaderError as RaftNotLeaderError,
  RawNode,
  RaftInvariantError,
  SeededRandom,
  decodeConfChange,
  type ConfChange,
  type ConfState,
  type Entry,
  type Message,
  type ReadState,
  type Ready,
  type Role,
  type Snapshot,
  type SnapshotMessage,
  type SoftState,
} from '../raft/index.js';
import {
  NotLeaderError,
  ProposalOutcomeUnknownError,
  type LogService,
  type ReadOptions,
  type ServerInfo,
} from '../server/log-service.js';
import { decodeCommand, encodeCommand } from './command-codec.js';
import { decodeMessage, encodeMessage, encodeMessageParts } from './message-codec.js';
import { decodeReadIndexMessage, encodeReadIndexMessage, isReadIndexMessage } from './read-index-message.js';
import { loadOrCreateRaftId, memberName } from './node-identity.js';
import { ProposalBatcher } from './proposal-batcher.js';
import { RaftStorage } from './raft-storage.js';
import { decodeManifest, encodeManifest } from './snapshot-manifest.js';
import { decodeStreamHeader, encodeStreamHeader } from './snapshot-stream.js';
import { TlsTransport, type PeerTlsConfig } from './tls-transport.js';
import { TopicStateMachine, topicLogConfig } from './topic-state-machine.js';
import type { Transport } from './transport.js';

export interface ReplicatedLogConfig {
  /** This node's member name (its discovery name). Its Raft id adds an incarnation (see node-identity.ts). */
  id: string;
  dataDir: string;
  /** host:port where peers (and clients: the port is shared) reach this node. */
  advertiseAddr: string;
  /** Peer-to-peer TLS identity, used to build the transport unless `transport` is given. */
  peerTls?: PeerTlsConfig;
  /** Builds the transport for this node's Raft id (tests inject other transports). */
  transport?: (raftId: string) => Transport;
  /** Start a single-voter cluster when the data folder is new. Otherwise a new node waits to be added. */
  bootstrap?: boolean;
  /** Milliseconds per Raft tick. Default 50. */
  tickMs?: number;
  /** Ticks before a follower without a leader campaigns (randomized up to twice this). Default 10. */
  electionTicks?: number;
  /** Ticks between heartbeats. Default 1. */
  heartbeatTicks?: number;
  /**
   * When the leader's connection to this follower closes (its process died, most likely), the follower campaigns
   * after one heartbeat interval plus a random delay of up to this many milliseconds, instead of waiting for its
   * election timeout; the spread keeps two followers from splitting the vote. Default: two heartbeat intervals.
   */
  leaderLossJitterMs?: number;
  /** Take a snapshot (and compact the Raft log) after this many applied entries. Default 2000. */
  snapshotEveryEntries?: number;
  /**
   * ...or after this many bytes of entries. The entries since the last snapshot are what the node holds in
   * memory, so this bounds its resident memory; a snapshot costs a few fsyncs. Default 8 MiB.
   */
  snapshotEveryBytes?: number;
  /** Entries kept behind a snapshot for followers that are only a little behind. Default 500... */
  snapshotKeepEntries?: number;
  /** ...and at most this many bytes of them (on disk only: memory holds their terms). Default 16 MiB. */
  snapshotKeepBytes?: number;
  /** Max bytes of records in one Raft entry. Default 1 MiB. */
  maxEntryBytes?: number;
  /**
   * Most topics there may be, the default log included: a produce that would create one more is refused
   * (TooManyTopicsError) by the leader before it proposes anything, so the replicas never depend on this setting
   * and cannot diverge over it. It can be exceeded by the new topics a previous leader had in flight when
   * leadership changed. Default: no limit.
   */
  maxTopics?: number;
  /** Config of the topic logs. */
  log?: LogConfigInput;
  /** Replaces fdatasync for the entry log and the topic logs (the agent times it for its metrics). */
  logDeps?: Partial<LogDeps>;
  /** How long join() waits for the new member to catch up and become a voter. Default 30 s. */
  joinTimeoutMs?: number;
  /** Where a fatal error (the node stops) is reported; pino's logger fits. Default: a process warning. */
  logger?: { error(obj: object, msg: string): void };
}

/** The most record bytes one produce call may carry (all of them travel in one Raft entry). */
export const MAX_PRODUCE_BYTES = 8 * 1024 * 1024;

export class LeaderTimeoutError extends Error {
  readonly code = 'NO_LEADER';
  constructor(readonly timeoutMs: number) {
    super(`no leader elected within ${timeoutMs} ms`);
    this.name = 'LeaderTimeoutError';
  }
}

export class MembershipChangeError extends Error {
  readonly code = 'MEMBERSHIP_CHANGE_FAILED';
  constructor(message: string) {
    super(message);
    this.name = 'MembershipChangeError';
  }
}

export class MissingPeerTlsError extends Error {
  readonly code = 'MISSING_PEER_TLS';
  constructor() {
    super('the replicated log needs peerTls (or a transport factory) to reach its peers');
    this.name = 'MissingPeerTlsError';
  }
}

/** Counters for tests and operators. */
export interface ReplicatedLogStats {
  snapshotsTaken: number;
  snapshotsSent: number;
  snapshotsRestored: number;
  readies: number;
  entriesApplied: number;
  /** Campaigns started because the leader's connection closed (see onPeerDown). */
  leaderLossCampaigns: number;
}

interface Waiter {
  index: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}

interface ReadBarrier {
  context: string;
  callers: Array<{ resolve: (index: number) => void; reject: (err: unknown) => void }>;
  timer: NodeJS.Timeout | undefined;
}

/** A follower that saw its leader's connection close, until it hears from a leader again. */
interface LeaderLoss {
  leader: string;
  /** `leaderMessages` when the connection closed: any message from a leader since ends the campaigning. */
  heard: number;
  /** `votesGranted` when we last campaigned. */
  granted: number;
  /** Past this (an election timeout after the loss) the core's own timer is as quick: leave it to that. */
  until: number;
  timer: NodeJS.Timeout | undefined;
}

interface ForwardedRead {
  resolve: (index: number) => void;
  reject: (err: unknown) => void;
  timer: NodeJS.Timeout;
}

export class ReplicatedLog implements LogService {
  private readonly tickTimer: NodeJS.Timeout;
  private readonly batcher: ProposalBatcher;
  private readonly proposerId: string;
  private leader: string = NONE;
  private role: Role = 'follower';
  private applied: number;
  private closed = false;
  private failure: Error | undefined;
  private loopRunning = false;
  private loopIdle: Promise<void> = Promise.resolve();
  private ticks = 0;
  private campaignAlone: boolean;
  private appliedWaiters: Waiter[] = [];
  private applyListeners: Array<() => void> = [];
  private leaderListeners: Array<() => void> = [];
  private readSeq = 0;
  private queuedBarrier: ReadBarrier | undefined;
  private readonly barriers = new Map<string, ReadBarrier>();
  private readonly forwardedReads = new Map<string, ForwardedRead>();
  // Snapshot transfers (leader side): the data streams first, the core's snapshot message follows it.
  private readonly streamedTo = new Map<string, number>();
  private readonly streamingTo = new Set<string>();
  private readonly heldSnapshotMessages = new Map<string, SnapshotMessage>();
  private receiving: Promise<void> = Promise.resolve();
  private readonly snapshotEvery: number;
  private readonly snapshotKeep: number;
  private readonly snapshotEveryBytes: number;
  private readonly snapshotKeepBytes: number;
  private readonly maxRecordBytes: number;
  /** Topics that produce calls in flight on this leader are creating, with how many calls for each. */
  private readonly creatingTopics = new Map<string, number>();
  private readonly tickMs: number;
  private readonly electionTicks: number;
  private readonly heartbeatMs: number;
  private readonly leaderLossJitterMs: number;
  private leaderLoss: LeaderLoss | undefined;
  /** Counts messages only a leader sends (appends, heartbeats, snapshots). */
  private leaderMessages = 0;
  /** Counts pre-votes and votes this node granted. */
  private votesGranted = 0;
  private readonly counters: ReplicatedLogStats = {
    snapshotsTaken: 0,
    snapshotsSent: 0,
    snapshotsRestored: 0,
    readies: 0,
    entriesApplied: 0,
    leaderLossCampaigns: 0,
  };

  /** `bootstrap` was asked for, but the data dir already held this node's Raft state: it was ignored. */
  get bootstrapIgnored(): boolean {
    return this.storage.bootstrapIgnored;
  }

  private constructor(
    private readonly config: ReplicatedLogConfig,
    readonly raftId: string,
    private readonly storage: RaftStorage,
    private readonly fsm: TopicStateMachine,
    private readonly node: RawNode,
    private readonly transport: Transport,
  ) {
    this.applied = storage.snapshot().meta.index;
    this.tickMs = config.tickMs ?? 50;
    this.electionTicks = config.electionTicks ?? 10;
    this.heartbeatMs = (config.heartbeatTicks ?? 1) * this.tickMs;
    this.leaderLossJitterMs = Math.max(0, config.leaderLossJitterMs ?? 2 * this.heartbeatMs);
    this.snapshotEvery = config.snapshotEveryEntries ?? 2000;
    this.snapshotKeep = config.snapshotKeepEntries ?? 500;
    this.snapshotEveryBytes = config.snapshotEveryBytes ?? 8 * 1024 * 1024;
    this.snapshotKeepBytes = config.snapshotKeepBytes ?? 16 * 1024 * 1024;
    this.maxRecordBytes = config.log?.maxRecordBytes ?? 1024 * 1024;
    // Proposal ids restart at 1 with the process: the session tag keeps an entry proposed before a restart
    // (and re-applied after it) from answering a new call that reuses its id.
    this.proposerId = `${raftId}/${randomBytes(4).toString('hex')}`;
    this.batcher = new ProposalBatcher(this.proposerId, (commands) => this.proposeCommands(commands), config.maxEntryBytes);
    transport.onFrame((from, frame) => this.onFrame(from, frame));
    transport.onSnapshot((from, header, chunks) => this.onSnapshotStream(from, header, chunks));
    transport.onHello((id, addr) => {
      if (id !== this.raftId && transport.peerAddr(id) === undefined) transport.setPeer(id, addr);
    });
    transport.onPeerDown?.((id) => this.onPeerDown(id));
    for (const [id, addr] of fsm.addresses) if (id !== raftId) transport.setPeer(id, addr);
    // Unref'd: the listeners and servers around the node decide how long the process lives.
    this.tickTimer = setInterval(() => this.onTick(), this.tickMs).unref();
    const cs = storage.initialState().confState;
    // Alone in the cluster: no reason to wait an election timeout.
    this.campaignAlone = cs.voters.length === 1 && cs.voters[0] === raftId && cs.learners.length === 0;
    if (this.campaignAlone) this.campaignIfAlone();
    this.schedule();
  }

  static async open(config: ReplicatedLogConfig): Promise<ReplicatedLog> {
    // A config the topic logs cannot run with is refused before the data dir is touched (a bootstrap included).
    topicLogConfig(config.log);
    const { raftId } = await loadOrCreateRaftId(config.dataDir, config.id);
    const storage = await RaftStorage.open(path.join(config.dataDir, 'raft'), {
      bootstrapVoters: config.bootstrap ? [raftId] : undefined,
      logDeps: config.logDeps,
    });
    let fsm: TopicStateMachine | undefined;
    try {
      const snap = storage.snapshot();
      fsm = await TopicStateMachine.open(config.dataDir, snap.meta.index, decodeManifest(snap.data), { log: config.log, logDeps: config.logDeps });
      const node = new RawNode({
        id: raftId,
        storage,
        random: new SeededRandom(randomInt(2 ** 31)),
        electionTick: config.electionTicks ?? 10,
        heartbeatTick: config.heartbeatTicks ?? 1,
        applied: snap.meta.index,
        // An entry larger than this still travels alone; smaller ones are packed up to it.
        maxSizePerMsg: 1024 * 1024,
        // Bounds what a slow follower costs the leader in memory and socket buffers. On a LAN a few MB in
        // flight keep a follower busy; more only makes the leader's resident memory follow a slow follower.
        maxInflightBytes: 8 * 1024 * 1024,
        checkQuorum: true,
        preVote: true,
      });
      const transport = config.transport
        ? config.transport(raftId)
        : new TlsTransport({ id: raftId, advertiseAddr: config.advertiseAddr, tls: requirePeerTls(config) });
      return new ReplicatedLog(config, raftId, storage, fsm, node, transport);
    } catch (err) {
      await fsm?.close().catch(() => {});
      await storage.close().catch(() => {});
      throw err;
    }
  }

  // ---- the runtime loop ----

  private schedule(): void {
    if (this.loopRunning || this.closed) return;
    this.loopRunning = true;
    // A microtask, not the next turn: the messages of one read are all stepped before microtasks run, so they still
    // make one Ready, and a follower starts its write without waiting for the rest of the turn's callbacks.
    this.loopIdle = new Promise<void>((resolve) => queueMicrotask(() => void this.runLoop().finally(resolve)));
  }

  private async runLoop(): Promise<void> {
    try {
      while (!this.closed && this.node.hasReady()) {
        const rd = this.node.ready();
        this.counters.readies++;
        await this.handleReady(rd);
        this.node.advance(rd);
        this.notifyApplied();
        await this.maybeSnapshot();
        if (this.campaignAlone) this.campaignIfAlone();
      }
    } catch (err) {
      this.fail(err instanceof Error ? err : new Error(String(err)));
    } finally {
      this.loopRunning = false;
    }
  }

  /**
   * A single voter need not wait an election timeout. Only while the membership really is just us (a
   * restarted bootstrap node learns the rest as it re-applies its log) and no campaign is under way.
   */
  private campaignIfAlone(): void {
    const st = this.node.status();
    const alone = st.confState.voters.length === 1 && st.confState.voters[0] === this.raftId;
    if (!alone || this.leader !== NONE) this.campaignAlone = false;
    else if (st.softState.role === 'follower') this.node.campaign();
  }

  private async handleReady(rd: Ready): Promise<void> {
    if (rd.softState) this.onSoftState(rd.softState);
    const later: Message[] = [];
    // Appends leave before this Ready's own write, so the commit index they carry must not count the entries
    // that write has yet to make durable. A lone voter commits its own entries at once, and a learner told so
    // would apply (and serve) an entry that no voter has on disk. Followers learn the rest from the next
    // message; with more than one voter a commit needs a follower's ack, which comes after this write anyway.
    const durable = rd.entries.length > 0 ? rd.entries[0]!.index - 1 : Infinity;
    for (const m of rd.messages) {
      if (m.type === 'append') this.sendMessage(m.commit > durable ? { ...m, commit: durable } : m);
      else later.push(m);
    }
    // Out now rather than at the end of this turn, which comes after this Ready's own write: the followers' half of
    // the round starts one store write and one event-loop turn sooner.
    this.transport.flush?.();
    if (rd.snapshot) {
      await this.storage.installSnapshot(rd.snapshot);
      await this.persist(rd);
      this.sendLater(later);
      await this.restoreSnapshot(rd.snapshot);
      for (const e of rd.committedEntries) await this.applyEntry(e);
    } else {
      // Committed entries that this Ready does not itself write are durable on a quorum already, so they are
      // applied while the writes are in flight: a produce is answered one fsync sooner. (On a restart,
      // re-applying them is a no-op.) Entries this Ready writes (a single voter commits its own at once) wait:
      // an answer must never precede the local fsync.
      const persisted = this.persist(rd);
      persisted.catch(() => {});
      const firstWritten = rd.entries[0]?.index ?? Infinity;
      let i = 0;
      for (; i < rd.committedEntries.length && rd.committedEntries[i]!.index < firstWritten; i++) {
        await this.applyEntry(rd.committedEntries[i]!);
      }
      await persisted;
      this.sendLater(later);
      for (; i < rd.committedEntries.length; i++) await this.applyEntry(rd.committedEntries[i]!);
    }
    for (const rs of rd.readStates) this.onReadState(rs);
  }

  /** A Ready's messages that wait for its write; flushed at once, as the appends are. */
  private sendLater(messages: Message[]): void {
    if (messages.length === 0) return;
    for (const m of messages) this.sendMessage(m);
    this.transport.flush?.();
  }

  private async persist(rd: Ready): Promise<void> {
    await this.storage.appendEntries(rd.entries, rd.mustSync);
    if (rd.hardState) await this.storage.setHardState(rd.hardState);
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    if (this.config.logger) this.config.logger.error({ err, raftId: this.raftId }, 'replicated log stopped');
    else process.emitWarning(`replicated log ${this.raftId} stopped: ${err.stack ?? err.message}`);
    void this.close();
  }

  private onTick(): void {
    if (this.closed) return;
    this.node.tick();
    this.ticks++;
    if (this.role === 'leader' && this.ticks % 5 === 0) this.promoteCaughtUpLearners();
    this.schedule();
  }

  // ---- leadership ----

  private onSoftState(ss: SoftState): void {
    const wasLeader = this.role === 'leader';
    this.leader = ss.leader;
    this.role = ss.role;
    if (wasLeader && ss.role !== 'leader') {
      const err = this.notLeader();
      // Our proposals may yet commit under the new leader; if so we apply them and answer their callers. Those
      // still unanswered after the grace may commit later still, so they are not failed as "not the leader"
      // (which sends a client to the leader with the same records).
      this.batcher.expireProposed(
        2 * this.electionTicks * this.tickMs,
        new ProposalOutcomeUnknownError('this node stopped leading after proposing it, and has not seen it commit'),
      );
      for (const b of [...this.barriers.values()]) this.finishBarrier(b, err);
      for (const w of this.appliedWaiters.splice(0)) w.reject(err);
    }
    if (ss.role === 'leader' && !wasLeader) {
      // Make sure every member can find us; a bootstrapped node joined by no membership change.
      setImmediate(() => this.announceAddress());
    }
    if (this.leader !== NONE) for (const l of this.leaderListeners.splice(0)) l();
  }

  private announceAddress(): void {
    if (this.role !== 'leader' || this.fsm.addresses.get(this.raftId) === this.config.advertiseAddr) return;
    try {
      this.node.propose(encodeSetAddress(this.raftId, this.config.advertiseAddr));
      this.schedule();
    } catch {
      // Lost leadership meanwhile: the next leader announces itself.
    }
  }

  private notLeader(): NotLeaderError {
    if (this.leader === NONE || this.leader === this.raftId) return new NotLeaderError();
    return new NotLeaderError(memberName(this.leader), this.fsm.addresses.get(this.leader) ?? this.transport.peerAddr(this.leader));
  }

  private requireOpen(): void {
    if (this.closed) throw new LogClosedError('replicated log');
  }

  private requireLeader(): void {
    this.requireOpen();
    if (this.role !== 'leader') throw this.notLeader();
  }

  isOpen(): boolean {
    return !this.closed;
  }

  isLeader(): boolean {
    return this.role === 'leader';
  }

  /** The member name of the current leader, if one is known. */
  leaderId(): string | undefined {
    return this.leader === NONE ? undefined : memberName(this.leader);
  }

  waitForLeader(timeoutMs: number): Promise<void> {
    if (this.leader !== NONE) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const onLeader = (): void => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.leaderListeners = this.leaderListeners.filter((l) => l !== onLeader);
        reject(new LeaderTimeoutError(timeoutMs));
      }, timeoutMs);
      this.leaderListeners.push(onLeader);
    });
  }

  /**
   * A peer's connection to us closed. When it is our leader's, the leader has most likely died (a killed
   * process's sockets close at once), so rather than wait an election timeout for heartbeats that will not
   * come, campaign soon: after one heartbeat interval (a live leader whose connection merely broke reconnects
   * and is heard by then, which cancels this) plus a random delay (so that two followers rarely campaign at
   * once). The campaign starts with a pre-vote, which a node still hearing from a live leader ignores (the
   * core's leader lease, with checkQuorum): a leader that is in fact alive keeps its term and its place.
   *
   * It repeats, after a fresh delay each time, until a leader is heard or an election timeout has passed (the
   * core's own timer takes over then): the first follower to ask is ignored by the others, still in their
   * lease, and it takes a second round to win; the one that asks second may have the shorter log and be
   * refused; two that ask within a message's flight of each other (the followers' first messages to each other
   * wait for a TLS handshake) both win the pre-vote and split the real vote, and a new round settles it. A
   * follower that granted a (pre-)vote since it last asked skips a round, to let that candidate finish rather
   * than compete with it.
   */
  private onPeerDown(id: string): void {
    if (this.closed) return;
    const st = this.node.status();
    if (st.softState.role !== 'follower' || st.softState.leader !== id) return;
    if (!st.confState.voters.includes(this.raftId)) {
      // A learner, or a voter that has not yet applied its own promotion: it cannot campaign, but it can stop
      // holding the lost leader's lease, which would make it ignore whoever campaigns until its election timeout.
      this.node.forgetLeader();
      this.schedule();
      return;
    }
    const current = this.leaderLoss;
    if (current?.leader === id && current.heard === this.leaderMessages) return;
    if (current?.timer) clearTimeout(current.timer);
    this.leaderLoss = {
      leader: id,
      heard: this.leaderMessages,
      granted: this.votesGranted,
      until: Date.now() + this.electionTicks * this.tickMs,
      timer: undefined,
    };
    this.armLeaderLossCampaign();
  }

  private armLeaderLossCampaign(): void {
    const loss = this.leaderLoss;
    if (!loss) return;
    loss.timer = setTimeout(() => this.leaderLossCampaign(), this.heartbeatMs + Math.random() * this.leaderLossJitterMs);
    loss.timer.unref();
  }

  private leaderLossCampaign(): void {
    const loss = this.leaderLoss;
    if (!loss) return;
    loss.timer = undefined;
    const st = this.node.status();
    const { role, leader } = st.softState;
    const leaderless =
      !this.closed &&
      this.leaderMessages === loss.heard &&
      (role === 'preCandidate' || role === 'candidate' || (role === 'follower' && (leader === loss.leader || leader === NONE))) &&
      st.confState.voters.includes(this.raftId) &&
      Date.now() < loss.until;
    if (!leaderless) {
      this.leaderLoss = undefined;
      return;
    }
    // A candidate has voted for itself this term: whoever it granted a pre-vote to cannot get its vote.
    if (role === 'candidate' || this.votesGranted === loss.granted) {
      this.counters.leaderLossCampaigns++;
      this.node.campaign();
      this.schedule();
    }
    loss.granted = this.votesGranted;
    this.armLeaderLossCampaign();
  }

  /** Hands leadership to the most caught-up other voter (on a graceful shutdown) and waits for it to take over. */
  async transferLeadership(timeoutMs = 3 * this.electionTicks * this.tickMs): Promise<void> {
    this.requireLeader();
    const status = this.node.status();
    let target: string | undefined;
    let best = -1;
    for (const id of status.confState.voters) {
      const pr = status.progress[id];
      if (id === this.raftId || !pr) continue;
      if (pr.match > best) {
        best = pr.match;
        target = id;
      }
    }
    if (target === undefined) return;
    this.node.transferLeadership(target);
    this.schedule();
    const deadline = Date.now() + timeoutMs;
    while (this.role === 'leader' && !this.closed) {
      if (Date.now() > deadline) throw new LeaderTimeoutError(timeoutMs);
      await this.nextApplyOrTick();
    }
  }

  // ---- proposals ----

  private proposeCommands(commands: Uint8Array[]): void {
    if (this.closed) throw new LogClosedError('replicated log');
    try {
      this.node.proposeBatch(commands);
    } catch (err) {
      if (err instanceof RaftNotLeaderError || err instanceof LeadershipTransferInProgressError) throw this.notLeader();
      throw err;
    }
    this.schedule();
  }

  async produce(topic: string, values: Uint8Array[]): Promise<number> {
    validateTopic(topic);
    let total = 0;
    for (const v of values) {
      if (v.length > this.maxRecordBytes) throw new RecordTooLargeError(v.length, this.maxRecordBytes);
      total += v.length;
    }
    // One call is one Raft entry at least: it must fit a record of the Raft entry log.
    if (total > MAX_PRODUCE_BYTES) throw new RecordTooLargeError(total, MAX_PRODUCE_BYTES);
    this.requireLeader();
    if (values.length === 0) {
      const logs = this.fsm.logs();
      return logs.has(topic) ? logs.get(topic).nextOffset() : 0;
    }
    if (this.config.maxTopics === undefined || this.fsm.logs().has(topic)) return this.batcher.add(topic, values);
    return this.produceCreating(topic, values, this.config.maxTopics);
  }

  /**
   * A produce to a topic that does not exist yet, under a topic limit. Decided here, on the leader, and not at
   * apply: a refusal at apply would depend on each replica's own setting, and replicas set differently would
   * diverge. Topics being created by calls in flight count (once: a topic stays among them until its last such
   * call settles, and may exist by then), so concurrent calls cannot all slip under the limit. The default topic
   * always has its place, as it does on a single node, where it exists from the start: the book's clients write
   * there.
   */
  private produceCreating(topic: string, values: Uint8Array[], maxTopics: number): Promise<number> {
    const calls = this.creatingTopics.get(topic) ?? 0;
    if (calls === 0 && topic !== DEFAULT_TOPIC) {
      const logs = this.fsm.logs();
      let topics = logs.size + (logs.has(DEFAULT_TOPIC) ? 0 : 1);
      for (const t of this.creatingTopics.keys()) if (!logs.has(t) && t !== DEFAULT_TOPIC) topics++;
      if (topics >= maxTopics) throw new TooManyTopicsError(topic, maxTopics);
    }
    this.creatingTopics.set(topic, calls + 1);
    const release = (): void => {
      const left = (this.creatingTopics.get(topic) ?? 1) - 1;
      if (left > 0) this.creatingTopics.set(topic, left);
      else this.creatingTopics.delete(topic);
    };
    const produced = this.batcher.add(topic, values);
    produced.then(release, release);
    return produced;
  }

  // ---- applying ----

  private async applyEntry(e: Entry): Promise<void> {
    if (e.type === 'normal' && e.data.length > 0) {
      let command;
      try {
        command = decodeCommand(e.data);
      } catch {
        // Written by no version of this code; every replica skips it alike.
        command = undefined;
      }
      if (command?.kind === 'append') {
        const outcome = await this.fsm.applyAppend(command.topic, command.records);
        if (command.proposer === this.proposerId) {
          if ('firstOffset' in outcome) this.batcher.applied(command.proposalId, outcome.firstOffset);
          else this.batcher.fail(command.proposalId, outcome.error);
        }
      } else if (command?.kind === 'setAddress') {
        this.learnAddress(command.nodeId, command.addr);
      }
    } else if (e.type === 'confChange') {
      // The core applies the change in advance(); a restart must not forget that it was committed.
      await this.storage.persistCommit(e.index);
      const cc = decodeConfChange(e.data);
      if (cc.type === 'removeNode') {
        if (cc.nodeId !== this.raftId) this.transport.removePeer(cc.nodeId);
      } else if (cc.context) {
        this.learnAddress(cc.nodeId, cc.context);
      }
    }
    this.applied = e.index;
    this.counters.entriesApplied++;
  }

  private learnAddress(id: string, addr: string): void {
    this.fsm.setAddress(id, addr);
    if (id !== this.raftId) this.transport.setPeer(id, addr);
  }

  private notifyApplied(): void {
    if (this.appliedWaiters.length > 0) {
      const ready = this.appliedWaiters.filter((w) => w.index <= this.applied);
      this.appliedWaiters = this.appliedWaiters.filter((w) => w.index > this.applied);
      for (const w of ready) w.resolve();
    }
    for (const l of this.applyListeners.splice(0)) l();
  }

  /**
   * Resolves once `index` is applied; rejects with `onTimeout()` after `timeoutMs`, or when this node stops
   * leading or closes.
   */
  private waitApplied(index: number, timeoutMs: number, onTimeout: () => Error): Promise<void> {
    if (index <= this.applied) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.appliedWaiters = this.appliedWaiters.filter((w) => w !== waiter);
        reject(onTimeout());
      }, timeoutMs);
      const waiter: Waiter = {
        index,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      this.appliedWaiters.push(waiter);
    });
  }

  /** Resolves after the next Ready is handled or the next tick, whichever comes first. */
  private nextApplyOrTick(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, this.tickMs);
      this.applyListeners.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  // ---- snapshots ----

  private async maybeSnapshot(): Promise<void> {
    const snap = this.storage.snapshot();
    const due = this.applied - snap.meta.index >= this.snapshotEvery || this.storage.bytesSinceSnapshot() >= this.snapshotEveryBytes;
    if (!due || this.applied <= snap.meta.index || this.applied > this.storage.lastIndex()) return;
    const index = this.applied;
    const manifest = this.fsm.manifest();
    const confState: ConfState = this.node.status().confState;
    // A snapshot is only as good as the topic data under it: wait for its background fsyncs.
    await this.fsm.syncApplied();
    await this.storage.createSnapshot(index, confState, encodeManifest(manifest), { entries: this.snapshotKeep, bytes: this.snapshotKeepBytes });
    this.counters.snapshotsTaken++;
  }

  private async restoreSnapshot(snap: Snapshot): Promise<void> {
    const manifest = decodeManifest(snap.data);
    await this.fsm.restore(snap.meta.index, manifest);
    this.applied = snap.meta.index;
    this.counters.snapshotsRestored++;
    for (const [id, addr] of manifest.addresses) if (id !== this.raftId) this.transport.setPeer(id, addr);
  }

  /**
   * The core's snapshot message names a snapshot; its data (the topic records) streams first over its own
   * connection with flow control, and the message follows once the follower has it all.
   */
  private sendSnapshotMessage(m: SnapshotMessage): void {
    if (m.offset > 0 || this.streamedTo.get(m.to) === m.meta.index) {
      this.transport.send(m.to, encodeMessage(m));
      return;
    }
    this.heldSnapshotMessages.set(m.to, m);
    if (this.streamingTo.has(m.to)) return;
    const local = this.storage.snapshot();
    const manifestBytes = local.meta.index === m.meta.index ? local.data : m.done ? m.data : undefined;
    if (manifestBytes === undefined) return;
    const to = m.to;
    const index = m.meta.index;
    this.streamingTo.add(to);
    this.transport
      .sendSnapshot(to, encodeStreamHeader(index, m.meta.term), this.fsm.streamSnapshot(decodeManifest(manifestBytes)))
      .then(
        () => {
          this.counters.snapshotsSent++;
          this.streamedTo.set(to, index);
          const held = this.heldSnapshotMessages.get(to);
          this.heldSnapshotMessages.delete(to);
          if (held && held.meta.index === index) this.transport.send(to, encodeMessage(held));
        },
        () => this.heldSnapshotMessages.delete(to),
      )
      .finally(() => this.streamingTo.delete(to));
  }

  private onSnapshotStream(_from: string, header: Uint8Array, chunks: AsyncIterable<Uint8Array>): Promise<void> {
    const { index } = decodeStreamHeader(header);
    // One at a time: a retried transfer waits for the previous one to end.
    const run = this.receiving.then(() => this.fsm.receiveSnapshot(index, chunks));
    this.receiving = run.catch(() => {});
    return run;
  }

  // ---- the network ----

  private sendMessage(m: Message): void {
    if ((m.type === 'preVoteResponse' || m.type === 'voteResponse') && !m.reject) this.votesGranted++;
    if (m.type === 'snapshot') this.sendSnapshotMessage(m);
    else this.transport.send(m.to, encodeMessageParts(m));
  }

  private onFrame(from: string, frame: Uint8Array): void {
    if (this.closed) return;
    if (isReadIndexMessage(frame)) {
      try {
        this.onReadIndexMessage(from, frame);
      } catch {
        // Malformed: the asker times out.
      }
      return;
    }
    let m: Message;
    try {
      m = decodeMessage(frame);
    } catch {
      return;
    }
    if (m.to !== this.raftId) return;
    if (m.type === 'append' || m.type === 'heartbeat' || m.type === 'snapshot') this.leaderMessages++;
    if (m.type === 'snapshot' && m.offset === 0 && !this.fsm.hasStagedSnapshot(m.meta.index)) {
      if (m.meta.index > this.node.status().hardState.commit) {
        // We lack the snapshot's data (e.g. we restarted since it streamed): ask the leader to start over.
        this.transport.send(
          m.from,
          encodeMessage({ type: 'snapshotResponse', from: this.raftId, to: m.from, term: m.term, snapshotIndex: m.meta.index, offset: 0, reject: true }),
        );
        return;
      }
    }
    if (m.type === 'snapshotResponse' && m.reject) this.streamedTo.delete(m.from);
    try {
      this.node.step(m);
    } catch (err) {
      // A message the core refuses (stale, malformed) changes nothing; a broken invariant stops the node loudly
      // rather than let it go on with a log that contradicts what it committed.
      if (err instanceof RaftInvariantError) this.fail(err);
      return;
    }
    this.schedule();
  }

  // ---- membership ----

  private members(): ConfState {
    return this.node.status().confState;
  }

  private promoteCaughtUpLearners(): void {
    const status = this.node.status();
    for (const id of status.confState.learners) {
      const pr = status.progress[id];
      if (!pr || pr.match < status.hardState.commit) continue;
      try {
        this.node.proposeConfChange({ type: 'addVoter', nodeId: id, context: this.fsm.addresses.get(id) ?? '' });
        this.schedule();
      } catch {
        // Another change is pending or the learner fell behind again: retry on a later tick.
      }
      return;
    }
  }

  private async changeMembership(cc: ConfChange, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      this.requireLeader();
      try {
        const index = this.node.proposeConfChange(cc);
        this.schedule();
        await this.waitApplied(index, Math.max(1, deadline - Date.now()), () => new MembershipChangeError(`entry ${index} not applied within ${timeoutMs} ms`));
        const cs = this.members();
        const member = cs.voters.includes(cc.nodeId) || cs.learners.includes(cc.nodeId);
        if (member === (cc.type === 'removeNode')) {
          throw new MembershipChangeError(`${cc.type} ${cc.nodeId} was superseded (a new leader dropped it); retry`);
        }
        return;
      } catch (err) {
        if (err instanceof RaftNotLeaderError) throw this.notLeader();
        if (!(err instanceof ConfChangePendingError)) throw err;
        if (Date.now() > deadline) throw new MembershipChangeError(`another membership change is still pending after ${timeoutMs} ms`);
        await this.nextApplyOrTick();
      }
    }
  }

  /**
   * Adds the node listening at `addr` as a non-voter, then waits until it has caught up and been promoted
   * to voter. A node that lost its data (new incarnation) replaces its old self.
   */
  async join(id: string, addr: string): Promise<void> {
    this.requireLeader();
    const timeoutMs = this.config.joinTimeoutMs ?? 30_000;
    const raftId = await this.transport.identify(addr);
    if (memberName(raftId) !== id) throw new MembershipChangeError(`the node at ${addr} is ${memberName(raftId)}, not ${id}`);
    if (raftId === this.raftId) return;
    this.transport.setPeer(raftId, addr);
    let cs = this.members();
    for (const old of [...cs.voters, ...cs.learners]) {
      if (old !== raftId && memberName(old) === id) await this.changeMembership({ type: 'removeNode', nodeId: old, context: '' }, timeoutMs);
    }
    cs = this.members();
    if (cs.voters.includes(raftId)) {
      if (this.fsm.addresses.get(raftId) !== addr) this.proposeCommands([encodeSetAddress(raftId, addr)]);
      return;
    }
    if (!cs.learners.includes(raftId)) await this.changeMembership({ type: 'addLearner', nodeId: raftId, context: addr }, timeoutMs);
    const deadline = Date.now() + timeoutMs;
    while (!this.members().voters.includes(raftId)) {
      this.requireLeader();
      if (Date.now() > deadline) throw new MembershipChangeError(`${id} did not catch up within ${timeoutMs} ms`);
      await this.nextApplyOrTick();
    }
  }

  /** Removes the member `id` (every incarnation of it). */
  async leave(id: string): Promise<void> {
    this.requireLeader();
    const cs = this.members();
    for (const raftId of [...cs.voters, ...cs.learners]) {
      if (memberName(raftId) === id || raftId === id) {
        await this.changeMembership({ type: 'removeNode', nodeId: raftId, context: '' }, this.config.joinTimeoutMs ?? 30_000);
      }
    }
  }

  async getServers(): Promise<ServerInfo[]> {
    this.requireOpen();
    const cs = this.members();
    return [...cs.voters, ...cs.learners].map((raftId) => ({
      id: memberName(raftId),
      rpcAddr: this.fsm.addresses.get(raftId) ?? (raftId === this.raftId ? this.config.advertiseAddr : this.transport.peerAddr(raftId) ?? ''),
      isLeader: raftId === this.leader,
      isLearner: cs.learners.includes(raftId),
    }));
  }

  // ---- reads ----

  /**
   * Resolves once this node has applied everything committed before the call (ReadIndex). The leader confirms
   * its leadership with a round of heartbeats; a follower asks the leader for that index, then waits until it
   * has applied it. Rejects with NotLeaderError when no leader can confirm within `timeoutMs`.
   */
  async readBarrier(timeoutMs = 2 * this.electionTicks * this.tickMs): Promise<void> {
    this.requireOpen();
    const deadline = Date.now() + timeoutMs;
    const index = this.role === 'leader' ? await this.confirmReadIndex(timeoutMs) : await this.forwardReadIndex(timeoutMs);
    await this.waitApplied(index, Math.max(1, deadline - Date.now()), () => this.notLeader());
  }

  /** Leader only: the commit index as of now, once a quorum has confirmed this node still leads. */
  private confirmReadIndex(timeoutMs: number): Promise<number> {
    this.requireLeader();
    return new Promise<number>((resolve, reject) => {
      let b = this.queuedBarrier;
      if (!b) {
        const barrier: ReadBarrier = { context: `${this.raftId}/${++this.readSeq}`, callers: [], timer: undefined };
        b = this.queuedBarrier = barrier;
        // Reads arriving in the same turn share one round of heartbeats.
        setImmediate(() => {
          this.queuedBarrier = undefined;
          this.barriers.set(barrier.context, barrier);
          // Leadership not confirmed in time (e.g. partitioned away from the quorum): as good as not leading,
          // and the gRPC layer already turns NotLeaderError into a status clients retry on.
          barrier.timer = setTimeout(() => this.finishBarrier(barrier, this.notLeader()), timeoutMs);
          try {
            this.node.readIndex(barrier.context);
            this.schedule();
          } catch (err) {
            this.finishBarrier(barrier, err instanceof RaftNotLeaderError ? this.notLeader() : err);
          }
        });
      }
      b.callers.push({ resolve, reject });
    });
  }

  private onReadState(rs: ReadState): void {
    const b = this.barriers.get(rs.context);
    if (b) this.finishBarrier(b, undefined, rs.index);
  }

  private finishBarrier(b: ReadBarrier, err?: unknown, index = 0): void {
    if (b.timer) clearTimeout(b.timer);
    this.barriers.delete(b.context);
    for (const c of b.callers) {
      if (err) c.reject(err);
      else c.resolve(index);
    }
    b.callers = [];
  }

  /** Follower: the leader's confirmed read index. */
  private forwardReadIndex(timeoutMs: number): Promise<number> {
    const leader = this.leader;
    if (leader === NONE) return Promise.reject(this.notLeader());
    const context = `${this.raftId}/${++this.readSeq}`;
    return new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.forwardedReads.delete(context);
        reject(this.notLeader());
      }, timeoutMs);
      this.forwardedReads.set(context, { resolve, reject, timer });
      if (!this.transport.send(leader, encodeReadIndexMessage({ type: 'readIndexRequest', context }))) {
        clearTimeout(timer);
        this.forwardedReads.delete(context);
        reject(this.notLeader());
      }
    });
  }

  private onReadIndexMessage(from: string, frame: Uint8Array): void {
    const m = decodeReadIndexMessage(frame);
    if (m.type === 'readIndexRequest') {
      const reply = (ok: boolean, index: number): void => {
        this.transport.send(from, encodeReadIndexMessage({ type: 'readIndexResponse', context: m.context, ok, index }));
      };
      if (this.role !== 'leader') reply(false, 0);
      else this.confirmReadIndex(2 * this.electionTicks * this.tickMs).then((index) => reply(true, index), () => reply(false, 0));
      return;
    }
    const pending = this.forwardedReads.get(m.context);
    if (!pending) return;
    this.forwardedReads.delete(m.context);
    clearTimeout(pending.timer);
    if (m.ok) pending.resolve(m.index);
    else pending.reject(this.notLeader());
  }

  async read(topic: string, offset: number, opts?: ReadOptions): Promise<Uint8Array> {
    this.requireOpen();
    if (opts?.linearizable) await this.readBarrier();
    return this.fsm.logs().get(topic).read(offset);
  }

  async readRange(topic: string, offset: number, limits?: ReadLimits, opts?: ReadOptions): Promise<LogRecord[]> {
    this.requireOpen();
    if (opts?.linearizable) await this.readBarrier();
    return this.fsm.logs().get(topic).readRange(offset, limits);
  }

  async waitFor(topic: string, offset: number, signal?: AbortSignal): Promise<void> {
    validateTopic(topic);
    for (;;) {
      this.requireOpen();
      signal?.throwIfAborted();
      const logs = this.fsm.logs();
      if (logs.has(topic)) {
        try {
          return await logs.get(topic).waitFor(offset, signal);
        } catch (err) {
          // A snapshot restore replaced the logs under us: wait on the new ones.
          if (err instanceof LogClosedError && !this.closed && logs !== this.fsm.logs()) continue;
          throw err;
        }
      }
      await this.nextApplyOrAbort(signal);
    }
  }

  private nextApplyOrAbort(signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => reject(signal!.reason);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.applyListeners.push(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      });
    });
  }

  topics(): string[] {
    return this.fsm.logs().list();
  }

  /** Raft figures for metrics. */
  raftStatus(): { term: number; commitIndex: number; appliedIndex: number; leaderId: string | null } {
    const hs = this.node.status().hardState;
    return { term: hs.term, commitIndex: hs.commit, appliedIndex: this.applied, leaderId: this.leaderId() ?? null };
  }

  stats(): ReplicatedLogStats {
    return { ...this.counters };
  }

  /** The Raft index applied to the topic logs on this node. */
  appliedIndex(): number {
    return this.applied;
  }

  /** For the agent's port mux: a raw socket whose first byte (0x01) was consumed. */
  acceptConnection(socket: net.Socket): void {
    if (this.transport instanceof TlsTransport) this.transport.acceptConnection(socket);
    else socket.destroy();
  }

  async close(): Promise<void> {
    if (this.closed) return this.loopIdle;
    this.closed = true;
    clearInterval(this.tickTimer);
    if (this.leaderLoss?.timer) clearTimeout(this.leaderLoss.timer);
    this.leaderLoss = undefined;
    const err = new LogClosedError('replicated log');
    this.batcher.failAll(err, new ProposalOutcomeUnknownError('this node closed after proposing it, before it was applied'));
    for (const b of [...this.barriers.values()]) this.finishBarrier(b, err);
    for (const w of this.appliedWaiters.splice(0)) w.reject(err);
    for (const [context, r] of this.forwardedReads) {
      clearTimeout(r.timer);
      this.forwardedReads.delete(context);
      r.reject(err);
    }
    for (const l of this.applyListeners.splice(0)) l();
    await this.loopIdle;
    await this.transport.close();
    // Closing the transport breaks any snapshot stream still coming in; let its staging end first.
    await this.receiving;
    await this.storage.flushHardState().catch(() => {});
    await this.storage.close().catch(() => {});
    await this.fsm.close().catch(() => {});
  }
}

function requirePeerTls(config: ReplicatedLogConfig): PeerTlsConfig {
  if (!config.peerTls) throw new MissingPeerTlsError();
  return config.peerTls;
}

function encodeSetAddress(nodeId: string, addr: string): Uint8Array {
  return encodeCommand({ kind: 'setAddress', nodeId, addr });
}
