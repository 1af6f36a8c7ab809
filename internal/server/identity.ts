// Who is calling: the Common Name of the client certificate that the TLS handshake verified against our CA.
import type { PeerCertificate, TLSSocket } from 'node:tls';
import type { ServerUnaryCall } from '@grpc/grpc-js';
import { UnauthenticatedError } from './errors.js';

type AuthContext = ReturnType<ServerUnaryCall<unknown, unknown>['getAuthContext']>;

export interface AuthenticatedCall {
  getAuthContext(): AuthContext;
}

/** The caller's identity, or UnauthenticatedError when the connection has none we can trust. */
export function subjectOf(call: AuthenticatedCall): string {
  // grpc-js fills the peer certificate only when the socket's chain verified (socket.authorized).
  const peer = call.getAuthContext()?.sslPeerCertificate;
  if (peer === undefined) {
    throw new UnauthenticatedError(
      'no verified client certificate: connect with a certificate issued by the cluster CA (it may be missing, expired, or from another CA)',
    );
  }
  const cn: unknown = peer.subject?.CN;
  if (typeof cn !== 'string' || cn === '') {
    throw new UnauthenticatedError('the client certificate has no single subject Common Name (CN) to identify the caller');
  }
  return cn;
}

/**
 * Makes `socket` translate its peer certificate once for the life of the connection. grpc-js's getAuthContext
 * asks the socket for it on every call, and each time Node builds a new object from the X.509 (tens of µs, a
 * tenth of a busy leader's CPU under unary load).
 *
 * Sound only while the peer cannot present another certificate on the same connection: the caller must refuse
 * renegotiation (TLSSocket.disableRenegotiation, closing the socket on the error an attempt raises). TLS 1.3
 * has no renegotiation, and Node offers no post-handshake authentication.
 */
export function rememberPeerCertificate(socket: TLSSocket): void {
  const translate = socket.getPeerCertificate;
  let peer: PeerCertificate | undefined;
  function getPeerCertificate(detailed?: boolean): PeerCertificate | null {
    // The detailed form (with the issuer chain) is asked for rarely, if ever, on this side: not worth keeping.
    if (detailed === true) return translate.call(socket, true);
    if (peer === undefined) {
      // Null once the socket is gone; nothing to remember then.
      const translated: PeerCertificate | null = translate.call(socket, false);
      if (translated === null) return null;
      // Every call of the connection shares this object: none may change what the next one sees.
      if (typeof translated.subject === 'object' && translated.subject !== null) Object.freeze(translated.subject);
      if (typeof translated.issuer === 'object' && translated.issuer !== null) Object.freeze(translated.issuer);
      peer = Object.freeze(translated);
    }
    return peer;
  }
  Object.defineProperty(socket, 'getPeerCertificate', { value: getPeerCertificate, configurable: true, writable: true });
}
