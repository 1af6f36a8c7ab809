// The seam between the Raft runtime and the network. Frames are opaque bytes (the Raft message codec lives
// in message-codec.ts); snapshots travel as a stream of chunks next to the frames so that a large one never
// holds up heartbeats. TlsTransport is the real one, MemoryNetwork the in-process one for tests.

import { recordLength, type RecordBytes } from '../log/index.js';

/** A frame from peer `from`. Called synchronously from the network's receive path: do not block. */
export type FrameHandler = (from: string, frame: Uint8Array) => void;

/**
 * A snapshot from peer `from`: `header` describes it, `chunks` yields its body with flow control (the sender
 * slows down while the consumer is slow). The sender's `sendSnapshot` resolves when this promise resolves and
 * rejects with SnapshotRejectedError when it rejects.
 */
export type SnapshotHandler = (from: string, header: Uint8Array, chunks: AsyncIterable<Uint8Array>) => Promise<void>;

/** A peer announced itself (id and the address it listens on) when it connected to us. */
export type HelloHandler = (id: string, addr: string) => void;

/**
 * Every message connection peer `id` had opened to us has closed. The kernel closes a killed process's sockets
 * at once, so this is often the first sign that the peer died; but it is a hint, not a verdict: a live peer
 * whose connection broke reconnects on its next send.
 */
export type PeerDownHandler = (id: string) => void;

/** One frame's payload, whole or as parts to be sent back to back: the shape the commit log takes a record in. */
export type Frame = RecordBytes;

/** The number of bytes in a frame. */
export const frameLength: (frame: Frame) => number = recordLength;

export interface Transport {
  readonly localId: string;
  readonly localAddr: string;
  /** Where to reach a peer. Setting a new address for a known peer drops its current connection. */
  setPeer(id: string, addr: string): void;
  removePeer(id: string): void;
  peerAddr(id: string): string | undefined;
  /**
   * Queues a frame for a peer and returns at once. Returns false when the frame was dropped (unknown peer,
   * queue full, transport closed): Raft tolerates lost messages and retries, so a slow or dead peer costs
   * a bounded amount of memory and never blocks the others. A frame may come in parts, sent back to back as one
   * frame: that lets the messages to several peers share their entries' bytes instead of each copying them.
   * The parts must not change after the call.
   */
  send(to: string, frame: Frame): boolean;
  /**
   * Optional: hands what `send` has queued to the network now. A transport may hold frames until the end of the
   * event-loop turn, to write each peer's in one go; a caller that has queued everything it will send this turn
   * (the runtime, after a Ready's messages) calls this instead of waiting for the turn to end.
   */
  flush?(): void;
  sendSnapshot(to: string, header: Uint8Array, chunks: AsyncIterable<Uint8Array>, signal?: AbortSignal): Promise<void>;
  /** Asks whoever listens at `addr` for its node id (a node's id changes when its data is lost). */
  identify(addr: string): Promise<string>;
  onFrame(handler: FrameHandler): void;
  onSnapshot(handler: SnapshotHandler): void;
  onHello(handler: HelloHandler): void;
  /** Optional: a transport that cannot tell when a peer's connection closes leaves it out. */
  onPeerDown?(handler: PeerDownHandler): void;
  close(): Promise<void>;
}

export class TransportError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = 'TransportError';
  }
}

export class UnknownPeerError extends TransportError {
  constructor(readonly peer: string) {
    super(`no address known for peer ${peer}`, 'UNKNOWN_PEER');
    this.name = 'UnknownPeerError';
  }
}

export class PeerUnreachableError extends TransportError {
  constructor(
    readonly target: string,
    detail = '',
  ) {
    super(`cannot reach ${target}${detail ? `: ${detail}` : ''}`, 'PEER_UNREACHABLE');
    this.name = 'PeerUnreachableError';
  }
}

/** A peer authenticated with a cluster certificate that may not do what it asked (or claim who it claims). */
export class PeerNotAuthorizedError extends TransportError {
  constructor(detail: string) {
    super(`peer not authorized: ${detail}`, 'PEER_NOT_AUTHORIZED');
    this.name = 'PeerNotAuthorizedError';
  }
}

export class TransportClosedError extends TransportError {
  constructor() {
    super('transport closed', 'TRANSPORT_CLOSED');
    this.name = 'TransportClosedError';
  }
}

/** The receiver of a snapshot failed to take it; `reason` is its error message. */
export class SnapshotRejectedError extends TransportError {
  constructor(
    readonly peer: string,
    readonly reason: string,
  ) {
    super(`peer ${peer} rejected the snapshot: ${reason}`, 'SNAPSHOT_REJECTED');
    this.name = 'SnapshotRejectedError';
  }
}

/** The snapshot stream broke before it was complete (connection lost, peer closed, aborted). */
export class SnapshotStreamError extends TransportError {
  constructor(message: string) {
    super(message, 'SNAPSHOT_STREAM_BROKEN');
    this.name = 'SnapshotStreamError';
  }
}

export class BadPeerAddressError extends TransportError {
  constructor(readonly addr: string) {
    super(`bad peer address ${JSON.stringify(addr)}: want host:port`, 'BAD_PEER_ADDRESS');
    this.name = 'BadPeerAddressError';
  }
}

export function parseHostPort(addr: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(addr) ?? /^([^:]+):(\d+)$/.exec(addr);
  if (!m) throw new BadPeerAddressError(addr);
  const port = Number(m[2]);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new BadPeerAddressError(addr);
  return { host: m[1]!, port };
}
