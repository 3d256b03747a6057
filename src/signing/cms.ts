import { X509Certificate, createHash, sign as signCallback, verify as verifyCallback, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import type { Credentials, TrustStore } from './trust-store.ts';

/**
 * CMS SignedData (RFC 5652): pkijs and asn1js encode and decode the pieces, node:crypto signs and
 * verifies. pkijs's own `sign()`/`verify()` are not used: they add no signed attributes, and
 * `verify()` skips the chain unless asked (see PITFALLS); here the chain always goes through the
 * trust store, which also applies the CRLs. Output is DER throughout (sorted signed attributes,
 * certificates byte for byte, no empty sets, primitive eContent).
 */

export const OID = {
  data: '1.2.840.113549.1.7.1',
  signedData: '1.2.840.113549.1.7.2',
  tstInfo: '1.2.840.113549.1.9.16.1.4',
  contentType: '1.2.840.113549.1.9.3',
  messageDigest: '1.2.840.113549.1.9.4',
  signingTime: '1.2.840.113549.1.9.5',
  signingCertificate: '1.2.840.113549.1.9.16.2.12',
  signingCertificateV2: '1.2.840.113549.1.9.16.2.47',
  sha1: '1.3.14.3.2.26',
  sha256: '2.16.840.1.101.3.4.2.1',
  sha384: '2.16.840.1.101.3.4.2.2',
  sha512: '2.16.840.1.101.3.4.2.3',
  rsaEncryption: '1.2.840.113549.1.1.1',
  sha256WithRSAEncryption: '1.2.840.113549.1.1.11',
  sha384WithRSAEncryption: '1.2.840.113549.1.1.12',
  sha512WithRSAEncryption: '1.2.840.113549.1.1.13',
  ecdsaWithSHA256: '1.2.840.10045.4.3.2',
  ecdsaWithSHA384: '1.2.840.10045.4.3.3',
  ecdsaWithSHA512: '1.2.840.10045.4.3.4',
  subjectKeyIdentifier: '2.5.29.14',
  extendedKeyUsage: '2.5.29.37',
  timeStamping: '1.3.6.1.5.5.7.3.8',
} as const;

export type HashName = 'sha1' | 'sha256' | 'sha384' | 'sha512';

/** Digest algorithms by OID, with their output length. SHA-1 is known only to read ESS v1 attributes. */
export const DIGESTS: Readonly<Record<string, { name: HashName; length: number }>> = {
  [OID.sha1]: { name: 'sha1', length: 20 },
  [OID.sha256]: { name: 'sha256', length: 32 },
  [OID.sha384]: { name: 'sha384', length: 48 },
  [OID.sha512]: { name: 'sha512', length: 64 },
};

/** Signature algorithms accepted on signerInfos; `hash` undefined means "the signerInfo's digestAlgorithm". */
const SIGNATURE_ALGORITHMS: Readonly<Record<string, { key: 'rsa' | 'ec'; hash?: HashName }>> = {
  [OID.rsaEncryption]: { key: 'rsa' },
  [OID.sha256WithRSAEncryption]: { key: 'rsa', hash: 'sha256' },
  [OID.sha384WithRSAEncryption]: { key: 'rsa', hash: 'sha384' },
  [OID.sha512WithRSAEncryption]: { key: 'rsa', hash: 'sha512' },
  [OID.ecdsaWithSHA256]: { key: 'ec', hash: 'sha256' },
  [OID.ecdsaWithSHA384]: { key: 'ec', hash: 'sha384' },
  [OID.ecdsaWithSHA512]: { key: 'ec', hash: 'sha512' },
};

export type CmsFailure =
  | 'malformed'
  | 'unsupported'
  | 'not-detached'
  | 'content-type'
  | 'digest-mismatch'
  | 'bad-signature'
  | 'no-signer-certificate'
  | 'untrusted';

/** Why a CMS signature was refused; `untrusted` carries the trust store's GatewayError as `cause`. */
export class CmsError extends Error {
  readonly reason: CmsFailure;
  constructor(reason: CmsFailure, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CmsError';
    this.reason = reason;
  }
}

const sign = promisify(signCallback);
const verify = promisify(verifyCallback);

export const sha = (name: HashName, data: Uint8Array): Buffer => createHash(name).update(data).digest();

/** Decodes exactly one BER/DER value; trailing bytes are refused. */
export function decodeAsn1(der: Uint8Array, what: string): asn1js.AsnType {
  const view = new Uint8Array(der.buffer, der.byteOffset, der.byteLength);
  const asn1 = asn1js.fromBER(view);
  if (asn1.offset === -1) throw new CmsError('malformed', `${what} is not valid ASN.1: ${asn1.result.error}`);
  if (asn1.offset !== view.byteLength) throw new CmsError('malformed', `${what} is followed by ${view.byteLength - asn1.offset} stray bytes`);
  return asn1.result;
}

/** Runs a pkijs parser, turning its exceptions into `malformed`. */
export function parseWith<T>(what: string, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof CmsError) throw err;
    throw new CmsError('malformed', `${what} does not parse: ${(err as Error).message}`, { cause: err });
  }
}

const der = (block: { toBER(sizeOnly?: boolean): ArrayBuffer }): Buffer => Buffer.from(block.toBER(false));

/** X.690 order for the elements of a SET OF: as octet strings, the shorter padded with zeros. */
export function compareDer(a: Uint8Array, b: Uint8Array): number {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x - y;
  }
  return a.length - b.length;
}

/** DER length octets. */
function derLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const octets: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) octets.unshift(n & 0xff);
  return Buffer.from([0x80 | octets.length, ...octets]);
}

/** One DER TLV around already-encoded content, byte for byte (0x30 SEQUENCE, 0xA0 [0] constructed, ...). */
export function derTlv(tag: number, ...content: Uint8Array[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), derLength(body.length), body]);
}

/** Attributes in DER SET OF order, as signed attributes must be. */
export function sortAttributes(attributes: pkijs.Attribute[]): pkijs.Attribute[] {
  return attributes
    .map((attribute) => ({ attribute, encoding: der(attribute.toSchema()) }))
    .sort((a, b) => compareDer(a.encoding, b.encoding))
    .map((e) => e.attribute);
}

/** A signing-time value: UTCTime for 1950-2049 as RFC 5652 requires, GeneralizedTime otherwise. */
function timeValue(date: Date): asn1js.UTCTime | asn1js.GeneralizedTime {
  const seconds = new Date(Math.floor(date.getTime() / 1000) * 1000);
  const year = seconds.getUTCFullYear();
  return year >= 1950 && year < 2050 ? new asn1js.UTCTime({ valueDate: seconds }) : new asn1js.GeneralizedTime({ valueDate: seconds });
}

/**
 * ESS signingCertificateV2 (RFC 5035) naming `certificate` by its SHA-256 hash (the default
 * algorithm, hence left out) and issuer and serial number. `openssl ts -verify` requires it.
 */
export function signingCertificateV2Attribute(certificate: X509Certificate): pkijs.Attribute {
  const parsed = pkijs.Certificate.fromBER(new Uint8Array(certificate.raw));
  const issuerSerial = new asn1js.Sequence({
    value: [
      new asn1js.Sequence({ value: [new asn1js.Constructed({ idBlock: { tagClass: 3, tagNumber: 4 }, value: [parsed.issuer.toSchema()] })] }),
      new asn1js.Integer({ valueHex: parsed.serialNumber.valueBlock.valueHexView.slice() }),
    ],
  });
  const essCertIdV2 = new asn1js.Sequence({ value: [new asn1js.OctetString({ valueHex: sha('sha256', certificate.raw) }), issuerSerial] });
  return new pkijs.Attribute({
    type: OID.signingCertificateV2,
    values: [new asn1js.Sequence({ value: [new asn1js.Sequence({ value: [essCertIdV2] })] })],
  });
}

interface PreparedSigner {
  sid: pkijs.IssuerAndSerialNumber;
  signatureAlgorithm: () => pkijs.AlgorithmIdentifier;
  /** The [0] IMPLICIT CertificateSet: the signer and its chain as they are, in DER SET OF order. */
  certificateSet: Buffer | undefined;
}

const prepared = new WeakMap<Credentials, PreparedSigner>();

function signatureAlgorithmFor(key: KeyObject): () => pkijs.AlgorithmIdentifier {
  if (key.asymmetricKeyType === 'rsa' && (key.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048) {
    return () => new pkijs.AlgorithmIdentifier({ algorithmId: OID.sha256WithRSAEncryption, algorithmParams: new asn1js.Null() });
  }
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') {
    return () => new pkijs.AlgorithmIdentifier({ algorithmId: OID.ecdsaWithSHA256 });
  }
  throw new Error(`CMS signing needs an RSA-2048+ or EC P-256 key (got ${key.asymmetricKeyType} ${key.asymmetricKeyDetails?.namedCurve ?? key.asymmetricKeyDetails?.modulusLength ?? ''})`);
}

function prepare(credentials: Credentials): PreparedSigner {
  const cached = prepared.get(credentials);
  if (cached) return cached;
  if (credentials.key.type !== 'private') throw new Error('CMS signing needs a private key');
  const signatureAlgorithm = signatureAlgorithmFor(credentials.key);
  if (!credentials.certificate.checkPrivateKey(credentials.key)) throw new Error('the signing key does not belong to the certificate');
  const signer = pkijs.Certificate.fromBER(new Uint8Array(credentials.certificate.raw));
  const raws = [credentials.certificate, ...credentials.chain].map((c) => c.raw).sort(compareDer);
  const entry: PreparedSigner = {
    sid: new pkijs.IssuerAndSerialNumber({ issuer: signer.issuer, serialNumber: signer.serialNumber }),
    signatureAlgorithm,
    certificateSet: raws.length > 0 ? derTlv(0xa0, ...raws) : undefined,
  };
  prepared.set(credentials, entry);
  return entry;
}

/** An attribute whose values are given already DER-encoded (carried byte for byte, e.g. a timestamp token). */
export interface EncodedAttribute {
  type: string;
  values: Uint8Array[];
}

export interface SignedDataInput {
  /** The content signed (its SHA-256 goes in the message-digest attribute). Required unless `contentDigest` is given. */
  content?: Uint8Array;
  /**
   * The SHA-256 of content signed without being at hand (content streamed elsewhere): goes in the
   * message-digest attribute as it is. Only for a detached signature.
   */
  contentDigest?: Uint8Array;
  /** eContentType: id-data unless given (id-ct-TSTInfo for timestamp tokens). */
  contentType?: string;
  /** Leave the content out of the SignedData (a detached signature). */
  detached?: boolean;
  credentials: Credentials;
  /** Certificates to carry: the signer and its chain (default), or none (the set is then omitted). */
  certificates?: 'chain' | 'none';
  /** Signed attributes besides content-type, signing-time and message-digest. */
  attributes?: pkijs.Attribute[];
  /** The signing-time attribute's value (now unless given); null leaves the attribute out (PAdES puts the time in /M). */
  signingTime?: Date | null;
  /**
   * Unsigned attributes, or a function answering them from the signature value (a signature
   * timestamp is over the value, so it can only be asked for once the signature exists).
   */
  unsignedAttributes?: EncodedAttribute[] | ((signatureValue: Buffer) => Promise<EncodedAttribute[]>);
}

/** An Attribute ::= SEQUENCE { attrType, attrValues SET } around values already in DER, byte for byte. */
function encodeAttribute(attribute: EncodedAttribute): Buffer {
  const values = attribute.values.map((v) => Buffer.from(v.buffer, v.byteOffset, v.byteLength)).sort(compareDer);
  return derTlv(0x30, der(new asn1js.ObjectIdentifier({ value: attribute.type })), derTlv(0x31, ...values));
}

/** The content octets of one DER TLV (what follows its tag and length). */
function tlvContent(encoded: Buffer): Buffer {
  const first = encoded[1]!;
  return encoded.subarray(first & 0x80 ? 2 + (first & 0x7f) : 2);
}

/**
 * A CMS ContentInfo holding a SignedData with one signer, in DER: signed attributes content-type,
 * signing-time and message-digest (plus any given), DER-sorted; SHA-256 with the key's algorithm
 * (sha256WithRSAEncryption or ecdsa-with-SHA256); issuerAndSerialNumber as signer identifier.
 */
export async function createSignedData(input: SignedDataInput): Promise<Buffer> {
  const signer = prepare(input.credentials);
  const contentType = input.contentType ?? OID.data;
  if (input.content === undefined && input.contentDigest === undefined) throw new Error('CMS signing needs the content or its digest');
  if (input.content === undefined && !input.detached) throw new Error('a signature over a content digest must be detached');
  if (input.contentDigest !== undefined && input.contentDigest.byteLength !== 32) throw new RangeError(`a SHA-256 digest has 32 bytes, not ${input.contentDigest.byteLength}`);
  const digest = input.contentDigest ?? sha('sha256', input.content!);
  const attributes = sortAttributes([
    new pkijs.Attribute({ type: OID.contentType, values: [new asn1js.ObjectIdentifier({ value: contentType })] }),
    ...(input.signingTime === null ? [] : [new pkijs.Attribute({ type: OID.signingTime, values: [timeValue(input.signingTime ?? new Date())] })]),
    new pkijs.Attribute({ type: OID.messageDigest, values: [new asn1js.OctetString({ valueHex: new Uint8Array(digest) })] }),
    ...(input.attributes ?? []),
  ]);
  const signedAttrs = new pkijs.SignedAndUnsignedAttributes({ type: 0, attributes });
  // The signature covers the attributes encoded as a SET (tag 0x31), not as the [0] they travel in.
  const toBeSigned = der(signedAttrs.toSchema());
  toBeSigned[0] = 0x31;
  const signature = await sign('sha256', toBeSigned, input.credentials.key);

  const signerInfo = new pkijs.SignerInfo({
    version: 1,
    sid: signer.sid,
    digestAlgorithm: new pkijs.AlgorithmIdentifier({ algorithmId: OID.sha256 }),
    signedAttrs,
    signatureAlgorithm: signer.signatureAlgorithm(),
    signature: new asn1js.OctetString({ valueHex: signature }),
  });
  let signerInfoDer = der(signerInfo.toSchema());
  const unsigned = typeof input.unsignedAttributes === 'function' ? await input.unsignedAttributes(Buffer.from(signature)) : (input.unsignedAttributes ?? []);
  if (unsigned.length > 0) {
    // unsignedAttrs [1] IMPLICIT SET OF Attribute, DER-sorted, appended to the SignerInfo as built.
    const encoded = unsigned.map(encodeAttribute).sort(compareDer);
    signerInfoDer = derTlv(0x30, tlvContent(signerInfoDer), derTlv(0xa1, ...encoded));
  }
  // eContent is assigned after construction: the constructor would turn it into a BER constructed OCTET STRING.
  const encapContentInfo = new pkijs.EncapsulatedContentInfo({ eContentType: contentType });
  if (!input.detached) encapContentInfo.eContent = new asn1js.OctetString({ valueHex: new Uint8Array(input.content!) });
  // SignedData assembled here rather than by pkijs, so that the certificates travel byte for byte
  // (pkijs would re-encode each one) and an empty certificate set is simply left out.
  // Version (RFC 5652 §5.1): 3 when the content is not id-data, else 1 (X.509 certificates, v1 signerInfo).
  const signedData = derTlv(
    0x30,
    der(new asn1js.Integer({ value: contentType === OID.data ? 1 : 3 })),
    der(new asn1js.Set({ value: [new pkijs.AlgorithmIdentifier({ algorithmId: OID.sha256 }).toSchema()] })),
    der(encapContentInfo.toSchema()),
    ...(input.certificates !== 'none' && signer.certificateSet ? [signer.certificateSet] : []),
    derTlv(0x31, signerInfoDer),
  );
  return derTlv(0x30, der(new asn1js.ObjectIdentifier({ value: OID.signedData })), derTlv(0xa0, signedData));
}

/**
 * A detached CMS signature (DER, the `.p7s`) over `content` by the gateway credentials, carrying
 * the signer certificate and its intermediates.
 */
export function signDetached(content: Uint8Array, credentials: Credentials): Promise<Buffer> {
  return createSignedData({ content, credentials, detached: true });
}

export interface SignedDataCheck {
  trust: TrustStore;
  /** The content of a detached signature; must be absent for attached content. */
  content?: Uint8Array;
  /**
   * Instead of `content`, the SHA-256 of the content of a detached signature (content streamed
   * elsewhere): the message-digest attribute must equal it. `content` is then answered empty.
   */
  contentDigest?: Uint8Array;
  /** The eContentType required (id-data unless given). */
  contentType?: string;
  /** Where to look for the signer's certificate besides the SignedData's own set. */
  certificates?: X509Certificate[];
  /** The time the chain is judged at (now unless given). */
  at?: Date;
}

export interface VerifiedSignedData {
  signer: X509Certificate;
  /** The signer's certificate as pkijs parsed it (extensions, issuer and serial). */
  signerCertificate: pkijs.Certificate;
  /** Every certificate the SignedData carried. */
  certificates: X509Certificate[];
  signingTime?: Date;
  contentType: string;
  /** The content signed: the detached content given, or the eContent. */
  content: Buffer;
  signedAttributes: pkijs.Attribute[];
}

function octets(block: asn1js.AsnType): Buffer {
  if (!(block instanceof asn1js.OctetString)) throw new CmsError('malformed', 'expected an OCTET STRING');
  if (!block.idBlock.isConstructed) return Buffer.from(block.valueBlock.valueHexView);
  // BER constructed OCTET STRING: the value is the concatenation of its pieces.
  return Buffer.concat(block.valueBlock.value.map((piece) => octets(piece)));
}

export interface SignedDataParts {
  contentType: string;
  /** The eContent, when the content is carried (BER pieces joined). */
  content?: Buffer;
  /** The X.509 certificates carried, as raw DER (other certificate formats are skipped). */
  certificates: Uint8Array[];
  signerInfos: pkijs.SignerInfo[];
}

const isContext = (block: asn1js.AsnType | undefined, tagNumber: number): block is asn1js.Constructed =>
  block instanceof asn1js.Constructed && block.idBlock.tagClass === 3 && block.idBlock.tagNumber === tagNumber;

/**
 * The parts of a ContentInfo holding a SignedData, read field by field. pkijs parses only the
 * encapContentInfo and the signerInfos: its SignedData class would parse every certificate
 * again on each call, which was most of the cost of a verification.
 */
export function parseSignedData(signedData: Uint8Array | asn1js.AsnType): SignedDataParts {
  const top = signedData instanceof Uint8Array ? decodeAsn1(signedData, 'the CMS message') : signedData;
  const [type, wrapped, ...extra] = top instanceof asn1js.Sequence ? (top.valueBlock.value as asn1js.AsnType[]) : [];
  if (!(type instanceof asn1js.ObjectIdentifier) || !isContext(wrapped, 0) || extra.length > 0) throw new CmsError('malformed', 'not a CMS ContentInfo');
  if (type.valueBlock.toString() !== OID.signedData) throw new CmsError('malformed', `the ContentInfo holds ${type.valueBlock.toString()}, not SignedData`);
  const [inner, ...more] = wrapped.valueBlock.value as asn1js.AsnType[];
  if (!(inner instanceof asn1js.Sequence) || more.length > 0) throw new CmsError('malformed', 'the ContentInfo does not hold one SignedData');
  // SignedData ::= SEQUENCE { version, digestAlgorithms SET, encapContentInfo, [0] certificates OPTIONAL, [1] crls OPTIONAL, signerInfos SET }
  const fields = [...(inner.valueBlock.value as asn1js.AsnType[])];
  const [version, digestAlgorithms, encap] = fields.splice(0, 3);
  const signerInfos = fields.pop();
  if (!(version instanceof asn1js.Integer) || !(digestAlgorithms instanceof asn1js.Set) || !(encap instanceof asn1js.Sequence) || !(signerInfos instanceof asn1js.Set)) {
    throw new CmsError('malformed', 'the SignedData does not have the fields of RFC 5652');
  }
  let certificates: Uint8Array[] = [];
  for (const [i, field] of fields.entries()) {
    if (isContext(field, 0) && i === 0) {
      certificates = (field.valueBlock.value as asn1js.AsnType[]).filter((c) => c.idBlock.tagClass === 1 && c.idBlock.tagNumber === 16).map((c) => c.valueBeforeDecodeView);
    } else if (!isContext(field, 1)) {
      throw new CmsError('malformed', 'unexpected field in the SignedData');
    }
  }
  const encapContentInfo = parseWith('the encapContentInfo', () => new pkijs.EncapsulatedContentInfo({ schema: encap }));
  return {
    contentType: encapContentInfo.eContentType,
    ...(encapContentInfo.eContent ? { content: octets(encapContentInfo.eContent) } : {}),
    certificates,
    signerInfos: (signerInfos.valueBlock.value as asn1js.AsnType[]).map((info) => parseWith('a SignerInfo', () => new pkijs.SignerInfo({ schema: info }))),
  };
}

interface ParsedCertificate {
  x509: X509Certificate;
  parsed: pkijs.Certificate;
}

/** Parsed certificates by SHA-256 of their DER: signers repeat, parsing them is not free. Never mutate the entries. */
const certificateCache = new Map<string, ParsedCertificate>();

function parseCertificate(raw: Uint8Array): ParsedCertificate {
  const key = sha('sha256', raw).toString('base64');
  const hit = certificateCache.get(key);
  if (hit) return hit;
  const entry = parseWith('a certificate', () => ({ x509: new X509Certificate(Buffer.from(raw)), parsed: pkijs.Certificate.fromBER(new Uint8Array(raw)) }));
  if (certificateCache.size >= 256) certificateCache.delete(certificateCache.keys().next().value!);
  certificateCache.set(key, entry);
  return entry;
}

function sameBytes(a: Uint8Array | ArrayBuffer, b: Uint8Array | ArrayBuffer): boolean {
  return Buffer.from(a instanceof ArrayBuffer ? new Uint8Array(a) : a).equals(Buffer.from(b instanceof ArrayBuffer ? new Uint8Array(b) : b));
}

function subjectKeyIdentifier(cert: pkijs.Certificate): Uint8Array | undefined {
  const ext = cert.extensions?.find((e) => e.extnID === OID.subjectKeyIdentifier);
  if (!ext) return undefined;
  const inner = asn1js.fromBER(ext.extnValue.valueBlock.valueHexView);
  return inner.result instanceof asn1js.OctetString ? inner.result.valueBlock.valueHexView : undefined;
}

function matchesSid(sid: unknown, cert: pkijs.Certificate): boolean {
  if (sid instanceof pkijs.IssuerAndSerialNumber) {
    return sameBytes(der(sid.issuer.toSchema()), der(cert.issuer.toSchema())) && sameBytes(sid.serialNumber.valueBlock.valueHexView, cert.serialNumber.valueBlock.valueHexView);
  }
  // subjectKeyIdentifier [0] IMPLICIT OCTET STRING
  if (sid instanceof asn1js.BaseBlock && sid.idBlock.tagClass === 3 && sid.idBlock.tagNumber === 0) {
    const ski = subjectKeyIdentifier(cert);
    const wanted = sid instanceof asn1js.Constructed ? (sid.valueBlock.value[0] as asn1js.OctetString | undefined)?.valueBlock.valueHexView : (sid as asn1js.Primitive).valueBlock.valueHexView;
    return !!ski && !!wanted && sameBytes(ski, wanted);
  }
  return false;
}

/**
 * The certificate a SignedData carries for its first signer, found by the SignerInfo's sid (not
 * whichever certificate comes first), without verifying anything: for naming the signer of a
 * signature that does not verify.
 */
export function carriedSignerCertificate(signedData: Uint8Array): X509Certificate | undefined {
  const parts = parseSignedData(signedData);
  const sid = parts.signerInfos[0]?.sid;
  return parts.certificates.map(parseCertificate).find((c) => matchesSid(sid, c.parsed))?.x509;
}

/** The single value of a signed attribute that must appear at most once with one value. */
export function singleAttributeValue(attributes: pkijs.Attribute[], type: string, name: string): asn1js.AsnType | undefined {
  const found = attributes.filter((a) => a.type === type);
  if (found.length === 0) return undefined;
  if (found.length > 1 || found[0]!.values.length !== 1) throw new CmsError('malformed', `the ${name} attribute must appear once with one value`);
  return found[0]!.values[0] as asn1js.AsnType;
}

function toDate(value: asn1js.AsnType | undefined): Date | undefined {
  if (value instanceof asn1js.UTCTime || value instanceof asn1js.GeneralizedTime) return value.toDate();
  if (value !== undefined) throw new CmsError('malformed', 'signing-time is neither UTCTime nor GeneralizedTime');
  return undefined;
}

/**
 * Verifies a CMS SignedData with one signer: the signer certificate (from the SignedData or
 * `check.certificates`), the content-type and message-digest attributes against the content,
 * the signature over the signed attributes, and the signer's chain through the trust store
 * (roots, dates, CRLs). Takes the DER ContentInfo or its already decoded ASN.1. Throws a
 * CmsError saying which check failed.
 */
export async function verifySignedData(signedData: Uint8Array | asn1js.AsnType, check: SignedDataCheck): Promise<VerifiedSignedData> {
  const parts = parseSignedData(signedData);
  if (parts.signerInfos.length !== 1) throw new CmsError('unsupported', `expected one signer, found ${parts.signerInfos.length}`);
  const signerInfo = parts.signerInfos[0]!;
  const expectedType = check.contentType ?? OID.data;
  if (parts.contentType !== expectedType) throw new CmsError('content-type', `the signed content is ${parts.contentType}, expected ${expectedType}`);

  let content: Buffer;
  if (check.contentDigest !== undefined) {
    if (parts.content) throw new CmsError('not-detached', 'the SignedData carries its content: it is not a detached signature');
    content = Buffer.alloc(0);
  } else if (check.content !== undefined) {
    if (parts.content) throw new CmsError('not-detached', 'the SignedData carries its content: it is not a detached signature');
    content = Buffer.from(check.content.buffer, check.content.byteOffset, check.content.byteLength);
  } else {
    if (!parts.content) throw new CmsError('malformed', 'the SignedData carries no content and none was given');
    content = parts.content;
  }

  // The signer's certificate: carried ones first, then the ones the caller knows.
  const carried = parts.certificates.map(parseCertificate);
  const known = (check.certificates ?? []).map((c) => parseCertificate(c.raw));
  const signer = [...carried, ...known].find((c) => matchesSid(signerInfo.sid, c.parsed));
  if (!signer) throw new CmsError('no-signer-certificate', 'the certificate of the signer is neither in the SignedData nor given');

  const attributes = signerInfo.signedAttrs?.attributes ?? [];
  if (attributes.length === 0) throw new CmsError('malformed', 'the signer has no signed attributes');
  const typeValue = singleAttributeValue(attributes, OID.contentType, 'content-type');
  if (!(typeValue instanceof asn1js.ObjectIdentifier) || typeValue.valueBlock.toString() !== parts.contentType) {
    throw new CmsError('content-type', 'the content-type attribute is missing or does not match the signed content');
  }
  const digestAlgorithm = DIGESTS[signerInfo.digestAlgorithm.algorithmId];
  if (!digestAlgorithm || digestAlgorithm.name === 'sha1') throw new CmsError('unsupported', `digest algorithm ${signerInfo.digestAlgorithm.algorithmId} is not accepted`);
  const digestValue = singleAttributeValue(attributes, OID.messageDigest, 'message-digest');
  if (!(digestValue instanceof asn1js.OctetString)) throw new CmsError('malformed', 'the message-digest attribute is missing');
  const expectedDigest = check.contentDigest !== undefined && digestAlgorithm.name === 'sha256' ? check.contentDigest : undefined;
  if (check.contentDigest !== undefined && !expectedDigest) throw new CmsError('unsupported', 'a content digest can only be checked against a SHA-256 message digest');
  if (!sameBytes(digestValue.valueBlock.valueHexView, expectedDigest ?? sha(digestAlgorithm.name, content))) {
    throw new CmsError('digest-mismatch', 'the message-digest attribute does not match the content');
  }
  const signingTime = toDate(singleAttributeValue(attributes, OID.signingTime, 'signing-time'));

  const algorithm = SIGNATURE_ALGORITHMS[signerInfo.signatureAlgorithm.algorithmId];
  if (!algorithm) throw new CmsError('unsupported', `signature algorithm ${signerInfo.signatureAlgorithm.algorithmId} is not accepted`);
  const publicKey = signer.x509.publicKey;
  if (publicKey.asymmetricKeyType !== algorithm.key) throw new CmsError('bad-signature', `a ${publicKey.asymmetricKeyType} key cannot make a ${signerInfo.signatureAlgorithm.algorithmId} signature`);
  // Signed over the attributes exactly as received, retagged as SET (pkijs keeps them so).
  const signedBytes = new Uint8Array(signerInfo.signedAttrs!.encodedValue);
  const signatureValue = signerInfo.signature.valueBlock.valueHexView;
  let good = false;
  try {
    good = await verify(algorithm.hash ?? digestAlgorithm.name, signedBytes, publicKey, signatureValue);
  } catch {
    good = false;
  }
  if (!good) throw new CmsError('bad-signature', 'the signature does not verify with the signer certificate');

  const others = carried.map((c) => c.x509).filter((c) => c !== signer.x509);
  try {
    check.trust.verify(signer.x509, { chain: others, ...(check.at ? { at: check.at } : {}) });
  } catch (err) {
    throw new CmsError('untrusted', `the signer certificate is not trusted: ${(err as Error).message}`, { cause: err });
  }
  return {
    signer: signer.x509,
    signerCertificate: signer.parsed,
    certificates: carried.map((c) => c.x509),
    ...(signingTime ? { signingTime } : {}),
    contentType: parts.contentType,
    content,
    signedAttributes: attributes,
  };
}

/**
 * Verifies a detached CMS signature over `content`: signature, message digest, and the signer's
 * chain to the trust store (dates and CRLs included).
 */
export async function verifyDetached(signature: Uint8Array, content: Uint8Array, trust: TrustStore, options: { at?: Date } = {}): Promise<{ signer: X509Certificate; signingTime?: Date }> {
  const verified = await verifySignedData(signature, { trust, content, ...(options.at ? { at: options.at } : {}) });
  return { signer: verified.signer, ...(verified.signingTime ? { signingTime: verified.signingTime } : {}) };
}
