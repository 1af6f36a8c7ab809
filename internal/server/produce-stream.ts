// ProduceStream: requests are read as fast as they arrive and appended in arrival order; consecutive requests
// for one topic that queue up while an append is in flight go to the log as one batch (one write, one fsync),
// so a pipelining client gets group commit. Responses are written in request order. Backpressure runs both
// ways: a full window pauses reading, and a client that does not read its responses stalls the appends.
import type { ServerDuplexStream } from '@grpc/grpc-js';
import type { ProduceRequest, ProduceResponse } from '../../api/v1/log.js';
import { LogClosedError } from '../log/index.js';
import { ClientCancelledError, ServerShuttingDownError } from './errors.js';
import { subjectOf } from './identity.js';
import { checkWellFormed } from './malformed.js';
import { coalesceWrites } from './coalesced-writes.js';
import { checkTopic, checkValue } from './requests.js';
import type { RpcContext } from './rpc-context.js';
import { isUnexpected, toStatus } from './status.js';
import { drained, whenAborted } from './stream-registry.js';

/** Upper bounds of one group-commit batch. */
const MAX_GROUP_RECORDS = 1000;
const MAX_GROUP_BYTES = 4 * 1024 * 1024;

type Pending = { topic: string; value: Uint8Array } | { rejected: unknown };

export function serveProduceStream(ctx: RpcContext, call: ServerDuplexStream<ProduceRequest, ProduceResponse>): void {
  const stream = ctx.streams.register();
  coalesceWrites(call);
  const queue: Pending[] = [];
  let inputEnded = false;
  let running = false;
  let finished = false;

  const finish = (err?: unknown): void => {
    if (finished) return;
    finished = true;
    call.off('data', onData);
    call.off('end', onEnd);
    call.off('cancelled', onCancelled);
    stream.release();
    if (call.cancelled || stream.signal.reason instanceof ClientCancelledError) return;
    if (err === undefined) {
      call.end();
      return;
    }
    if (isUnexpected(err)) ctx.logger.error({ err, method: 'ProduceStream' }, 'stream failed');
    call.emit('error', toStatus(err));
  };

  const onData = (request: ProduceRequest): void => {
    // A bad request takes its place in the queue: everything before it is still answered, then the stream fails.
    try {
      checkWellFormed(request);
      queue.push({ topic: checkTopic(request.topic), value: checkValue(request.record?.value, ctx.limits) });
    } catch (err) {
      queue.push({ rejected: err });
    }
    if (queue.length >= ctx.limits.produceStreamWindow) call.pause();
    kick();
  };
  const onEnd = (): void => {
    inputEnded = true;
    kick();
  };
  const onCancelled = (): void => {
    stream.abort(new ClientCancelledError());
    finish();
  };

  let subject: string;
  try {
    subject = subjectOf(call);
  } catch (err) {
    finish(err);
    return;
  }

  const kick = (): void => {
    if (running || finished) return;
    running = true;
    drainQueue().then(
      () => {
        running = false;
        // A shutdown that came while this batch was in flight: the batch is answered, then the stream ends.
        if (stream.signal.aborted) finish(stream.signal.reason);
        else if (inputEnded && queue.length === 0) finish();
        else if (queue.length > 0) kick();
      },
      (err: unknown) => {
        running = false;
        // An append's own failure says more than "shutting down": whether the write may be stored anyway, or
        // where the leader went. Only the abort itself, or the log closing under it, is the shutdown's.
        const shutdown = stream.signal.reason instanceof ServerShuttingDownError;
        finish(shutdown && (err === stream.signal.reason || err instanceof LogClosedError) ? stream.signal.reason : err);
      },
    );
  };

  const drainQueue = async (): Promise<void> => {
    while (queue.length > 0) {
      stream.signal.throwIfAborted();
      const head = queue[0] as Pending;
      if ('rejected' in head) throw head.rejected;
      const topic = head.topic;
      const values: Uint8Array[] = [];
      let bytes = 0;
      for (const item of queue) {
        if ('rejected' in item || item.topic !== topic) break;
        if (values.length === MAX_GROUP_RECORDS || (values.length > 0 && bytes + item.value.byteLength > MAX_GROUP_BYTES)) break;
        values.push(item.value);
        bytes += item.value.byteLength;
      }
      await ctx.authorizer.authorize(subject, topic, 'produce');
      const first = await ctx.logService.produce(topic, values);
      queue.splice(0, values.length);
      for (let i = 0; i < values.length; i++) {
        if (!call.write({ offset: first + i })) await drained(call, stream.signal);
      }
      if (call.isPaused() && queue.length < ctx.limits.produceStreamWindow) call.resume();
    }
  };

  call.on('data', onData);
  call.on('end', onEnd);
  call.on('cancelled', onCancelled);
  whenAborted(stream.signal, () => {
    if (stream.signal.reason instanceof ServerShuttingDownError && !running) finish(stream.signal.reason);
  });
}
