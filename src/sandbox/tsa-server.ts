import { randomBytes, type X509Certificate } from 'node:crypto';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { DIGESTS, OID, createSignedData, decodeAsn1, derTlv, parseWith, signingCertificateV2Attribute } from '../signing/cms.ts';
import { PKI_FAILURE, PKI_STATUS, TIMESTAMP_QUERY, TIMESTAMP_REPLY } from '../signing/tsa.ts';
import type { Credentials } from '../signing/trust-store.ts';

/**
 * A sandbox RFC 3161 time-stamping authority: answers `application/timestamp-query` POSTs with a
 * TimeStampResp whose token is signed by the configured credentials (certs-sample/tsa.pem). Not
 * a production TSA: no clock discipline, no audit log, keys from the sample PKI.
 */

/** The policy of the sandbox TSA (a private-enterprise arc, sandbox use only). */
export const SANDBOX_TSA_POLICY = '1.3.6.1.4.1.99999.1';

export interface TsaServerOptions {
  /** The TSA key and certificate (with its intermediates when they should travel in tokens). */
  credentials: Credentials;
  now?: () => Date;
  policy?: string;
  /** Requests longer than this are refused with 413 (default 16 KiB). */
  maxRequestBytes?: number;
}

/** A query that is not a TimeStampReq at all: HTTP 400 rather than a TimeStampResp. */
export class BadTimestampQuery extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BadTimestampQuery';
  }
}

/** Named bits as a DER BIT STRING (trailing zero bits dropped). */
function namedBits(...bits: number[]): asn1js.BitString {
  const top = Math.max(...bits);
  const bytes = new Uint8Array(Math.floor(top / 8) + 1);
  for (const bit of bits) bytes[bit >> 3]! |= 0x80 >> (bit & 7);
  return new asn1js.BitString({ valueHex: bytes, unusedBits: 7 - (top % 8) });
}

function rejection(failure: number, text: string): Buffer {
  const statusInfo = new asn1js.Sequence({
    value: [new asn1js.Integer({ value: PKI_STATUS.rejection }), new asn1js.Sequence({ value: [new asn1js.Utf8String({ value: text })] }), namedBits(failure)],
  });
  return Buffer.from(new asn1js.Sequence({ value: [statusInfo] }).toBER(false));
}

/** A random positive serial number (128 bits, top bit cleared, minimal encoding). */
function randomSerial(): Uint8Array {
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f || 0x01;
  return bytes;
}

const parts = new WeakMap<X509Certificate, { subject: pkijs.RelativeDistinguishedNames; essAttribute: pkijs.Attribute }>();

/** What every token repeats about the TSA certificate, computed once per certificate. */
function tsaParts(certificate: X509Certificate): { subject: pkijs.RelativeDistinguishedNames; essAttribute: pkijs.Attribute } {
  let entry = parts.get(certificate);
  if (!entry) {
    entry = { subject: pkijs.Certificate.fromBER(new Uint8Array(certificate.raw)).subject, essAttribute: signingCertificateV2Attribute(certificate) };
    parts.set(certificate, entry);
  }
  return entry;
}

const GRANTED = Buffer.from(new asn1js.Sequence({ value: [new asn1js.Integer({ value: PKI_STATUS.granted })] }).toBER(false));

/**
 * The TimeStampResp (DER) for one TimeStampReq: a token over the request's imprint (TSTInfo
 * version 1, the policy, a random serial, genTime, accuracy 1 s, the nonce echoed, the TSA's name)
 * signed with signed attributes content-type id-ct-TSTInfo, signing-time, message-digest and
 * signingCertificateV2, carrying the TSA certificate when certReq is set. Requests the TSA cannot
 * honour get a `rejection` status; bytes that are no TimeStampReq throw BadTimestampQuery.
 */
export async function createTimestampReply(query: Uint8Array, options: TsaServerOptions): Promise<Buffer> {
  const policy = options.policy ?? SANDBOX_TSA_POLICY;
  let request: pkijs.TimeStampReq;
  try {
    request = parseWith('the TimeStampReq', () => new pkijs.TimeStampReq({ schema: decodeAsn1(query, 'the TimeStampReq') }));
  } catch (err) {
    throw new BadTimestampQuery((err as Error).message);
  }
  if (request.version !== 1) return rejection(PKI_FAILURE.badDataFormat, `version ${request.version} is not supported`);
  const digest = DIGESTS[request.messageImprint.hashAlgorithm.algorithmId];
  if (!digest || digest.name === 'sha1') return rejection(PKI_FAILURE.badAlg, `hash algorithm ${request.messageImprint.hashAlgorithm.algorithmId} is not accepted`);
  if (request.messageImprint.hashedMessage.valueBlock.valueHexView.byteLength !== digest.length) {
    return rejection(PKI_FAILURE.badDataFormat, `the imprint is not ${digest.length} bytes long`);
  }
  if (request.reqPolicy && request.reqPolicy !== policy) return rejection(PKI_FAILURE.unacceptedPolicy, `only policy ${policy} is offered`);
  if (request.extensions?.length) return rejection(PKI_FAILURE.unacceptedExtension, 'no request extensions are supported');

  const genTime = (options.now ?? (() => new Date()))();
  const tsa = tsaParts(options.credentials.certificate);
  const tstInfo = new pkijs.TSTInfo({
    version: 1,
    policy,
    messageImprint: request.messageImprint,
    serialNumber: new asn1js.Integer({ valueHex: randomSerial() }),
    genTime,
    accuracy: new pkijs.Accuracy({ seconds: 1 }),
    // ordering DEFAULT FALSE and empty extensions are left out, as DER wants.
    ...(request.nonce ? { nonce: request.nonce } : {}),
    tsa: new pkijs.GeneralName({ type: 4, value: tsa.subject }),
  });
  const token = await createSignedData({
    content: Buffer.from(tstInfo.toSchema().toBER(false)),
    contentType: OID.tstInfo,
    credentials: options.credentials,
    certificates: request.certReq ? 'chain' : 'none',
    attributes: [tsa.essAttribute],
    signingTime: genTime,
  });
  return derTlv(0x30, GRANTED, token);
}

function plain(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...headers });
  res.end(text + '\n');
}

class TooLarge extends Error {}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        reject(new TooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/**
 * The sandbox TSA as a node:http request listener: POST `application/timestamp-query` only
 * (405 for other methods, 415 for other content types, 413 past the size limit, 400 for bodies
 * that are no TimeStampReq); answers 200 `application/timestamp-reply`.
 */
export function createTsaServer(options: TsaServerOptions): RequestListener {
  const limit = options.maxRequestBytes ?? 16_384;
  return (req, res) => {
    if (req.method !== 'POST') {
      req.resume();
      plain(res, 405, 'POST an RFC 3161 TimeStampReq', { allow: 'POST' });
      return;
    }
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== TIMESTAMP_QUERY) {
      req.resume();
      plain(res, 415, `the body must be ${TIMESTAMP_QUERY}`);
      return;
    }
    readBody(req, limit)
      .then((body) => createTimestampReply(body, options))
      .then(
        (reply) => {
          res.writeHead(200, { 'content-type': TIMESTAMP_REPLY, 'content-length': String(reply.length), 'cache-control': 'no-store' });
          res.end(reply);
        },
        (err: unknown) => {
          if (res.headersSent) return res.destroy();
          if (err instanceof TooLarge) plain(res, 413, `the body exceeds ${limit} bytes`, { connection: 'close' });
          else if (err instanceof BadTimestampQuery) plain(res, 400, `not a TimeStampReq: ${err.message}`);
          else plain(res, 500, 'the TSA failed');
        },
      );
  };
}
