// The membership transport over libp2p: TCP + noise + yamux (+ pnet when a pre-shared key is given), gossipsub
// for broadcast, libp2p ping for probes, and one request/response protocol for the direct exchanges.
import '../polyfills.js';
import { gossipsub } from '@chainsafe/libp2p-gossipsub';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { identify } from '@libp2p/identify';
import { TopicValidatorResult, type PrivateKey, type PubSub, type Stream } from '@libp2p/interface';
import { ping, type Ping } from '@libp2p/ping';
import { preSharedKey } from '@libp2p/pnet';
import { tcp } from '@libp2p/tcp';
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import { isIP } from 'node:net';
import { createLibp2p, type Libp2p } from 'libp2p';
import { parseHostPort } from './config.js';
import { DiscoveryError, ExchangeFailedError, ExchangeRefusedError, MalformedMessageError } from './errors.js';
import type { LinkFaults } from './link-faults.js';
import type { GossipVerdict, MembershipTransport, PeerAddress, PeerDirectory } from './transport.js';

export const membershipTopic = 'proglog/membership/1';
export const membershipProtocol = '/proglog/membership/1.0.0';
const maxExchangeBytes = 4 * 1024 * 1024;

export interface Libp2pTransportOptions {
  bindAddr: string;
  privateKey: PrivateKey;
  gossipIntervalMs: number;
  /** Opening a connection (TCP, pnet, noise, yamux) is bounded apart from a ping's round trip. */
  connectTimeoutMs?: number;
  preSharedKey?: Uint8Array;
  faults?: LinkFaults;
  directory: PeerDirectory;
}

function toMultiaddr(to: PeerAddress): Multiaddr {
  const { host, port } = parseHostPort(to.addr);
  const proto = isIP(host) === 6 ? 'ip6' : isIP(host) === 4 ? 'ip4' : 'dns4';
  return multiaddr(`/${proto}/${host}/tcp/${port}` + (to.peerId ? `/p2p/${to.peerId}` : ''));
}

// pnet takes the key in the go-ipfs swarm.key text format.
function swarmKey(psk: Uint8Array): Uint8Array {
  return new TextEncoder().encode(`/key/swarm/psk/1.0.0/\n/base16/\n${Buffer.from(psk).toString('hex')}`);
}

async function readToEnd(stream: Stream): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of stream.source) {
    size += chunk.byteLength;
    if (size > maxExchangeBytes) throw new MalformedMessageError(`exchange larger than ${maxExchangeBytes} bytes`);
    chunks.push(chunk.subarray());
  }
  return Buffer.concat(chunks);
}

function abortOnSignal(stream: Stream, signal: AbortSignal): () => void {
  const onAbort = (): void => stream.abort(new Error('exchange timed out'));
  signal.addEventListener('abort', onAbort, { once: true });
  return () => signal.removeEventListener('abort', onAbort);
}

type Services = { identify: unknown; ping: Ping; pubsub: PubSub };

/**
 * A failed exchange in words a person can act on (it ends up in "could not join through ..."), instead of
 * libp2p's "stream reset" or "unexpected end of input". Errors of this protocol pass as they are.
 */
function exchangeFailure(addr: string, err: unknown, timedOutAfterMs: number | undefined): unknown {
  if (err instanceof DiscoveryError) return err;
  const { code, name } = err as { code?: unknown; name?: unknown };
  if (timedOutAfterMs !== undefined || name === 'TimeoutError') {
    return new ExchangeFailedError(`${addr}: no answer within ${timedOutAfterMs ?? 'the'} ms`, { cause: err });
  }
  // The member takes the connection and then drops the exchange: it refused what we sent, which with a working
  // member means our claim, i.e. our certificate.
  if (name === 'StreamResetError') {
    return new ExchangeRefusedError(`${addr} refused the exchange (does it trust this node's peer certificate: from the cluster CA, CN the node name?)`, { cause: err });
  }
  if (name === 'EncryptionFailedError' || name === 'InvalidCryptoExchangeError') {
    return new ExchangeFailedError(`${addr}: the connection handshake failed (is it the membership address, bind-addr, of a node of this cluster?)`, { cause: err });
  }
  const reason = typeof code === 'string' ? SOCKET_REASONS[code] : undefined;
  const text = reason ?? (err instanceof Error ? err.message : String(err)).split('\n')[0];
  return new ExchangeFailedError(`${addr}: ${text}`, { cause: err });
}

const SOCKET_REASONS: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host not found',
};

const LISTEN_REASONS: Readonly<Record<string, string>> = {
  EADDRINUSE: 'address in use',
  EADDRNOTAVAIL: 'address not available on this host',
  EACCES: 'permission denied',
};

/**
 * libp2p reports a failed listen as several lines of advice with the socket error's stack inside, and keeps no
 * reference to that error: its code, found in the text, is what the person starting the node needs.
 */
function listenFailure(err: unknown): unknown {
  const code = err instanceof Error ? /\blisten (E[A-Z]+)\b/.exec(err.message)?.[1] : undefined;
  if (code === undefined) return err;
  return Object.assign(new Error(LISTEN_REASONS[code] ?? `listen ${code}`, { cause: err }), { code });
}

export class Libp2pTransport implements MembershipTransport {
  private judge: (data: Uint8Array) => GossipVerdict = () => 'ignore';
  private requestHandler: (data: Uint8Array, from: string) => Promise<Uint8Array> = () =>
    Promise.reject(new Error('not serving yet'));
  private readonly unsubscribeFaults: () => void;

  private constructor(
    private readonly node: Libp2p<Services>,
    private readonly directory: PeerDirectory,
    private readonly connectTimeoutMs: number,
    private readonly faults?: LinkFaults,
  ) {
    this.unsubscribeFaults =
      faults?.onCut((names) => {
        for (const name of names) {
          const id = directory.peerIdOf(name);
          if (id) for (const c of node.getConnections()) if (c.remotePeer.toString() === id) void c.close().catch(() => undefined);
        }
      }) ?? (() => true);
  }

  static async start(opts: Libp2pTransportOptions): Promise<Libp2pTransport> {
    const { host, port } = parseHostPort(opts.bindAddr);
    const proto = isIP(host) === 6 ? 'ip6' : 'ip4';
    const faults = opts.faults;
    const cut = (peerId: { toString(): string }): boolean => faults?.isCut(opts.directory.nameOf(peerId.toString())) ?? false;
    const node = await createLibp2p({
      privateKey: opts.privateKey,
      addresses: { listen: [`/${proto}/${host}/tcp/${port}`] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      ...(opts.preSharedKey ? { connectionProtector: preSharedKey({ psk: swarmKey(opts.preSharedKey) }) } : {}),
      connectionGater: {
        denyDialPeer: cut,
        denyInboundEncryptedConnection: cut,
        denyOutboundEncryptedConnection: cut,
      },
      // Our own probes watch liveness; libp2p's monitor would only add traffic.
      connectionMonitor: { enabled: false },
      services: {
        identify: identify(),
        // ping's default is one stream per connection each way, but a node probes a member and serves indirect
        // probes of the same member at once; a second ping must not fail as if the member were dead.
        ping: ping({ maxInboundStreams: 16, maxOutboundStreams: 16 }),
        pubsub: gossipsub({
          allowPublishToZeroTopicPeers: true,
          ignoreDuplicatePublishError: true,
          // Small clusters: send our own messages to every peer, not only the mesh, so none waits a heartbeat.
          floodPublish: true,
          emitSelf: false,
          fallbackToFloodsub: false,
          // Claims carry their own certificate signature; a second libp2p signature would only add bytes.
          globalSignaturePolicy: 'StrictNoSign',
          heartbeatInterval: opts.gossipIntervalMs,
        }),
      },
    }).catch((err: unknown) => {
      throw listenFailure(err);
    });
    const transport = new Libp2pTransport(node, opts.directory, opts.connectTimeoutMs ?? 2000, faults);
    node.services.pubsub.topicValidators.set(membershipTopic, (_peer, msg) => {
      switch (transport.judge(msg.data)) {
        case 'accept':
          return TopicValidatorResult.Accept;
        case 'reject':
          return TopicValidatorResult.Reject;
        case 'ignore':
          return TopicValidatorResult.Ignore;
      }
    });
    node.services.pubsub.subscribe(membershipTopic);
    await node.handle(
      membershipProtocol,
      ({ stream, connection }) => {
        void transport.serve(stream, connection.remotePeer.toString(), () => connection.close());
      },
      { maxInboundStreams: 32, maxOutboundStreams: 32 },
    );
    return transport;
  }

  get peerId(): string {
    return this.node.peerId.toString();
  }

  boundAddr(): string {
    for (const ma of this.node.getMultiaddrs()) {
      const o = ma.toOptions();
      if (o.transport === 'tcp') return o.family === 6 ? `[${o.host}]:${o.port}` : `${o.host}:${o.port}`;
    }
    throw new Error('libp2p is not listening on TCP');
  }

  onGossip(judge: (data: Uint8Array) => GossipVerdict): void {
    this.judge = judge;
  }

  onRequest(handler: (data: Uint8Array, fromPeerId: string) => Promise<Uint8Array>): void {
    this.requestHandler = handler;
  }

  async broadcast(data: Uint8Array): Promise<void> {
    await this.node.services.pubsub.publish(membershipTopic, data);
  }

  // The timeout bounds the round trip, as in SWIM; a first contact also pays for the handshakes, which must
  // not count as the member being slow.
  async ping(to: PeerAddress, timeoutMs: number): Promise<void> {
    const target = toMultiaddr(to);
    const connected = to.peerId !== undefined && this.node.getConnections().some((c) => c.remotePeer.toString() === to.peerId && c.status === 'open');
    if (!connected) await this.node.dial(target, { signal: AbortSignal.timeout(Math.max(timeoutMs, this.connectTimeoutMs)) });
    await this.node.services.ping.ping(target, { signal: AbortSignal.timeout(timeoutMs) });
  }

  async request(to: PeerAddress, data: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    const signal = AbortSignal.timeout(timeoutMs);
    try {
      const stream = await this.node.dialProtocol(toMultiaddr(to), membershipProtocol, { signal });
      const release = abortOnSignal(stream, signal);
      try {
        await stream.sink([data]);
        const response = await readToEnd(stream);
        if (signal.aborted) throw new Error('exchange timed out');
        if (response.byteLength === 0) throw new ExchangeRefusedError(`${to.addr} closed the exchange without answering`);
        return response;
      } finally {
        release();
        await stream.close().catch(() => undefined);
      }
    } catch (err) {
      throw exchangeFailure(to.addr, err, signal.aborted ? timeoutMs : undefined);
    }
  }

  private async serve(stream: Stream, from: string, dropConnection: () => Promise<void>): Promise<void> {
    const signal = AbortSignal.timeout(10_000);
    const release = abortOnSignal(stream, signal);
    try {
      const request = await readToEnd(stream);
      const response = await this.requestHandler(request, from);
      await stream.sink([response]);
    } catch {
      stream.abort(new Error('request refused'));
      // A peer that sends what we refuse (no cluster certificate, garbage) gets no second chance on this link.
      await dropConnection().catch(() => undefined);
    } finally {
      release();
    }
  }

  async stop(): Promise<void> {
    this.unsubscribeFaults();
    await this.node.stop();
  }
}
