export { commonNameOf, generateCA, issueCert } from './certgen.js';
export type { CAOptions, CertificateAuthority, IssueOptions, IssuedCert } from './certgen.js';
export {
  CA_CERT_FILE,
  CA_KEY_FILE,
  DEFAULT_CLIENTS,
  DEFAULT_SERVER_HOSTS,
  IncompleteCertPairError,
  InvalidIdentityError,
  InvalidPeerNameError,
  MissingCAKeyError,
  SERVER_CERT_FILE,
  SERVER_KEY_FILE,
  clientCertPair,
  devCertPaths,
  peerCertPair,
  writeDevCerts,
} from './dev-certs.js';
export type { CertPair, DevCertOptions, DevCertPaths, DevCertResult } from './dev-certs.js';
export {
  TLSConfigError,
  TLSFileNotFoundError,
  TLSFileNotPEMError,
  TLSIncompletePairError,
  TLSKeyMismatchError,
  clientTLSFromPEM,
  loadClientTLS,
  loadServerTLS,
  serverTLSFromPEM,
} from './tls.js';
export type { ClientTLS, ClientTLSFiles, ClientTLSPem, ServerTLS, ServerTLSFiles, ServerTLSPem, TLSFileRoles } from './tls.js';
export { DataDirLock, DataDirLockedError } from './data-dir-lock.js';
export { UnusableDirError, ensureDir } from './dirs.js';
