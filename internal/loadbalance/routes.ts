// Which server an RPC belongs on. Writes must reach the Raft leader; reads are served by any replica, so they
// are spread over followers to keep the leader's work for replication.
import { LogService } from '../../api/v1/log.js';

export type Route = 'leader' | 'follower' | 'any';

const LEADER_METHODS: ReadonlySet<string> = new Set([
  LogService.produce.path,
  LogService.produceStream.path,
  LogService.produceBatch.path,
]);

const FOLLOWER_METHODS: ReadonlySet<string> = new Set([
  LogService.consume.path,
  LogService.consumeStream.path,
  LogService.consumeRange.path,
]);

/** `method` is the full gRPC path, e.g. "/log.v1.Log/Produce". */
export function routeOf(method: string): Route {
  if (LEADER_METHODS.has(method)) return 'leader';
  if (FOLLOWER_METHODS.has(method)) return 'follower';
  return 'any';
}
