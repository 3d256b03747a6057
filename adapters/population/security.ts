import { DOMParser, onWarningStopParsing, type Element, type Node } from '@xmldom/xmldom';
import { GatewayError } from '../../src/errors/gateway-error.ts';
import type { UpstreamSigning } from '../../src/signing/material.ts';
import { signSoapEnvelope, verifySoapEnvelope } from '../../src/signing/xml-signature.ts';
import { badResponse, type RawAnswer } from './errors.ts';
import { SOAP_NS } from './mapping.ts';

const PEER = 'population database';

/** Signs a request envelope before it is sent. */
export type RequestSigner = (xml: string) => string;

/**
 * Checks an answer's message security and returns the Body to read, parsed from the bytes the
 * signature covers; throws a GatewayError to refuse the answer. Nothing else of the answer is read.
 */
export type AnswerVerifier = (answer: RawAnswer) => Element;

/**
 * WS-Security both ways with the gateway's certificate: `signRequest` signs every request envelope
 * (Body and Timestamp, the certificate chain as BinarySecurityTokens), and `verifyAnswer` refuses
 * every answer that is not signed by a certificate `signing.verifyPeer` accepts, or that carries
 * anything outside its Envelope, and hands back the signed Body as the only thing to read.
 */
export function populationMessageSecurity(signing: UpstreamSigning): { signRequest: RequestSigner; verifyAnswer: AnswerVerifier } {
  return {
    signRequest: (xml) => {
      try {
        return signSoapEnvelope(xml, signing.credentials);
      } catch (err) {
        throw new GatewayError('INTERNAL_ERROR', { detail: 'the request to the population database could not be signed', cause: err });
      }
    },
    verifyAnswer: (answer) => verifySoapEnvelope(answer.body, signing.verifyPeer, { peer: PEER }).body,
  };
}

const ELEMENT = 1;
const TEXT = 3;
const PROCESSING_INSTRUCTION = 7;

/**
 * Without WS-Security (through a platform, over TLS with the platform's tokens): the answer is
 * parsed once, strictly, and only its Body is handed on. A DTD, and anything but the XML
 * declaration and whitespace around the Envelope, are refused as they are for signed answers; so
 * are comments, CDATA and processing instructions inside it, which readers disagree on.
 */
export function readPlainEnvelope(answer: RawAnswer): Element {
  const xml = answer.body;
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) throw badResponse('the answer carries a DTD');
  let root: Element | null;
  let doc;
  try {
    doc = new DOMParser({ onError: onWarningStopParsing }).parseFromString(xml, 'text/xml');
    root = doc.documentElement;
  } catch (err) {
    throw badResponse('the answer is not well-formed XML', err);
  }
  if (!root || root.namespaceURI !== SOAP_NS || root.localName !== 'Envelope') throw badResponse('the answer is not a SOAP 1.1 Envelope');
  let position = 0;
  for (let node: Node | null = doc.firstChild; node; node = node.nextSibling, position++) {
    if (node === root) continue;
    if (node.nodeType === PROCESSING_INSTRUCTION && node.nodeName === 'xml' && position === 0) continue;
    if (node.nodeType === TEXT && /^[ \t\r\n]*$/.test(node.nodeValue ?? '')) continue;
    throw badResponse('the answer has content outside its Envelope');
  }
  const stack: Node[] = [root];
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (node.nodeType !== ELEMENT && node.nodeType !== TEXT) throw badResponse('the answer carries comments, CDATA or processing instructions');
    for (let child = node.firstChild; child; child = child.nextSibling) stack.push(child);
  }
  const children: Element[] = [];
  for (let child = root.firstChild; child; child = child.nextSibling) if (child.nodeType === ELEMENT) children.push(child as Element);
  const [first, second, ...rest] = children;
  const isBody = (e: Element | undefined) => !!e && e.namespaceURI === SOAP_NS && e.localName === 'Body';
  const isHeader = (e: Element | undefined) => !!e && e.namespaceURI === SOAP_NS && e.localName === 'Header';
  if (rest.length === 0 && isBody(first) && second === undefined) return first!;
  if (rest.length === 0 && isHeader(first) && isBody(second)) return second!;
  throw badResponse('the Envelope must hold an optional Header and one Body');
}

/** The answers' reading when no message security is spoken: requests leave as built. */
export function plainMessages(): { signRequest: RequestSigner; verifyAnswer: AnswerVerifier } {
  return { signRequest: (xml) => xml, verifyAnswer: readPlainEnvelope };
}
