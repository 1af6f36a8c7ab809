import { ClusterTrust, NodeIdentity } from './envelope.js';
import { BadSignatureError, MalformedMessageError, MembershipConfigError, SignerMismatchError, UntrustedCertificateError } from './errors.js';
import type { AliveClaim } from './message.js';
import { createTestCa, type TestCa } from './testkit/certs.js';

const claimOf = (name: string): AliveClaim => ({ type: 'alive', name, incarnation: 1, tags: { rpc_addr: 'h:1' }, addr: 'h:2', peerId: 'p' });

describe('signed envelopes', () => {
  let ca: TestCa;
  let trust: ClusterTrust;
  let n1: NodeIdentity;
  beforeAll(async () => {
    ca = await createTestCa();
    trust = new ClusterTrust(ca.certPem);
    const tls = await ca.issue('n1');
    n1 = new NodeIdentity('n1', tls.certPem, tls.keyPem, trust);
  });

  test('a claim sealed by a cluster member opens to the same claim', () => {
    const sealed = n1.seal(claimOf('n1'));
    expect(trust.open(JSON.parse(JSON.stringify(sealed.envelope))).claim).toEqual(claimOf('n1'));
  });

  test('a certificate from another CA is untrusted', async () => {
    const foreign = await (await createTestCa('rogue CA')).issue('n1');
    const rogue = new NodeIdentity('n1', foreign.certPem, foreign.keyPem, new ClusterTrust(foreign.caPem));
    expect(() => trust.open(rogue.seal(claimOf('n1')).envelope)).toThrow(UntrustedCertificateError);
  });

  test('an expired certificate is untrusted', async () => {
    const expired = await ca.issue('n1', -1);
    expect(() => trust.trustCertificate(expired.certPem)).toThrow(UntrustedCertificateError);
  });

  test('a claim altered after signing fails its signature', () => {
    const { envelope } = n1.seal(claimOf('n1'));
    const altered = { ...envelope, claim: envelope.claim.replace('"incarnation":1', '"incarnation":9') };
    expect(() => trust.open(altered)).toThrow(BadSignatureError);
  });

  test('a member cannot speak for another: the claim must name the certificate holder', () => {
    expect(() => trust.open(n1.seal(claimOf('n2')).envelope)).toThrow(SignerMismatchError);
    expect(() => trust.open(n1.seal({ type: 'failed', name: 'n2', incarnation: 1, from: 'n3' }).envelope)).toThrow(SignerMismatchError);
    expect(trust.open(n1.seal({ type: 'failed', name: 'n2', incarnation: 1, from: 'n1' }).envelope).claim.type).toBe('failed');
  });

  test('garbage is malformed, not a crash', () => {
    expect(() => trust.open(null)).toThrow(MalformedMessageError);
    expect(() => trust.open({ claim: 1, sig: 'x', cert: 'y' })).toThrow(MalformedMessageError);
    expect(() => trust.open({ claim: '{}', sig: 'x', cert: 'not a cert' })).toThrow(UntrustedCertificateError);
    const { envelope } = n1.seal(claimOf('n1'));
    expect(() => trust.open({ ...envelope, claim: 'x'.repeat(20_000) })).toThrow(MalformedMessageError);
  });

  test('an identity is refused at start when its certificate names someone else or its key does not match', async () => {
    const tls = await ca.issue('n1');
    const other = await ca.issue('n2');
    expect(() => new NodeIdentity('n9', tls.certPem, tls.keyPem, trust)).toThrow(MembershipConfigError);
    expect(() => new NodeIdentity('n1', tls.certPem, other.keyPem, trust)).toThrow(MembershipConfigError);
    expect(() => new ClusterTrust('no pem here')).toThrow(MembershipConfigError);
  });
});
