import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { CN, EMAIL, O, crl, issue, type TestCertificate } from '../../test/helpers/test-pki.ts';
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
  return outcome(fn).split(':')[0]!;
}

/** The error code and its detail ("CODE: detail"), or "OK". */
function outcome(fn: () => void): string {
  try {
    fn();
  } catch (err) {
    if (isGatewayError(err)) return `${err.code}: ${err.detail}`;
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

describe('trust store path validation (RFC 5280 §6)', () => {
  const MINUTE = 60_000;
  let root: TestCertificate;
  let issuing: TestCertificate;
  const dir = mkdtempSync(join(tmpdir(), 'trust-path-'));

  beforeAll(async () => {
    root = await issue({ subject: 'Test Root', ca: {} });
    issuing = await issue({ subject: 'Test Issuing CA', ca: { pathLen: 0 } }, root);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  afterEach(() => vi.useRealTimers());

  /** What `openssl verify` says of the same chain: an independent opinion on each case. */
  function opensslAccepts(leaf: TestCertificate, chain: TestCertificate[], trusted = root): boolean {
    const file = (name: string, certs: TestCertificate[]) => {
      writeFileSync(join(dir, name), certs.map((c) => c.pem).join(''));
      return join(dir, name);
    };
    const args = ['verify', '-CAfile', file('root.pem', [trusted]), ...(chain.length ? ['-untrusted', file('chain.pem', chain)] : []), file('leaf.pem', [leaf])];
    try {
      execFileSync('openssl', args, { stdio: 'pipe' });
      return true;
    } catch {
      return false;
    }
  }

  /** Verifies leaf with the chain sent by the peer, against `trusted` alone; "CODE: detail" or "OK". */
  function judge(leaf: TestCertificate, chain: TestCertificate[], trusted = root, at?: Date): string {
    const store = createTrustStore({ roots: [trusted.x509] });
    return outcome(() => store.verify(leaf.x509, { chain: chain.map((c) => c.x509), ...(at ? { at } : {}) }));
  }

  it('accepts a leaf under an intermediate with pathLen 0, as openssl does', async () => {
    const leaf = await issue({ subject: 'leaf.example.vn' }, issuing);
    expect(judge(leaf, [issuing])).toBe('OK');
    expect(opensslAccepts(leaf, [issuing])).toBe(true);
  });

  it('refuses a CA below an intermediate whose pathLen=0 is exceeded', async () => {
    const second = await issue({ subject: 'Second-level CA', ca: {} }, issuing);
    const leaf = await issue({ subject: 'deep.example.vn' }, second);
    expect(judge(leaf, [second, issuing])).toMatch(/^UPSTREAM_CERT_UNTRUSTED: certificate "Second-level CA" exceeds the path length constraint/);
    expect(opensslAccepts(leaf, [second, issuing])).toBe(false);
    // The root's own pathLenConstraint counts as well.
    const narrowRoot = await issue({ subject: 'Narrow Root', ca: { pathLen: 0 } });
    const middle = await issue({ subject: 'Middle CA', ca: {} }, narrowRoot);
    const below = await issue({ subject: 'below.example.vn' }, middle);
    expect(judge(below, [middle], narrowRoot)).toMatch(/"Middle CA" exceeds the path length constraint/);
    expect(opensslAccepts(below, [middle], narrowRoot)).toBe(false);
  });

  it('refuses an intermediate whose keyUsage lacks keyCertSign', async () => {
    const signOnly = await issue({ subject: 'CA without keyCertSign', ca: {}, keyUsage: [0, 6] }, root);
    const leaf = await issue({ subject: 'leaf.example.vn' }, signOnly);
    expect(judge(leaf, [signOnly])).toMatch(/^UPSTREAM_CERT_UNTRUSTED: .*"CA without keyCertSign".*lacks keyCertSign/);
    expect(opensslAccepts(leaf, [signOnly])).toBe(false);
  });

  it('refuses an intermediate with cA=FALSE, or with no basicConstraints', async () => {
    const notCa = await issue({ subject: 'Not a CA', ca: false, keyUsage: [5] }, root);
    const leaf = await issue({ subject: 'leaf.example.vn' }, notCa);
    expect(judge(leaf, [notCa])).toMatch(/^UPSTREAM_CERT_UNTRUSTED: certificate "Not a CA" issues certificates but is not a CA/);
    expect(opensslAccepts(leaf, [notCa])).toBe(false);
    const bare = await issue({ subject: 'No basicConstraints', ca: null, keyUsage: [5] }, root);
    const under = await issue({ subject: 'leaf.example.vn' }, bare);
    expect(judge(under, [bare])).toMatch(/"No basicConstraints" issues certificates but is not a CA/);
    expect(opensslAccepts(under, [bare])).toBe(false);
  });

  describe('name constraints', () => {
    let constrained: TestCertificate;
    beforeAll(async () => {
      constrained = await issue(
        {
          subject: [[O, 'Province'], [CN, 'Constrained CA']],
          ca: { pathLen: 0 },
          nameConstraints: {
            permitted: [{ dns: 'sonla.gov.vn' }, { dn: [[O, 'Province']] }, { email: 'sonla.gov.vn' }],
            excluded: [{ dns: 'hidden.sonla.gov.vn' }, { email: '.hidden.vn' }],
          },
        },
        root,
      );
    });
    const leafUnder = (profile: Parameters<typeof issue>[0]) => issue(profile, constrained);

    it('accepts names inside the permitted subtrees', async () => {
      const leaf = await leafUnder({ subject: [[O, 'province'], [CN, 'Tax  Office']], altNames: [{ dns: 'tax.sonla.gov.vn' }, { dns: 'notHidden.sonla.gov.vn' }, { email: 'desk@sonla.gov.vn' }] });
      expect(judge(leaf, [constrained])).toBe('OK');
      expect(opensslAccepts(leaf, [constrained])).toBe(true);
    });

    it('refuses a leaf outside the permitted subtree (DNS name, directory name, email)', async () => {
      const dns = await leafUnder({ subject: [[O, 'Province'], [CN, 'Outsider']], altNames: [{ dns: 'tax.hanoi.gov.vn' }] });
      expect(judge(dns, [constrained])).toMatch(/^UPSTREAM_CERT_UNTRUSTED: .*"Constrained CA".*DNS name "tax.hanoi.gov.vn" is outside the permitted subtrees/);
      expect(opensslAccepts(dns, [constrained])).toBe(false);
      // "evilsonla.gov.vn" ends like the permitted domain but is not under it.
      const lookalike = await leafUnder({ subject: [[O, 'Province'], [CN, 'Lookalike']], altNames: [{ dns: 'evilsonla.gov.vn' }] });
      expect(judge(lookalike, [constrained])).toMatch(/DNS name "evilsonla.gov.vn" is outside/);
      expect(opensslAccepts(lookalike, [constrained])).toBe(false);
      const dn = await leafUnder({ subject: [[O, 'Elsewhere'], [CN, 'Outsider']], altNames: [{ dns: 'tax.sonla.gov.vn' }] });
      expect(judge(dn, [constrained])).toMatch(/directory name ".*elsewhere.*" is outside the permitted subtrees/);
      expect(opensslAccepts(dn, [constrained])).toBe(false);
      const email = await leafUnder({ subject: [[O, 'Province'], [CN, 'Mailer'], [EMAIL, 'desk@hanoi.gov.vn']] });
      expect(judge(email, [constrained])).toMatch(/email address "desk@hanoi.gov.vn" is outside the permitted subtrees/);
      expect(opensslAccepts(email, [constrained])).toBe(false);
    });

    it('refuses a leaf inside an excluded subtree', async () => {
      const dns = await leafUnder({ subject: [[O, 'Province'], [CN, 'Hidden']], altNames: [{ dns: 'api.hidden.sonla.gov.vn' }] });
      expect(judge(dns, [constrained])).toMatch(/DNS name "api.hidden.sonla.gov.vn" is within the excluded subtree "hidden.sonla.gov.vn"/);
      expect(opensslAccepts(dns, [constrained])).toBe(false);
      const email = await leafUnder({ subject: [[O, 'Province'], [CN, 'Hidden mail']], altNames: [{ email: 'a@mail.hidden.vn' }] });
      expect(judge(email, [constrained])).toMatch(/email address "a@mail.hidden.vn" is (outside the permitted|within the excluded)/);
      expect(opensslAccepts(email, [constrained])).toBe(false);
    });

    it('refuses a name form it cannot evaluate when a constraint of that form applies', async () => {
      const uriCa = await issue({ subject: [[O, 'Province'], [CN, 'URI-constrained CA']], ca: {}, nameConstraints: { permitted: [{ uri: 'sonla.gov.vn' }] } }, root);
      const withUri = await issue({ subject: [[O, 'Province'], [CN, 'Has URI']], altNames: [{ uri: 'https://sonla.gov.vn/x' }] }, uriCa);
      expect(judge(withUri, [uriCa])).toMatch(/cannot evaluate/);
      const withoutUri = await issue({ subject: [[O, 'Province'], [CN, 'No URI']], altNames: [{ dns: 'a.sonla.gov.vn' }] }, uriCa);
      expect(judge(withoutUri, [uriCa])).toBe('OK');
    });

    it('checks IP addresses against address ranges', async () => {
      const ipCa = await issue({ subject: 'Loopback CA', ca: {}, nameConstraints: { permitted: [{ ipRange: ['127.0.0.0', '255.0.0.0'] }] } }, root);
      const inside = await issue({ subject: 'inside', altNames: [{ ip: '127.0.0.1' }] }, ipCa);
      expect(judge(inside, [ipCa])).toBe('OK');
      expect(opensslAccepts(inside, [ipCa])).toBe(true);
      const outside = await issue({ subject: 'outside', altNames: [{ ip: '10.0.0.1' }] }, ipCa);
      expect(judge(outside, [ipCa])).toMatch(/IP address "10.0.0.1" is outside the permitted subtrees/);
      expect(opensslAccepts(outside, [ipCa])).toBe(false);
    });

    it("applies the root's own name constraints", async () => {
      const constrainedRoot = await issue({ subject: 'Constrained Root', ca: {}, nameConstraints: { excluded: [{ dns: 'gov.vn' }] } });
      const ca = await issue({ subject: 'Under constrained root', ca: {} }, constrainedRoot);
      const leaf = await issue({ subject: 'leaf', altNames: [{ dns: 'x.gov.vn' }] }, ca);
      expect(judge(leaf, [ca], constrainedRoot)).toMatch(/"Constrained Root".*within the excluded subtree "gov.vn"/);
    });
  });

  it('refuses an expired intermediate, and accepts it at a time within its dates', async () => {
    const HOUR = 60 * MINUTE;
    const oldRoot = await issue({ subject: 'Long-standing Root', ca: {}, notBefore: new Date(Date.now() - 72 * HOUR) });
    const old = await issue({ subject: 'Expired CA', ca: {}, notBefore: new Date(Date.now() - 48 * HOUR), notAfter: new Date(Date.now() - HOUR) }, oldRoot);
    const leaf = await issue({ subject: 'leaf.example.vn', notBefore: new Date(Date.now() - 47 * HOUR) }, old);
    expect(judge(leaf, [old], oldRoot)).toMatch(/^UPSTREAM_CERT_EXPIRED: certificate "Expired CA"/);
    expect(opensslAccepts(leaf, [old], oldRoot)).toBe(false);
    expect(judge(leaf, [old], oldRoot, new Date(Date.now() - 2 * HOUR))).toBe('OK');
  });

  it('refuses a certificate with a critical extension it does not understand', async () => {
    const odd = await issue({ subject: 'Odd CA', ca: {}, extra: [['1.3.6.1.4.1.99999.1', true]] }, root);
    const leaf = await issue({ subject: 'leaf.example.vn' }, odd);
    expect(judge(leaf, [odd])).toMatch(/"Odd CA" cannot be used: it has a critical extension 1.3.6.1.4.1.99999.1 that is not understood/);
    expect(opensslAccepts(leaf, [odd])).toBe(false);
    const mild = await issue({ subject: 'Mild CA', ca: {}, extra: [['1.3.6.1.4.1.99999.1', false]] }, root);
    expect(judge(await issue({ subject: 'leaf.example.vn' }, mild), [mild])).toBe('OK');
    // Name constraints that do not parse must not read as "no constraints".
    const garbled = await issue({ subject: 'Garbled CA', ca: {}, extra: [['2.5.29.30', true]] }, root);
    const under = await issue({ subject: 'leaf.example.vn' }, garbled);
    expect(judge(under, [garbled])).toMatch(/"Garbled CA" cannot be used: its extension 2.5.29.30 cannot be read/);
    expect(opensslAccepts(under, [garbled])).toBe(false);
  });

  it('finds the valid path when the peer also sends a re-issued CA certificate that may not sign', async () => {
    const good = await issue({ subject: 'Twin CA', ca: {} }, root);
    const bad = await issue({ subject: 'Twin CA', ca: {}, keyUsage: [0], keys: good.keys }, root);
    const leaf = await issue({ subject: 'leaf.example.vn' }, good);
    expect(judge(leaf, [bad])).toMatch(/lacks keyCertSign/);
    expect(judge(leaf, [bad, good])).toBe('OK');
  });

  it('bounds the signature checks a peer can make it spend on certificates that all sign one another', async () => {
    const first = await issue({ subject: 'Loop CA', ca: {} });
    const loop = [first, ...(await Promise.all(Array.from({ length: 11 }, () => issue({ subject: 'Loop CA', ca: {}, keys: first.keys }, first))))];
    const leaf = await issue({ subject: 'leaf.example.vn' }, first);
    const verify = vi.spyOn(X509Certificate.prototype, 'verify');
    try {
      expect(judge(leaf, loop)).toMatch(/^UPSTREAM_CERT_UNTRUSTED: no path/);
      expect(verify.mock.calls.length).toBeLessThanOrEqual(32);
    } finally {
      verify.mockRestore();
    }
  });

  it('refuses a CRL signed by a CA whose keyUsage lacks cRLSign', async () => {
    const noCrlSign = await issue({ subject: 'CA without cRLSign', ca: {}, keyUsage: [5] }, root);
    const list = crl(noCrlSign);
    expect(() => createTrustStore({ roots: [root.x509], intermediates: [noCrlSign.x509], crls: [list] })).toThrow(/lacks cRLSign/);
    const store = createTrustStore({ roots: [root.x509], intermediates: [issuing.x509], crls: [crl(issuing)] });
    expect(store.crls()).toHaveLength(1);
  });

  describe('the result cache', () => {
    it('does not reuse an answer for a different time', async () => {
      const leaf = await issue({ subject: 'leaf.example.vn' }, issuing);
      const store = createTrustStore({ roots: [root.x509], intermediates: [issuing.x509] });
      expect(code(() => store.verify(leaf.x509))).toBe('OK');
      expect(code(() => store.verify(leaf.x509, { at: new Date(Date.now() + 48 * 60 * MINUTE) }))).toBe('UPSTREAM_CERT_EXPIRED');
      expect(code(() => store.verify(leaf.x509, { at: new Date(Date.now() - 2 * 60 * MINUTE) }))).toBe('UPSTREAM_CERT_EXPIRED');
      expect(code(() => store.verify(leaf.x509))).toBe('OK');
    });

    it('forgets an answer when an intermediate on the path expires', async () => {
      const shortLived = await issue({ subject: 'Short-lived CA', ca: {}, notAfter: new Date(Date.now() + 2 * MINUTE) }, root);
      const leaf = await issue({ subject: 'leaf.example.vn' }, shortLived);
      const store = createTrustStore({ roots: [root.x509], intermediates: [shortLived.x509] });
      vi.useFakeTimers({ toFake: ['Date'] });
      expect(code(() => store.verify(leaf.x509))).toBe('OK');
      vi.setSystemTime(Date.now() + 3 * MINUTE);
      expect(code(() => store.verify(leaf.x509))).toBe('UPSTREAM_CERT_EXPIRED');
    });

    it('does not reuse an answer given under a previous CRL', async () => {
      const leaf = await issue({ subject: 'leaf.example.vn' }, issuing);
      const store = createTrustStore({ roots: [root.x509], intermediates: [issuing.x509], crls: [crl(issuing)] });
      expect(code(() => store.verify(leaf.x509))).toBe('OK');
      await new Promise((resolve) => setTimeout(resolve, 1100)); // a later thisUpdate (whole seconds)
      store.replaceCrl(crl(issuing, [leaf]));
      expect(code(() => store.verify(leaf.x509))).toBe('UPSTREAM_CERT_REVOKED');
    });
  });
});
