import * as grpc from '@grpc/grpc-js';
import { check, type ReplicaRead } from './checker.js';
import { History } from './history.js';
import { failedAttemptKind } from './workload.js';

function statusError(code: grpc.status, details: string, metadata: Record<string, string> = {}): grpc.ServiceError {
  const md = new grpc.Metadata();
  for (const [key, value] of Object.entries(metadata)) md.set(key, value);
  return Object.assign(new Error(details), { code, details, metadata: md });
}

const outcomeUnknown = (): grpc.ServiceError =>
  statusError(grpc.status.UNAVAILABLE, "the write's outcome is unknown: this node stopped leading after proposing it", {
    'proglog-outcome': 'unknown',
  });

describe('how the workload records a failed produce', () => {
  it('records a write of unknown outcome as indeterminate (timeout), never as refused', () => {
    expect(failedAttemptKind(outcomeUnknown())).toBe('timeout');
    // Whatever the code: the flag is what says the entry may still commit.
    expect(failedAttemptKind(statusError(grpc.status.INVALID_ARGUMENT, 'x', { 'proglog-outcome': 'unknown' }))).toBe('timeout');
  });

  it('records refusals before the log as failed, and the rest as indeterminate', () => {
    expect(failedAttemptKind(statusError(grpc.status.PERMISSION_DENIED, 'no'))).toBe('fail');
    expect(failedAttemptKind(statusError(grpc.status.INVALID_ARGUMENT, 'too large'))).toBe('fail');
    expect(failedAttemptKind(statusError(grpc.status.UNAVAILABLE, 'not the leader', { 'proglog-leader-id': 'n2' }))).toBe('timeout');
    expect(failedAttemptKind(statusError(grpc.status.DEADLINE_EXCEEDED, 'deadline'))).toBe('timeout');
    expect(failedAttemptKind(new Error('connection reset'))).toBe('timeout');
  });

  it('so a write of unknown outcome that the log holds after all passes the checker', () => {
    const h = new History(0);
    h.invoke('p0', 'produce', { value: 'v' });
    const err = outcomeUnknown();
    if (failedAttemptKind(err) === 'fail') h.fail('p0', 'produce', { value: 'v', info: err.details });
    else h.timeout('p0', 'produce', { value: 'v', info: err.details });
    const logs: ReplicaRead[] = ['n1', 'n2', 'n3'].map((node) => ({ node, records: [{ offset: 0, value: 'v' }] }));
    const r = check(h.events, logs);
    expect(r.ok).toBe(true);
    expect(r.counts).toMatchObject({ failed: 0, indeterminate: 1, indeterminateApplied: 1 });
  });
});
