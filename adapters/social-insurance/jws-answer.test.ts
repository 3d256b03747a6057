import { describe, expect, it, vi } from 'vitest';
import { sample } from '../../src/signing/material.ts';
import { loadPemCredentials, readCertificates, withChain } from '../../src/signing/trust-store.ts';
import { failure, testSigning } from '../contract/test-kit.ts';
import { createAnswerVerifier, decodeAnswer } from './jws-answer.ts';
import { createJwsSigner } from './jws.ts';

const intermediates = readCertificates(sample('issuing-ca.pem'));
const signerOf = (name: string) => createJwsSigner(withChain(loadPemCredentials(sample(`${name}.pem`), sample(`${name}.key.pem`)), intermediates));
const answer = { maLoi: '04', moTa: 'Không tìm thấy', maYeuCau: 'r-1', thoiGian: '20261128064251' };
const text = JSON.stringify(answer);

describe('decodeAnswer with the gateway’s verifier', () => {
  const verify = createAnswerVerifier(testSigning('social-insurance'));

  it('reads an answer signed with the system’s certificate', async () => {
    expect(await decodeAnswer(await signerOf('social-insurance')(text), verify)).toEqual(answer);
  });

  it('refuses the system’s revoked and expired certificates, and other systems’ certificates', async () => {
    const cases = [
      ['social-insurance-revoked', 'UPSTREAM_CERT_REVOKED'],
      ['social-insurance-expired', 'UPSTREAM_CERT_EXPIRED'],
      // Chained to the national root but issued to someone else: the pinned name refuses them.
      ['tax', 'UPSTREAM_CERT_UNTRUSTED'],
      ['business-registry', 'UPSTREAM_CERT_UNTRUSTED'],
      ['gateway', 'UPSTREAM_CERT_UNTRUSTED'],
    ] as const;
    for (const [name, code] of cases) {
      const err = await failure(decodeAnswer(await signerOf(name)(text), verify));
      expect({ name, code: err.code, status: err.status, upstreamFailure: err.upstreamFailure }).toEqual({ name, code, status: 502, upstreamFailure: true });
    }
  });

  it('asks the trust check of this upstream, with the chain the answer carries', async () => {
    const verifyPeer = vi.fn();
    await decodeAnswer(await signerOf('social-insurance')(text), createAnswerVerifier({ verifyPeer }));
    expect(verifyPeer).toHaveBeenCalledTimes(1);
    const [leaf, chain] = verifyPeer.mock.calls[0] as [{ subject: string }, { subject: string }[]];
    expect(leaf.subject).toMatch(/CN=social-insurance\.sandbox\.lienthong\.vn/);
    expect(chain.map((c) => c.subject)).toEqual([intermediates[0]!.subject]);
  });
});
