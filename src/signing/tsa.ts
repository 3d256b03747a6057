import { X509Certificate, randomBytes } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { CmsError, DIGESTS, OID, decodeAsn1, parseSignedData, parseWith, sha, verifySignedData } from './cms.ts';
import type { TrustStore } from './trust-store.ts';

/**
 * RFC 3161 time-stamp client: builds requests, posts them over HTTP (RFC 3161 §3.4) and checks
 * replies completely: status, message imprint, nonce, the token's CMS signature, the TSA's chain
 * through the trust store, its critical timeStamping-only extendedKeyUsage and the ESS
 * signing-certificate attribute (pkijs checks neither of the last two).
 */

export type TimestampFailure =
  | 'http'
  | 'rejected'
  | 'malformed'
  | 'imprint'
  | 'nonce'
  | 'policy'
  | 'signature'
  | 'untrusted'
  | 'extended-key-usage'
  | 'signing-certificate'
  | 'time';

export class TimestampError extends Error {
  readonly reason: TimestampFailure;
  constructor(reason: TimestampFailure, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TimestampError';
    this.reason = reason;
  }
}

export const TIMESTAMP_QUERY = 'application/timestamp-query';
export const TIMESTAMP_REPLY = 'application/timestamp-reply';

/** PKIStatus values (RFC 3161 §2.4.2). */
export const PKI_STATUS = { granted: 0, grantedWithMods: 1, rejection: 2, waiting: 3, revocationWarning: 4, revocationNotification: 5 } as const;

/** PKIFailureInfo bit numbers (RFC 3161 §2.4.2). */
export const PKI_FAILURE = { badAlg: 0, badRequest: 2, badDataFormat: 5, timeNotAvailable: 14, unacceptedPolicy: 15, unacceptedExtension: 16, addInfoNotAvailable: 17, systemFailure: 25 } as const;

/** A positive INTEGER's content octets for a nonce given as a bigint or as unsigned big-endian bytes. */
function nonceBytes(nonce: bigint | Buffer): Uint8Array {
  let hex: string;
  if (typeof nonce === 'bigint') {
    if (nonce < 0n) throw new RangeError('a nonce must not be negative');
    hex = nonce.toString(16);
    if (hex.length % 2) hex = '0' + hex;
  } else {
    hex = nonce.toString('hex').replace(/^(00)+/, '');
  }
  const bytes = Buffer.from(hex || '00', 'hex');
  return bytes[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes;
}

/** An INTEGER's value as a bigint (two's complement). */
export function integerValue(value: asn1js.Integer): bigint {
  const bytes = Buffer.from(value.valueBlock.valueHexView);
  if (bytes.length === 0) return 0n;
  const magnitude = BigInt('0x' + bytes.toString('hex'));
  return bytes[0]! & 0x80 ? magnitude - (1n << BigInt(bytes.length * 8)) : magnitude;
}

const asBigint = (nonce: bigint | Buffer): bigint => (typeof nonce === 'bigint' ? nonce : BigInt('0x' + (nonce.toString('hex') || '0')));

/** 64 random bits as a positive nonce (top bit cleared, first octet non-zero so the INTEGER stays minimal). */
export function randomNonce(): bigint {
  const bytes = randomBytes(8);
  bytes[0] = bytes[0]! & 0x7f || 0x01;
  return BigInt('0x' + bytes.toString('hex'));
}

export interface TimestampRequestOptions {
  nonce?: bigint | Buffer;
  /** Ask the TSA to include its certificate in the token (default true). */
  certReq?: boolean;
  /** A TSA policy OID to ask for. */
  policy?: string;
}

/** A DER TimeStampReq (version 1) for a SHA-256 digest of the data. */
export function createTimestampRequest(digest: Buffer, options: TimestampRequestOptions = {}): Buffer {
  if (digest.length !== 32) throw new RangeError(`a SHA-256 digest has 32 bytes, not ${digest.length}`);
  const request = new pkijs.TimeStampReq({
    version: 1,
    messageImprint: new pkijs.MessageImprint({
      hashAlgorithm: new pkijs.AlgorithmIdentifier({ algorithmId: OID.sha256 }),
      hashedMessage: new asn1js.OctetString({ valueHex: new Uint8Array(digest) }),
    }),
    ...(options.policy ? { reqPolicy: options.policy } : {}),
    ...(options.nonce !== undefined ? { nonce: new asn1js.Integer({ valueHex: nonceBytes(options.nonce) }) } : {}),
    // certReq DEFAULT FALSE: DER leaves it out when false.
    ...(options.certReq !== false ? { certReq: true } : {}),
  });
  return Buffer.from(request.toSchema().toBER(false));
}

export interface ParsedTimestampResponse {
  status: number;
  statusText?: string;
  /** PKIFailureInfo bits set. */
  failures: number[];
  /** The TimeStampToken (ContentInfo) exactly as received. */
  token?: Buffer;
}

function bitsSet(bitString: asn1js.BitString): number[] {
  const bytes = bitString.valueBlock.valueHexView;
  const bits: number[] = [];
  bytes.forEach((byte, i) => {
    for (let b = 0; b < 8; b++) if (byte & (0x80 >> b)) bits.push(i * 8 + b);
  });
  return bits;
}

/** The status and token of a decoded TimeStampResp ::= SEQUENCE { status PKIStatusInfo, timeStampToken OPTIONAL }. */
function readResponse(top: asn1js.AsnType): ParsedTimestampResponse & { tokenBlock?: asn1js.AsnType } {
  const [statusBlock, tokenBlock, ...extra] = top instanceof asn1js.Sequence ? (top.valueBlock.value as asn1js.AsnType[]) : [];
  if (!(statusBlock instanceof asn1js.Sequence) || extra.length > 0 || (tokenBlock !== undefined && !(tokenBlock instanceof asn1js.Sequence))) {
    throw new TimestampError('malformed', 'not a TimeStampResp');
  }
  const status = asn1(() => parseWith('the PKIStatusInfo', () => new pkijs.PKIStatusInfo({ schema: statusBlock })));
  const texts = (status.statusStrings ?? []).map((s) => (s instanceof asn1js.Utf8String ? s.valueBlock.value : '')).filter(Boolean);
  return {
    status: status.status,
    ...(texts.length ? { statusText: texts.join('; ') } : {}),
    failures: status.failInfo ? bitsSet(status.failInfo) : [],
    ...(tokenBlock ? { token: Buffer.from(tokenBlock.valueBeforeDecodeView), tokenBlock } : {}),
  };
}

/** Reads a TimeStampResp (status, text, failure bits and the token's bytes). */
export function parseTimestampResponse(response: Uint8Array): ParsedTimestampResponse {
  const { tokenBlock: _block, ...parsed } = readResponse(asn1(() => decodeAsn1(response, 'the TimeStampResp')));
  return parsed;
}

/** The token out of a TimeStampResp or a bare TimeStampToken (decoded once), refusing responses not granted. */
function tokenOf(responseOrToken: Uint8Array): { token: Buffer; block: asn1js.AsnType } {
  const top = asn1(() => decodeAsn1(responseOrToken, 'the time-stamp'));
  if (top instanceof asn1js.Sequence && top.valueBlock.value[0] instanceof asn1js.ObjectIdentifier) {
    return { token: Buffer.from(responseOrToken.buffer, responseOrToken.byteOffset, responseOrToken.byteLength), block: top };
  }
  const parsed = readResponse(top);
  if (parsed.status !== PKI_STATUS.granted && parsed.status !== PKI_STATUS.grantedWithMods) {
    throw new TimestampError('rejected', `the TSA refused: status ${parsed.status}${parsed.statusText ? ` (${parsed.statusText})` : ''}${parsed.failures.length ? `, failure bits ${parsed.failures.join(',')}` : ''}`);
  }
  if (!parsed.token || !parsed.tokenBlock) throw new TimestampError('malformed', 'a granted TimeStampResp without a token');
  return { token: parsed.token, block: parsed.tokenBlock };
}

/** Turns CmsError('malformed') from the shared parsers into a TimestampError. */
function asn1<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof CmsError) throw new TimestampError('malformed', err.message, { cause: err });
    throw err;
  }
}

export interface TstInfoSummary {
  genTime: Date;
  /** The token's serial number, upper-case hex in whole octets without leading zero octets (as openssl prints it). */
  serial: string;
  policy: string;
  nonce?: bigint;
  accuracy?: { seconds?: number; millis?: number; micros?: number };
  hashAlgorithm: string;
  hashedMessage: Buffer;
  tsaName?: pkijs.GeneralName;
}

function accuracyOf(accuracy: pkijs.Accuracy): { seconds?: number; millis?: number; micros?: number } {
  return {
    ...(accuracy.seconds !== undefined ? { seconds: accuracy.seconds } : {}),
    ...(accuracy.millis !== undefined ? { millis: accuracy.millis } : {}),
    ...(accuracy.micros !== undefined ? { micros: accuracy.micros } : {}),
  };
}

function readTstInfo(der: Uint8Array): TstInfoSummary {
  const schema = decodeAsn1(der, 'the TSTInfo');
  // RFC 3161 §2.4.2: genTime is a DER GeneralizedTime, ending in Z. asn1js turns other time forms
  // (no Z, an offset, a trailing zero fraction) into another instant than the one written and
  // signed, one that openssl would not print: only the encoding every reader agrees on is read.
  const genTime = schema instanceof asn1js.Sequence ? schema.valueBlock.value[4] : undefined;
  const written = genTime instanceof asn1js.GeneralizedTime ? Buffer.from(genTime.valueBlock.valueHexView).toString('latin1') : '';
  if (!/^\d{14}(\.\d*[1-9])?Z$/.test(written)) throw new TimestampError('malformed', `the TSTInfo's genTime is not a DER GeneralizedTime: ${JSON.stringify(written.slice(0, 40))}`);
  const tst = asn1(() => parseWith('the TSTInfo', () => new pkijs.TSTInfo({ schema })));
  if (tst.version !== 1) throw new TimestampError('malformed', `TSTInfo version ${tst.version}, expected 1`);
  const serialHex = Buffer.from(tst.serialNumber.valueBlock.valueHexView).toString('hex').replace(/^(00)+(?=..)/, '').toUpperCase();
  return {
    genTime: tst.genTime,
    serial: serialHex,
    policy: tst.policy,
    ...(tst.nonce ? { nonce: integerValue(tst.nonce) } : {}),
    ...(tst.accuracy ? { accuracy: accuracyOf(tst.accuracy) } : {}),
    hashAlgorithm: tst.messageImprint.hashAlgorithm.algorithmId,
    hashedMessage: Buffer.from(tst.messageImprint.hashedMessage.valueBlock.valueHexView),
    ...(tst.tsa ? { tsaName: tst.tsa } : {}),
  };
}

/** The TSTInfo of a token without checking anything (for display). */
function unverifiedTstInfo(token: asn1js.AsnType): TstInfoSummary {
  const parts = asn1(() => parseSignedData(token));
  if (parts.contentType !== OID.tstInfo || !parts.content) throw new TimestampError('malformed', 'the TimeStampToken does not hold a TSTInfo');
  return readTstInfo(parts.content);
}

function checkImprint(info: TstInfoSummary, data: Uint8Array): void {
  if (info.hashAlgorithm !== OID.sha256) throw new TimestampError('imprint', `the message imprint uses ${info.hashAlgorithm}, not SHA-256`);
  if (!info.hashedMessage.equals(sha('sha256', data))) throw new TimestampError('imprint', 'the message imprint is not the SHA-256 of the data');
}

function checkNonce(info: TstInfoSummary, nonce: bigint | Buffer | undefined): void {
  if (nonce === undefined) return;
  if (info.nonce === undefined || info.nonce !== asBigint(nonce)) throw new TimestampError('nonce', 'the token does not echo the nonce of the request');
}

export interface TimestampResult {
  /** The TimeStampToken (ContentInfo) DER, as the TSA sent it. */
  token: Buffer;
  /** The whole TimeStampResp DER (the `.tsr`). */
  response: Buffer;
  genTime: Date;
  /** Upper-case hex in whole octets (as openssl prints it). */
  serial: string;
  policy: string;
  nonce: bigint;
}

export interface RequestTimestampOptions {
  signal?: AbortSignal;
  /** Gives up after this long (default 10 s). */
  timeoutMs?: number;
  policy?: string;
  /** When given, the reply is verified in full (verifyTimestamp) before it is returned. */
  trust?: TrustStore;
  /** Replies longer than this are refused (default 256 KiB). */
  maxResponseBytes?: number;
}

/**
 * Asks the TSA at `url` for a token over SHA-256(data), with a random nonce and certReq. The
 * reply must be HTTP 200 `application/timestamp-reply`, granted, for this imprint and nonce;
 * with `options.trust` it is also verified in full. Otherwise call verifyTimestamp.
 */
export async function requestTimestamp(url: string | URL, data: Uint8Array, options: RequestTimestampOptions = {}): Promise<TimestampResult> {
  const nonce = randomNonce();
  const query = createTimestampRequest(sha('sha256', data), { nonce, certReq: true, ...(options.policy ? { policy: options.policy } : {}) });
  const timeout = AbortSignal.timeout(options.timeoutMs ?? 10_000);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  let reply: Response;
  try {
    reply = await fetch(url, { method: 'POST', headers: { 'content-type': TIMESTAMP_QUERY, accept: TIMESTAMP_REPLY }, body: new Uint8Array(query), signal });
  } catch (err) {
    throw new TimestampError('http', `the TSA at ${String(url)} did not answer: ${(err as Error).message}`, { cause: err });
  }
  const limit = options.maxResponseBytes ?? 262_144;
  const declared = Number(reply.headers.get('content-length') ?? 0);
  if (declared > limit) {
    await reply.body?.cancel();
    throw new TimestampError('http', `the TSA's reply is ${declared} bytes, more than ${limit}`);
  }
  const type = (reply.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (reply.status !== 200 || type !== TIMESTAMP_REPLY) {
    await reply.body?.cancel();
    throw new TimestampError('http', `the TSA answered HTTP ${reply.status} ${type || '(no content type)'}, expected 200 ${TIMESTAMP_REPLY}`);
  }
  let response: Buffer;
  try {
    response = Buffer.from(await reply.arrayBuffer());
  } catch (err) {
    throw new TimestampError('http', `reading the TSA's reply failed: ${(err as Error).message}`, { cause: err });
  }
  if (response.length > limit) throw new TimestampError('http', `the TSA's reply is more than ${limit} bytes`);

  const { token, block } = tokenOf(response);
  const info = options.trust ? await verifyToken({ token, block }, data, options.trust, { nonce, ...(options.policy ? { policy: options.policy } : {}) }) : unverifiedTstInfo(block);
  checkImprint(info, data);
  checkNonce(info, nonce);
  if (options.policy && info.policy !== options.policy) throw new TimestampError('policy', `the token has policy ${info.policy}, asked for ${options.policy}`);
  return { token, response, genTime: info.genTime, serial: info.serial, policy: info.policy, nonce };
}

export interface VerifyTimestampOptions {
  /** The nonce of the request, which the token must echo. */
  nonce?: bigint | Buffer;
  /** The policy the token must carry. */
  policy?: string;
  /** Where to find the TSA certificate when the token does not carry it (certReq false). */
  certificates?: X509Certificate[];
  /** When the TSA's chain is judged (now unless given). */
  at?: Date;
}

export interface VerifiedTimestamp extends TstInfoSummary {
  /** The TSA's certificate. */
  tsa: X509Certificate;
  token: Buffer;
}

const EXTENDED_KEY_USAGE = OID.extendedKeyUsage;

/** The TSA certificate must have extendedKeyUsage critical with timeStamping as its only purpose (RFC 3161 §2.3). */
function checkTsaUsage(cert: pkijs.Certificate): void {
  const eku = (cert.extensions ?? []).filter((e) => e.extnID === EXTENDED_KEY_USAGE);
  if (eku.length !== 1) throw new TimestampError('extended-key-usage', 'the TSA certificate has no extendedKeyUsage');
  if (!eku[0]!.critical) throw new TimestampError('extended-key-usage', "the TSA certificate's extendedKeyUsage is not critical");
  const value = asn1js.fromBER(eku[0]!.extnValue.valueBlock.valueHexView).result;
  const purposes = value instanceof asn1js.Sequence ? value.valueBlock.value.map((p) => (p instanceof asn1js.ObjectIdentifier ? p.valueBlock.toString() : '?')) : [];
  if (purposes.length !== 1 || purposes[0] !== OID.timeStamping) {
    throw new TimestampError('extended-key-usage', `the TSA certificate's extendedKeyUsage must be timeStamping only, not ${purposes.join(', ') || 'empty'}`);
  }
}

const children = (block: asn1js.AsnType | undefined): asn1js.AsnType[] => (block instanceof asn1js.Sequence ? (block.valueBlock.value as asn1js.AsnType[]) : []);
const bytesOf = (block: asn1js.BaseBlock): Buffer => Buffer.from(block.toBER(false));

/**
 * Checks an ESS signingCertificate (v1, SHA-1) or signingCertificateV2 value: its first ESSCertID
 * must name `cert` by hash and, when present, by issuer and serial number.
 */
function checkEssValue(value: asn1js.AsnType | undefined, version: 1 | 2, x509: X509Certificate, cert: pkijs.Certificate): void {
  const name = version === 1 ? 'signingCertificate' : 'signingCertificateV2';
  const first = children(children(value)[0])[0];
  let parts = children(first);
  if (parts.length === 0) throw new TimestampError('malformed', `the ${name} attribute holds no ESSCertID`);
  let hash: 'sha1' | 'sha256' | 'sha384' | 'sha512' = version === 1 ? 'sha1' : 'sha256';
  if (version === 2 && parts[0] instanceof asn1js.Sequence) {
    const algorithm = new pkijs.AlgorithmIdentifier({ schema: parts[0] });
    const known = DIGESTS[algorithm.algorithmId];
    if (!known || known.name === 'sha1') throw new TimestampError('signing-certificate', `the ${name} uses hash ${algorithm.algorithmId}`);
    hash = known.name;
    parts = parts.slice(1);
  }
  const [certHash, issuerSerial] = parts;
  if (!(certHash instanceof asn1js.OctetString) || !Buffer.from(certHash.valueBlock.valueHexView).equals(sha(hash, x509.raw))) {
    throw new TimestampError('signing-certificate', `the ${name} attribute names another certificate than the TSA's`);
  }
  if (issuerSerial !== undefined) {
    const [names, serial] = children(issuerSerial);
    const issuer = bytesOf(cert.issuer.toSchema());
    const directoryNames = children(names)
      .filter((n) => n.idBlock.tagClass === 3 && n.idBlock.tagNumber === 4 && n instanceof asn1js.Constructed)
      .map((n) => (n as asn1js.Constructed).valueBlock.value[0]);
    const issuerMatches = directoryNames.some((n) => n !== undefined && bytesOf(n).equals(issuer));
    const serialMatches = serial instanceof asn1js.Integer && Buffer.from(serial.valueBlock.valueHexView).equals(Buffer.from(cert.serialNumber.valueBlock.valueHexView));
    if (!issuerMatches || !serialMatches) throw new TimestampError('signing-certificate', `the ${name} attribute's issuer and serial are not the TSA certificate's`);
  }
}

function checkSigningCertificate(attributes: pkijs.Attribute[], x509: X509Certificate, cert: pkijs.Certificate): void {
  const v1 = attributes.filter((a) => a.type === OID.signingCertificate);
  const v2 = attributes.filter((a) => a.type === OID.signingCertificateV2);
  if (v1.length + v2.length === 0) throw new TimestampError('signing-certificate', 'the token has no ESS signingCertificate or signingCertificateV2 attribute');
  for (const [list, version] of [
    [v1, 1],
    [v2, 2],
  ] as const) {
    if (list.length === 0) continue;
    if (list.length > 1 || list[0]!.values.length !== 1) throw new TimestampError('malformed', 'an ESS signing-certificate attribute appears more than once');
    checkEssValue(list[0]!.values[0] as asn1js.AsnType, version, x509, cert);
  }
}

async function verifyToken({ token, block }: { token: Buffer; block: asn1js.AsnType }, data: Uint8Array, trust: TrustStore, options: VerifyTimestampOptions): Promise<VerifiedTimestamp> {
  let verified;
  try {
    verified = await verifySignedData(block, {
      trust,
      contentType: OID.tstInfo,
      ...(options.certificates ? { certificates: options.certificates } : {}),
      ...(options.at ? { at: options.at } : {}),
    });
  } catch (err) {
    if (!(err instanceof CmsError)) throw err;
    const reason: TimestampFailure = err.reason === 'untrusted' ? 'untrusted' : err.reason === 'malformed' || err.reason === 'content-type' ? 'malformed' : 'signature';
    throw new TimestampError(reason, `the TimeStampToken: ${err.message}`, { cause: err });
  }
  const info = readTstInfo(verified.content);
  checkImprint(info, data);
  checkNonce(info, options.nonce);
  if (options.policy && info.policy !== options.policy) throw new TimestampError('policy', `the token has policy ${info.policy}, expected ${options.policy}`);
  checkTsaUsage(verified.signerCertificate);
  checkSigningCertificate(verified.signedAttributes, verified.signer, verified.signerCertificate);
  const tsa = verified.signer;
  if (info.genTime < new Date(tsa.validFrom) || info.genTime > new Date(tsa.validTo)) {
    throw new TimestampError('time', `genTime ${info.genTime.toISOString()} is outside the TSA certificate's validity`);
  }
  // RFC 3161 §2.4.2: a tsa name, when present, must be one of the TSA certificate's names.
  if (info.tsaName?.type === 4 && info.tsaName.value instanceof pkijs.RelativeDistinguishedNames) {
    if (!bytesOf(info.tsaName.value.toSchema()).equals(bytesOf(verified.signerCertificate.subject.toSchema()))) {
      throw new TimestampError('signing-certificate', "the TSTInfo's tsa name is not the TSA certificate's subject");
    }
  }
  return { ...info, tsa, token };
}

/**
 * Verifies a TimeStampResp (the `.tsr`) or a bare TimeStampToken over `data`: status granted,
 * message imprint = SHA-256(data), the nonce when given, the token's CMS signature, the TSA
 * certificate's chain through the trust store (dates, CRLs), its critical timeStamping-only
 * extendedKeyUsage, and the ESS signing-certificate attribute naming that certificate.
 */
export async function verifyTimestamp(responseOrToken: Uint8Array, data: Uint8Array, trust: TrustStore, options: VerifyTimestampOptions = {}): Promise<VerifiedTimestamp> {
  return verifyToken(tokenOf(responseOrToken), data, trust, options);
}
