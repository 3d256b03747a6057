import type { ISecurity } from 'soap';
import { GatewayError } from '../../src/errors/gateway-error.ts';
import type { UpstreamSigning } from '../../src/signing/material.ts';
import { signSoapEnvelope, verifySoapEnvelope } from '../../src/signing/xml-signature.ts';
import type { AnswerInspector } from './transport.ts';

const PEER = 'population database';

/**
 * WS-Security both ways with the gateway's certificate: `security` signs every request envelope
 * `soap` builds (Body and Timestamp, the certificate chain as BinarySecurityTokens), and
 * `verifyAnswer` refuses every operation answer that is not signed by a certificate
 * `signing.verifyPeer` accepts, over the very Body `soap` then reads. The WSDL is not an envelope
 * and is not signed; calls go to the configured endpoint whatever it says.
 */
export function populationMessageSecurity(signing: UpstreamSigning): { security: ISecurity; verifyAnswer: AnswerInspector } {
  return {
    security: {
      postProcess: (xml: string) => {
        try {
          return signSoapEnvelope(xml, signing.credentials);
        } catch (err) {
          throw new GatewayError('INTERNAL_ERROR', { detail: 'the request to the population database could not be signed', cause: err });
        }
      },
    },
    verifyAnswer: (answer) => {
      if (answer.kind === 'soap') verifySoapEnvelope(answer.body, signing.verifyPeer, { peer: PEER });
    },
  };
}
