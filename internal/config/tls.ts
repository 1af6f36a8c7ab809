// TLS configuration for both ends of mutual TLS, loaded from PEM files (or given as PEM text), ready for grpc-js
// and for node:tls. Every file is checked up front so a bad path fails at startup with the file's name, not as an
// opaque handshake error on the first connection.
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { checkServerIdentity, type ConnectionOptions, type TlsOptions } from 'node:tls';
import * as grpc from '@grpc/grpc-js';

export interface ServerTLSFiles {
  certFile: string;
  keyFile: string;
  /** The CA that signs the client certificates the server accepts. */
  caFile: string;
}

export interface ClientTLSFiles {
  /** The CA that signed the server's certificate. */
  caFile: string;
  /** The client's own certificate and key; without them the server refuses every call (UNAUTHENTICATED). */
  certFile?: string;
  keyFile?: string;
  /** Overrides the name checked against the server certificate (defaults to the dialled host). */
  serverName?: string;
}

export interface ServerTLSPem {
  ca: string | Buffer;
  cert: string | Buffer;
  key: string | Buffer;
}

export interface ClientTLSPem {
  ca: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
  serverName?: string;
}

export interface ServerTLS {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
  /**
   * For grpc.Server. The handshake asks every client for a certificate but does not fail without a valid one:
   * the server then answers each call UNAUTHENTICATED with a clear message, instead of the client seeing a
   * bare connection reset. A call only reaches a handler on a connection whose certificate chains to `ca`.
   */
  credentials: grpc.ServerCredentials;
  /**
   * The same handshake as `credentials`, for a node:tls server that terminates gRPC's TLS before handing the
   * secured socket to grpc-js (ProglogServer.createTlsConnectionInjector): a client certificate is asked for but
   * not required, and only HTTP/2 is offered.
   */
  grpcTlsOptions: TlsOptions;
  /** For node:tls servers (e.g. a peer transport): the handshake itself rejects unverified clients. */
  tlsOptions: TlsOptions;
}

export interface ClientTLS {
  ca: Buffer;
  cert?: Buffer;
  key?: Buffer;
  credentials: grpc.ChannelCredentials;
  /** For node:tls.connect; add host and port. */
  connectionOptions: ConnectionOptions;
}

export class TLSConfigError extends Error {
  constructor(
    readonly file: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class TLSFileNotFoundError extends TLSConfigError {
  constructor(file: string, role: string, options?: ErrorOptions) {
    super(file, `${role} file ${file} cannot be read: ${messageOf(options?.cause)}`, options);
  }
}

export class TLSFileNotPEMError extends TLSConfigError {
  constructor(file: string, role: string, detail: string, options?: ErrorOptions) {
    super(file, `${role} file ${file} is not a valid PEM ${detail}`, options);
  }
}

export class TLSKeyMismatchError extends TLSConfigError {
  constructor(certFile: string, keyFile: string) {
    super(keyFile, `private key ${keyFile} does not belong to certificate ${certFile}`);
  }
}

/** A certificate was given without its key or the reverse. */
export class TLSIncompletePairError extends TLSConfigError {
  constructor(given: string, missing: string) {
    super(given, `${given} is given without its ${missing}`);
  }
}

/** What error messages call each file: a caller whose files are not a server's, or come from named settings, says so. */
export interface TLSFileRoles {
  cert: string;
  key: string;
  ca: string;
}

const SERVER_ROLES: TLSFileRoles = { cert: 'server certificate', key: 'server private key', ca: 'CA certificate' };

export async function loadServerTLS(files: ServerTLSFiles, roles: TLSFileRoles = SERVER_ROLES): Promise<ServerTLS> {
  return serverTLS({
    ca: await readCertificate(files.caFile, roles.ca),
    cert: await readCertificate(files.certFile, roles.cert),
    key: await readKey(files.keyFile, roles.key),
    certFile: files.certFile,
    keyFile: files.keyFile,
  });
}

export async function loadClientTLS(files: ClientTLSFiles): Promise<ClientTLS> {
  if ((files.certFile === undefined) !== (files.keyFile === undefined)) {
    throw files.certFile !== undefined
      ? new TLSIncompletePairError(files.certFile, 'private key file')
      : new TLSIncompletePairError(files.keyFile ?? '', 'certificate file');
  }
  const ca = await readCertificate(files.caFile, 'CA certificate');
  if (files.certFile === undefined || files.keyFile === undefined) {
    return clientTLS({ ca, serverName: files.serverName });
  }
  return clientTLS({
    ca,
    cert: await readCertificate(files.certFile, 'client certificate'),
    key: await readKey(files.keyFile, 'client private key'),
    serverName: files.serverName,
    certFile: files.certFile,
    keyFile: files.keyFile,
  });
}

/** The same as loadServerTLS for PEM already in memory (e.g. straight from certgen). */
export function serverTLSFromPEM(pem: ServerTLSPem): ServerTLS {
  return serverTLS({
    ca: checkCertificate(Buffer.from(pem.ca), '<ca>', 'CA certificate'),
    cert: checkCertificate(Buffer.from(pem.cert), '<cert>', 'server certificate'),
    key: checkKey(Buffer.from(pem.key), '<key>', 'server private key'),
    certFile: '<cert>',
    keyFile: '<key>',
  });
}

/** The same as loadClientTLS for PEM already in memory. Omit cert and key for a client with no identity. */
export function clientTLSFromPEM(pem: ClientTLSPem): ClientTLS {
  const ca = checkCertificate(Buffer.from(pem.ca), '<ca>', 'CA certificate');
  if (pem.cert === undefined || pem.key === undefined) {
    if (pem.cert !== undefined || pem.key !== undefined) {
      throw new TLSIncompletePairError(pem.cert !== undefined ? '<cert>' : '<key>', pem.cert !== undefined ? 'key' : 'certificate');
    }
    return clientTLS({ ca, serverName: pem.serverName });
  }
  return clientTLS({
    ca,
    cert: checkCertificate(Buffer.from(pem.cert), '<cert>', 'client certificate'),
    key: checkKey(Buffer.from(pem.key), '<key>', 'client private key'),
    serverName: pem.serverName,
    certFile: '<cert>',
    keyFile: '<key>',
  });
}

function serverTLS(parts: { ca: Buffer; cert: Buffer; key: Buffer; certFile: string; keyFile: string }): ServerTLS {
  checkKeyMatches(parts.cert, parts.key, parts.certFile, parts.keyFile);
  const { ca, cert, key } = parts;
  // One provider serves both the server's identity and the CA that client certificates must chain to.
  const provider = new StaticCertificateProvider(ca, cert, key);
  return {
    ca,
    cert,
    key,
    credentials: grpc.experimental.createCertificateProviderServerCredentials(provider, provider, false),
    grpcTlsOptions: { ca, cert, key, requestCert: true, rejectUnauthorized: false, ALPNProtocols: ['h2'], minVersion: 'TLSv1.2' },
    tlsOptions: { ca, cert, key, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' },
  };
}

function clientTLS(parts: {
  ca: Buffer;
  cert?: Buffer;
  key?: Buffer;
  serverName?: string | undefined;
  certFile?: string;
  keyFile?: string;
}): ClientTLS {
  const { ca, cert, key, serverName } = parts;
  if (cert !== undefined && key !== undefined) {
    checkKeyMatches(cert, key, parts.certFile ?? '<cert>', parts.keyFile ?? '<key>');
  }
  const verifyOptions: grpc.VerifyOptions = {};
  if (serverName !== undefined) {
    // grpc-js checks the certificate against the dialled host by default; a fixed name lets clients dial a
    // node by IP or through a proxy while still verifying who answers.
    verifyOptions.checkServerIdentity = (_host, peer) => checkServerIdentity(serverName, peer);
  }
  const credentials = grpc.credentials.createSsl(ca, key ?? null, cert ?? null, verifyOptions);
  const connectionOptions: ConnectionOptions = { ca, minVersion: 'TLSv1.2' };
  if (cert !== undefined && key !== undefined) {
    connectionOptions.cert = cert;
    connectionOptions.key = key;
  }
  if (serverName !== undefined) connectionOptions.servername = serverName;
  return {
    ca,
    ...(cert !== undefined && key !== undefined ? { cert, key } : {}),
    credentials,
    connectionOptions,
  };
}

/**
 * Serves fixed PEM to grpc-js's certificate-provider credentials (the only ones that request a client certificate
 * without requiring it). Updates arrive on a later microtask, as from a real provider: grpc-js registers its
 * watcher only after subscribing, so a synchronous update would be lost and every connection dropped.
 */
class StaticCertificateProvider implements grpc.experimental.CertificateProvider {
  constructor(
    private readonly ca: Buffer,
    private readonly cert: Buffer,
    private readonly key: Buffer,
  ) {}

  addCaCertificateListener(listener: grpc.experimental.CaCertificateUpdateListener): void {
    queueMicrotask(() => listener({ caCertificate: this.ca }));
  }

  removeCaCertificateListener(): void {}

  addIdentityCertificateListener(listener: grpc.experimental.IdentityCertificateUpdateListener): void {
    queueMicrotask(() => listener({ certificate: this.cert, privateKey: this.key }));
  }

  removeIdentityCertificateListener(): void {}
}

async function readCertificate(file: string, role: string): Promise<Buffer> {
  return checkCertificate(await readTLSFile(file, role), file, role);
}

async function readKey(file: string, role: string): Promise<Buffer> {
  return checkKey(await readTLSFile(file, role), file, role);
}

async function readTLSFile(file: string, role: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    throw new TLSFileNotFoundError(file, role, { cause: err });
  }
}

function checkCertificate(pem: Buffer, file: string, role: string): Buffer {
  if (!pem.toString('latin1').includes('-----BEGIN CERTIFICATE-----')) {
    throw new TLSFileNotPEMError(file, role, 'certificate (no "-----BEGIN CERTIFICATE-----" block)');
  }
  try {
    new X509Certificate(pem);
  } catch (err) {
    throw new TLSFileNotPEMError(file, role, `certificate: ${messageOf(err)}`, { cause: err });
  }
  return pem;
}

function checkKey(pem: Buffer, file: string, role: string): Buffer {
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem.toString('latin1'))) {
    throw new TLSFileNotPEMError(file, role, 'private key (no "-----BEGIN ... PRIVATE KEY-----" block)');
  }
  parseKey(pem, file, role);
  return pem;
}

function parseKey(pem: Buffer, file: string, role: string): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch (err) {
    throw new TLSFileNotPEMError(file, role, `private key: ${messageOf(err)}`, { cause: err });
  }
}

function checkKeyMatches(cert: Buffer, key: Buffer, certFile: string, keyFile: string): void {
  if (!new X509Certificate(cert).checkPrivateKey(parseKey(key, keyFile, 'private key'))) {
    throw new TLSKeyMismatchError(certFile, keyFile);
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
