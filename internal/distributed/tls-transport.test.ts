import { listenLater, type PeerListener } from './peer-listener.js';
import { createPeerTls, createTestCa, peerTls } from './testing/test-certs.js';
import { waitUntil } from './testing/wait.js';
import { TlsTransport, type PeerTlsConfig } from './tls-transport.js';
import { SnapshotRejectedError, UnknownPeerError } from './transport.js';

interface Node {
  transport: TlsTransport;
  listener: PeerListener;
  frames: Array<{ from: string; text: string }>;
}

let tlsA: PeerTlsConfig;
let tlsB: PeerTlsConfig;
const open: Node[] = [];

beforeAll(async () => {
  tlsA = await peerTls('a');
  tlsB = await peerTls('b');
});

afterEach(async () => {
  for (const n of open.splice(0)) {
    await n.transport.close();
    await n.listener.close();
  }
});

async function startNode(id: string, tlsConfig: PeerTlsConfig, opts: { maxQueuedFrames?: number } = {}): Promise<Node> {
  const { listener, attach } = await listenLater();
  const transport = new TlsTransport({ id, advertiseAddr: listener.addr, tls: tlsConfig, backoffInitialMs: 5, backoffMaxMs: 50, ...opts });
  attach(transport);
  const node: Node = { transport, listener, frames: [] };
  transport.onFrame((from, frame) => node.frames.push({ from, text: Buffer.from(frame).toString() }));
  open.push(node);
  return node;
}

/** Nodes a and b, with a told where b listens. */
async function startPair(): Promise<{ a: Node; b: Node }> {
  const a = await startNode('a', tlsA);
  const b = await startNode('b', tlsB);
  a.transport.setPeer('b', b.listener.addr);
  return { a, b };
}

describe('TlsTransport', () => {
  test('delivers frames in order over mutually authenticated TLS, tagged with the sender', async () => {
    const { a, b } = await startPair();
    for (let i = 0; i < 1000; i++) expect(a.transport.send('b', Buffer.from(`m${i}`))).toBe(true);
    await waitUntil('1000 frames at b', () => b.frames.length === 1000);
    expect(b.frames.map((f) => f.text)).toEqual(Array.from({ length: 1000 }, (_, i) => `m${i}`));
    expect(new Set(b.frames.map((f) => f.from))).toEqual(new Set(['a']));
  });

  test('a frame sent in parts arrives as one frame, in order with whole ones', async () => {
    const { a, b } = await startPair();
    const shared = Buffer.from('-shared-');
    for (let i = 0; i < 100; i++) {
      const frame = i % 2 === 0 ? [Buffer.from(`p${i}`), shared, Buffer.from('end')] : Buffer.from(`w${i}`);
      expect(a.transport.send('b', frame)).toBe(true);
    }
    await waitUntil('100 frames at b', () => b.frames.length === 100);
    expect(b.frames.map((f) => f.text)).toEqual(Array.from({ length: 100 }, (_, i) => (i % 2 === 0 ? `p${i}-shared-end` : `w${i}`)));
  });

  test('flush hands the queued frames to the connection at once; otherwise they wait for the end of the turn', async () => {
    const { a, b } = await startPair();
    a.transport.send('b', Buffer.from('connect'));
    await waitUntil('the connection is up', () => b.frames.length === 1);
    a.transport.send('b', Buffer.from('held'));
    a.transport.send('b', Buffer.from('until the turn ends'));
    expect(a.transport.peerStats('b').queued).toBe(2);
    await new Promise((resolve) => setImmediate(resolve));
    expect(a.transport.peerStats('b').queued).toBe(0);
    a.transport.send('b', Buffer.from('flushed'));
    a.transport.send('b', Buffer.from('at once'));
    a.transport.flush();
    expect(a.transport.peerStats('b').queued).toBe(0);
    await waitUntil('every frame at b', () => b.frames.length === 5);
    expect(b.frames.map((f) => f.text)).toEqual(['connect', 'held', 'until the turn ends', 'flushed', 'at once']);
  });

  test('a peer learns the address of whoever connects to it from the hello', async () => {
    const a = await startNode('a', tlsA);
    const b = await startNode('b', tlsB);
    const hellos: Array<[string, string]> = [];
    b.transport.onHello((id, addr) => {
      hellos.push([id, addr]);
      if (!b.transport.peerAddr(id)) b.transport.setPeer(id, addr);
    });
    a.transport.setPeer('b', b.listener.addr);
    a.transport.send('b', Buffer.from('ping'));
    await waitUntil('hello at b', () => hellos.length === 1);
    expect(hellos[0]).toEqual(['a', a.listener.addr]);
    b.transport.send('a', Buffer.from('pong'));
    await waitUntil('reply at a', () => a.frames.length === 1);
    expect(a.frames[0]).toEqual({ from: 'b', text: 'pong' });
  });

  test('identify asks whoever listens at an address for its node id', async () => {
    const a = await startNode('a', tlsA);
    const b = await startNode('b#42', tlsB);
    await expect(a.transport.identify(b.listener.addr)).resolves.toBe('b#42');
  });

  test('a peer with a certificate from another CA is refused', async () => {
    const stranger = await createPeerTls(await createTestCa('other-ca'), 'mallory');
    const b = await startNode('b', tlsB);
    const m = await startNode('mallory', stranger);
    m.transport.setPeer('b', b.listener.addr);
    m.transport.send('b', Buffer.from('let me in'));
    // The handshake fails both ways; give it time to fail, then check nothing got through.
    await waitUntil('frames dropped after the failed dial', () => m.transport.peerStats('b').dropped > 0);
    expect(b.frames).toEqual([]);
  });

  test('with verifyPeerId, a peer whose certificate does not match its claimed id is dropped', async () => {
    const byCommonName = (id: string, cert: { subject: { CN?: string | string[] } }): boolean => cert.subject.CN === id.split('#')[0];
    const b = await startNode('b', { ...tlsB, verifyPeerId: byCommonName });
    const honest = await startNode('a#1', tlsA);
    const impostor = await startNode('c#1', tlsA); // holds a's certificate, claims to be c
    honest.transport.setPeer('b', b.listener.addr);
    impostor.transport.setPeer('b', b.listener.addr);
    impostor.transport.send('b', Buffer.from('from c'));
    // b checks the hello before reading any frame of a connection; once it has hung up, nothing can follow.
    await waitUntil('b hangs up on the impostor', () => impostor.transport.peerStats('b').disconnects > 0);
    honest.transport.send('b', Buffer.from('from a'));
    await waitUntil('the honest frame', () => b.frames.length >= 1);
    expect(b.frames).toEqual([{ from: 'a#1', text: 'from a' }]);
  });

  test('tells when the last message connection of a peer closes, as when its process dies', async () => {
    const a = await startNode('a', tlsA);
    const b = await startNode('b', tlsB);
    const down: string[] = [];
    b.transport.onPeerDown((id) => down.push(id));
    // An identify connection comes and goes: it is not the peer's message stream.
    await expect(a.transport.identify(b.listener.addr)).resolves.toBe('b');
    a.transport.setPeer('b', b.listener.addr);
    a.transport.send('b', Buffer.from('hb'));
    await waitUntil('frame at b', () => b.frames.length === 1);
    expect(down).toEqual([]);
    // Closing a transport destroys its sockets, as the kernel does for a killed process.
    await a.transport.close();
    await waitUntil('b sees a go down', () => down.length > 0);
    expect(down).toEqual(['a']);
  });

  test('reconnects with backoff after the peer restarts', async () => {
    const a = await startNode('a', tlsA);
    let b = await startNode('b', tlsB);
    a.transport.setPeer('b', b.listener.addr);
    a.transport.send('b', Buffer.from('before'));
    await waitUntil('first frame', () => b.frames.length === 1);
    const port = b.listener.addr;
    await b.transport.close();
    await b.listener.close();
    open.splice(open.indexOf(b), 1);
    // A new b on a new port: a is told its new address (as the config log would tell it).
    b = await startNode('b', tlsB);
    a.transport.setPeer('b', b.listener.addr);
    expect(b.listener.addr).not.toBe(port);
    await waitUntil(
      'a frame after the restart',
      () => {
        a.transport.send('b', Buffer.from('after'));
        return b.frames.some((f) => f.text === 'after');
      },
      10_000,
      20,
    );
  });

  test('a dead peer never blocks the others: its queue is bounded and sends return at once', async () => {
    const a = await startNode('a', tlsA, { maxQueuedFrames: 16 });
    const b = await startNode('b', tlsB);
    const dead = await startNode('dead', tlsB);
    const deadAddr = dead.listener.addr;
    await dead.transport.close();
    await dead.listener.close();
    open.splice(open.indexOf(dead), 1);
    a.transport.setPeer('dead', deadAddr);
    a.transport.setPeer('b', b.listener.addr);
    let accepted = 0;
    for (let i = 0; i < 100; i++) if (a.transport.send('dead', Buffer.from('x'))) accepted++;
    expect(accepted).toBeLessThanOrEqual(16);
    a.transport.send('b', Buffer.from('still flowing'));
    await waitUntil('frame at b', () => b.frames.length === 1);
  });

  test('send to an unknown peer is dropped, snapshot to an unknown peer is a typed error', async () => {
    const a = await startNode('a', tlsA);
    expect(a.transport.send('nobody', Buffer.from('x'))).toBe(false);
    await expect(a.transport.sendSnapshot('nobody', Buffer.from('h'), (async function* () {})())).rejects.toBeInstanceOf(UnknownPeerError);
  });

  test('streams a large snapshot in chunks with flow control: a slow consumer slows the sender', async () => {
    const { a, b } = await startPair();
    const chunkBytes = 256 * 1024;
    const chunkCount = 64; // 16 MiB
    let produced = 0;
    let consumed = 0;
    let maxAhead = 0;
    b.transport.onSnapshot(async (from, header, chunks) => {
      expect(from).toBe('a');
      expect(Buffer.from(header).toString()).toBe('snap-7');
      for await (const c of chunks) {
        expect(c.length).toBe(chunkBytes);
        expect(c[0]).toBe(consumed % 256);
        consumed++;
        if (consumed % 8 === 0) await new Promise((r) => setTimeout(r, 5));
      }
    });
    async function* body(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < chunkCount; i++) {
        maxAhead = Math.max(maxAhead, produced - consumed);
        produced++;
        yield Buffer.alloc(chunkBytes, i % 256);
      }
    }
    await a.transport.sendSnapshot('b', Buffer.from('snap-7'), body());
    expect(consumed).toBe(chunkCount);
    // Without flow control the producer would run all 64 chunks ahead of the consumer.
    expect(maxAhead).toBeLessThan(chunkCount / 2);
    // Heartbeats keep flowing on the message connection meanwhile.
    a.transport.send('b', Buffer.from('hb'));
    await waitUntil('message after snapshot', () => b.frames.length === 1);
  });

  test('a snapshot the receiver fails to take rejects the sender with its reason', async () => {
    const { a, b } = await startPair();
    b.transport.onSnapshot(async (_from, _header, chunks) => {
      for await (const _ of chunks) throw new Error('disk full');
    });
    const send = a.transport.sendSnapshot(
      'b',
      Buffer.from('h'),
      (async function* () {
        yield Buffer.from('data');
      })(),
    );
    await expect(send).rejects.toBeInstanceOf(SnapshotRejectedError);
    await expect(send).rejects.toThrow('disk full');
  });
});
