// Membership for a real agent: internal/discovery on the bind address, authenticated by the peer certificate.
import path from 'node:path';
import { Membership } from '../discovery/index.js';
import type { MembershipPartContext } from './agent.js';
import type { ClusterMembership } from './seams.js';

export async function startMembership(ctx: MembershipPartContext): Promise<ClusterMembership> {
  const { config } = ctx;
  return Membership.start({
    nodeName: config.nodeName,
    bindAddr: config.bindAddr,
    tags: { rpc_addr: ctx.rpcAddr, ...ctx.tags },
    startJoinAddrs: config.startJoinAddrs,
    retryJoin: ctx.returning,
    tls: { caPem: ctx.peerTls.ca.toString(), certPem: ctx.peerTls.cert.toString(), keyPem: ctx.peerTls.key.toString() },
    dataDir: path.join(config.dataDir, 'membership'),
    handler: ctx.handler,
    timings: {
      probeIntervalMs: config.membership.probeIntervalMs,
      // A direct ping gets half the probe interval before indirect probes are tried.
      probeTimeoutMs: Math.max(1, Math.floor(config.membership.probeIntervalMs / 2)),
      suspicionTimeoutMs: config.membership.suspicionTimeoutMs,
    },
    onRejected: (err) => ctx.logger.warn({ err }, 'membership: refused a message'),
  });
}
