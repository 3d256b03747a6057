import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isGatewayError } from '../errors/gateway-error.ts';
import { commonName, createTrustStore, loadPemCredentials, loadPkcs12Credentials, readCertificates } from './trust-store.ts';

const dir = 'certs-sample';
const cert = (name: string) => readCertificates(`${dir}/${name}.pem`)[0]!;
const store = createTrustStore({
  roots: readCertificates(`${dir}/root-ca.pem`),
  intermediates: readCertificates(`${dir}/issuing-ca.pem`),
  crls: [readFileSync(`${dir}/issuing-ca.crl.pem`)],
});

function code(fn: () => void): string {
  try {
    fn();
  } catch (err) {
    if (isGatewayError(err)) return err.code;
    throw err;
  }
  return 'OK';
}

describe('trust store (sample PKI)', () => {
  it('trusts every simulator, the gateway and the TSA through the issuing CA', () => {
    for (const name of ['population', 'tax', 'business-registry', 'social-insurance', 'dvcqg', 'gateway', 'gateway-ec', 'tsa', 'portal-client']) {
      expect(code(() => store.verify(cert(name))), name).toBe('OK');
    }
  });

  it('refuses revoked, expired, foreign and mis-pinned certificates with their own codes', () => {
    expect(code(() => store.verify(cert('tax-revoked')))).toBe('UPSTREAM_CERT_REVOKED');
    expect(code(() => store.verify(cert('tax-expired')))).toBe('UPSTREAM_CERT_EXPIRED');
    expect(code(() => store.verify(cert('tax'), { expectedName: 'tax.sandbox.lienthong.vn' }))).toBe('OK');
    expect(code(() => store.verify(cert('population'), { expectedName: 'tax.sandbox.lienthong.vn' }))).toBe('UPSTREAM_CERT_UNTRUSTED');
    // Without the intermediate there is no path; with it sent by the peer (x5c) there is.
    const bare = createTrustStore({ roots: readCertificates(`${dir}/root-ca.pem`) });
    expect(code(() => bare.verify(cert('tax')))).toBe('UPSTREAM_CERT_UNTRUSTED');
    expect(code(() => bare.verify(cert('tax'), { chain: [cert('issuing-ca')] }))).toBe('OK');
    // A root that is not ours.
    const other = createTrustStore({ roots: [cert('tsa')] });
    expect(code(() => other.verify(cert('tax'), { chain: [cert('issuing-ca')] }))).toBe('UPSTREAM_CERT_UNTRUSTED');
  });

  it('judges dates at the time it is asked about', () => {
    const leaf = cert('tax');
    expect(code(() => store.verify(leaf, { at: new Date(new Date(leaf.validTo).getTime() + 1000) }))).toBe('UPSTREAM_CERT_EXPIRED');
  });

  it('refuses a CRL that no trusted CA signed', () => {
    expect(() => createTrustStore({ roots: [cert('tsa')], crls: [readFileSync(`${dir}/issuing-ca.crl.pem`)] })).toThrow(/not signed by any trusted CA/);
  });

  it('loads credentials from PEM and from PKCS#12', () => {
    const pem = loadPemCredentials(`${dir}/gateway.pem`, `${dir}/gateway.key.pem`);
    expect(pem.certificate.checkPrivateKey(pem.key)).toBe(true);
    const p12 = loadPkcs12Credentials(`${dir}/portal-client.p12`, 'sandbox');
    expect(commonName(p12.certificate)).toBe('sandbox-portal');
    expect(p12.chain.map((c) => commonName(c))).toEqual(['Liên thông Sample Issuing CA']);
    expect(p12.certificate).toBeInstanceOf(X509Certificate);
    expect(() => loadPkcs12Credentials(`${dir}/portal-client.p12`, 'wrong')).toThrow();
  });
});
