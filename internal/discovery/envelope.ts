// Signed claims. A claim is believed only if it arrives in an envelope signed by the key of a certificate
// that chains to the cluster CA and whose common name is the member the claim speaks for. This is what keeps
// a node without a cluster certificate out of members() and stops it from accusing anyone.
import { X509Certificate, createPrivateKey, sign, verify, type KeyObject } from 'node:crypto';
import {
  BadSignatureError,
  MalformedMessageError,
  MembershipConfigError,
  SignerMismatchError,
  UntrustedCertificateError,
} from './errors.js';
import { parseClaim, signerOf, type Claim } from './message.js';

/** What travels on the wire: the claim's exact JSON text, its signature (base64) and the signer's cert PEM. */
export interface Envelope {
  claim: string;
  sig: string;
  cert: string;
}

/** A claim whose envelope has been verified (or that this node sealed itself). */
export interface Signed<C extends Claim = Claim> {
  claim: C;
  envelope: Envelope;
}

// RSA and EC keys sign a SHA-256 digest; Ed25519/Ed448 sign the message itself and take no digest name.
function digestFor(key: KeyObject): string | null {
  return key.asymmetricKeyType === 'ed25519' || key.asymmetricKeyType === 'ed448' ? null : 'sha256';
}

function commonName(cert: X509Certificate): string | undefined {
  for (const part of cert.subject.split('\n')) {
    if (part.startsWith('CN=')) return part.slice(3);
  }
  return undefined;
}

function splitPem(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

interface TrustedSigner {
  name: string;
  key: KeyObject;
  notAfter: number;
}

/** The cluster CA: decides which envelopes to believe. Caches verified certificates by their PEM. */
export class ClusterTrust {
  private readonly cas: X509Certificate[];
  private readonly verified = new Map<string, TrustedSigner>();
  private static readonly cacheLimit = 1024;

  constructor(caPem: string) {
    try {
      this.cas = splitPem(caPem).map((p) => new X509Certificate(p));
    } catch (err) {
      throw new MembershipConfigError('tls.caPem does not parse as PEM certificates', { cause: err });
    }
    if (this.cas.length === 0) throw new MembershipConfigError('tls.caPem holds no certificate');
  }

  /** Verifies a certificate against the CA and returns who it names. */
  trustCertificate(certPem: string, now = Date.now()): TrustedSigner {
    const cached = this.verified.get(certPem);
    if (cached && now <= cached.notAfter) return cached;
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(certPem);
    } catch (err) {
      throw new UntrustedCertificateError('certificate does not parse', { cause: err });
    }
    if (!this.cas.some((ca) => cert.checkIssued(ca) && cert.verify(ca.publicKey))) {
      throw new UntrustedCertificateError(`certificate of ${cert.subject.replace(/\n/g, ', ')} is not issued by the cluster CA`);
    }
    const notBefore = Date.parse(cert.validFrom);
    const notAfter = Date.parse(cert.validTo);
    if (!(now >= notBefore && now <= notAfter)) {
      throw new UntrustedCertificateError(`certificate is not valid now (valid ${cert.validFrom} to ${cert.validTo})`);
    }
    const name = commonName(cert);
    if (!name) throw new UntrustedCertificateError('certificate has no common name');
    const signer = { name, key: cert.publicKey, notAfter };
    if (this.verified.size >= ClusterTrust.cacheLimit) this.verified.clear();
    this.verified.set(certPem, signer);
    return signer;
  }

  /** Parses and verifies an envelope; throws a RejectedMessageError subclass for anything not believable. */
  open(raw: unknown): Signed {
    const envelope = asEnvelope(raw);
    const signer = this.trustCertificate(envelope.cert);
    const sig = Buffer.from(envelope.sig, 'base64');
    const data = Buffer.from(envelope.claim, 'utf8');
    let ok: boolean;
    try {
      ok = verify(digestFor(signer.key), data, signer.key, sig);
    } catch (err) {
      throw new BadSignatureError('signature cannot be checked', { cause: err });
    }
    if (!ok) throw new BadSignatureError(`signature by ${signer.name} does not match the claim`);
    const claim = parseClaim(envelope.claim);
    const expected = signerOf(claim);
    if (expected !== signer.name) {
      throw new SignerMismatchError(`a ${claim.type} claim for ${expected} was signed by ${signer.name}`);
    }
    return { claim, envelope };
  }
}

function asEnvelope(raw: unknown): Envelope {
  if (typeof raw !== 'object' || raw === null) throw new MalformedMessageError('envelope is not an object');
  const o = raw as Record<string, unknown>;
  const { claim, sig, cert } = o;
  if (typeof claim !== 'string' || typeof sig !== 'string' || typeof cert !== 'string') {
    throw new MalformedMessageError('envelope needs string fields claim, sig and cert');
  }
  if (claim.length > 16_384 || sig.length > 2048 || cert.length > 16_384) {
    throw new MalformedMessageError('envelope field too large');
  }
  return { claim, sig, cert };
}

/** This node's certificate and key: seals the claims it makes. */
export class NodeIdentity {
  private readonly key: KeyObject;

  constructor(
    readonly name: string,
    private readonly certPem: string,
    keyPem: string,
    trust: ClusterTrust,
  ) {
    try {
      this.key = createPrivateKey(keyPem);
    } catch (err) {
      throw new MembershipConfigError('tls.keyPem does not parse as a private key', { cause: err });
    }
    let signer: TrustedSigner;
    try {
      signer = trust.trustCertificate(certPem);
    } catch (err) {
      throw new MembershipConfigError(`tls.certPem is not usable: ${(err as Error).message}`, { cause: err });
    }
    if (signer.name !== name) {
      throw new MembershipConfigError(`certificate common name ${signer.name} is not the node name ${name}`);
    }
    const probe = Buffer.from('proglog membership key check');
    if (!verify(digestFor(signer.key), probe, signer.key, sign(digestFor(this.key), probe, this.key))) {
      throw new MembershipConfigError('tls.keyPem is not the key of tls.certPem');
    }
  }

  seal<C extends Claim>(claim: C): Signed<C> {
    const text = JSON.stringify(claim);
    const sig = sign(digestFor(this.key), Buffer.from(text, 'utf8'), this.key).toString('base64');
    return { claim, envelope: { claim: text, sig, cert: this.certPem } };
  }
}
