// The channel's load-balancing policy: one connection per cluster server (kept across refreshes of the server
// list, so a refresh costs nothing when membership is unchanged), and a LeaderFollowerPicker over the connected
// ones. Every instance belongs to one channel; nothing is shared between channels.
import * as grpc from '@grpc/grpc-js';
import type { Server as ClusterServer } from '../../api/v1/log.js';
import { LOAD_BALANCER_NAME } from './balancer-name.js';
import { LEADER_WATCH_ATTRIBUTE_KEY, SERVERS_ATTRIBUTE_KEY, type LeaderWatch } from './channel-context.js';
import { LeaderFollowerPicker, unreachableDetails, type PickableServer } from './picker.js';

type LoadBalancer = grpc.experimental.LoadBalancer;
type ChannelControlHelper = grpc.experimental.ChannelControlHelper;
type TypedLoadBalancingConfig = grpc.experimental.TypedLoadBalancingConfig;
type Endpoint = grpc.experimental.Endpoint;
type StatusOr<T> = grpc.experimental.StatusOr<T>;
type LeafLoadBalancer = grpc.experimental.LeafLoadBalancer;

const { connectivityState: State } = grpc;

export class ProglogLoadBalancingConfig implements TypedLoadBalancingConfig {
  getLoadBalancerName(): string {
    return LOAD_BALANCER_NAME;
  }
  toJsonObject(): object {
    return { [LOAD_BALANCER_NAME]: {} };
  }
  static createFromJson(_obj: unknown): ProglogLoadBalancingConfig {
    return new ProglogLoadBalancingConfig();
  }
}

interface Child {
  server: ClusterServer;
  leaf: LeafLoadBalancer;
  lastState: grpc.connectivityState;
}

export class ProglogLoadBalancer implements LoadBalancer {
  private readonly children = new Map<string, Child>();
  private readonly childHelper: ChannelControlHelper;
  private readonly cursor = { next: 0 };
  private lastError: string | null = null;
  private updating = false;
  /** Requests from pickers waiting for the next tick (see outsidePick). */
  private readonly queued = new Set<'reresolve' | 'leaderMissing'>();
  /** From our resolver's attributes; another resolver gives none, and a plain re-resolution stands in for it. */
  private leaderWatch: LeaderWatch | undefined;
  private destroyed = false;

  constructor(private readonly helper: ChannelControlHelper) {
    this.childHelper = grpc.experimental.createChildChannelControlHelper(helper, {
      updateState: (_state, _picker, errorMessage) => {
        if (errorMessage) this.lastError = errorMessage;
        this.recompute();
      },
    });
  }

  updateAddressList(
    endpoints: StatusOr<Endpoint[]>,
    lbConfig: TypedLoadBalancingConfig,
    options: grpc.ChannelOptions,
    resolutionNote: string,
  ): boolean {
    if (!(lbConfig instanceof ProglogLoadBalancingConfig)) return false;
    if (!endpoints.ok) {
      // Keep serving from the servers we know; the resolver will ask again.
      this.lastError = endpoints.error.details;
      this.recompute();
      return true;
    }
    this.leaderWatch = (options[LEADER_WATCH_ATTRIBUTE_KEY] as LeaderWatch | undefined) ?? this.leaderWatch;
    const servers = serversOf(endpoints.value, options);
    const keep = new Set<string>();
    this.updating = true;
    for (const { server, endpoint } of servers) {
      const key = grpc.experimental.endpointToString(endpoint);
      keep.add(key);
      const existing = this.children.get(key);
      if (existing !== undefined) {
        existing.server = server;
        continue;
      }
      const leaf = new grpc.experimental.LeafLoadBalancer(endpoint, this.childHelper, options, resolutionNote);
      this.children.set(key, { server, leaf, lastState: State.IDLE });
      leaf.startConnecting();
    }
    for (const [key, child] of this.children) {
      if (!keep.has(key)) {
        child.leaf.destroy();
        this.children.delete(key);
      }
    }
    this.updating = false;
    if (servers.length === 0) this.lastError = `the cluster lists no servers${resolutionNote ? ` (${resolutionNote})` : ''}`;
    this.recompute();
    return true;
  }

  exitIdle(): void {
    for (const child of this.children.values()) child.leaf.exitIdle();
  }

  resetBackoff(): void {
    // Connection backoff lives in the subchannels.
  }

  destroy(): void {
    this.destroyed = true;
    for (const child of this.children.values()) child.leaf.destroy();
    this.children.clear();
  }

  getTypeName(): string {
    return LOAD_BALANCER_NAME;
  }

  private requestReresolution(): void {
    this.outsidePick('reresolve', () => this.helper.requestReresolution());
  }

  /** Writes are waiting for a leader: the resolver should look for one sooner than for a mere failure. */
  private leaderMissing(): void {
    const watch = this.leaderWatch;
    if (watch === undefined) this.requestReresolution();
    else this.outsidePick('leaderMissing', () => watch.leaderMissing());
  }

  /**
   * Pickers run inside grpc-js's call path; what they ask for runs outside it, on the next tick, once however
   * many calls asked for that kind of request.
   */
  private outsidePick(kind: 'reresolve' | 'leaderMissing', request: () => void): void {
    if (this.queued.has(kind) || this.destroyed) return;
    this.queued.add(kind);
    process.nextTick(() => {
      this.queued.delete(kind);
      if (!this.destroyed) request();
    });
  }

  private recompute(): void {
    if (this.updating || this.destroyed) return;
    let leader: PickableServer | null = null;
    const followers: PickableServer[] = [];
    let connecting = 0;
    let failed = 0;
    let lostConnection = false;
    for (const child of this.children.values()) {
      const state = child.leaf.getConnectivityState();
      if (child.lastState === State.READY && state !== State.READY) lostConnection = true;
      child.lastState = state;
      // A learner is still catching up: it may lack records and topics that exist, so it serves nothing until a
      // later resolution lists it as promoted. Its connection is kept meanwhile, so promotion costs nothing.
      if (child.server.isLearner) continue;
      if (state === State.READY) {
        const pickable = { id: child.server.id, picker: child.leaf.getPicker() };
        if (child.server.isLeader && leader === null) leader = pickable;
        else followers.push(pickable);
      } else if (state === State.CONNECTING || state === State.IDLE) {
        // An idle child is told to connect below, so it is as good as connecting. Left out, connections that
        // drop together (the servers still there) would report failure and fail writes waiting for an election.
        connecting++;
      } else if (state === State.TRANSIENT_FAILURE) {
        failed++;
      }
    }
    if (lostConnection) this.requestReresolution();

    let state: grpc.connectivityState;
    if (leader !== null || followers.length > 0) state = State.READY;
    else if (connecting > 0) state = State.CONNECTING;
    else if (failed > 0 || this.lastError !== null) state = State.TRANSIENT_FAILURE;
    else state = State.IDLE;

    const unreachable = state === State.TRANSIENT_FAILURE ? (this.lastError ?? 'every connection attempt failed') : null;
    const picker = new LeaderFollowerPicker(
      { leader, followers, unreachable },
      {
        cursor: this.cursor,
        onLeaderMissing: () => this.leaderMissing(),
        onCallFailed: () => this.requestReresolution(),
      },
    );
    this.helper.updateState(state, picker, unreachable === null ? null : unreachableDetails(unreachable));

    // Keep a connection to every server, as a pick may need any of them next.
    for (const child of this.children.values()) {
      if (child.leaf.getConnectivityState() === State.IDLE) child.leaf.exitIdle();
    }
  }
}

/** Pairs each endpoint with the resolver's server record; a resolver that sends none gets anonymous followers. */
function serversOf(endpoints: Endpoint[], options: grpc.ChannelOptions): { server: ClusterServer; endpoint: Endpoint }[] {
  const listed = options[SERVERS_ATTRIBUTE_KEY] as ClusterServer[] | undefined;
  return endpoints.map((endpoint, i) => {
    const addr = grpc.experimental.endpointToString(endpoint);
    const server = listed?.[i] ?? { id: addr, rpcAddr: addr, isLeader: false, isLearner: false };
    return { server, endpoint };
  });
}
