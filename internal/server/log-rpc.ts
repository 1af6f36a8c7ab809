// The log.v1.Log service: each RPC authenticates the caller (client certificate CN), checks the request,
// asks the ACL, then calls the LogService. Every failure leaves through status.ts.
import type { handleUnaryCall, ServerUnaryCall } from '@grpc/grpc-js';
import type { LogServer } from '../../api/v1/log.js';
import { OffsetOutOfRangeError } from '../log/index.js';
import { serveConsumeStream } from './consume-stream.js';
import { subjectOf } from './identity.js';
import { checkWellFormed } from './malformed.js';
import { serveProduceStream } from './produce-stream.js';
import { asBuffer, checkBatch, checkOffset, checkTopic, checkValue, pageLimit } from './requests.js';
import type { RpcContext } from './rpc-context.js';
import { isUnexpected, toStatus } from './status.js';

export function logRpc(ctx: RpcContext): LogServer {
  const { logService, authorizer, limits } = ctx;

  const unary = <Req, Res>(
    method: string,
    handle: (request: Req, subject: string) => Promise<Res>,
  ): handleUnaryCall<Req, Res> => {
    return (call: ServerUnaryCall<Req, Res>, callback) => {
      Promise.resolve()
        .then(() => {
          const subject = subjectOf(call);
          checkWellFormed(call.request);
          return handle(call.request, subject);
        })
        .then(
          (response) => callback(null, response),
          (err: unknown) => {
            if (isUnexpected(err)) ctx.logger.error({ err, method }, 'call failed');
            callback(toStatus(err));
          },
        );
    };
  };

  return {
    produce: unary('Produce', async (request, subject) => {
      const topic = checkTopic(request.topic);
      const value = checkValue(request.record?.value, limits);
      await authorizer.authorize(subject, topic, 'produce');
      return { offset: await logService.produce(topic, [value]) };
    }),

    consume: unary('Consume', async (request, subject) => {
      const topic = checkTopic(request.topic);
      const offset = checkOffset(request.offset);
      await authorizer.authorize(subject, topic, 'consume');
      const value = await logService.read(topic, offset, { linearizable: request.linearizable });
      return { record: { value: asBuffer(value), offset, term: 0, type: 0 } };
    }),

    consumeStream: (call) => serveConsumeStream(ctx, call),

    produceStream: (call) => serveProduceStream(ctx, call),

    getServers: unary('GetServers', async () => ({ servers: await logService.getServers() })),

    produceBatch: unary('ProduceBatch', async (request, subject) => {
      const topic = checkTopic(request.topic);
      const values = checkBatch(request.values, limits);
      await authorizer.authorize(subject, topic, 'produce');
      return { firstOffset: await logService.produce(topic, values), count: values.length };
    }),

    consumeRange: unary('ConsumeRange', async (request, subject) => {
      const topic = checkTopic(request.topic);
      const offset = checkOffset(request.offset);
      await authorizer.authorize(subject, topic, 'consume');
      const readLimits = {
        maxRecords: pageLimit(request.maxRecords, limits.defaultPageRecords, limits.maxPageRecords),
        maxBytes: pageLimit(request.maxBytes, limits.defaultPageBytes, limits.maxPageBytes),
      };
      try {
        const records = await logService.readRange(topic, offset, readLimits, { linearizable: request.linearizable });
        const last = records[records.length - 1];
        return {
          records: records.map((r) => ({ value: asBuffer(r.value), offset: r.offset, term: 0, type: 0 })),
          nextOffset: last === undefined ? offset : last.offset + 1,
        };
      } catch (err) {
        // A reader that has caught up gets an empty page and polls again; only beyond the head is an error.
        if (err instanceof OffsetOutOfRangeError && offset === err.highest + 1) return { records: [], nextOffset: offset };
        throw err;
      }
    }),

    listTopics: unary('ListTopics', async (_request, subject) => {
      const topics = [...logService.topics()].sort();
      const allowed = await Promise.all(topics.map((topic) => authorizer.can(subject, topic, 'consume')));
      return { topics: topics.filter((_, i) => allowed[i]) };
    }),
  };
}
