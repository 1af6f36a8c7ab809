// The simulated network's faults, each deterministic for a seed.
import { SeededRandom } from '../random.js';
import type { Message } from '../types.js';
import { SimNetwork } from './network.js';

const hb = (from: string, to: string, n: number): Message => ({ type: 'heartbeat', from, to, term: 1, commit: n, context: '' });

function drainAll(net: SimNetwork, now: number): Message[] {
  const out: Message[] = [];
  for (let m = net.next(now); m; m = net.next(now)) out.push(m);
  return out;
}

describe('SimNetwork', () => {
  test('a reliable network delivers every message exactly once, within the tick', () => {
    const net = new SimNetwork(new SeededRandom(1));
    for (let i = 0; i < 50; i++) net.send(hb('a', 'b', i), 0);
    const got = drainAll(net, 0);
    expect(got.map((m) => (m.type === 'heartbeat' ? m.commit : -1)).sort((x, y) => x - y)).toEqual([...Array(50).keys()]);
  });

  test('delivery order is shuffled (reordering)', () => {
    const net = new SimNetwork(new SeededRandom(2));
    for (let i = 0; i < 50; i++) net.send(hb('a', 'b', i), 0);
    const order = drainAll(net, 0).map((m) => (m.type === 'heartbeat' ? m.commit : -1));
    expect(order).not.toEqual([...Array(50).keys()]);
  });

  test('drops, duplicates and delays happen at the configured rates', () => {
    const net = new SimNetwork(new SeededRandom(3));
    net.faults = { drop: 0.2, duplicate: 0.1, maxDelay: 3 };
    for (let i = 0; i < 1000; i++) net.send(hb('a', 'b', i), 0);
    expect(net.dropped).toBeGreaterThan(120);
    expect(net.dropped).toBeLessThan(280);
    expect(net.duplicated).toBeGreaterThan(40);
    const now = drainAll(net, 0).length;
    const later = drainAll(net, 3).length;
    expect(now).toBeGreaterThan(0);
    expect(later).toBeGreaterThan(0);
    expect(now + later).toBe(1000 - net.dropped + net.duplicated);
  });

  test('a one-way cut blocks one direction only; a partition blocks both; heal restores', () => {
    const net = new SimNetwork(new SeededRandom(4));
    net.cutLink('a', 'b');
    net.send(hb('a', 'b', 1), 0);
    net.send(hb('b', 'a', 2), 0);
    expect(drainAll(net, 0).map((m) => m.from)).toEqual(['b']);
    net.heal();
    net.partition(['a'], ['b', 'c']);
    net.send(hb('c', 'a', 3), 0);
    net.send(hb('b', 'c', 4), 0);
    expect(drainAll(net, 0).map((m) => m.from)).toEqual(['b']);
  });

  test('the same seed gives the same faults', () => {
    const run = (): number[] => {
      const net = new SimNetwork(new SeededRandom(9));
      net.faults = { drop: 0.3, duplicate: 0.2, maxDelay: 2 };
      for (let i = 0; i < 100; i++) net.send(hb('a', 'b', i), 0);
      return drainAll(net, 2).map((m) => (m.type === 'heartbeat' ? m.commit : -1));
    };
    expect(run()).toEqual(run());
  });
});
