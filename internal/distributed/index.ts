// The replicated log (issue 5): the Raft core (internal/raft) driven over durable storage and a mutual-TLS peer
// transport, with the topic commit logs (internal/log) as its state machine, served through the gRPC server's
// LogService seam. See DESIGN.md in this folder for how the pieces fit.

export {
  ReplicatedLog,
  MAX_PRODUCE_BYTES,
  LeaderTimeoutError,
  MembershipChangeError,
  MissingPeerTlsError,
  type ReplicatedLogConfig,
  type ReplicatedLogStats,
} from './replicated-log.js';
export { TlsTransport, RAFT_CONNECTION_BYTE, type PeerTlsConfig, type TlsTransportOptions } from './tls-transport.js';
export { MemoryNetwork, MemoryTransport } from './memory-transport.js';
export {
  BadPeerAddressError,
  PeerNotAuthorizedError,
  PeerUnreachableError,
  SnapshotRejectedError,
  SnapshotStreamError,
  TransportClosedError,
  TransportError,
  UnknownPeerError,
  type FrameHandler,
  type HelloHandler,
  type SnapshotHandler,
  type Transport,
} from './transport.js';
export { listenForPeers, routeRaftConnection, type PeerListener, type PeerConnectionAcceptor } from './peer-listener.js';
export { RaftStorage, RaftLogGapError, type RaftStorageOptions, type TrailingEntries } from './raft-storage.js';
export { TopicStateMachine, StateMachineDivergedError, SnapshotIncompleteError } from './topic-state-machine.js';
export { decodeMessage, encodeMessage } from './message-codec.js';
export { DataDirOwnerError, memberName } from './node-identity.js';
export { CorruptFileError } from './atomic-file.js';
export { DecodeError } from './binary.js';
export { FrameTooLargeError } from './framing.js';
