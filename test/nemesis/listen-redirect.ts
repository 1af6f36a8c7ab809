// Loaded into an agent process with `node --import` by the nemesis harness, never by the product. The agent is
// told to listen on port P, the port of the fault proxy that stands in front of it, and it advertises P to its
// peers and clients. This module moves the agent's actual listener to a free port and writes that port to a file
// for the proxy, while the listener still reports P, so every peer and client goes through the proxy and the
// product runs unmodified.
import fs from 'node:fs';
import net from 'node:net';

export const ADVERTISED_PORT_ENV = 'PROGLOG_NEMESIS_ADVERTISED_PORT';
export const REAL_PORT_FILE_ENV = 'PROGLOG_NEMESIS_REAL_PORT_FILE';

const advertised = Number(process.env[ADVERTISED_PORT_ENV] ?? '0');
const portFile = process.env[REAL_PORT_FILE_ENV];

type Listen = (this: net.Server, ...args: unknown[]) => net.Server;
type Address = (this: net.Server) => ReturnType<net.Server['address']>;

if (advertised > 0 && portFile) {
  const redirected = new WeakSet<net.Server>();
  const originalListen = net.Server.prototype.listen as unknown as Listen;
  const originalAddress = net.Server.prototype.address as unknown as Address;

  const patchedListen: Listen = function (this: net.Server, ...args: unknown[]) {
    const first = args[0];
    let hit = false;
    if (typeof first === 'number' && first === advertised) {
      args[0] = 0;
      hit = true;
    } else if (typeof first === 'object' && first !== null && Number((first as { port?: unknown }).port) === advertised) {
      args[0] = { ...(first as object), port: 0 };
      hit = true;
    }
    if (hit) {
      redirected.add(this);
      this.once('listening', () => {
        const real = (originalAddress.call(this) as net.AddressInfo).port;
        // Write then rename: the harness polls this file and must never read half of it.
        const tmp = `${portFile}.${process.pid}.tmp`;
        fs.writeFileSync(tmp, `${real}\n`);
        fs.renameSync(tmp, portFile);
      });
    }
    return originalListen.apply(this, args);
  };
  const patchedAddress: Address = function (this: net.Server) {
    const a = originalAddress.call(this);
    if (redirected.has(this) && a !== null && typeof a === 'object') return { ...a, port: advertised };
    return a;
  };
  (net.Server.prototype as unknown as { listen: Listen }).listen = patchedListen;
  (net.Server.prototype as unknown as { address: Address }).address = patchedAddress;
}
