import { status as Code } from '@grpc/grpc-js';
import { PermissionDeniedError } from '../auth/index.js';
import {
  CorruptRecordError,
  InvalidTopicError,
  LogClosedError,
  LogIOError,
  OffsetOutOfRangeError,
  RecordTooLargeError,
  TooManyTopicsError,
  UnknownTopicError,
} from '../log/index.js';
import { InvalidRequestError, ServerShuttingDownError, UnauthenticatedError } from './errors.js';
import { NotLeaderError, ProposalOutcomeUnknownError } from './log-service.js';
import { LEADER_ADDR_METADATA, LEADER_ID_METADATA, OUTCOME_METADATA, isUnexpected, toStatus } from './status.js';

describe('toStatus maps each kind of failure to one gRPC code, keeping its message', () => {
  const cases: Array<[string, Error, Code]> = [
    ['an offset past the end', new OffsetOutOfRangeError(7, 0, 6), Code.OUT_OF_RANGE],
    ['an unknown topic', new UnknownTopicError('t'), Code.NOT_FOUND],
    ['an invalid topic name', new InvalidTopicError('../x'), Code.INVALID_ARGUMENT],
    ['an oversized record', new RecordTooLargeError(2048, 1024), Code.INVALID_ARGUMENT],
    ['a malformed request', new InvalidRequestError('no record'), Code.INVALID_ARGUMENT],
    ['an ACL refusal', new PermissionDeniedError('nobody', 't', 'produce'), Code.PERMISSION_DENIED],
    ['no client identity', new UnauthenticatedError('no certificate'), Code.UNAUTHENTICATED],
    ['a corrupt record', new CorruptRecordError(3, '/x/0.store', 'bad crc'), Code.DATA_LOSS],
    ['a closed log', new LogClosedError(), Code.UNAVAILABLE],
    ['a log that failed to write', new LogIOError('fsync failed', new Error('EIO')), Code.UNAVAILABLE],
    ['a server shutting down', new ServerShuttingDownError(), Code.UNAVAILABLE],
    ['a topic past the topic limit', new TooManyTopicsError('t', 100), Code.RESOURCE_EXHAUSTED],
    ['a bug', new TypeError('x is undefined'), Code.INTERNAL],
  ];

  it.each(cases)('%s', (_what, err, code) => {
    const status = toStatus(err);
    expect(status.code).toBe(code);
    expect(status.details).toContain(err.message);
  });

  it('sends a follower’s NotLeaderError as UNAVAILABLE with the leader in the trailers', () => {
    const status = toStatus(new NotLeaderError('node-2', '127.0.0.1:8401'));
    expect(status.code).toBe(Code.UNAVAILABLE);
    expect(status.metadata.get(LEADER_ID_METADATA)).toEqual(['node-2']);
    expect(status.metadata.get(LEADER_ADDR_METADATA)).toEqual(['127.0.0.1:8401']);
    expect(toStatus(new NotLeaderError()).metadata.get(LEADER_ID_METADATA)).toEqual([]);
  });

  it.each([
    ['EMFILE', 'too many open files'],
    ['ENFILE', 'too many open files'],
    ['ENOSPC', 'out of disk space'],
    ['EDQUOT', 'disk quota'],
  ])('sends a system error %s (the server ran out of something) as RESOURCE_EXHAUSTED, and logs it', (errno, what) => {
    const err = Object.assign(new Error(`${errno}: failed, open '/data/t/00000000000000000000.index'`), { code: errno, syscall: 'open' });
    const status = toStatus(err);
    expect(status.code).toBe(Code.RESOURCE_EXHAUSTED);
    expect(status.details).toContain(what);
    expect(status.details).toContain(`${errno} in open`);
    expect(status.details).not.toContain('/data/t');
    expect(isUnexpected(err)).toBe(true);
  });

  it('keeps other system errors INTERNAL', () => {
    expect(toStatus(Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' })).code).toBe(Code.INTERNAL);
  });

  it('sends a write of unknown outcome as UNAVAILABLE flagged proglog-outcome: unknown, with no leader to redirect to', () => {
    const status = toStatus(new ProposalOutcomeUnknownError('this node stopped leading after proposing it'));
    expect(status.code).toBe(Code.UNAVAILABLE);
    expect(status.metadata.get(OUTCOME_METADATA)).toEqual(['unknown']);
    expect(status.metadata.get(LEADER_ID_METADATA)).toEqual([]);
    expect(status.metadata.get(LEADER_ADDR_METADATA)).toEqual([]);
    expect(status.details).toContain('may or may not be stored');
    expect(toStatus(new NotLeaderError('node-2')).metadata.get(OUTCOME_METADATA)).toEqual([]);
    expect(isUnexpected(new ProposalOutcomeUnknownError('x'))).toBe(false);
  });

  it('calls only the server’s own failures unexpected', () => {
    expect(isUnexpected(new TypeError('bug'))).toBe(true);
    expect(isUnexpected(new OffsetOutOfRangeError(1, 0, 0))).toBe(false);
    expect(isUnexpected(new PermissionDeniedError('a', 'b', 'consume'))).toBe(false);
  });
});
