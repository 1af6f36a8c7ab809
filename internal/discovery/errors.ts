// One class per kind of failure, so callers can branch on `instanceof` instead of parsing messages.

export class DiscoveryError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The configuration cannot work (bad address, missing TLS material, nonsensical timings). */
export class MembershipConfigError extends DiscoveryError {}

/** None of the start-join addresses answered, so this node would start as a cluster of one by mistake. */
export class JoinError extends DiscoveryError {
  constructor(
    readonly addrs: string[],
    readonly causes: unknown[],
  ) {
    // The last one tried says why, in the one line a person starting a node sees.
    const last = causes[causes.length - 1];
    const why = last === undefined ? '' : ` (last failure: ${(last instanceof Error ? last.message : String(last)).split('\n')[0]})`;
    super(`could not join through any of ${addrs.join(', ')}${why}`, { cause: last });
  }
}

/** Base of every reason a received message is refused; the message changes nothing. */
export class RejectedMessageError extends DiscoveryError {}

/** Not a message of this protocol: bad JSON, missing fields, wrong types, too large. */
export class MalformedMessageError extends RejectedMessageError {}

/** The certificate does not chain to the cluster CA, is expired, or cannot be parsed. */
export class UntrustedCertificateError extends RejectedMessageError {}

/** The signature does not match the body under the certificate's key. */
export class BadSignatureError extends RejectedMessageError {}

/** The certificate's common name is not the member the message speaks for. */
export class SignerMismatchError extends RejectedMessageError {}

/** The membership was used after `leave()` or `stop()`. */
export class MembershipStoppedError extends DiscoveryError {}

/** The other member closed a direct exchange without answering: it refused our request or is shutting down. */
export class ExchangeRefusedError extends DiscoveryError {}

/** A direct exchange did not happen: the address did not answer, in time or at all, or is not a member. */
export class ExchangeFailedError extends DiscoveryError {}
