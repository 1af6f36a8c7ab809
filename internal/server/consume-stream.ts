// ConsumeStream: send what exists from the requested offset, then wait at the head for new records without
// polling (LogService.waitFor), until the client cancels. Writes honour the stream's flow control: when
// call.write() reports a full buffer the loop waits for 'drain', so a slow client holds at most one page.
// A request with max_batch_records > 0 gets each page as one message (ConsumeResponse.batch): gRPC's cost is per
// message, so that is what lets a stream go faster than one message per record allows. Without it, the book's
// one record per message.
import type { ServerWritableStream } from '@grpc/grpc-js';
import type { ConsumeRequest, ConsumeResponse, Record as WireRecord } from '../../api/v1/log.js';
import { OffsetOutOfRangeError, type LogRecord } from '../log/index.js';
import { ClientCancelledError, ServerShuttingDownError } from './errors.js';
import { subjectOf } from './identity.js';
import { checkWellFormed } from './malformed.js';
import { coalesceWrites } from './coalesced-writes.js';
import { asBuffer, checkOffset, checkTopic, streamBatchRecords } from './requests.js';
import type { RpcContext } from './rpc-context.js';
import { isUnexpected, toStatus } from './status.js';
import { drained } from './stream-registry.js';

/** Records read per step while catching up unbatched; small enough to stay responsive to cancellation. */
const STREAM_PAGE_RECORDS = 256;

function toWire({ offset, value }: LogRecord): WireRecord {
  return { value: asBuffer(value), offset, term: 0, type: 0 };
}

export function serveConsumeStream(ctx: RpcContext, call: ServerWritableStream<ConsumeRequest, ConsumeResponse>): void {
  const stream = ctx.streams.register();
  coalesceWrites(call);
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
  const batch = streamBatchRecords(call.request.maxBatchRecords, limits);
  const pageLimits = { maxRecords: batch > 0 ? batch : STREAM_PAGE_RECORDS, maxBytes: limits.defaultPageBytes };
  await authorizer.authorize(subject, topic, 'consume');

  for (;;) {
    signal.throwIfAborted();
    let records: LogRecord[];
    try {
      records = await logService.readRange(topic, offset, pageLimits, opts);
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
    if (batch > 0) {
      signal.throwIfAborted();
      if (!call.write({ record: undefined, batch: { records: records.map(toWire) } })) await drained(call, signal);
    } else {
      for (const record of records) {
        signal.throwIfAborted();
        if (!call.write({ record: toWire(record) })) await drained(call, signal);
      }
    }
    offset = (records[records.length - 1]?.offset ?? offset) + 1;
  }
}
