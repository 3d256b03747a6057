import { GatewayError } from '../../src/errors/gateway-error.ts';
import type { UpstreamSigning } from '../../src/signing/material.ts';
import { signEnveloped, verifyEnveloped } from '../../src/signing/xml-signature.ts';
import type { AnswerVerifier, RequestSigner } from './client.ts';

const PEER = 'tax administration';

/**
 * Enveloped XML signatures both ways with the gateway's certificate: every request document is
 * signed (`ds:Signature` as the last child of the root, `URI=""`), and every answer the client
 * reads must carry one by a certificate `signing.verifyPeer` accepts. The verifier hands back the
 * signed content itself (exclusive canonical form, signature removed), which is what gets parsed.
 */
export function taxMessageSecurity(signing: UpstreamSigning): { signRequest: RequestSigner; verifyAnswer: AnswerVerifier } {
  return {
    signRequest: (xml) => {
      try {
        return signEnveloped(xml, signing.credentials);
      } catch (err) {
        throw new GatewayError('INTERNAL_ERROR', { detail: 'the request to the tax administration could not be signed', cause: err });
      }
    },
    verifyAnswer: (xml) => verifyEnveloped(xml, signing.verifyPeer, { peer: PEER }).signedXml,
  };
}
