import { KeyObject, X509Certificate, randomBytes, sign, webcrypto } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';

/** Certificates made in memory for path-validation tests: ECDSA P-256, dates relative to now. */
const engine = new pkijs.CryptoEngine({ name: 'test-pki', crypto: webcrypto as unknown as Crypto });
const HOUR = 3600_000;

export interface TestCertificate {
  x509: X509Certificate;
  pem: string;
  cert: pkijs.Certificate;
  keys: CryptoKeyPair;
}

/** A name-constraint subtree or a subjectAltName entry. */
export type TestName = { dns: string } | { email: string } | { dn: string[][] } | { uri: string } | { ip: string } | { ipRange: [address: string, mask: string] };

export interface TestProfile {
  /** Subject RDNs, each [attribute OID, value]; a string is a common name under O=Test. */
  subject: string | string[][];
  /** basicConstraints: `{ pathLen }` for a CA, false for cA=FALSE, null to leave it out. */
  ca?: { pathLen?: number } | false | null;
  /** keyUsage bits (0 digitalSignature, 5 keyCertSign, 6 cRLSign); null leaves the extension out. */
  keyUsage?: number[] | null;
  altNames?: TestName[];
  nameConstraints?: { permitted?: TestName[]; excluded?: TestName[] };
  notBefore?: Date;
  notAfter?: Date;
  /** The key pair to certify (a re-issued CA keeps its key); a new P-256 pair when left out. */
  keys?: CryptoKeyPair;
  /** Extensions added as they are: [OID, critical]. */
  extra?: [string, boolean][];
}

export const CN = '2.5.4.3';
export const O = '2.5.4.10';
export const EMAIL = '1.2.840.113549.1.9.1';

function rdns(subject: TestProfile['subject']): pkijs.RelativeDistinguishedNames {
  const list = typeof subject === 'string' ? [[O, 'Test'], [CN, subject]] : subject;
  const set = ([type, value]: string[]) =>
    new asn1js.Set({
      value: [new pkijs.AttributeTypeAndValue({ type: type!, value: (type === EMAIL ? new asn1js.IA5String({ value: value! }) : new asn1js.Utf8String({ value: value! })) as never }).toSchema()],
    });
  return pkijs.RelativeDistinguishedNames.fromBER(new asn1js.Sequence({ value: list.map(set) }).toBER(false));
}

function generalName(name: TestName): pkijs.GeneralName {
  if ('dns' in name) return new pkijs.GeneralName({ type: 2, value: name.dns });
  if ('email' in name) return new pkijs.GeneralName({ type: 1, value: name.email });
  if ('uri' in name) return new pkijs.GeneralName({ type: 6, value: name.uri });
  if ('ip' in name || 'ipRange' in name) {
    const bytes = ('ip' in name ? [name.ip] : name.ipRange).flatMap((address) => address.split('.').map(Number));
    return new pkijs.GeneralName({ type: 7, value: new asn1js.OctetString({ valueHex: new Uint8Array(bytes).buffer }) });
  }
  return new pkijs.GeneralName({ type: 4, value: rdns(name.dn) });
}

const ext = (extnID: string, critical: boolean, value: { toSchema(): asn1js.BaseBlock }) => new pkijs.Extension({ extnID, critical, extnValue: value.toSchema().toBER(false) });

function keyUsage(bits: number[]): pkijs.Extension {
  let value = 0;
  for (const b of bits) value |= 0x80 >> b;
  let unusedBits = 0;
  while (value && unusedBits < 7 && !(value & (1 << unusedBits))) unusedBits++;
  return new pkijs.Extension({ extnID: '2.5.29.15', critical: true, extnValue: new asn1js.BitString({ valueHex: new Uint8Array([value]).buffer, unusedBits }).toBER(false) });
}

/**
 * ecdsa-with-SHA256 by node:crypto, which writes the signature in strict DER (pkijs' conversion
 * from WebCrypto's raw form now and then leaves a padding byte that OpenSSL refuses).
 */
function signTbs(target: pkijs.Certificate | pkijs.CertificateRevocationList, key: CryptoKey): void {
  const algorithm = () => new pkijs.AlgorithmIdentifier({ algorithmId: '1.2.840.10045.4.3.2' });
  target.signature = algorithm();
  target.signatureAlgorithm = algorithm();
  const tbs = (target as unknown as { encodeTBS(): asn1js.Sequence }).encodeTBS().toBER(false);
  target.tbsView = new Uint8Array(tbs);
  const signature = sign('sha256', new Uint8Array(tbs), { key: KeyObject.from(key), dsaEncoding: 'der' });
  target.signatureValue = new asn1js.BitString({ valueHex: new Uint8Array(signature).buffer });
}

function toPem(der: ArrayBuffer): string {
  return `-----BEGIN CERTIFICATE-----\n${Buffer.from(der).toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`;
}

/** Issues a certificate; without an issuer it is self-signed. CAs get keyCertSign and cRLSign unless told otherwise. */
export async function issue(profile: TestProfile, issuer?: TestCertificate): Promise<TestCertificate> {
  const keys = profile.keys ?? (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as CryptoKeyPair;
  const cert = new pkijs.Certificate();
  cert.version = 2;
  const serial = randomBytes(12);
  serial[0] = (serial[0]! & 0x7f) | 0x40; // positive, and no leading zero byte (DER wants the shortest form)
  cert.serialNumber = new asn1js.Integer({ valueHex: serial });
  cert.subject = rdns(profile.subject);
  cert.issuer = issuer ? issuer.cert.subject : cert.subject;
  cert.notBefore.value = profile.notBefore ?? new Date(Date.now() - HOUR);
  cert.notAfter.value = profile.notAfter ?? new Date(Date.now() + 24 * HOUR);
  await cert.subjectPublicKeyInfo.importKey(keys.publicKey, engine);
  const ca = profile.ca === undefined ? false : profile.ca;
  const extensions: pkijs.Extension[] = [];
  if (ca !== null) extensions.push(ext('2.5.29.19', true, new pkijs.BasicConstraints({ cA: ca !== false, ...(ca && ca.pathLen !== undefined ? { pathLenConstraint: ca.pathLen } : {}) })));
  const usage = profile.keyUsage === undefined ? (ca ? [5, 6] : [0]) : profile.keyUsage;
  if (usage) extensions.push(keyUsage(usage));
  if (profile.altNames) extensions.push(ext('2.5.29.17', false, new pkijs.GeneralNames({ names: profile.altNames.map(generalName) })));
  if (profile.nameConstraints) {
    const subtrees = (names?: TestName[]) => names?.map((n) => new pkijs.GeneralSubtree({ base: generalName(n) }));
    const permittedSubtrees = subtrees(profile.nameConstraints.permitted);
    const excludedSubtrees = subtrees(profile.nameConstraints.excluded);
    extensions.push(ext('2.5.29.30', true, new pkijs.NameConstraints({ ...(permittedSubtrees ? { permittedSubtrees } : {}), ...(excludedSubtrees ? { excludedSubtrees } : {}) })));
  }
  for (const [oid, critical] of profile.extra ?? []) extensions.push(new pkijs.Extension({ extnID: oid, critical, extnValue: new asn1js.Null().toBER(false) }));
  if (extensions.length) cert.extensions = extensions;
  signTbs(cert, (issuer ?? { keys }).keys.privateKey);
  const pem = toPem(cert.toSchema(false).toBER(false));
  return { x509: new X509Certificate(pem), pem, cert, keys };
}

/** A CRL signed by `issuer`, listing the given certificates, issued an hour ago and due in a day. */
export function crl(issuer: TestCertificate, revoked: TestCertificate[] = []): Buffer {
  const list = new pkijs.CertificateRevocationList();
  list.version = 1;
  list.issuer = issuer.cert.subject;
  list.thisUpdate = new pkijs.Time({ type: 0, value: new Date(Date.now() - HOUR) });
  list.nextUpdate = new pkijs.Time({ type: 0, value: new Date(Date.now() + 24 * HOUR) });
  if (revoked.length) list.revokedCertificates = revoked.map((r) => new pkijs.RevokedCertificate({ userCertificate: r.cert.serialNumber, revocationDate: new pkijs.Time({ type: 0, value: new Date(Date.now() - HOUR) }) }));
  signTbs(list, issuer.keys.privateKey);
  return Buffer.from(list.toSchema(false).toBER(false));
}
