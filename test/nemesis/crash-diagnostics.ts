// Loaded into agent processes by the nemesis harness (node --import), never by the product. When a TLS socket
// emits an 'error' nobody listens to (which kills the process), print where that socket was created: Node's
// own stack for such a crash only shows its internals, not which part of the agent made the socket.
import tls from 'node:tls';

type Init = (this: tls.TLSSocket, ...args: unknown[]) => unknown;
type Emit = (this: tls.TLSSocket, event: string | symbol, ...args: unknown[]) => boolean;

const CREATED = Symbol('nemesis.createdAt');
const proto = tls.TLSSocket.prototype as unknown as { _init: Init; emit: Emit; [CREATED]?: string };
const originalInit = proto._init;
const originalEmit = proto.emit;

proto._init = function (this: tls.TLSSocket, ...args: unknown[]) {
  (this as unknown as Record<symbol, string>)[CREATED] = new Error('TLSSocket created here').stack ?? '';
  return originalInit.apply(this, args);
};
proto.emit = function (this: tls.TLSSocket, event: string | symbol, ...args: unknown[]) {
  if (event === 'error' && this.listenerCount('error') === 0) {
    const err = args[0] instanceof Error ? args[0].message : String(args[0]);
    const server = (this as unknown as { _tlsOptions?: { isServer?: boolean } })._tlsOptions?.isServer ? 'server' : 'client';
    process.stderr.write(
      `nemesis diagnostics: unhandled '${err}' on a ${server}-side TLSSocket\n` +
        `${(this as unknown as Record<symbol, string>)[CREATED] ?? '(creation unknown)'}\n`,
    );
  }
  return originalEmit.call(this, event, ...args);
};
