// Discovery: Serf-like cluster membership for proglog, on libp2p and gossipsub, authenticated by the cluster CA.
// This is the only entry point; nothing outside this folder imports libp2p.
//
//   const m = await Membership.start({
//     nodeName: 'node-1', bindAddr: '127.0.0.1:8401', tags: { rpc_addr: '127.0.0.1:8400' },
//     startJoinAddrs: ['127.0.0.1:8301'],             // plain host:port of any members; [] starts a cluster
//     tls: { caPem, certPem, keyPem },                  // certificate CN must equal nodeName
//     dataDir: '/var/lib/proglog/membership',           // libp2p key + incarnation persist here
//     handler: { join(name, tags) {}, leave(name) {}, failed(name) {}, update(name, tags) {} },
//   });
//   m.members();      // [{ name, tags, status: 'alive' | 'suspect' | 'failed' | 'left', incarnation, addr }]
//   m.boundAddr();    // 'host:port' actually bound (bindAddr may use port 0)
//   await m.setTags({ rpc_addr: '127.0.0.1:8400', role: 'voter' });  // members get handler.update
//   await m.leave();  // graceful: members see `left` and handler.leave(name); then stops
//   await m.stop();   // crash-like: members see `failed` after probes and the suspicion timeout
//
// Protocol (SWIM-like): each node probes one member per probe interval (libp2p ping), asks up to
// `indirectProbes` others to ping it when that fails, then gossips a suspicion; the suspect refutes by
// announcing a higher incarnation, or is declared failed when the suspicion timeout expires. Failed and left
// members are tombstones until the reap timeout. A joiner syncs the full member list from its seeds at once
// (push-pull), and every node repeats that with one live and one failed member each sync interval, which is
// how member lists converge after a partition heals. Every claim is signed by the key of a certificate from
// the cluster CA whose CN is the member it speaks for; anything else is rejected (and reported to onRejected).
// Suspicions follow Lifeguard: a lone accuser's suspicion lasts 3x the suspicion timeout and independent
// confirmations shrink it to 1x; a node that keeps failing its own probes, or finds its timers firing late,
// stretches its probe timeouts (local health) instead of accusing healthy members.
//
// Defaults (defaultTimings): probe 1 s, probe timeout 500 ms, suspicion 5 s, reap 24 h, gossip heartbeat 1 s,
// anti-entropy sync 10 s, 3 indirect probes. `bindAddr` must be an address other members can dial (it is
// what the node advertises), not 0.0.0.0.

export { Membership, type TransportFactory } from './membership.js';
export type { Member, MemberStatus, MemberTags, MembershipHandler } from './member.js';
export { defaultTimings, type MembershipConfig, type MembershipTimings, type MembershipTls } from './config.js';
export { LinkFaults } from './link-faults.js';
export {
  BadSignatureError,
  DiscoveryError,
  ExchangeFailedError,
  ExchangeRefusedError,
  JoinError,
  MalformedMessageError,
  MembershipConfigError,
  MembershipStoppedError,
  RejectedMessageError,
  SignerMismatchError,
  UntrustedCertificateError,
} from './errors.js';
