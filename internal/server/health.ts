// The standard grpc.health.v1.Health service. The server as a whole ('') and log.v1.Log are SERVING while the
// server runs; shutdown turns them NOT_SERVING first, so load balancers stop sending traffic before calls fail.
import type { ServerWritableStream, ServerUnaryCall, sendUnaryData } from '@grpc/grpc-js';
import { status as Code } from '@grpc/grpc-js';
import {
  HealthCheckResponse_ServingStatus as ServingStatus,
  type HealthCheckRequest,
  type HealthCheckResponse,
  type HealthServer,
} from '../../api/grpc/health/v1/health.js';
import { subjectOf } from './identity.js';
import { checkWellFormed } from './malformed.js';
import { StatusError, toStatus } from './status.js';
import { whenAborted, type StreamRegistry } from './stream-registry.js';

export { ServingStatus };

type Watcher = (status: ServingStatus) => void;

export class HealthService {
  private readonly statuses = new Map<string, ServingStatus>();
  private readonly watchers = new Map<string, Set<Watcher>>();

  constructor(
    services: readonly string[],
    private readonly streams: StreamRegistry,
  ) {
    this.statuses.set('', ServingStatus.SERVING);
    for (const service of services) this.statuses.set(service, ServingStatus.SERVING);
  }

  status(service: string): ServingStatus | undefined {
    return this.statuses.get(service);
  }

  setStatus(service: string, status: ServingStatus): void {
    this.statuses.set(service, status);
    for (const watcher of this.watchers.get(service) ?? []) watcher(status);
  }

  /** Every known service NOT_SERVING: the first step of a graceful shutdown. */
  setAllNotServing(): void {
    for (const service of this.statuses.keys()) this.setStatus(service, ServingStatus.NOT_SERVING);
  }

  rpc(): HealthServer {
    return {
      check: (call: ServerUnaryCall<HealthCheckRequest, HealthCheckResponse>, callback: sendUnaryData<HealthCheckResponse>) => {
        try {
          subjectOf(call);
          checkWellFormed(call.request);
        } catch (err) {
          callback(toStatus(err));
          return;
        }
        const status = this.statuses.get(call.request.service);
        if (status === undefined) {
          callback(new StatusError(Code.NOT_FOUND, `unknown service ${JSON.stringify(call.request.service)}`));
          return;
        }
        callback(null, { status });
      },
      watch: (call: ServerWritableStream<HealthCheckRequest, HealthCheckResponse>) => this.watch(call),
    };
  }

  private watch(call: ServerWritableStream<HealthCheckRequest, HealthCheckResponse>): void {
    try {
      subjectOf(call);
      checkWellFormed(call.request);
    } catch (err) {
      call.emit('error', toStatus(err));
      return;
    }
    const service = call.request.service;
    const stream = this.streams.register();
    let last: ServingStatus | undefined;
    // Only the latest status matters, so a slow watcher is sent changes, never a backlog.
    const send: Watcher = (status) => {
      if (status === last) return;
      last = status;
      call.write({ status });
    };
    const set = this.watchers.get(service) ?? new Set<Watcher>();
    this.watchers.set(service, set);
    set.add(send);
    const stop = (): void => {
      set.delete(send);
      if (set.size === 0) this.watchers.delete(service);
      stream.release();
    };
    call.on('cancelled', stop);
    // The server is stopping: the watcher has been sent NOT_SERVING; the stream ends as every other one does.
    whenAborted(stream.signal, () => {
      stop();
      if (!call.cancelled) call.emit('error', toStatus(stream.signal.reason));
    });
    send(this.statuses.get(service) ?? ServingStatus.SERVICE_UNKNOWN);
  }
}
