// A listener that serves only Raft peer connections: it reads the leading 0x01 byte and hands the socket to the
// transport, as the agent's port mux does in production. Used by tests, benchmarks and standalone nodes.

import net from 'node:net';
import { RAFT_CONNECTION_BYTE } from './tls-transport.js';

export interface PeerConnectionAcceptor {
  acceptConnection(socket: net.Socket): void;
}

export interface PeerListener {
  /** host:port actually bound (the OS picks the port when asked for 0). */
  readonly addr: string;
  close(): Promise<void>;
}

/** Routes one raw socket by its first byte: 0x01 goes to `acceptor`, anything else is refused. */
export function routeRaftConnection(socket: net.Socket, acceptor: PeerConnectionAcceptor): void {
  socket.once('data', (chunk: Buffer) => {
    socket.pause();
    if (chunk[0] !== RAFT_CONNECTION_BYTE) {
      socket.destroy();
      return;
    }
    if (chunk.length > 1) socket.unshift(chunk.subarray(1));
    acceptor.acceptConnection(socket);
  });
  socket.on('error', () => socket.destroy());
}

export async function listenForPeers(acceptor: PeerConnectionAcceptor, host = '127.0.0.1', port = 0): Promise<PeerListener> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    routeRaftConnection(socket, acceptor);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address() as net.AddressInfo;
  return {
    addr: `${host}:${bound.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Binds a listener first so its OS-chosen address can be given to the transport it will feed. */
export async function listenLater(host = '127.0.0.1', port = 0): Promise<{ listener: PeerListener; attach(acceptor: PeerConnectionAcceptor): void }> {
  let target: PeerConnectionAcceptor | undefined;
  const pending: net.Socket[] = [];
  const listener = await listenForPeers(
    {
      acceptConnection(socket) {
        if (target) target.acceptConnection(socket);
        else pending.push(socket);
      },
    },
    host,
    port,
  );
  return {
    listener,
    attach(acceptor) {
      target = acceptor;
      for (const s of pending.splice(0)) acceptor.acceptConnection(s);
    },
  };
}
