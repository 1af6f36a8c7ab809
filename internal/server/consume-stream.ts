// ConsumeStream: send what exists from the requested offset, then wait at the head for new records without
// polling (LogService.waitFor), until the client cancels. Writes honour the stream's flow control: when
// call.write() reports a full buffer the loop waits for 'drain', so a slow client holds at most one page.
import type { ServerWritableStream } from '@grpc/grpc-js';
import type { ConsumeRequest, ConsumeResponse } from '../../api/v1/log.js';
import { OffsetOutOfRangeError, type LogRecord } from '../log/index.js';
import { ClientCancelledError, ServerShuttingDownError } from './errors.js';
import { subjectOf } from './identity.js';
import { checkWellFormed } from './malformed.js';
import { asBuffer, checkOffset, checkTopic } from './requests.js';
import type { RpcContext } from './rpc-context.js';
import { isUnexpected, toStatus } from './status.js';
import { drained } from './stream-registry.js';

/** Records read per step while catching up; small enough to stay responsive to cancellation. */
const STREAM_PAGE_RECORDS = 256;

export function serveConsumeStream(ctx: RpcContext, call: ServerWritableStream<ConsumeRequest, ConsumeResponse>): void {
  const stream = ctx.streams.register();
  const onCancelled = (): void => stream.abort(new ClientCancelledError());
  call.on('cancelled', onCancelled);
  if (call.cancelled) onCancelled();

  streamRecords(ctx, call, stream.signal)
    .then(
      () => {
        if (!stream.signal.aborted) call.end();
      },
      (err: unknown) => {
        if (call.cancelled || stream.signal.reason instanceof ClientCancelledError) return;
        const cause = stream.signal.reason instanceof ServerShuttingDownError ? stream.signal.reason : err;
        if (isUnexpected(cause)) ctx.logger.error({ err: cause, method: 'ConsumeStream' }, 'stream failed');
        call.emit('error', toStatus(cause));
      },
    )
    .finally(() => {
      call.off('cancelled', onCancelled);
      stream.release();
    });
}

async function streamRecords(
  ctx: RpcContext,
  call: ServerWritableStream<ConsumeRequest, ConsumeResponse>,
  signal: AbortSignal,
): Promise<void> {
  const { logService, authorizer, limits } = ctx;
  const subject = subjectOf(call);
  checkWellFormed(call.request);
  const topic = checkTopic(call.request.topic);
  let offset = checkOffset(call.request.offset);
  const opts = { linearizable: call.request.linearizable };
  await authorizer.authorize(subject, topic, 'consume');

  for (;;) {
    signal.throwIfAborted();
    let records: LogRecord[];
    try {
      records = await logService.readRange(
        topic,
        offset,
        { maxRecords: STREAM_PAGE_RECORDS, maxBytes: limits.defaultPageBytes },
        opts,
      );
    } catch (err) {
      // Past the head the stream waits; below the lowest retained offset nothing will ever come, so it fails.
      if (err instanceof OffsetOutOfRangeError && offset > err.highest) {
        await logService.waitFor(topic, offset, signal);
        continue;
      }
      throw err;
    }
    if (records.length === 0) {
      await logService.waitFor(topic, offset, signal);
      continue;
    }
    for (const { offset: at, value } of records) {
      signal.throwIfAborted();
      if (!call.write({ record: { value: asBuffer(value), offset: at, term: 0, type: 0 } })) {
        await drained(call, signal);
      }
    }
    offset = (records[records.length - 1]?.offset ?? offset) + 1;
  }
}
