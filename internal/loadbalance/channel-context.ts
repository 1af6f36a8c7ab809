// What one proglog channel's resolver needs and grpc-js has no slot for (the credentials to ask GetServers with,
// the refresh timings). It rides in the channel's options under a key grpc-js keeps away from subchannels, so
// every channel carries its own and nothing is shared between channels.
import * as grpc from '@grpc/grpc-js';

export const CHANNEL_CONTEXT_KEY = `${grpc.experimental.SUBCHANNEL_ARGS_EXCLUDE_KEY_PREFIX}.proglog_context`;
/** The resolver hands the server list to the balancer in its attributes, under this key. */
export const SERVERS_ATTRIBUTE_KEY = `${grpc.experimental.SUBCHANNEL_ARGS_EXCLUDE_KEY_PREFIX}.proglog_servers`;
/** ...and, under this one, a LeaderWatch: the way back from the balancer to its own channel's resolver. */
export const LEADER_WATCH_ATTRIBUTE_KEY = `${grpc.experimental.SUBCHANNEL_ARGS_EXCLUDE_KEY_PREFIX}.proglog_leader_watch`;

/**
 * grpc-js's requestReresolution() says only "refresh"; this says why: writes are waiting for a leader (an
 * election is under way, or the one we know has gone). Such a refresh is due sooner than one after a failed call.
 */
export interface LeaderWatch {
  leaderMissing(): void;
}

export interface ChannelContext {
  credentials: grpc.ChannelCredentials;
  /** Options for the resolver's own GetServers connections (e.g. a TLS server-name override). */
  channelOptions: grpc.ChannelOptions;
  /** The server list is refreshed this often even when nothing fails. */
  refreshIntervalMs: number;
  /** Refreshes asked for by failing calls are at least this far apart. */
  minRefreshIntervalMs: number;
  /**
   * While writes wait for a leader, the list is refreshed this often (at most minRefreshIntervalMs apart): the
   * new leader is found this soon after its election rather than up to minRefreshIntervalMs after it.
   */
  leaderWaitRefreshMs: number;
  /** Deadline of one GetServers call. */
  getServersTimeoutMs: number;
}

export const DEFAULT_CHANNEL_CONTEXT: Omit<ChannelContext, 'credentials' | 'channelOptions'> = {
  refreshIntervalMs: 10_000,
  minRefreshIntervalMs: 200,
  leaderWaitRefreshMs: 50,
  getServersTimeoutMs: 3_000,
};

export function contextFromOptions(options: grpc.ChannelOptions): ChannelContext {
  const ctx = options[CHANNEL_CONTEXT_KEY] as ChannelContext | undefined;
  // A bare `new LogClient('proglog://...')` has no context: it resolves over plaintext with default timings.
  return ctx ?? { credentials: grpc.credentials.createInsecure(), channelOptions: {}, ...DEFAULT_CHANNEL_CONTEXT };
}
