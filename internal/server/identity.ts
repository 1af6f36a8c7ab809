// Who is calling: the Common Name of the client certificate that the TLS handshake verified against our CA.
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
