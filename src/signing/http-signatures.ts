import { X509Certificate, constants, createHash, randomBytes, sign as cryptoSign, timingSafeEqual, verify as cryptoVerify, type KeyObject, type SignKeyObjectInput } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import {
  DisplayString,
  isInnerList,
  parseDictionary,
  parseList,
  serializeDictionary,
  serializeInnerList,
  serializeItem,
  serializeList,
  type BareItem,
  type Dictionary,
  type InnerList,
  type Item,
  type List,
  type Parameters,
} from 'structured-headers';
import { GatewayError, isGatewayError } from '../errors/gateway-error.ts';
import type { UpstreamHttp, UpstreamRequest, UpstreamResponse } from '../resilience/upstream-http.ts';
import type { UpstreamSigning } from './material.ts';
import type { Credentials } from './trust-store.ts';

/*
 * HTTP Message Signatures (RFC 9421) with Content-Digest (RFC 9530), as the gateway and the
 * sandbox simulators of the REST systems use them. The signature base is built here from RFC 9421
 * §2 (checked against the RFC's own examples in the tests); signing and verifying use node:crypto.
 *
 * The profile (README of business-registry, civil-status and dvcqg):
 * - one signature labelled `sig1`, with `created`, `expires`, `keyid` and `alg` (requests add a
 *   `nonce`); `keyid` is the base64url SHA-256 thumbprint of the signer's certificate (DER);
 * - requests cover `@method`, `@target-uri`, `date`, and with a body `content-type` and
 *   `content-digest`;
 * - answers cover `@status`, `date`, `content-type`, `content-digest`, and from the request they
 *   answer `@method`, `@target-uri`, its `content-digest` when it had a body, and its signature
 *   (`"signature";req;key="sig1"`): an answer verifies for that one request only;
 * - the signer's certificate and intermediates travel in `Signature-Certificate`, an RFC 8941
 *   list of byte sequences (DER), leaf first. RFC 9421 leaves key distribution open: this header
 *   is our choice.
 *
 * Why our own verifier rather than http-message-signatures (1.0.6, used in the tests as an
 * independent implementation): its `requiredFields` compares component names only, so
 * `"@method";req` or `"signature";key="other"` satisfies a requirement for `@method` or
 * `"signature";req;key="sig1"`; it goes through every label and a label that fails is forgotten
 * when a later one verifies; it checks no Content-Digest against the body, accepts any past
 * `created` unless `maxAge` is given, and knows keys, not certificates. Here exactly `sig1` is
 * read, each required identifier must be covered with its parameters, and the keyid must be the
 * thumbprint of the certificate the trust store accepts.
 */

// ---------------------------------------------------------------------------------------------
// Messages, components and the signature base (RFC 9421 §2).

/** Header fields as node and undici give them: lower-case names, repeated lines as arrays. */
export type Fields = Record<string, string | string[] | number | undefined>;

export interface RequestMessage {
  method: string;
  /** The full target URI (RFC 9110 §7.1), e.g. `https://registry.example/api/v1/x?y=1`. */
  targetUri: string;
  fields: Fields;
}

export interface ResponseMessage {
  status: number;
  fields: Fields;
  /** The request this answers, for components with the `req` parameter. */
  request?: RequestMessage | undefined;
}

export type Message = RequestMessage | ResponseMessage;
const isRequest = (message: Message): message is RequestMessage => 'method' in message;

/** Why a signature was refused; the callers turn it into their own error. */
export type SignatureFailure =
  | 'unsigned'
  | 'malformed'
  | 'missing-component'
  | 'expired'
  | 'unknown-key'
  | 'algorithm'
  | 'signature'
  | 'digest';

export class HttpSignatureError extends Error {
  constructor(
    readonly reason: SignatureFailure,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'HttpSignatureError';
  }
}

const fail = (reason: SignatureFailure, message: string, cause?: unknown): never => {
  throw new HttpSignatureError(reason, message, cause === undefined ? undefined : { cause });
};

// Structured field values (RFC 8941) are parsed and serialized by `structured-headers`. It also
// reads RFC 9651's Dates (`@1700000000`) and Display Strings (`%"..."`), which RFC 9421 does not
// know: `rfc8941` refuses them where a signature is read. It keeps no Decimal apart from Integers
// (`1.0` parses as 1 and serializes as `1`): integers are checked with Number.isInteger, so a
// `created` with a fraction is refused while `created=1700000000.0` reads as 1700000000.

type Member = Item | InnerList;

function parseOrFail<T>(parse: (text: string) => T, text: string, what: string, reason: SignatureFailure = 'malformed'): T {
  try {
    return parse(text);
  } catch (err) {
    return fail(reason, `${what} does not parse: ${err instanceof Error ? err.message : String(err)}`, err);
  }
}

const dictionaryOf = (text: string, what: string, reason?: SignatureFailure): Dictionary => parseOrFail(parseDictionary, text, what, reason);
const listOf = (text: string, what: string): List => parseOrFail(parseList, text, what);

/** The bytes of a member that is a Byte Sequence (the library gives an ArrayBuffer). */
const bytesOf = (member: Member | undefined): Buffer<ArrayBuffer> | undefined =>
  member !== undefined && !isInnerList(member) && member[0] instanceof ArrayBuffer ? Buffer.from(member[0]) : undefined;

const serializeMember = (member: Member): string => (isInnerList(member) ? serializeInnerList(member) : serializeItem(member));

const isRfc9651Only = (value: BareItem): boolean => value instanceof Date || value instanceof DisplayString;

/** Refuses the RFC 9651 types in a member, its items and their parameters. */
function rfc8941(member: Member, what: string): void {
  const items = isInnerList(member) ? member[0] : [member];
  const values = [...member[1].values(), ...items.flatMap((item) => [item[0], ...item[1].values()])];
  if (values.some(isRfc9651Only)) fail('malformed', `${what} holds a Date or Display String, which RFC 8941 does not have`);
}

/** A covered component: its name (a field in lower case, or `@derived`) and parameters. */
export type ComponentId = [string, Parameters];

/** `component('@method')`, `component('content-digest', { req: true })`, `component('signature', { req: true, key: 'sig1' })`. */
export function component(name: string, params: Record<string, string | boolean> = {}): ComponentId {
  return [name, new Map(Object.entries(params))];
}

/** The identifier as it appears in the signature base and in Signature-Input: `"@method";req`. */
export const componentKey = (id: Item): string => serializeItem(id);

function fieldLines(fields: Fields, name: string): string[] | undefined {
  const raw = fields[name];
  if (raw === undefined) return undefined;
  const lines = Array.isArray(raw) ? raw : [String(raw)];
  // RFC 9421 §2.1: leading and trailing whitespace trimmed, obsolete line folding replaced by a space.
  return lines.map((line) => line.replace(/\r?\n[ \t]+/g, ' ').replace(/^[ \t]+|[ \t]+$/g, ''));
}

/** The structured fields whose type we know, for the `sf` parameter (RFC 9421 §2.1.1). */
const STRUCTURED_FIELDS: Record<string, 'dictionary' | 'list'> = {
  'signature-input': 'dictionary',
  signature: 'dictionary',
  'accept-signature': 'dictionary',
  'content-digest': 'dictionary',
  'repr-digest': 'dictionary',
  'want-content-digest': 'dictionary',
  'want-repr-digest': 'dictionary',
  'signature-certificate': 'list',
};

/**
 * Field value for the signature base: the field lines combined; with `key` one dictionary member;
 * with `sf` the field re-serialized; with `bs` each line wrapped as bytes.
 */
function fieldValue(fields: Fields, name: string, params: Parameters): string {
  const lines = fieldLines(fields, name);
  if (!lines) return fail('missing-component', `the message has no "${name}" field`);
  const key = params.get('key');
  if (key !== undefined) {
    if (typeof key !== 'string') return fail('malformed', '"key" must be a string');
    const member = dictionaryOf(lines.join(', '), `"${name}" (a dictionary for "key")`).get(key);
    if (!member) return fail('missing-component', `"${name}" has no member "${key}"`);
    return serializeMember(member);
  }
  if (params.has('sf')) {
    const type = STRUCTURED_FIELDS[name];
    if (type === undefined) return fail('malformed', `"sf" on "${name}", a field whose structured type is not known`);
    const text = lines.join(', ');
    return type === 'dictionary' ? serializeDictionary(dictionaryOf(text, `"${name}"`)) : serializeList(listOf(text, `"${name}"`));
  }
  if (params.has('bs')) return lines.map((line) => `:${Buffer.from(line, 'latin1').toString('base64')}:`).join(', ');
  return lines.join(', ');
}

function derivedValues(name: string, params: Parameters, message: Message): string[] {
  if (name === '@status') {
    if (isRequest(message)) return fail('malformed', '@status is for responses');
    return [String(message.status)];
  }
  if (!isRequest(message)) return fail('malformed', `${name} is for requests`);
  if (name === '@method') return [message.method];
  if (name === '@target-uri') return [message.targetUri];
  let url: URL;
  try {
    url = new URL(message.targetUri);
  } catch (err) {
    return fail('malformed', 'the target URI is not a URI', err);
  }
  switch (name) {
    case '@authority':
      // WHATWG URL lower-cases the host and drops a default port, as RFC 9421 §2.2.3 asks.
      return [url.host];
    case '@scheme':
      return [url.protocol.slice(0, -1)];
    case '@request-target':
      return [url.pathname + url.search];
    case '@path':
      return [url.pathname || '/'];
    case '@query':
      return [url.search || '?'];
    case '@query-param': {
      const wanted = params.get('name');
      if (typeof wanted !== 'string') return fail('malformed', '@query-param needs a "name"');
      const decodedName = decodeURIComponent(wanted);
      const values = [...url.searchParams].filter(([key]) => key === decodedName).map(([, value]) => encodeURIComponent(value));
      if (values.length === 0) return fail('missing-component', `the query has no parameter "${decodedName}"`);
      return values;
    }
    default:
      return fail('malformed', `unknown derived component ${name}`);
  }
}

const KNOWN_PARAMS = new Set(['req', 'key', 'sf', 'bs', 'name']);

/** The values of one covered component (usually one; `@query-param` may give several). */
function componentValues(id: Item, message: Message): string[] {
  const [name, params] = id;
  if (typeof name !== 'string') return fail('malformed', 'a component name must be a string');
  for (const param of params.keys()) {
    if (!KNOWN_PARAMS.has(param)) fail('malformed', `unsupported component parameter "${param}" on ${name}`);
  }
  if (name !== name.toLowerCase()) fail('malformed', `component names are lower case: ${name}`);
  if (params.has('bs') && (params.has('key') || params.has('sf'))) fail('malformed', `"bs" with "key" or "sf" on ${name}`);
  let context: Message = message;
  if (params.has('req')) {
    if (isRequest(message)) return fail('malformed', `"req" on ${name} in a request signature`);
    if (!message.request) return fail('missing-component', `${name};req needs the request`);
    context = message.request;
  }
  if (name.startsWith('@')) {
    if (name === '@signature-params') return fail('malformed', '@signature-params cannot be covered');
    return derivedValues(name, params, context);
  }
  return [fieldValue(context.fields, name, params)];
}

/** The signature base of RFC 9421 §2.5 for these covered components and signature parameters. */
export function signatureBase(covered: Item[], params: Parameters, message: Message): string {
  const lines: string[] = [];
  const seen = new Set<string>();
  for (const id of covered) {
    const key = componentKey(id);
    if (seen.has(key)) fail('malformed', `${key} is covered twice`);
    seen.add(key);
    for (const value of componentValues(id, message)) {
      if (/[\r\n]/.test(value)) fail('malformed', `${key} has a line break`);
      lines.push(`${key}: ${value}`);
    }
  }
  lines.push(`"@signature-params": ${serializeInnerList([covered, params])}`);
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// Algorithms (RFC 9421 §3.3), with node:crypto.

export type Algorithm = 'rsa-pss-sha512' | 'rsa-v1_5-sha256' | 'ecdsa-p256-sha256' | 'ecdsa-p384-sha384' | 'ed25519';

/** Which algorithms a key may sign with; the first is what we sign with. */
export function algorithmsFor(key: KeyObject): Algorithm[] {
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return ['rsa-pss-sha512', 'rsa-v1_5-sha256'];
    case 'rsa-pss':
      return ['rsa-pss-sha512'];
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      if (curve === 'prime256v1') return ['ecdsa-p256-sha256'];
      if (curve === 'secp384r1') return ['ecdsa-p384-sha384'];
      return [];
    }
    case 'ed25519':
      return ['ed25519'];
    default:
      return [];
  }
}

const isAlgorithm = (alg: string): alg is Algorithm => ['rsa-pss-sha512', 'rsa-v1_5-sha256', 'ecdsa-p256-sha256', 'ecdsa-p384-sha384', 'ed25519'].includes(alg);

function cryptoArgs(alg: Algorithm, key: KeyObject): [string | null, KeyObject | SignKeyObjectInput] {
  switch (alg) {
    case 'rsa-pss-sha512':
      // RFC 9421 §3.3.1: MGF1 with SHA-512 and a 64-byte salt.
      return ['sha512', { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 64 }];
    case 'rsa-v1_5-sha256':
      return ['sha256', { key, padding: constants.RSA_PKCS1_PADDING }];
    case 'ecdsa-p256-sha256':
      // RFC 9421 §3.3.4: the signature is r || s, not DER.
      return ['sha256', { key, dsaEncoding: 'ieee-p1363' }];
    case 'ecdsa-p384-sha384':
      return ['sha384', { key, dsaEncoding: 'ieee-p1363' }];
    case 'ed25519':
      return [null, key];
  }
}

export function signBase(alg: Algorithm, key: KeyObject, base: string): Buffer {
  const [hash, keyInput] = cryptoArgs(alg, key);
  return cryptoSign(hash, Buffer.from(base, 'ascii'), keyInput);
}

export function verifyBase(alg: Algorithm, key: KeyObject, base: string, signature: Buffer): boolean {
  const [hash, keyInput] = cryptoArgs(alg, key);
  try {
    return cryptoVerify(hash, Buffer.from(base, 'ascii'), keyInput, signature);
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Content-Digest (RFC 9530).

/** `sha-256=:<base64>:` for these body bytes. */
export function contentDigest(body: Buffer | string): string {
  return serializeDictionary({ 'sha-256': createHash('sha256').update(body).digest() });
}

const DIGESTS: Record<string, string> = { 'sha-256': 'sha256', 'sha-512': 'sha512' };

/** Checks a Content-Digest field against the body: every sha-256/sha-512 member must match, and at least one must be there. */
export function checkContentDigest(field: string | undefined, body: Buffer): void {
  if (field === undefined) return fail('digest', 'the message has a body but no Content-Digest');
  let checked = 0;
  for (const [name, member] of dictionaryOf(field, 'Content-Digest', 'digest')) {
    const hash = DIGESTS[name];
    if (!hash) continue;
    const given = bytesOf(member) ?? fail('digest', `Content-Digest ${name} is not a byte sequence`);
    const expected = createHash(hash).update(body).digest();
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) fail('digest', `Content-Digest ${name} does not match the body`);
    checked++;
  }
  if (checked === 0) fail('digest', 'Content-Digest has no sha-256 or sha-512 member');
}

// ---------------------------------------------------------------------------------------------
// Certificates: Signature-Certificate and keyid.

export const LABEL = 'sig1';
export const CERTIFICATE_FIELD = 'signature-certificate';

/** base64url SHA-256 of the certificate's DER: our `keyid`. */
export const thumbprint = (certificate: X509Certificate): string => createHash('sha256').update(certificate.raw).digest('base64url');

interface ParsedCertificates {
  leaf: X509Certificate;
  chain: X509Certificate[];
  keyid: string;
  publicKey: KeyObject;
}

const CERTIFICATE_CACHE_SIZE = 256;
const certificateCache = new Map<string, ParsedCertificates>();

/** Parses Signature-Certificate; remembers recent values so a known signer costs a map lookup. */
function parseCertificateField(field: string): ParsedCertificates {
  const cached = certificateCache.get(field);
  if (cached) return cached;
  const certificates = listOf(field, 'Signature-Certificate').map((member) => {
    const der = bytesOf(member) ?? fail('malformed', 'Signature-Certificate holds something else than byte sequences');
    try {
      return new X509Certificate(der);
    } catch (err) {
      return fail('malformed', 'Signature-Certificate holds something else than certificates', err);
    }
  });
  const [leaf, ...chain] = certificates;
  if (!leaf) return fail('unknown-key', 'Signature-Certificate is empty');
  const parsed = { leaf, chain, keyid: thumbprint(leaf), publicKey: leaf.publicKey };
  if (certificateCache.size >= CERTIFICATE_CACHE_SIZE) certificateCache.delete(certificateCache.keys().next().value!);
  certificateCache.set(field, parsed);
  return parsed;
}

interface Signer {
  key: KeyObject;
  alg: Algorithm;
  keyid: string;
  certificateField: string;
}

const signers = new WeakMap<Credentials, Signer>();

function signerFor(credentials: Credentials): Signer {
  let signer = signers.get(credentials);
  if (!signer) {
    const alg = algorithmsFor(credentials.key)[0];
    if (!alg) throw new Error(`no HTTP signature algorithm for a ${credentials.key.asymmetricKeyType} key`);
    signer = {
      key: credentials.key,
      alg,
      keyid: thumbprint(credentials.certificate),
      certificateField: serializeList([credentials.certificate, ...credentials.chain].map((c): Item => [c.raw, new Map()])),
    };
    signers.set(credentials, signer);
  }
  return signer;
}

// ---------------------------------------------------------------------------------------------
// The profile: what is covered, signing and verifying one message.

/** How far `created` may be from the verifier's clock, and the life of our signatures. */
export const DEFAULT_WINDOW_SECONDS = 300;

export interface TimeOptions {
  /** The clock, in milliseconds (tests). */
  now?: () => number;
  windowSeconds?: number;
}

const has = (fields: Fields, name: string) => fields[name] !== undefined;

function lowerCased(headers: Record<string, string | string[] | number | undefined> | undefined): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers ?? {})) if (value !== undefined) out[name.toLowerCase()] = typeof value === 'number' ? String(value) : value;
  return out;
}

function requestComponents(fields: Fields): ComponentId[] {
  const covered = [component('@method'), component('@target-uri'), component('date')];
  if (has(fields, 'content-type')) covered.push(component('content-type'));
  if (has(fields, 'content-digest')) covered.push(component('content-digest'));
  return covered;
}

function responseComponents(fields: Fields, request: RequestMessage | undefined): ComponentId[] {
  const covered = [component('@status'), component('date')];
  if (has(fields, 'content-type')) covered.push(component('content-type'));
  covered.push(component('content-digest'));
  if (request) {
    covered.push(component('@method', { req: true }), component('@target-uri', { req: true }));
    if (has(request.fields, 'content-digest')) covered.push(component('content-digest', { req: true }));
    if (signatureOf(request) !== undefined) covered.push(component('signature', { req: true, key: LABEL }));
  }
  return covered;
}

/** The request's `sig1` signature value, if it has one that parses. */
function signatureOf(request: RequestMessage): Buffer | undefined {
  const field = fieldLines(request.fields, 'signature');
  if (!field) return undefined;
  try {
    return bytesOf(parseDictionary(field.join(', ')).get(LABEL));
  } catch {
    return undefined;
  }
}

function sign(credentials: Credentials, message: Message, covered: ComponentId[], extra: Record<string, string>, options: TimeOptions): Record<string, string> {
  const signer = signerFor(credentials);
  const created = Math.floor((options.now?.() ?? Date.now()) / 1000);
  const params: Parameters = new Map<string, BareItem>([
    ['created', created],
    ['expires', created + (options.windowSeconds ?? DEFAULT_WINDOW_SECONDS)],
    ...Object.entries(extra),
    ['keyid', signer.keyid],
    ['alg', signer.alg],
  ]);
  const base = signatureBase(covered, params, message);
  const signature = signBase(signer.alg, signer.key, base);
  return {
    'signature-input': serializeDictionary({ [LABEL]: [covered, params] }),
    signature: serializeDictionary({ [LABEL]: new Uint8Array(signature) }),
    [CERTIFICATE_FIELD]: signer.certificateField,
  };
}

/** What a verified message was signed with. */
export interface VerifiedSignature {
  certificate: X509Certificate;
  chain: X509Certificate[];
  alg: Algorithm;
  created: number;
  covered: string[];
}

export interface VerifyOptions extends TimeOptions {
  /** Accepts the signer's certificate (chain, dates, revocation, name) or throws why not. */
  verifyCertificate(certificate: X509Certificate, chain: X509Certificate[]): void;
}

/**
 * Verifies the `sig1` signature of a message and its body: the signature parameters and time
 * window, that every component in `required` is covered, the certificate (keyid = thumbprint,
 * then `verifyCertificate`), the algorithm against the key, the signature over the base, and
 * Content-Digest against the body. Throws HttpSignatureError, or what `verifyCertificate` throws.
 */
export function verifyMessage(message: Message, body: Buffer, required: ComponentId[], options: VerifyOptions): VerifiedSignature {
  const inputField = fieldLines(message.fields, 'signature-input');
  const signatureField = fieldLines(message.fields, 'signature');
  if (!inputField && !signatureField) return fail('unsigned', 'the message is not signed');
  if (!inputField || !signatureField) return fail('malformed', 'Signature and Signature-Input must come together');
  const input = dictionaryOf(inputField.join(', '), 'Signature-Input').get(LABEL);
  const value = dictionaryOf(signatureField.join(', '), 'Signature').get(LABEL);
  if (!input || !value) return fail('unsigned', `no signature labelled ${LABEL}`);
  if (!isInnerList(input)) return fail('malformed', 'Signature-Input is not an inner list');
  rfc8941(input, 'Signature-Input');
  const signature = bytesOf(value) ?? fail('malformed', 'Signature is not a byte sequence');
  rfc8941(value, 'Signature');

  const [items, params] = input;
  const { created, expires, keyid, alg } = Object.fromEntries(params) as Record<string, BareItem | undefined>;
  const isInteger = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n);
  if (!isInteger(created) || (expires !== undefined && !isInteger(expires))) return fail('malformed', '"created" (and "expires") must be integers');
  if (typeof keyid !== 'string' || typeof alg !== 'string') return fail('malformed', '"keyid" and "alg" are required strings');
  const now = Math.floor((options.now?.() ?? Date.now()) / 1000);
  const window = options.windowSeconds ?? DEFAULT_WINDOW_SECONDS;
  if (Math.abs(now - created) > window) return fail('expired', `created ${created} is more than ${window} s from now (${now})`);
  if (expires !== undefined && expires < now) return fail('expired', `expired at ${expires}`);

  const covered = items.map(componentKey);
  const missing = required.map(componentKey).filter((key) => !covered.includes(key));
  if (missing.length > 0) return fail('missing-component', `the signature does not cover ${missing.join(', ')}`);

  const field = fieldLines(message.fields, CERTIFICATE_FIELD);
  if (!field) return fail('unknown-key', 'no Signature-Certificate');
  const certificates = parseCertificateField(field.join(', '));
  if (certificates.keyid !== keyid) return fail('unknown-key', 'keyid is not the thumbprint of the certificate sent');
  options.verifyCertificate(certificates.leaf, certificates.chain);
  if (!isAlgorithm(alg) || !algorithmsFor(certificates.publicKey).includes(alg)) return fail('algorithm', `"${alg}" is not accepted for this certificate's key`);

  const base = signatureBase(items, params, message);
  if (!verifyBase(alg, certificates.publicKey, base, signature)) return fail('signature', 'the signature does not verify');
  // The body counts only as far as the digest the signature covers vouches for it.
  if (body.length > 0 && !covered.includes('"content-digest"')) return fail('missing-component', 'the body is not covered by a signed Content-Digest');
  if (covered.includes('"content-digest"')) checkContentDigest(fieldLines(message.fields, 'content-digest')?.join(', '), body);
  return { certificate: certificates.leaf, chain: certificates.chain, alg, created, covered };
}

// ---------------------------------------------------------------------------------------------
// Requests and answers, as the gateway and the simulators exchange them.

export interface OutgoingRequest {
  method: string;
  /** The full URL the request goes to. */
  url: string;
  headers?: Record<string, string>;
  body?: string | Buffer | undefined;
}

/** A request ready to send, and what verifying its answer needs (the request as signed). */
export interface SignedRequest {
  headers: Record<string, string>;
  message: RequestMessage;
}

/** Adds Date, Content-Digest (with a body), Signature-Input, Signature and Signature-Certificate. */
export function signRequest(credentials: Credentials, request: OutgoingRequest, options: TimeOptions = {}): SignedRequest {
  const headers: Record<string, string> = lowerCased(request.headers) as Record<string, string>;
  headers.date ??= new Date(options.now?.() ?? Date.now()).toUTCString();
  if (request.body !== undefined && request.body.length > 0) headers['content-digest'] = contentDigest(request.body);
  const message: RequestMessage = { method: request.method.toUpperCase(), targetUri: new URL(request.url).href, fields: headers };
  Object.assign(headers, sign(credentials, message, requestComponents(headers), { nonce: randomBytes(12).toString('base64url') }, options));
  return { headers, message };
}

/** Components an answer must cover to be believed as the answer to this request. */
export function responseRequirements(request: RequestMessage, fields: Fields): ComponentId[] {
  return responseComponents(fields, request);
}

/** Verifies an answer to a request signed with signRequest. */
export function verifyResponse(response: { status: number; headers: Fields; body: Buffer }, request: RequestMessage, options: VerifyOptions): VerifiedSignature {
  const message: ResponseMessage = { status: response.status, fields: lowerCased(response.headers), request };
  return verifyMessage(message, response.body, responseRequirements(request, message.fields), options);
}

/** The request a node server received, as the signature base sees it. */
export function incomingRequest(req: IncomingMessage, options: { scheme?: 'http' | 'https' } = {}): RequestMessage {
  const scheme = options.scheme ?? ('encrypted' in req.socket ? 'https' : 'http');
  const targetUri = new URL(req.url ?? '/', `${scheme}://${req.headers.host ?? 'localhost'}`).href;
  return { method: req.method ?? 'GET', targetUri, fields: req.headers };
}

/** Verifies a request a server received, with its body. */
export function verifyRequest(request: RequestMessage, body: Buffer, options: VerifyOptions): VerifiedSignature {
  const fields = lowerCased(request.fields);
  const required = [component('@method'), component('@target-uri'), component('date')];
  if (has(fields, 'content-type')) required.push(component('content-type'));
  if (body.length > 0) required.push(component('content-digest'));
  return verifyMessage({ ...request, fields }, body, required, options);
}

export interface OutgoingResponse {
  status: number;
  headers: Record<string, string | number>;
  body: Buffer | string;
}

/**
 * The headers to add to an answer: Date (unless set), Content-Digest, and the signature, bound to
 * `request` (what the server received) when there is one.
 */
export function signResponse(credentials: Credentials, response: OutgoingResponse, request: RequestMessage | undefined, options: TimeOptions = {}): Record<string, string> {
  const headers = lowerCased(response.headers) as Record<string, string>;
  const added: Record<string, string> = {};
  if (headers.date === undefined) added.date = new Date(options.now?.() ?? Date.now()).toUTCString();
  added['content-digest'] = contentDigest(response.body);
  const fields = { ...headers, ...added };
  const message: ResponseMessage = { status: response.status, fields, request: request && { ...request, fields: lowerCased(request.fields) } };
  return { ...added, ...sign(credentials, message, responseComponents(fields, message.request), {}, options) };
}

/** The same headers with one bit of the signature flipped: what the sandbox's `bad-signature` fault sends. */
export function withTamperedSignature(headers: Record<string, string>): Record<string, string> {
  const bytes = bytesOf(dictionaryOf(headers.signature ?? '', 'Signature').get(LABEL));
  if (!bytes) return headers;
  const middle = bytes.length >> 1;
  bytes[middle] = bytes[middle]! ^ 0x01;
  return { ...headers, signature: serializeDictionary({ [LABEL]: bytes }) };
}

// ---------------------------------------------------------------------------------------------
// The gateway's side: sign every request, verify every answer before anything reads it.

/** What the caller is told; the precise reason goes to the log as the error's cause. */
const REFUSALS: Record<SignatureFailure, string> = {
  unsigned: 'the answer is not signed',
  malformed: 'the answer signature is malformed',
  'missing-component': 'the answer signature does not cover what it must',
  expired: 'the answer signature is outside its validity window',
  'unknown-key': 'the answer signature names no usable certificate',
  algorithm: "the answer signature algorithm does not suit the system's key",
  signature: 'the answer signature does not verify',
  digest: 'the answer body does not match its signed digest',
};

export interface UpstreamSignatures {
  /** Signs, sends, and returns the answer only once its signature, certificate and digest check out. */
  send(http: UpstreamHttp, request: UpstreamRequest): Promise<UpstreamResponse>;
  /** The signed headers for a request sent some other way (health probes). */
  headers(http: UpstreamHttp, request: Omit<UpstreamRequest, 'signal'>): Record<string, string>;
}

/**
 * Signing for one upstream: the gateway's credentials sign; the upstream's answers must be
 * signed with a certificate `verifyPeer` accepts. Refusals are GatewayErrors:
 * UPSTREAM_SIGNATURE_INVALID for the message, the certificate codes from `verifyPeer`.
 */
export function createUpstreamSignatures(signing: UpstreamSigning, options: TimeOptions & { upstream: string }): UpstreamSignatures {
  const verifyOptions: VerifyOptions = { ...options, verifyCertificate: (certificate, chain) => signing.verifyPeer(certificate, chain) };
  const signed = (http: UpstreamHttp, request: Omit<UpstreamRequest, 'signal'>) =>
    signRequest(signing.credentials, { method: request.method, url: http.baseUrl + request.path, headers: request.headers, body: request.body }, options);
  return {
    headers: (http, request) => signed(http, request).headers,
    async send(http, request) {
      const { headers, message } = signed(http, request);
      const response = await http.send({ ...request, headers });
      try {
        verifyResponse(response, message, verifyOptions);
      } catch (err) {
        if (isGatewayError(err)) throw err;
        const why = err instanceof HttpSignatureError ? REFUSALS[err.reason] : REFUSALS.signature;
        throw new GatewayError('UPSTREAM_SIGNATURE_INVALID', { detail: `${options.upstream}: ${why}`, upstreamFailure: true, cause: err });
      }
      return response;
    },
  };
}
