import { X509Certificate, createHash } from 'node:crypto';
import * as asn1js from 'asn1js';
import type { CertificateFacts, CheckedSignature, SignatureFacts } from '../core/documents/port.ts';
import { CmsError, DIGESTS, OID, carriedSignerCertificate, createSignedData, parseSignedData, signingCertificateV2Attribute, verifySignedData, type EncodedAttribute } from './cms.ts';
import { byteRangeContent, checkByteRangeGap, embedSignature, prepareSignature, preparedContent, readPdf, type PdfFile, type PdfSignature } from './pdf.ts';
import type { Credentials, TrustStore } from './trust-store.ts';
import { requestTimestamp, verifyTimestamp, type VerifiedTimestamp } from './tsa.ts';

/**
 * PAdES-B-T and CAdES-B-T (ETSI EN 319 142-1, EN 319 122-1): a CMS signature with signed
 * attributes content-type, message-digest and signingCertificateV2 (no signing-time: in a PDF the
 * time is /M), and an RFC 3161 signature timestamp over the SignerInfo's signature value as the
 * unsigned attribute id-aa-signatureTimeStampToken. In a PDF the CMS is detached over the
 * /ByteRange, added as an incremental update (pdf.ts); for other content it is a detached `.p7s`
 * over the content's SHA-256. Verification: the byte range, the digest, the signature, the
 * signer's chain through the trust store (dates at the timestamp's genTime when there is a valid
 * one, else now; CRL revocation), and the timestamp itself.
 */

export const SIGNATURE_TIMESTAMP_OID = '1.2.840.113549.1.9.16.2.14';

export interface SealOptions {
  credentials: Credentials;
  /** The RFC 3161 TSA asked for the signature timestamp; without one nothing can be sealed (SignatureTimestampError). */
  tsaUrl: string | undefined;
  /** Verifies the TSA's reply (its chain, usage, signing certificate). */
  trust: TrustStore;
  /** How long the TSA may take (default 10 s). */
  timeoutMs?: number;
  /** The signing time written in /M (now unless given). */
  signedAt?: Date;
}

/** Thrown when the TSA did not answer with a token that verifies; the sealer answers TIMESTAMP_UNAVAILABLE. */
export class SignatureTimestampError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SignatureTimestampError';
  }
}

/** A certificate as document records name it. */
export function certificateFacts(certificate: X509Certificate): CertificateFacts {
  return {
    subject: certificate.subject.split('\n').join(', '),
    issuer: certificate.issuer.split('\n').join(', '),
    serialNumber: certificate.serialNumber.toUpperCase(),
    notBefore: new Date(certificate.validFrom).toISOString(),
    notAfter: new Date(certificate.validTo).toISOString(),
    sha256: createHash('sha256').update(certificate.raw).digest('hex'),
  };
}

const timestampFacts = (t: VerifiedTimestamp): NonNullable<SignatureFacts['timestamp']> => ({
  genTime: t.genTime.toISOString(),
  tsa: certificateFacts(t.tsa),
  serialNumber: t.serial,
  policy: t.policy,
});

/** The CMS signature with its timestamp: the signature value is timestamped before the SignerInfo is closed. */
async function signWithTimestamp(input: { content?: Uint8Array; contentDigest?: Uint8Array }, options: SealOptions): Promise<{ cms: Buffer; timestamp: VerifiedTimestamp }> {
  let timestamp: VerifiedTimestamp | undefined;
  const unsignedAttributes = async (signatureValue: Buffer): Promise<EncodedAttribute[]> => {
    if (!options.tsaUrl) throw new SignatureTimestampError('no TSA is configured for document signatures (documents.tsaUrl or audit.tsaUrl)');
    try {
      const reply = await requestTimestamp(options.tsaUrl, signatureValue, { timeoutMs: options.timeoutMs ?? 10_000 });
      timestamp = await verifyTimestamp(reply.token, signatureValue, options.trust);
    } catch (err) {
      throw new SignatureTimestampError(`no signature timestamp from ${options.tsaUrl}: ${(err as Error).message}`, { cause: err });
    }
    return [{ type: SIGNATURE_TIMESTAMP_OID, values: [timestamp.token] }];
  };
  const cms = await createSignedData({
    ...input,
    detached: true,
    credentials: options.credentials,
    signingTime: null,
    attributes: [signingCertificateV2Attribute(options.credentials.certificate)],
    unsignedAttributes,
  });
  return { cms, timestamp: timestamp! };
}

/**
 * Signs a PDF as PAdES-B-T (an incremental update: earlier signatures stay valid). The PDF is
 * read and its structure checked (readPdf); its existing signatures are not verified here.
 */
export async function signPdf(pdf: Buffer | PdfFile, options: SealOptions): Promise<{ content: Buffer; cms: Buffer; signature: SignatureFacts }> {
  const file = Buffer.isBuffer(pdf) ? await readPdf(pdf) : pdf;
  const signedAt = new Date(Math.floor((options.signedAt ?? new Date()).getTime() / 1000) * 1000);
  let prepared = prepareSignature(file, { signedAt });
  let signed = await signWithTimestamp({ content: Buffer.concat(preparedContent(prepared)) }, options);
  if (signed.cms.length > prepared.capacity) {
    // A longer chain or timestamp token than the default reservation holds: reserve what this one
    // took (with room for a signature a few bytes longer) and sign again, over the new byte range.
    prepared = prepareSignature(file, { signedAt, capacity: signed.cms.length + 2048 });
    signed = await signWithTimestamp({ content: Buffer.concat(preparedContent(prepared)) }, options);
  }
  const { cms, timestamp } = signed;
  const content = embedSignature(prepared, cms);
  return {
    content,
    cms,
    signature: {
      form: 'pades',
      by: 'gateway',
      signer: certificateFacts(options.credentials.certificate),
      signedAt: signedAt.toISOString(),
      timestamp: timestampFacts(timestamp),
      coversWholeFile: true,
    },
  };
}

/** A detached CAdES-B-T signature (the `.p7s`) over content known by its SHA-256. */
export async function signDigest(sha256: Buffer, options: SealOptions): Promise<{ cms: Buffer; signature: SignatureFacts }> {
  const { cms, timestamp } = await signWithTimestamp({ contentDigest: sha256 }, options);
  return {
    cms,
    signature: { form: 'cms', by: 'gateway', signer: certificateFacts(options.credentials.certificate), signedAt: null, timestamp: timestampFacts(timestamp) },
  };
}

/** The signer's signature value and its signature timestamp token (byte for byte as carried), when the CMS carries one. */
export function signatureTimestampToken(cms: Uint8Array): { signatureValue: Buffer; token: Buffer | undefined } {
  const parts = parseSignedData(cms);
  if (parts.signerInfos.length !== 1) throw new CmsError('unsupported', `expected one signer, found ${parts.signerInfos.length}`);
  const signerInfo = parts.signerInfos[0]!;
  const attributes = (signerInfo.unsignedAttrs?.attributes ?? []).filter((a) => a.type === SIGNATURE_TIMESTAMP_OID);
  if (attributes.length > 1 || (attributes[0] && attributes[0].values.length !== 1)) throw new CmsError('malformed', 'more than one signature timestamp');
  const value = attributes[0]?.values[0] as asn1js.AsnType | undefined;
  return { signatureValue: Buffer.from(signerInfo.signature.valueBlock.valueHexView), token: value ? Buffer.from(value.valueBeforeDecodeView) : undefined };
}

/** The message-digest signed attribute of a CMS's single signer. */
function messageDigestOf(cms: Uint8Array): Buffer {
  const signerInfo = parseSignedData(cms).signerInfos[0];
  const attribute = signerInfo?.signedAttrs?.attributes.find((a) => a.type === OID.messageDigest);
  const value = attribute?.values[0];
  if (!(value instanceof asn1js.OctetString)) throw new CmsError('malformed', 'the signer has no message-digest attribute');
  return Buffer.from(value.valueBlock.valueHexView);
}

/**
 * When the CMS names its signer's certificate in a signingCertificateV2 attribute (CAdES
 * requires it), it must name the certificate that verified: otherwise another certificate with
 * the same key could be substituted.
 */
function checkSigningCertificate(attributes: { type: string; values: unknown[] }[], signer: X509Certificate, required: boolean): void {
  const found = attributes.filter((a) => a.type === OID.signingCertificateV2);
  if (found.length === 0) {
    if (required) throw new CmsError('malformed', 'the signer has no signingCertificateV2 attribute');
    return;
  }
  const value = found.length === 1 && found[0]!.values.length === 1 ? (found[0]!.values[0] as asn1js.AsnType) : undefined;
  const certs = value instanceof asn1js.Sequence ? value.valueBlock.value[0] : undefined;
  const first = certs instanceof asn1js.Sequence ? certs.valueBlock.value[0] : undefined;
  const fields = first instanceof asn1js.Sequence ? first.valueBlock.value : [];
  let hash = 'sha256';
  let index = 0;
  if (fields[0] instanceof asn1js.Sequence) {
    const algorithm = fields[0].valueBlock.value[0];
    const known = algorithm instanceof asn1js.ObjectIdentifier ? DIGESTS[algorithm.valueBlock.toString()] : undefined;
    if (!known || known.name === 'sha1') throw new CmsError('unsupported', 'the signingCertificateV2 attribute uses an unaccepted hash');
    hash = known.name;
    index = 1;
  }
  const certHash = fields[index];
  if (!(certHash instanceof asn1js.OctetString) || !Buffer.from(certHash.valueBlock.valueHexView).equals(createHash(hash).update(signer.raw).digest())) {
    throw new CmsError('bad-signature', 'the signingCertificateV2 attribute names another certificate than the signer');
  }
}

export interface CmsCheck {
  trust: TrustStore;
  /** The content signed, or its SHA-256, or nothing: then only the signature over the signed attributes is checked. */
  content?: Uint8Array;
  contentDigest?: Uint8Array;
  /** The gateway's own seal: the signingCertificateV2 attribute and the timestamp are required. */
  seal?: boolean;
}

/**
 * Verifies a detached CMS signature and its signature timestamp: the timestamp over the signature
 * value first (so that its genTime is the time the signer's chain is judged at), then the
 * signature, digest, signing-certificate attribute and the chain through the trust store.
 */
export async function verifyCmsSignature(cms: Uint8Array, check: CmsCheck): Promise<{ signer: X509Certificate; timestamp: VerifiedTimestamp | undefined }> {
  const { signatureValue, token } = signatureTimestampToken(cms);
  if (!token && check.seal) throw new CmsError('malformed', 'the seal carries no signature timestamp');
  let timestamp: VerifiedTimestamp | undefined;
  if (token) {
    try {
      timestamp = await verifyTimestamp(token, signatureValue, check.trust);
    } catch (err) {
      throw new CmsError('bad-signature', `its signature timestamp does not verify: ${(err as Error).message}`, { cause: err });
    }
  }
  const digest = check.contentDigest ?? (check.content === undefined ? messageDigestOf(cms) : undefined);
  const verified = await verifySignedData(cms, {
    trust: check.trust,
    ...(digest ? { contentDigest: digest } : { content: check.content! }),
    ...(timestamp ? { at: timestamp.genTime } : {}),
  });
  checkSigningCertificate(verified.signedAttributes, verified.signer, check.seal ?? false);
  return { signer: verified.signer, timestamp };
}

const ACCEPTED_SUBFILTERS = new Set(['adbe.pkcs7.detached', 'ETSI.CAdES.detached']);

/** Facts about a signature that could not be read far enough to name its signer. */
const UNKNOWN_SIGNER: CertificateFacts = { subject: '', issuer: '', serialNumber: '', notBefore: '', notAfter: '', sha256: '' };

/** Verifies one signature of a PDF; never throws: what does not verify is answered with its problem. */
export async function verifyPdfSignature(file: PdfFile, signature: PdfSignature, trust: TrustStore, options: { seal?: boolean } = {}): Promise<CheckedSignature> {
  const base = {
    form: 'pades' as const,
    by: 'external' as const,
    signedAt: signature.signedAt?.toISOString() ?? null,
    coversWholeFile: signature.byteRange.length === 4 && signature.byteRange[2]! + signature.byteRange[3]! === file.bytes.length,
  };
  let signer: X509Certificate | undefined;
  let timestamp: VerifiedTimestamp | undefined;
  try {
    const ranges = byteRangeContent(file.bytes, signature.byteRange);
    checkByteRangeGap(file.bytes, signature);
    const content = Buffer.concat(ranges);
    if (signature.type === 'DocTimeStamp') {
      const verified = await verifyTimestamp(signature.contents, content, trust);
      return { ...base, signer: certificateFacts(verified.tsa), timestamp: timestampFacts(verified), valid: true };
    }
    if (!signature.subFilter || !ACCEPTED_SUBFILTERS.has(signature.subFilter)) throw new Error(`its /SubFilter ${signature.subFilter ?? '(none)'} is not accepted`);
    const verified = await verifyCmsSignature(signature.contents, { trust, content, ...(options.seal ? { seal: true } : {}) });
    signer = verified.signer;
    timestamp = verified.timestamp;
    return { ...base, signer: certificateFacts(signer), timestamp: timestamp ? timestampFacts(timestamp) : null, valid: true };
  } catch (err) {
    signer ??= signerOf(signature.contents);
    return { ...base, signer: signer ? certificateFacts(signer) : UNKNOWN_SIGNER, timestamp: null, valid: false, problem: (err as Error).message };
  }
}

/** The signer's certificate as the CMS carries it (the one its SignerInfo names), for naming a signature that does not verify. */
function signerOf(cms: Uint8Array): X509Certificate | undefined {
  try {
    return carriedSignerCertificate(cms);
  } catch {
    return undefined;
  }
}

/** Verifies every signature a PDF carries, in the order of the file. */
export async function verifyPdfSignatures(file: PdfFile, trust: TrustStore): Promise<CheckedSignature[]> {
  const checked: CheckedSignature[] = [];
  const ordered = [...file.signatures].sort((a, b) => (a.byteRange[1] ?? 0) - (b.byteRange[1] ?? 0));
  for (const signature of ordered) checked.push(await verifyPdfSignature(file, signature, trust));
  return checked;
}
