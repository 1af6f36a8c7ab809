// A snapshot of one channel's servers that decides where each call goes: writes to the leader, reads
// round-robin over followers (the leader when no follower is ready), anything else to any ready server.
import * as grpc from '@grpc/grpc-js';
import { METHOD_PICK_KEY } from './balancer-name.js';
import { routeOf, type Route } from './routes.js';

type Picker = grpc.experimental.Picker;
type PickArgs = grpc.experimental.PickArgs;
type PickResult = grpc.experimental.PickResult;

/** One server as the picker sees it: something that can pick a connection to that server. */
export interface PickableServer {
  readonly id: string;
  readonly picker: Picker;
}

export interface PickerView {
  /** The leader, when the cluster names one and it is connected. */
  leader: PickableServer | null;
  /** Connected voting servers other than the leader (learners are left out: they may not have caught up). */
  followers: PickableServer[];
  /**
   * Why no server can be reached, once no voting server is connected and connecting has failed (the resolver's
   * or the connections' last error); null while any is connected or still connecting. Calls that find no server
   * for their route fail then, writes included, unless they asked for waitForReady. Otherwise they wait: with
   * servers there, a missing leader is being elected, and the wait is short.
   */
  unreachable: string | null;
}

/** What a call that found no server is told, and what the channel reports as its error. */
export function unreachableDetails(reason: string, missing = ''): string {
  return `proglog: ${missing}no server reachable: ${reason}`;
}

export interface PickerHooks {
  /** Round-robin position, shared by successive pickers of one channel so that a new picker keeps rotating. */
  cursor: { next: number };
  /**
   * A write found no leader, or the server we took for the leader said it is not (naming another), or said a
   * write's outcome is unknown (it stopped leading after proposing it): the server list is stale about the
   * leader and should be refreshed soon.
   */
  onLeaderMissing(): void;
  /** A call ended in a way that suggests the server list is stale (unavailable, or not the leader). */
  onCallFailed(): void;
}

export const LEADER_ID_METADATA = 'proglog-leader-id';
/**
 * Set to "unknown" by a server on a write that may or may not have been stored. The client does not resend it
 * (it might be stored twice); it only learns that the leader it knew is no longer one.
 */
export const OUTCOME_METADATA = 'proglog-outcome';

/**
 * Call metadata that overrides where a call goes: "leader", "follower" or "any". A linearizable read must be
 * served by the leader (a follower cannot confirm it is current), so it is sent with `proglog-route: leader`.
 */
export const ROUTE_METADATA = 'proglog-route';

function routeFor(args: PickArgs): Route {
  const override = args.metadata.get(ROUTE_METADATA)[0];
  if (override === 'leader' || override === 'follower' || override === 'any') return override;
  return routeOf(args.extraPickInfo[METHOD_PICK_KEY] ?? '');
}

const QUEUE: PickResult = {
  pickResultType: grpc.experimental.PickResultType.QUEUE,
  subchannel: null,
  status: null,
  onCallStarted: null,
  onCallEnded: null,
};

/** grpc-js fails the call with this, or queues it when the caller asked for waitForReady. */
function failed(details: string): PickResult {
  return {
    pickResultType: grpc.experimental.PickResultType.TRANSIENT_FAILURE,
    subchannel: null,
    status: { code: grpc.status.UNAVAILABLE, details, metadata: new grpc.Metadata() },
    onCallStarted: null,
    onCallEnded: null,
  };
}

export class LeaderFollowerPicker implements Picker {
  private readonly noServerForRead: PickResult;
  private readonly noLeaderForWrite: PickResult;

  constructor(
    private readonly view: PickerView,
    private readonly hooks: PickerHooks,
  ) {
    const reason = view.unreachable;
    this.noServerForRead = reason === null ? QUEUE : failed(unreachableDetails(reason));
    this.noLeaderForWrite = reason === null ? QUEUE : failed(unreachableDetails(reason, 'no leader known and '));
  }

  pick(args: PickArgs): PickResult {
    const route = routeFor(args);
    const { leader, followers } = this.view;
    switch (route) {
      case 'leader':
        if (leader !== null) return this.delegate(leader, args);
        this.hooks.onLeaderMissing();
        return this.noLeaderForWrite;
      case 'follower':
        if (followers.length > 0) return this.delegate(this.rotate(followers), args);
        if (leader !== null) return this.delegate(leader, args);
        return this.noServerForRead;
      case 'any': {
        const all = leader !== null ? [leader, ...followers] : followers;
        if (all.length > 0) return this.delegate(this.rotate(all), args);
        return this.noServerForRead;
      }
    }
  }

  private rotate(servers: PickableServer[]): PickableServer {
    const i = this.hooks.cursor.next % servers.length;
    this.hooks.cursor.next = (this.hooks.cursor.next + 1) % Number.MAX_SAFE_INTEGER;
    return servers[i]!;
  }

  private delegate(server: PickableServer, args: PickArgs): PickResult {
    const result = server.picker.pick(args);
    if (result.pickResultType !== grpc.experimental.PickResultType.COMPLETE) return result;
    const inner = result.onCallEnded;
    return {
      ...result,
      onCallEnded: (code, details, metadata) => {
        inner?.(code, details, metadata);
        if (metadata.get(LEADER_ID_METADATA).length > 0 || metadata.get(OUTCOME_METADATA).length > 0) this.hooks.onLeaderMissing();
        else if (code === grpc.status.UNAVAILABLE) this.hooks.onCallFailed();
      },
    };
  }
}
