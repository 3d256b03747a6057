import type { UpstreamSigning } from '../../src/signing/material.ts';
import { createX5cVerifier, openJws, type JwsVerifier } from './jws.ts';

/**
 * The one place where the system's answers are opened. Everything the client reads from an
 * answer comes out of `decodeAnswer`, and `decodeAnswer` has no path that skips the verifier.
 */

export { ALLOWED_ALGORITHMS } from './jws.ts';

/** Checks an answer's signature and signer and returns the payload bytes it vouches for. */
export type AnswerVerifier = JwsVerifier;

/**
 * The verifier the client uses: the answer's `x5c` chain must satisfy the gateway's trust store
 * and this system's pinned name (`signing.verifyPeer`: untrusted, expired and revoked
 * certificates each have their code), its `kid` must name that certificate, and the signature
 * must verify with its key.
 */
export function createAnswerVerifier(signing: Pick<UpstreamSigning, 'verifyPeer'>): AnswerVerifier {
  return createX5cVerifier((leaf, chain) => signing.verifyPeer(leaf, chain));
}

/**
 * Opens a compact JWS answer and returns its JSON payload, verified. A body that is not a
 * compact JWS is UPSTREAM_BAD_RESPONSE; an unsigned or wrongly signed one
 * UPSTREAM_SIGNATURE_INVALID; the signer's certificate gives UPSTREAM_CERT_*.
 */
export function decodeAnswer(raw: string, verify: AnswerVerifier): Promise<Record<string, unknown>> {
  return openJws(raw, verify);
}
