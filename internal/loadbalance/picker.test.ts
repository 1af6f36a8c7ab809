import * as grpc from '@grpc/grpc-js';
import { METHOD_PICK_KEY } from './balancer-name.js';
import { LeaderFollowerPicker, type PickableServer } from './picker.js';

/** A server whose picks complete, so that the picker's onCallEnded can be driven by hand. */
function server(id: string): PickableServer {
  return {
    id,
    picker: {
      pick: () => ({
        pickResultType: grpc.experimental.PickResultType.COMPLETE,
        subchannel: null,
        status: null,
        onCallStarted: null,
        onCallEnded: null,
      }),
    },
  };
}

/** Ends a produce picked to the leader with `code` and trailers `trailers`; says which hook the picker called. */
function endProduce(code: grpc.status, trailers: Record<string, string>): string[] {
  const called: string[] = [];
  const picker = new LeaderFollowerPicker(
    { leader: server('a'), followers: [server('b')], unreachable: null },
    { cursor: { next: 0 }, onLeaderMissing: () => called.push('leaderMissing'), onCallFailed: () => called.push('callFailed') },
  );
  const result = picker.pick({ metadata: new grpc.Metadata(), extraPickInfo: { [METHOD_PICK_KEY]: '/log.v1.Log/Produce' } });
  const metadata = new grpc.Metadata();
  for (const [key, value] of Object.entries(trailers)) metadata.set(key, value);
  result.onCallEnded?.(code, 'details', metadata);
  return called;
}

describe('LeaderFollowerPicker, when a call ends', () => {
  it('takes a write of unknown outcome (the leader stopped leading after proposing it) as a sign the leader moved', () => {
    expect(endProduce(grpc.status.UNAVAILABLE, { 'proglog-outcome': 'unknown' })).toEqual(['leaderMissing']);
  });

  it('takes a not-the-leader answer the same way, and other UNAVAILABLE answers as a stale list', () => {
    expect(endProduce(grpc.status.UNAVAILABLE, { 'proglog-leader-id': 'b' })).toEqual(['leaderMissing']);
    expect(endProduce(grpc.status.UNAVAILABLE, {})).toEqual(['callFailed']);
    expect(endProduce(grpc.status.OK, {})).toEqual([]);
  });
});
