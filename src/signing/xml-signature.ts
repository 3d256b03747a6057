import { createHash, randomUUID, sign as cryptoSign, verify as cryptoVerify, X509Certificate, type KeyLike, type KeyObject } from 'node:crypto';
import { DOMParser, XMLSerializer, onWarningStopParsing, type Document, type Element, type Node } from '@xmldom/xmldom';
import { SignedXml, createOptionalCallbackFunction, type SignatureAlgorithm } from 'xml-crypto';
import { GatewayError } from '../errors/gateway-error.ts';
import type { Credentials } from './trust-store.ts';

/**
 * XML signatures as the national systems use them, on xml-crypto:
 *
 * - WS-Security 1.1 (X.509 token profile) for SOAP 1.1 envelopes: a `wsse:Security` header with a
 *   `wsu:Timestamp`, the signer's certificate as a `wsse:BinarySecurityToken` (intermediates as
 *   further tokens) and a `ds:Signature` over the Body and the Timestamp, referenced by `wsu:Id`,
 *   whose KeyInfo is a `wsse:SecurityTokenReference` to the token.
 * - Enveloped signatures (`Reference URI=""`) over a whole document, the certificate chain in
 *   `KeyInfo/X509Data`.
 *
 * xml-crypto checks the arithmetic only. What it does not, this module does: refuses DTDs before any
 * parser runs, resolves the signer's certificate and hands it to the caller's trust check, allows
 * only our algorithms, and makes sure the elements a receiver goes on to read are the very nodes the
 * signature covers (signature wrapping), with no duplicate ids.
 */

export const XMLNS = {
  soap: 'http://schemas.xmlsoap.org/soap/envelope/',
  wsse: 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd',
  wsu: 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd',
  ds: 'http://www.w3.org/2000/09/xmldsig#',
  xmlns: 'http://www.w3.org/2000/xmlns/',
} as const;

export const ALGORITHMS = {
  excC14n: 'http://www.w3.org/2001/10/xml-exc-c14n#',
  enveloped: 'http://www.w3.org/2000/09/xmldsig#enveloped-signature',
  sha256: 'http://www.w3.org/2001/04/xmlenc#sha256',
  rsaSha256: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
  ecdsaSha256: 'http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256',
} as const;

export const WSS_TOKEN = {
  x509v3: 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3',
  base64: 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary',
} as const;

/** Accepts the signer's certificate (chain, dates, CRL, pinned name) or throws why not. */
export type CertificateCheck = (certificate: X509Certificate, chain: X509Certificate[]) => void;

export interface VerifyOptions {
  /** Names the other side in error details, e.g. "population database". */
  peer?: string;
}

// ---------------------------------------------------------------------------------------------
// Errors

function refused(peer: string | undefined, reason: string, cause?: unknown): GatewayError {
  return new GatewayError('UPSTREAM_SIGNATURE_INVALID', {
    detail: `${peer ?? 'peer'}: the message is unsigned or its signature does not verify`,
    upstreamFailure: true,
    cause: new Error(reason, cause === undefined ? undefined : { cause }),
  });
}

function unreadable(peer: string | undefined, reason: string, cause?: unknown): GatewayError {
  return new GatewayError('UPSTREAM_BAD_RESPONSE', {
    detail: `${peer ?? 'peer'}: the message is not well-formed XML`,
    upstreamFailure: true,
    cause: new Error(reason, cause === undefined ? undefined : { cause }),
  });
}

// ---------------------------------------------------------------------------------------------
// Algorithms

/** ECDSA as XML signatures write it: r and s side by side (RFC 4050), not DER. */
class EcdsaSha256 implements SignatureAlgorithm {
  getSignature = createOptionalCallbackFunction((signedInfo: string | Buffer | NodeJS.TypedArray | DataView, privateKey: KeyLike): string =>
    cryptoSign('sha256', toBuffer(signedInfo), { key: privateKey as KeyObject, dsaEncoding: 'ieee-p1363' }).toString('base64'),
  );
  verifySignature = createOptionalCallbackFunction((material: string, key: KeyLike, signatureValue: string): boolean =>
    cryptoVerify('sha256', Buffer.from(material, 'utf8'), { key: key as KeyObject, dsaEncoding: 'ieee-p1363' }, Buffer.from(signatureValue, 'base64')),
  );
  getAlgorithmName = () => ALGORITHMS.ecdsaSha256;
}

class RsaSha256 implements SignatureAlgorithm {
  getSignature = createOptionalCallbackFunction((signedInfo: string | Buffer | NodeJS.TypedArray | DataView, privateKey: KeyLike): string =>
    cryptoSign('sha256', toBuffer(signedInfo), privateKey as KeyObject).toString('base64'),
  );
  verifySignature = createOptionalCallbackFunction((material: string, key: KeyLike, signatureValue: string): boolean =>
    cryptoVerify('sha256', Buffer.from(material, 'utf8'), key as KeyObject, Buffer.from(signatureValue, 'base64')),
  );
  getAlgorithmName = () => ALGORITHMS.rsaSha256;
}

function toBuffer(data: string | Buffer | NodeJS.TypedArray | DataView): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (Buffer.isBuffer(data)) return data;
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/** The signature method that goes with a key: RSA-SHA256 or ECDSA-SHA256, nothing else. */
function algorithmFor(key: KeyObject): string | undefined {
  if (key.asymmetricKeyType === 'rsa') return ALGORITHMS.rsaSha256;
  if (key.asymmetricKeyType === 'ec') return ALGORITHMS.ecdsaSha256;
  return undefined;
}

/** An xml-crypto instance that knows our algorithms and no others (no SHA-1, no HMAC). */
function signedXml(options: ConstructorParameters<typeof SignedXml>[0], transforms: readonly string[]): SignedXml {
  const sig = new SignedXml(options);
  sig.SignatureAlgorithms = { [ALGORITHMS.rsaSha256]: RsaSha256, [ALGORITHMS.ecdsaSha256]: EcdsaSha256 };
  sig.HashAlgorithms = { [ALGORITHMS.sha256]: sig.HashAlgorithms[ALGORITHMS.sha256]! };
  sig.CanonicalizationAlgorithms = Object.fromEntries(transforms.map((t) => [t, sig.CanonicalizationAlgorithms[t]!]));
  // wsu:Id is matched by local name; one id attribute also means one document scan per reference.
  sig.idAttributes = ['Id'];
  return sig;
}

// ---------------------------------------------------------------------------------------------
// Certificates, parsed once

interface ParsedCertificate {
  certificate: X509Certificate;
  publicKey: KeyObject;
}

const MAX_CACHED = 512;
/** A leaf and its intermediates; more is not a chain but work for the receiver. */
const MAX_CERTIFICATES = 5;
const certificates = new Map<string, ParsedCertificate>();

/** A certificate from base64 DER (whitespace allowed), parsed once per DER thumbprint. */
function certificateFromBase64(text: string): ParsedCertificate {
  const der = Buffer.from(text.replace(/\s+/g, ''), 'base64');
  const thumbprint = createHash('sha256').update(der).digest('base64');
  let parsed = certificates.get(thumbprint);
  if (!parsed) {
    const certificate = new X509Certificate(der);
    parsed = { certificate, publicKey: certificate.publicKey };
    if (certificates.size >= MAX_CACHED) certificates.clear();
    certificates.set(thumbprint, parsed);
  }
  return parsed;
}

interface SigningMaterial {
  algorithm: string;
  /** Base64 DER, the leaf first, then the intermediates. */
  certificates: string[];
}

const signingMaterial = new WeakMap<Credentials, SigningMaterial>();

function materialOf(credentials: Credentials): SigningMaterial {
  let material = signingMaterial.get(credentials);
  if (!material) {
    const algorithm = algorithmFor(credentials.key);
    if (!algorithm) throw new Error(`cannot sign XML with a ${credentials.key.asymmetricKeyType ?? 'unknown'} key`);
    material = { algorithm, certificates: [credentials.certificate, ...credentials.chain].map((c) => c.raw.toString('base64')) };
    signingMaterial.set(credentials, material);
  }
  return material;
}

// ---------------------------------------------------------------------------------------------
// Parsing

const ELEMENT = 1;
const CDATA = 4;
const PROCESSING_INSTRUCTION = 7;
const COMMENT = 8;

const TEXT = 3;
const DOCUMENT_TYPE = 10;

/**
 * Refuses a DTD or an entity declaration before any parser sees the text, then parses strictly.
 * Outside the root element only the XML declaration and whitespace are allowed: no signature
 * covers anything there, and other readers find things in it (`soap` drops the first comment and
 * takes the first `<x:Envelope>` it sees, even inside a comment or a processing instruction).
 */
function parse(xml: string, peer: string | undefined): Document {
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) throw unreadable(peer, 'a document type declaration (DTD) is refused');
  let doc: Document;
  try {
    doc = new DOMParser({ onError: onWarningStopParsing }).parseFromString(xml, 'text/xml');
  } catch (err) {
    throw unreadable(peer, 'the document could not be parsed', err);
  }
  if (!doc.documentElement) throw unreadable(peer, 'the document has no root element');
  let position = 0;
  for (let node = doc.firstChild; node; node = node.nextSibling, position++) {
    if (node === doc.documentElement) continue;
    // xmldom keeps the XML declaration as a processing instruction named xml; it can only come first.
    if (node.nodeType === PROCESSING_INSTRUCTION && node.nodeName === 'xml' && position === 0) continue;
    if (node.nodeType === TEXT && /^[ \t\r\n]*$/.test(node.nodeValue ?? '')) continue;
    const what = node.nodeType === COMMENT ? 'a comment' : node.nodeType === PROCESSING_INSTRUCTION ? 'a processing instruction' : node.nodeType === DOCUMENT_TYPE ? 'a document type' : 'content';
    throw refused(peer, `${what} outside the root element is refused: only the XML declaration and whitespace may surround it`);
  }
  return doc;
}

/** Bytes a signature covers (canonical XML of one element), parsed to be read. */
function parseSigned(canonical: string, peer: string | undefined): Element {
  const doc = parse(canonical, peer);
  return doc.documentElement!;
}

/** Our own documents, to be signed: a failure here is ours, not the peer's. */
function parseOwn(xml: string): Document {
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) throw new Error('a document with a DTD is not signed');
  try {
    return new DOMParser({ onError: onWarningStopParsing }).parseFromString(xml, 'text/xml');
  } catch (err) {
    throw new Error('the document to sign is not well-formed XML', { cause: err });
  }
}

const elementChildren = (node: Node): Element[] => {
  const children: Element[] = [];
  for (let child = node.firstChild; child; child = child.nextSibling) if (child.nodeType === ELEMENT) children.push(child as Element);
  return children;
};

const is = (element: Element | null | undefined, ns: string, localName: string): element is Element =>
  !!element && element.namespaceURI === ns && element.localName === localName;

const childrenNamed = (node: Node, ns: string, localName: string) => elementChildren(node).filter((e) => is(e, ns, localName));

interface DocumentIndex {
  /** Every element carrying an id attribute (Id, ID or id, in any namespace), by id. */
  ids: Map<string, Element>;
  signatures: Element[];
  /** Comments, CDATA sections and processing instructions inside the root element. */
  otherNodes: number;
}

/**
 * One walk over the document: ids (a value used twice is refused outright, since a reference to it
 * could be resolved to either element), every ds:Signature, and nodes that parsers read differently.
 */
function indexDocument(doc: Document, peer: string | undefined): DocumentIndex {
  const index: DocumentIndex = { ids: new Map(), signatures: [], otherNodes: 0 };
  const stack: Node[] = [doc.documentElement!];
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (node.nodeType === ELEMENT) {
      const element = node as Element;
      if (is(element, XMLNS.ds, 'Signature')) index.signatures.push(element);
      const attributes = element.attributes;
      for (let i = 0; i < attributes.length; i++) {
        const attribute = attributes.item(i)!;
        const name = attribute.localName ?? attribute.name;
        if (name !== 'Id' && name !== 'ID' && name !== 'id') continue;
        if (index.ids.has(attribute.value)) throw refused(peer, `the id "${attribute.value.slice(0, 60)}" is used twice`);
        index.ids.set(attribute.value, element);
      }
      for (let child = element.lastChild; child; child = child.previousSibling) stack.push(child);
    } else if (node.nodeType === COMMENT || node.nodeType === CDATA || node.nodeType === PROCESSING_INSTRUCTION) {
      index.otherNodes++;
    }
  }
  return index;
}

const text = (element: Element | undefined): string => (element?.textContent ?? '').trim();

interface SignedInfoModel {
  canonicalization: string;
  signatureMethod: string;
  references: { uri: string | null; transforms: string[]; digest: string }[];
}

/** SignedInfo as written (xml-crypto reads the same element again, canonicalized). */
function readSignedInfo(signature: Element, peer: string | undefined): SignedInfoModel {
  const [signedInfo, ...more] = childrenNamed(signature, XMLNS.ds, 'SignedInfo');
  if (!signedInfo || more.length > 0) throw refused(peer, 'the signature must have exactly one SignedInfo');
  const algorithm = (name: string) => childrenNamed(signedInfo, XMLNS.ds, name)[0]?.getAttribute('Algorithm') ?? '';
  return {
    canonicalization: algorithm('CanonicalizationMethod'),
    signatureMethod: algorithm('SignatureMethod'),
    references: childrenNamed(signedInfo, XMLNS.ds, 'Reference').map((reference) => {
      const transforms = childrenNamed(reference, XMLNS.ds, 'Transforms')[0];
      return {
        uri: reference.getAttribute('URI'),
        transforms: transforms ? childrenNamed(transforms, XMLNS.ds, 'Transform').map((t) => t.getAttribute('Algorithm') ?? '') : [],
        digest: childrenNamed(reference, XMLNS.ds, 'DigestMethod')[0]?.getAttribute('Algorithm') ?? '',
      };
    }),
  };
}

function checkAlgorithms(model: SignedInfoModel, key: KeyObject, transforms: readonly string[], peer: string | undefined): void {
  if (model.canonicalization !== ALGORITHMS.excC14n) throw refused(peer, `canonicalization ${model.canonicalization || '(none)'} is not allowed`);
  const expected = algorithmFor(key);
  if (!expected || model.signatureMethod !== expected) {
    throw refused(peer, `signature method ${model.signatureMethod || '(none)'} does not go with a ${key.asymmetricKeyType ?? 'unknown'} key`);
  }
  if (model.references.length === 0) throw refused(peer, 'the signature has no reference');
  for (const reference of model.references) {
    if (reference.digest !== ALGORITHMS.sha256) throw refused(peer, `digest ${reference.digest || '(none)'} is not allowed`);
    if (reference.transforms.length !== transforms.length || reference.transforms.some((t, i) => t !== transforms[i])) {
      throw refused(peer, `transforms ${reference.transforms.join(', ') || '(none)'} are not ${transforms.join(', ')}`);
    }
  }
}

/**
 * The arithmetic, by xml-crypto, with our algorithms only and the key we resolved ourselves.
 * Returns, per reference URI, the canonical bytes whose digest was checked: xml-crypto parses the
 * text again with its own copy of xmldom, so these bytes, not our DOM, are what was verified.
 */
function checkWithXmlCrypto(xml: string, signature: Element, publicKey: KeyObject, transforms: readonly string[], peer: string | undefined): Map<string, string> {
  const sig = signedXml({ publicCert: publicKey }, transforms);
  const verified = new Map<string, string>();
  try {
    sig.loadSignature(signature as unknown as globalThis.Node);
    if (sig.checkSignature(xml) !== true) throw new Error('a reference does not match its digest');
    for (const reference of sig.getReferences()) {
      if (reference.signedReference === undefined || verified.has(reference.uri)) throw new Error(`reference ${reference.uri} was not verified once`);
      verified.set(reference.uri, reference.signedReference);
    }
  } catch (err) {
    throw refused(peer, 'the signature does not verify', err);
  }
  return verified;
}

// ---------------------------------------------------------------------------------------------
// WS-Security

export interface SignEnvelopeOptions {
  /** Seconds between the Timestamp's Created and Expires (default 300). */
  ttlSeconds?: number;
  now?: Date;
}

const SECURITY_PATH = "/*/*[local-name(.)='Header']/*[local-name(.)='Security']";

/**
 * Signs a SOAP 1.1 envelope with WS-Security: adds (or completes) the Header with a
 * `wsse:Security` holding a Timestamp, the certificate chain as BinarySecurityTokens and a
 * signature over the Body and the Timestamp. The envelope must not already carry one.
 */
export function signSoapEnvelope(xml: string, credentials: Credentials, options: SignEnvelopeOptions = {}): string {
  const material = materialOf(credentials);
  const doc = parseOwn(xml);
  const envelope = doc.documentElement;
  if (!is(envelope, XMLNS.soap, 'Envelope')) throw new Error('not a SOAP 1.1 envelope');
  const [body, ...bodies] = childrenNamed(envelope, XMLNS.soap, 'Body');
  if (!body || bodies.length > 0) throw new Error('a SOAP envelope needs exactly one Body');
  let header = childrenNamed(envelope, XMLNS.soap, 'Header')[0];
  if (!header) {
    header = doc.createElementNS(XMLNS.soap, envelope.prefix ? `${envelope.prefix}:Header` : 'Header');
    envelope.insertBefore(header, body);
  }
  if (childrenNamed(header, XMLNS.wsse, 'Security').length > 0) throw new Error('the envelope already has a Security header');

  const id = randomUUID();
  envelope.setAttributeNS(XMLNS.xmlns, 'xmlns:wsse', XMLNS.wsse);
  envelope.setAttributeNS(XMLNS.xmlns, 'xmlns:wsu', XMLNS.wsu);
  const bodyId = body.getAttributeNS(XMLNS.wsu, 'Id') || `Body-${id}`;
  body.setAttributeNS(XMLNS.wsu, 'wsu:Id', bodyId);

  const element = (ns: string, name: string, content?: string) => {
    const e = doc.createElementNS(ns, name);
    if (content !== undefined) e.appendChild(doc.createTextNode(content));
    return e;
  };
  const now = options.now ?? new Date();
  const expires = new Date(now.getTime() + (options.ttlSeconds ?? 300) * 1000);
  const security = element(XMLNS.wsse, 'wsse:Security');
  security.setAttributeNS(XMLNS.soap, `${envelope.prefix ?? 'soap'}:mustUnderstand`, '1');
  const timestamp = element(XMLNS.wsu, 'wsu:Timestamp');
  timestamp.setAttributeNS(XMLNS.wsu, 'wsu:Id', `TS-${id}`);
  timestamp.appendChild(element(XMLNS.wsu, 'wsu:Created', now.toISOString()));
  timestamp.appendChild(element(XMLNS.wsu, 'wsu:Expires', expires.toISOString()));
  security.appendChild(timestamp);
  const tokenId = `X509-${id}`;
  material.certificates.forEach((der, i) => {
    const token = element(XMLNS.wsse, 'wsse:BinarySecurityToken', der);
    token.setAttribute('EncodingType', WSS_TOKEN.base64);
    token.setAttribute('ValueType', WSS_TOKEN.x509v3);
    token.setAttributeNS(XMLNS.wsu, 'wsu:Id', i === 0 ? tokenId : `${tokenId}-${i}`);
    security.appendChild(token);
  });
  header.appendChild(security);
  const prepared = new XMLSerializer().serializeToString(doc);

  const sig = signedXml(
    {
      privateKey: credentials.key,
      signatureAlgorithm: material.algorithm,
      canonicalizationAlgorithm: ALGORITHMS.excC14n,
      idMode: 'wssecurity',
      getKeyInfoContent: () =>
        `<wsse:SecurityTokenReference><wsse:Reference URI="#${tokenId}" ValueType="${WSS_TOKEN.x509v3}"/></wsse:SecurityTokenReference>`,
    },
    [ALGORITHMS.excC14n],
  );
  // Paths from the root rather than `//`: xpath evaluation is most of xml-crypto's cost.
  for (const xpath of [`${SECURITY_PATH}/*[local-name(.)='Timestamp']`, `/*/*[local-name(.)='Body']`]) {
    sig.addReference({ xpath, transforms: [ALGORITHMS.excC14n], digestAlgorithm: ALGORITHMS.sha256 });
  }
  sig.computeSignature(prepared, { prefix: 'ds', location: { reference: SECURITY_PATH, action: 'append' }, existingPrefixes: { wsse: XMLNS.wsse } });
  return sig.getSignedXml();
}

export interface VerifySoapOptions extends VerifyOptions {
  now?: Date;
  /** Clock difference allowed on the Timestamp, in seconds (default 60). */
  skewSeconds?: number;
}

export interface VerifiedEnvelope {
  certificate: X509Certificate;
  /**
   * The envelope's Body, parsed from the very bytes whose digest the signature covers (its
   * exclusive canonical form): read this and nothing else of the message.
   */
  body: Element;
  /** Those bytes. */
  signedBody: string;
  created: Date;
  expires: Date;
}

/**
 * Verifies a WS-Security signed SOAP 1.1 envelope. Refuses (UPSTREAM_SIGNATURE_INVALID) unless the
 * one Security header holds one Timestamp, the token the signature names and one signature, whose
 * references resolve (by unique id) to exactly the envelope's one Body and that Timestamp, the
 * arithmetic holds and the Timestamp is current. The certificate goes to `check` (its own errors
 * pass through). A message that is not XML, or not an envelope, is UPSTREAM_BAD_RESPONSE.
 */
export function verifySoapEnvelope(xml: string, check: CertificateCheck, options: VerifySoapOptions = {}): VerifiedEnvelope {
  const { peer } = options;
  const doc = parse(xml, peer);
  const envelope = doc.documentElement!;
  if (!is(envelope, XMLNS.soap, 'Envelope')) throw unreadable(peer, 'the document is not a SOAP 1.1 envelope');
  const children = elementChildren(envelope);
  const bodies = children.filter((e) => e.localName === 'Body');
  const headers = children.filter((e) => e.localName === 'Header');
  const body = bodies[0];
  if (bodies.length !== 1 || !is(body, XMLNS.soap, 'Body') || headers.length > 1 || children.length !== bodies.length + headers.length) {
    throw unreadable(peer, 'the envelope must hold one Body and at most one Header');
  }
  if (headers[0] && !is(headers[0], XMLNS.soap, 'Header')) throw unreadable(peer, 'the envelope Header is not SOAP 1.1');

  const index = indexDocument(doc, peer);
  // A comment or CDATA section splits text that canonicalization joins again: a reader taking one
  // part would read something else than what was signed.
  if (index.otherNodes > 0) throw refused(peer, 'comments, CDATA sections and processing instructions are refused in a signed envelope');
  const securities = headers[0] ? childrenNamed(headers[0], XMLNS.wsse, 'Security') : [];
  if (securities.length === 0) throw refused(peer, 'no WS-Security header');
  if (securities.length > 1) throw refused(peer, 'more than one WS-Security header');
  const security = securities[0]!;
  const signature = index.signatures[0];
  if (!signature) throw refused(peer, 'no signature');
  if (index.signatures.length > 1 || signature.parentNode !== security) throw refused(peer, 'the one signature must be in the Security header');
  const timestamps = childrenNamed(security, XMLNS.wsu, 'Timestamp');
  if (timestamps.length !== 1) throw refused(peer, 'the Security header must hold exactly one Timestamp');
  const timestamp = timestamps[0]!;

  // The signer's token, as the signature's KeyInfo names it; other X.509 tokens are its chain.
  const keyInfo = childrenNamed(signature, XMLNS.ds, 'KeyInfo')[0];
  const tokenReference = keyInfo && childrenNamed(keyInfo, XMLNS.wsse, 'SecurityTokenReference')[0];
  const uri = tokenReference && childrenNamed(tokenReference, XMLNS.wsse, 'Reference')[0]?.getAttribute('URI');
  if (!uri?.startsWith('#')) throw refused(peer, 'the signature does not name its security token');
  const token = index.ids.get(uri.slice(1));
  const tokens = childrenNamed(security, XMLNS.wsse, 'BinarySecurityToken').filter((t) => t.getAttribute('ValueType') === WSS_TOKEN.x509v3);
  if (!token || !tokens.includes(token)) throw refused(peer, 'the signature names no X.509 token of the Security header');
  if (tokens.length > MAX_CERTIFICATES) throw refused(peer, `more than ${MAX_CERTIFICATES} certificates`);
  for (const t of tokens) {
    const encoding = t.getAttribute('EncodingType');
    if (encoding && encoding !== WSS_TOKEN.base64) throw refused(peer, `token encoding ${encoding} is not Base64Binary`);
  }
  let signer: ParsedCertificate;
  let chain: X509Certificate[];
  try {
    signer = certificateFromBase64(text(token));
    chain = tokens.filter((t) => t !== token).map((t) => certificateFromBase64(text(t)).certificate);
  } catch (err) {
    throw refused(peer, 'a security token is not an X.509 certificate', err);
  }
  check(signer.certificate, chain);

  const model = readSignedInfo(signature, peer);
  checkAlgorithms(model, signer.publicKey, [ALGORITHMS.excC14n], peer);
  const referenced = new Map<Element, string>();
  for (const { uri: ref } of model.references) {
    const target = ref?.startsWith('#') ? index.ids.get(ref.slice(1)) : undefined;
    if (!target) throw refused(peer, `reference ${ref ?? '(no URI)'} does not name an element`);
    referenced.set(target, ref!);
  }
  // Signature wrapping: what is read must be what was signed, compared as nodes, not ids.
  const bodyReference = referenced.get(body);
  const timestampReference = referenced.get(timestamp);
  if (!bodyReference) throw refused(peer, 'the envelope Body is not the element the signature covers');
  if (!timestampReference) throw refused(peer, 'the Timestamp is not covered by the signature');
  const verified = checkWithXmlCrypto(xml, signature, signer.publicKey, [ALGORITHMS.excC14n], peer);

  // From here on, only the verified bytes are read, never our own parse of the text received.
  const signedBody = verified.get(bodyReference);
  const signedTimestamp = verified.get(timestampReference);
  if (signedBody === undefined || signedTimestamp === undefined) throw refused(peer, 'the Body or the Timestamp was not verified');
  const readBody = parseSigned(signedBody, peer);
  const readTimestamp = parseSigned(signedTimestamp, peer);
  if (!is(readBody, XMLNS.soap, 'Body') || !is(readTimestamp, XMLNS.wsu, 'Timestamp')) throw refused(peer, 'the signed elements are not a SOAP Body and a Timestamp');

  const created = new Date(text(childrenNamed(readTimestamp, XMLNS.wsu, 'Created')[0]));
  const expires = new Date(text(childrenNamed(readTimestamp, XMLNS.wsu, 'Expires')[0]));
  if (Number.isNaN(created.getTime()) || Number.isNaN(expires.getTime()) || expires <= created) throw refused(peer, 'the Timestamp needs Created before Expires');
  const now = (options.now ?? new Date()).getTime();
  const skew = (options.skewSeconds ?? 60) * 1000;
  if (created.getTime() > now + skew) throw refused(peer, `the message was created in the future (${created.toISOString()})`);
  if (expires.getTime() < now - skew) throw refused(peer, `the message expired at ${expires.toISOString()}`);
  return { certificate: signer.certificate, body: readBody, signedBody, created, expires };
}

// ---------------------------------------------------------------------------------------------
// Enveloped signatures

const ENVELOPED_TRANSFORMS = [ALGORITHMS.enveloped, ALGORITHMS.excC14n] as const;

/**
 * Signs a whole document: a `ds:Signature` appended to the root, with one reference `URI=""`
 * (enveloped-signature, exclusive c14n, SHA-256) and the certificate chain in `X509Data`.
 */
export function signEnveloped(xml: string, credentials: Credentials): string {
  const material = materialOf(credentials);
  // Our own documents: a DTD here is a bug, and xml-crypto's parser would expand its entities.
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) throw new Error('a document with a DTD is not signed');
  const sig = signedXml(
    {
      privateKey: credentials.key,
      signatureAlgorithm: material.algorithm,
      canonicalizationAlgorithm: ALGORITHMS.excC14n,
      getKeyInfoContent: ({ prefix } = {}) => {
        const p = prefix ? `${prefix}:` : '';
        return `<${p}X509Data>${material.certificates.map((c) => `<${p}X509Certificate>${c}</${p}X509Certificate>`).join('')}</${p}X509Data>`;
      },
    },
    ENVELOPED_TRANSFORMS,
  );
  sig.addReference({ xpath: '/*', transforms: [...ENVELOPED_TRANSFORMS], digestAlgorithm: ALGORITHMS.sha256, isEmptyUri: true });
  sig.computeSignature(xml, { prefix: 'ds', location: { reference: '/*', action: 'append' } });
  return sig.getSignedXml();
}

export interface VerifiedDocument {
  certificate: X509Certificate;
  /**
   * What the signature covers, as signed: the root element without the signature, in exclusive
   * canonical form. Read this, not the text received, so nothing unsigned can be read.
   */
  signedXml: string;
}

/**
 * Verifies an enveloped signature: exactly one `ds:Signature`, a child of the root, with one
 * reference `URI=""` (the whole document), our algorithms, and a certificate from `X509Data` that
 * `check` accepts (the first certificate is the signer's, the others its chain).
 */
export function verifyEnveloped(xml: string, check: CertificateCheck, options: VerifyOptions = {}): VerifiedDocument {
  const { peer } = options;
  const doc = parse(xml, peer);
  const root = doc.documentElement!;
  const index = indexDocument(doc, peer);
  const signature = index.signatures[0];
  if (!signature) throw refused(peer, 'no signature');
  if (index.signatures.length > 1) throw refused(peer, 'more than one signature');
  if (signature.parentNode !== root) throw refused(peer, 'the signature is not a child of the root element');

  const keyInfo = childrenNamed(signature, XMLNS.ds, 'KeyInfo')[0];
  const x509Data = keyInfo ? childrenNamed(keyInfo, XMLNS.ds, 'X509Data') : [];
  const encoded = x509Data.flatMap((d) => childrenNamed(d, XMLNS.ds, 'X509Certificate')).map(text);
  if (encoded.length === 0) throw refused(peer, 'the signature carries no certificate');
  if (encoded.length > MAX_CERTIFICATES) throw refused(peer, `more than ${MAX_CERTIFICATES} certificates`);
  let parsed: ParsedCertificate[];
  try {
    parsed = encoded.map(certificateFromBase64);
  } catch (err) {
    throw refused(peer, 'an X509Certificate is not a certificate', err);
  }
  const [signer, ...chain] = parsed as [ParsedCertificate, ...ParsedCertificate[]];
  check(signer.certificate, chain.map((c) => c.certificate));

  const model = readSignedInfo(signature, peer);
  checkAlgorithms(model, signer.publicKey, ENVELOPED_TRANSFORMS, peer);
  if (model.references.length !== 1 || model.references[0]!.uri !== '') throw refused(peer, 'the signature must have one reference, to the whole document (URI="")');
  const signedXml = checkWithXmlCrypto(xml, signature, signer.publicKey, ENVELOPED_TRANSFORMS, peer).get('');
  if (signedXml === undefined) throw refused(peer, 'the signature verified no content');
  return { certificate: signer.certificate, signedXml };
}

/**
 * The same document with one bit of its SignatureValue flipped: still well-formed and still
 * "signed", but not verifiable. For simulators (the `bad-signature` fault) and tests.
 */
export function spoilSignature(xml: string): string {
  return xml.replace(/(<(?:[\w.-]+:)?SignatureValue\b[^>]*>)([^<]+)/, (_match, open: string, value: string) => {
    const bytes = Buffer.from(value.replace(/\s+/g, ''), 'base64');
    bytes[bytes.length >> 1]! ^= 0x01;
    return open + bytes.toString('base64');
  });
}
