import type { Element } from '@xmldom/xmldom';
import { GatewayError } from '../../src/errors/gateway-error.ts';
import type { UpstreamSigning } from '../../src/signing/material.ts';
import { signSoapEnvelope, verifySoapEnvelope } from '../../src/signing/xml-signature.ts';
import type { RawAnswer } from './errors.ts';

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
