import { MemoryNetwork, type MemoryTransport } from './memory-transport.js';
import { waitUntil } from './testing/wait.js';

interface Probe {
  t: MemoryTransport;
  frames: string[];
  hellos: string[];
  down: string[];
}

function node(network: MemoryNetwork, id: string): Probe {
  const t = network.transport(id, `mem:${id}`);
  const p: Probe = { t, frames: [], hellos: [], down: [] };
  t.onFrame((from, f) => p.frames.push(`${from}:${Buffer.from(f).toString()}`));
  t.onHello((from) => p.hellos.push(from));
  t.onPeerDown((from) => p.down.push(from));
  return p;
}

function link(a: Probe, b: Probe): void {
  a.t.setPeer(b.t.localId, b.t.localAddr);
  b.t.setPeer(a.t.localId, a.t.localAddr);
}

describe('MemoryTransport connections', () => {
  test('a closed node is seen going down by the nodes it was connected to, after its frames in flight', async () => {
    const network = new MemoryNetwork();
    const a = node(network, 'a');
    const b = node(network, 'b');
    const c = node(network, 'c');
    link(a, b);
    link(a, c);
    link(b, c);
    a.t.send('b', Buffer.from('last words'));
    await a.t.close();
    await waitUntil('b sees a go down', () => b.down.length > 0);
    expect(b.frames).toEqual(['a:last words']);
    expect(b.down).toEqual(['a']);
    // c never heard from a: it had no connection from a to lose.
    b.t.send('c', Buffer.from('x'));
    await waitUntil('frame at c', () => c.frames.length === 1);
    expect(c.down).toEqual([]);
  });

  test('a frame in parts arrives whole', async () => {
    const network = new MemoryNetwork();
    const a = node(network, 'a');
    const b = node(network, 'b');
    link(a, b);
    a.t.send('b', [Buffer.from('one,'), Buffer.from('two')]);
    await waitUntil('frame at b', () => b.frames.length === 1);
    expect(b.frames).toEqual(['a:one,two']);
  });

  test('dropConnections resets both directions; the next frame reconnects with a hello; a cut link closes nothing', async () => {
    const network = new MemoryNetwork();
    const a = node(network, 'a');
    const b = node(network, 'b');
    link(a, b);
    a.t.send('b', Buffer.from('1'));
    b.t.send('a', Buffer.from('1'));
    await waitUntil('both frames', () => a.frames.length === 1 && b.frames.length === 1);
    network.dropConnections('a', 'b');
    await waitUntil('both see the other go down', () => a.down.length === 1 && b.down.length === 1);
    expect([a.down, b.down]).toEqual([['b'], ['a']]);
    a.t.send('b', Buffer.from('2'));
    await waitUntil('frame after the reset', () => b.frames.length === 2);
    expect(b.hellos).toEqual(['a', 'a']);
    network.disconnect('a', 'b');
    expect(a.t.send('b', Buffer.from('3'))).toBe(false);
    network.heal();
    a.t.send('b', Buffer.from('4'));
    await waitUntil('frame after the heal', () => b.frames.length === 3);
    expect(b.frames).toEqual(['a:1', 'a:2', 'a:4']);
    expect(b.down).toEqual(['a']);
  });
});
