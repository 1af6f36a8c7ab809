// The `proglog://host:port` name resolver: asks the cluster which servers exist and which one leads (the
// GetServers RPC), and hands that to the channel's balancer. It asks again periodically, whenever the balancer
// says calls are failing (at most every minRefreshIntervalMs), and more often while writes wait for a leader
// (every leaderWaitRefreshMs: an election ends, and the client should know, well within the usual interval).
// Any server it has heard of can answer, so the seed address may go away.
import * as grpc from '@grpc/grpc-js';
import { LogClient, type Server as ClusterServer } from '../../api/v1/log.js';
import { contextFromOptions, LEADER_WATCH_ATTRIBUTE_KEY, SERVERS_ATTRIBUTE_KEY, type ChannelContext, type LeaderWatch } from './channel-context.js';
import { LOAD_BALANCER_NAME } from './balancer-name.js';
import { routingConfigSelector } from './config-selector.js';

type Resolver = grpc.experimental.Resolver;
type ResolverListener = grpc.experimental.ResolverListener;
type GrpcUri = grpc.experimental.GrpcUri;
type Endpoint = grpc.experimental.Endpoint;
type ServiceConfig = Extract<NonNullable<Parameters<ResolverListener>[2]>, { ok: true }>['value'];

export const SCHEME = 'proglog';

const SERVICE_CONFIG: ServiceConfig = {
  loadBalancingConfig: [{ [LOAD_BALANCER_NAME]: {} }],
  methodConfig: [],
};

/** `proglog://host:port` and `proglog:///host:port` both name the seed server. */
export function seedAddressOf(target: GrpcUri): string {
  const addr = target.path !== '' ? target.path : (target.authority ?? '');
  if (grpc.experimental.splitHostPort(addr)?.port === undefined) {
    throw new Error(`proglog target needs host:port, got ${grpc.experimental.uriToString(target)}`);
  }
  return addr;
}

export function endpointOf(rpcAddr: string): Endpoint | null {
  const hp = grpc.experimental.splitHostPort(rpcAddr);
  if (hp === null || hp.port === undefined) return null;
  return { addresses: [{ host: hp.host, port: hp.port }] };
}

export class ProglogResolver implements Resolver {
  private readonly ctx: ChannelContext;
  private readonly seed: string;
  /** Addresses of every server in the last answer; the first is the one that answered. */
  private known: string[] = [];
  private readonly clients = new Map<string, LogClient>();
  private inFlight = false;
  private wanted = false;
  /** The refresh wanted is for writes waiting on a leader. */
  private leaderWanted = false;
  private lastStartedAt = -Infinity;
  private periodic: NodeJS.Timeout | null = null;
  private delayed: NodeJS.Timeout | null = null;
  private destroyed = false;
  private readonly configSelector = routingConfigSelector();
  private readonly leaderWatch: LeaderWatch = { leaderMissing: () => this.onLeaderMissing() };

  constructor(
    target: GrpcUri,
    private readonly listener: ResolverListener,
    channelOptions: grpc.ChannelOptions,
  ) {
    this.ctx = contextFromOptions(channelOptions);
    this.seed = seedAddressOf(target);
  }

  static getDefaultAuthority(target: GrpcUri): string {
    return seedAddressOf(target);
  }

  updateResolution(): void {
    this.destroyed = false;
    if (this.periodic === null) {
      this.periodic = setInterval(() => this.updateResolution(), this.ctx.refreshIntervalMs);
      this.periodic.unref();
    }
    this.wanted = true;
    this.pump();
  }

  private onLeaderMissing(): void {
    if (this.destroyed) return;
    this.wanted = true;
    this.leaderWanted = true;
    this.pump();
  }

  destroy(): void {
    this.destroyed = true;
    this.wanted = false;
    if (this.periodic !== null) clearInterval(this.periodic);
    if (this.delayed !== null) clearTimeout(this.delayed);
    this.periodic = null;
    this.delayed = null;
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }

  /** Starts one GetServers round if one is wanted, none is running, and the last began long enough ago. */
  private pump(): void {
    if (this.destroyed || this.inFlight || !this.wanted) return;
    const interval = this.leaderWanted ? Math.min(this.ctx.leaderWaitRefreshMs, this.ctx.minRefreshIntervalMs) : this.ctx.minRefreshIntervalMs;
    const wait = this.lastStartedAt + interval - Date.now();
    // A refresh for waiting writes may be due sooner than the one already scheduled.
    if (this.delayed !== null) clearTimeout(this.delayed);
    this.delayed = null;
    if (wait > 0) {
      this.delayed = setTimeout(() => {
        this.delayed = null;
        this.pump();
      }, wait);
      this.delayed.unref();
      return;
    }
    this.wanted = false;
    this.leaderWanted = false;
    this.inFlight = true;
    this.lastStartedAt = Date.now();
    void this.resolveOnce().finally(() => {
      this.inFlight = false;
      this.pump();
    });
  }

  private async resolveOnce(): Promise<void> {
    const candidates = [...new Set([...this.known, this.seed])];
    const errors: string[] = [];
    // A server that has not heard of the current leader (it is partitioned, or lagging) answers without one;
    // keep asking the others, and settle for a leaderless answer only when nobody knows better.
    let leaderless: { addr: string; servers: ClusterServer[] } | null = null;
    for (const addr of candidates) {
      if (this.destroyed) return;
      try {
        const servers = await this.getServers(addr);
        if (this.destroyed) return;
        if (servers.some((s) => s.isLeader)) {
          this.accept(addr, servers, leaderless?.servers ?? []);
          return;
        }
        leaderless ??= { addr, servers };
        for (const s of servers) if (!candidates.includes(s.rpcAddr)) candidates.push(s.rpcAddr);
      } catch (err) {
        errors.push(`${addr}: ${(err as Error).message}`);
      }
    }
    if (leaderless !== null) {
      this.accept(leaderless.addr, leaderless.servers, []);
      return;
    }
    if (this.destroyed) return;
    this.listener(
      grpc.experimental.statusOrFromError({
        code: grpc.status.UNAVAILABLE,
        details: `no proglog server answered GetServers (${errors.join('; ')})`,
        metadata: new grpc.Metadata(),
      }),
      { [grpc.experimental.CHANNEL_ARGS_CONFIG_SELECTOR_KEY]: this.configSelector },
      grpc.experimental.statusOrFromValue(SERVICE_CONFIG),
      'GetServers failed',
    );
  }

  private accept(addr: string, servers: ClusterServer[], alsoKnown: ClusterServer[]): void {
    const addrs = [...servers, ...alsoKnown].map((s) => s.rpcAddr);
    this.known = [...new Set([addr, ...addrs])];
    this.dropClientsExcept(new Set([...this.known, this.seed]));
    this.publish(servers);
  }

  private publish(servers: ClusterServer[]): void {
    // The balancer pairs endpoints[i] with listed[i], so both keep only servers with a usable address.
    const listed: ClusterServer[] = [];
    const endpoints: Endpoint[] = [];
    for (const s of [...servers].sort((a, b) => a.id.localeCompare(b.id))) {
      const endpoint = endpointOf(s.rpcAddr);
      if (endpoint === null) continue;
      listed.push(s);
      endpoints.push(endpoint);
    }
    this.listener(
      grpc.experimental.statusOrFromValue(endpoints),
      {
        [grpc.experimental.CHANNEL_ARGS_CONFIG_SELECTOR_KEY]: this.configSelector,
        [SERVERS_ATTRIBUTE_KEY]: listed,
        [LEADER_WATCH_ATTRIBUTE_KEY]: this.leaderWatch,
      },
      grpc.experimental.statusOrFromValue(SERVICE_CONFIG),
      '',
    );
  }

  private getServers(addr: string): Promise<ClusterServer[]> {
    let client = this.clients.get(addr);
    if (client === undefined) {
      client = new LogClient(addr, this.ctx.credentials, this.ctx.channelOptions);
      this.clients.set(addr, client);
    }
    const c = client;
    return new Promise((resolve, reject) => {
      c.getServers({}, new grpc.Metadata(), { deadline: Date.now() + this.ctx.getServersTimeoutMs }, (err, res) =>
        err ? reject(err) : resolve(res.servers),
      );
    });
  }

  private dropClientsExcept(keep: Set<string>): void {
    for (const [addr, client] of this.clients) {
      if (!keep.has(addr)) {
        client.close();
        this.clients.delete(addr);
      }
    }
  }
}
