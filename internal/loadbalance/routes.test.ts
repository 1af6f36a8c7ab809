import { routeOf } from './routes.js';

describe('routeOf', () => {
  it.each(['/log.v1.Log/Produce', '/log.v1.Log/ProduceStream', '/log.v1.Log/ProduceBatch'])('sends %s to the leader', (m) => {
    expect(routeOf(m)).toBe('leader');
  });

  it.each(['/log.v1.Log/Consume', '/log.v1.Log/ConsumeStream', '/log.v1.Log/ConsumeRange'])('sends %s to a follower', (m) => {
    expect(routeOf(m)).toBe('follower');
  });

  it.each(['/log.v1.Log/GetServers', '/log.v1.Log/ListTopics', '/grpc.health.v1.Health/Check', ''])('sends %s to any server', (m) => {
    expect(routeOf(m)).toBe('any');
  });
});
