// Which process opened the other end of a loopback connection. On Linux the kernel tells us: the accepted
// socket's remote address is the caller's local address, /proc/net/tcp maps that to a socket inode, and the
// caller's /proc/<pid>/fd holds a link to `socket:[inode]`. This lets a proxy tell node A's Raft traffic from
// node B's and from a client's without any help from the product.
import { promises as fs } from 'node:fs';
import type net from 'node:net';
import { CLIENT } from './link-table.js';
import type { SourceIdentifier } from './proxy.js';

/** The state /proc/net/tcp gives a listening socket (TCP_LISTEN). */
const TCP_LISTEN = '0A';

/** The inode of the TCP socket whose local end is host:port (the listening one if `listening`), or undefined. */
export async function socketInode(host: string, port: number, opts: { listening?: boolean } = {}): Promise<string | undefined> {
  const wanted = `${ipv4ToProcHex(host)}:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  let table: string;
  try {
    table = await fs.readFile('/proc/net/tcp', 'utf8');
  } catch {
    return undefined;
  }
  for (const line of table.split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    // cols: sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...
    if (cols[1] !== wanted || cols[9] === undefined || cols[9] === '0') continue;
    if (opts.listening && cols[3] !== TCP_LISTEN) continue;
    return cols[9];
  }
  return undefined;
}

/** Whether process `pid` is the one listening on host:port. */
export async function processListensOn(pid: number, host: string, port: number): Promise<boolean> {
  const inode = await socketInode(host, port, { listening: true });
  return inode !== undefined && (await processHoldsSocket(pid, inode));
}

/** Whether process `pid` holds the socket with this inode. */
export async function processHoldsSocket(pid: number, inode: string): Promise<boolean> {
  const link = `socket:[${inode}]`;
  let fds: string[];
  try {
    fds = await fs.readdir(`/proc/${pid}/fd`);
  } catch {
    return false;
  }
  for (const fd of fds) {
    try {
      if ((await fs.readlink(`/proc/${pid}/fd/${fd}`)) === link) return true;
    } catch {
      // The fd closed while we looked; it was not the one.
    }
  }
  return false;
}

export interface AttributionOptions {
  /** The process whose own connections are the clients' (default: this one, where the workload runs). */
  clientPid?: number;
  /** Lookups before giving up on a caller (its socket may not be in /proc/net/tcp yet, or its pid map may lag). */
  attempts?: number;
  retryMs?: number;
}

/**
 * A SourceIdentifier over the processes `pids()` lists (pid -> endpoint name, read at each lookup so restarts are
 * seen) and the clients' process, CLIENT. Fails closed: a caller that is neither, or that cannot be found, is
 * unattributed, which the proxy answers with a reset. Calling it a client would let a node's Raft traffic through
 * a partition unfaulted.
 */
export function processSourceIdentifier(pids: () => ReadonlyMap<number, string>, opts: AttributionOptions = {}): SourceIdentifier {
  const clientPid = opts.clientPid ?? process.pid;
  const attempts = opts.attempts ?? 5;
  const retryMs = opts.retryMs ?? 20;
  return async (socket: net.Socket) => {
    const host = socket.remoteAddress;
    const port = socket.remotePort;
    if (!host || !port) return { unattributed: 'gone' };
    let found = false;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (socket.destroyed) return { unattributed: 'gone' };
      const inode = await socketInode(stripV4Mapped(host), port);
      if (inode) {
        found = true;
        for (const [pid, name] of pids()) {
          if (await processHoldsSocket(pid, inode)) return name;
        }
        if (await processHoldsSocket(clientPid, inode)) return CLIENT;
      }
      if (attempt < attempts) await new Promise((resolve) => setTimeout(resolve, retryMs));
    }
    // A socket in /proc/net/tcp that no known process holds is a stranger's, unless its caller has hung up since.
    return { unattributed: found && !socket.destroyed ? 'stranger' : 'gone' };
  };
}

function stripV4Mapped(host: string): string {
  return host.startsWith('::ffff:') ? host.slice(7) : host;
}

/** /proc/net/tcp writes an IPv4 address as the hex of its 32 bits in host (little-endian) order. */
function ipv4ToProcHex(host: string): string {
  const parts = host.split('.').map((p) => Number(p));
  return parts
    .reverse()
    .map((b) => b.toString(16).toUpperCase().padStart(2, '0'))
    .join('');
}
