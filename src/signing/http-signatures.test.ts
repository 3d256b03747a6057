import { createHmac, createPrivateKey, createPublicKey, type X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { httpbis, createVerifier } from 'http-message-signatures';
import { parseDictionary, parseList, serializeInnerList, type InnerList, type Item } from 'structured-headers';
import { describe, expect, it } from 'vitest';
import { isGatewayError } from '../errors/gateway-error.ts';
import type { UpstreamHttp, UpstreamRequest, UpstreamResponse } from '../resilience/upstream-http.ts';
import { simulatorSigning } from '../sandbox/signing.ts';
import {
  HttpSignatureError,
  checkContentDigest,
  component,
  contentDigest,
  createUpstreamSignatures,
  signBase,
  signRequest,
  signResponse,
  signatureBase,
  thumbprint,
  verifyBase,
  verifyMessage,
  verifyRequest,
  verifyResponse,
  withTamperedSignature,
  type Algorithm,
  type Fields,
  type RequestMessage,
  type ResponseMessage,
  type VerifyOptions,
} from './http-signatures.ts';
import { sample, sandboxName } from './material.ts';
import { createTrustStore, loadPemCredentials, readCertificates, withChain, type Credentials } from './trust-store.ts';

// ---------------------------------------------------------------------------------------------
// RFC 9421 Appendix B: the example keys (B.1) and test messages (B.2), verbatim.

const TEST_KEY_RSA_PSS_PUBLIC = `-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAr4tmm3r20Wd/PbqvP1s2
+QEtvpuRaV8Yq40gjUR8y2Rjxa6dpG2GXHbPfvMs8ct+Lh1GH45x28Rw3Ry53mm+
oAXjyQ86OnDkZ5N8lYbggD4O3w6M6pAvLkhk95AndTrifbIFPNU8PPMO7OyrFAHq
gDsznjPFmTOtCEcN2Z1FpWgchwuYLPL+Wokqltd11nqqzi+bJ9cvSKADYdUAAN5W
Utzdpiy6LbTgSxP7ociU4Tn0g5I6aDZJ7A8Lzo0KSyZYoA485mqcO0GVAdVw9lq4
aOT9v6d+nb4bnNkQVklLQ3fVAvJm+xdDOp9LCNCN48V2pnDOkFV6+U9nV5oyc6XI
2wIDAQAB
-----END PUBLIC KEY-----`;

const TEST_KEY_ECC_P256_PUBLIC = `-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEqIVYZVLCrPZHGHjP17CTW0/+D9Lf
w0EkjqF7xB4FivAxzic30tMM4GF+hR6Dxh71Z50VGGdldkkDXZCnTNnoXQ==
-----END PUBLIC KEY-----`;

const TEST_KEY_ED25519_PRIVATE = `-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF
-----END PRIVATE KEY-----`;

const TEST_SHARED_SECRET = Buffer.from('uzvJfB4u3N0Jy4T7NZ75MDVcr8zSTInedJtkgcu46YW4XByzNJjxBdtjUkdJPBtbmHhIDi6pcl8jsasjlTMtDQ==', 'base64');

const REQUEST_BODY = '{"hello": "world"}';
const RESPONSE_BODY = '{"message": "good dog"}';

/** test-request (B.2), POST /foo?param=Value&Pet=dog to example.com. */
const TEST_REQUEST: RequestMessage = {
  method: 'POST',
  targetUri: 'https://example.com/foo?param=Value&Pet=dog',
  fields: {
    host: 'example.com',
    date: 'Tue, 20 Apr 2021 02:07:55 GMT',
    'content-type': 'application/json',
    'content-digest': 'sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:',
    'content-length': '18',
  },
};

/** test-response (B.2). */
const TEST_RESPONSE: ResponseMessage = {
  status: 200,
  fields: {
    date: 'Tue, 20 Apr 2021 02:07:56 GMT',
    'content-type': 'application/json',
    'content-digest': 'sha-512=:mEWXIS7MaLRuGgxOBdODa3xqM1XdEvxoYhvlCFJ41QJgJc4GTsPp29l5oGX69wWdXymyU0rjJuahq4l5aGgfLQ==:',
    'content-length': '23',
  },
};

interface Vector {
  section: string;
  message: RequestMessage | ResponseMessage;
  label: string;
  signatureInput: string;
  signature: string;
  base: string[];
  alg: Algorithm | 'hmac-sha256';
  key: 'rsa-pss' | 'ecc-p256' | 'ed25519' | 'shared-secret';
}

const VECTORS: Vector[] = [
  {
    section: 'B.2.1 minimal signature, rsa-pss-sha512',
    message: TEST_REQUEST,
    label: 'sig-b21',
    signatureInput: 'sig-b21=();created=1618884473;keyid="test-key-rsa-pss";nonce="b3k2pp5k7z-50gnwp.yemd"',
    signature:
      'sig-b21=:d2pmTvmbncD3xQm8E9ZV2828BjQWGgiwAaw5bAkgibUopemLJcWDy/lkbbHAve4cRAtx31Iq786U7it++wgGxbtRxf8Udx7zFZsckzXaJMkA7ChG52eSkFxykJeNqsrWH5S+oxNFlD4dzVuwe8DhTSja8xxbR/Z2cOGdCbzR72rgFWhzx2VjBqJzsPLMIQKhO4DGezXehhWwE56YCE+O6c0mKZsfxVrogUvA4HELjVKWmAvtl6UnCh8jYzuVG5WSb/QEVPnP5TmcAnLH1g+s++v6d4s8m0gCw1fV5/SITLq9mhho8K3+7EPYTU8IU1bLhdxO5Nyt8C8ssinQ98Xw9Q==:',
    base: ['"@signature-params": ();created=1618884473;keyid="test-key-rsa-pss";nonce="b3k2pp5k7z-50gnwp.yemd"'],
    alg: 'rsa-pss-sha512',
    key: 'rsa-pss',
  },
  {
    section: 'B.2.2 selective covered components, rsa-pss-sha512',
    message: TEST_REQUEST,
    label: 'sig-b22',
    signatureInput: 'sig-b22=("@authority" "content-digest" "@query-param";name="Pet");created=1618884473;keyid="test-key-rsa-pss";tag="header-example"',
    signature:
      'sig-b22=:LjbtqUbfmvjj5C5kr1Ugj4PmLYvx9wVjZvD9GsTT4F7GrcQEdJzgI9qHxICagShLRiLMlAJjtq6N4CDfKtjvuJyE5qH7KT8UCMkSowOB4+ECxCmT8rtAmj/0PIXxi0A0nxKyB09RNrCQibbUjsLS/2YyFYXEu4TRJQzRw1rLEuEfY17SARYhpTlaqwZVtR8NV7+4UKkjqpcAoFqWFQh62s7Cl+H2fjBSpqfZUJcsIk4N6wiKYd4je2U/lankenQ99PZfB4jY3I5rSV2DSBVkSFsURIjYErOs0tFTQosMTAoxk//0RoKUqiYY8Bh0aaUEb0rQl3/XaVe4bXTugEjHSw==:',
    base: [
      '"@authority": example.com',
      '"content-digest": sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:',
      '"@query-param";name="Pet": dog',
      '"@signature-params": ("@authority" "content-digest" "@query-param";name="Pet");created=1618884473;keyid="test-key-rsa-pss";tag="header-example"',
    ],
    alg: 'rsa-pss-sha512',
    key: 'rsa-pss',
  },
  {
    section: 'B.2.3 full coverage, rsa-pss-sha512',
    message: TEST_REQUEST,
    label: 'sig-b23',
    signatureInput:
      'sig-b23=("date" "@method" "@path" "@query" "@authority" "content-type" "content-digest" "content-length");created=1618884473;keyid="test-key-rsa-pss"',
    signature:
      'sig-b23=:bbN8oArOxYoyylQQUU6QYwrTuaxLwjAC9fbY2F6SVWvh0yBiMIRGOnMYwZ/5MR6fb0Kh1rIRASVxFkeGt683+qRpRRU5p2voTp768ZrCUb38K0fUxN0O0iC59DzYx8DFll5GmydPxSmme9v6ULbMFkl+V5B1TP/yPViV7KsLNmvKiLJH1pFkh/aYA2HXXZzNBXmIkoQoLd7YfW91kE9o/CCoC1xMy7JA1ipwvKvfrs65ldmlu9bpG6A9BmzhuzF8Eim5f8ui9eH8LZH896+QIF61ka39VBrohr9iyMUJpvRX2Zbhl5ZJzSRxpJyoEZAFL2FUo5fTIztsDZKEgM4cUA==:',
    base: [
      '"date": Tue, 20 Apr 2021 02:07:55 GMT',
      '"@method": POST',
      '"@path": /foo',
      '"@query": ?param=Value&Pet=dog',
      '"@authority": example.com',
      '"content-type": application/json',
      '"content-digest": sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:',
      '"content-length": 18',
      '"@signature-params": ("date" "@method" "@path" "@query" "@authority" "content-type" "content-digest" "content-length");created=1618884473;keyid="test-key-rsa-pss"',
    ],
    alg: 'rsa-pss-sha512',
    key: 'rsa-pss',
  },
  {
    section: 'B.2.4 signing a response, ecdsa-p256-sha256',
    message: TEST_RESPONSE,
    label: 'sig-b24',
    signatureInput: 'sig-b24=("@status" "content-type" "content-digest" "content-length");created=1618884473;keyid="test-key-ecc-p256"',
    signature: 'sig-b24=:wNmSUAhwb5LxtOtOpNa6W5xj067m5hFrj0XQ4fvpaCLx0NKocgPquLgyahnzDnDAUy5eCdlYUEkLIj+32oiasw==:',
    base: [
      '"@status": 200',
      '"content-type": application/json',
      '"content-digest": sha-512=:mEWXIS7MaLRuGgxOBdODa3xqM1XdEvxoYhvlCFJ41QJgJc4GTsPp29l5oGX69wWdXymyU0rjJuahq4l5aGgfLQ==:',
      '"content-length": 23',
      '"@signature-params": ("@status" "content-type" "content-digest" "content-length");created=1618884473;keyid="test-key-ecc-p256"',
    ],
    alg: 'ecdsa-p256-sha256',
    key: 'ecc-p256',
  },
  {
    section: 'B.2.5 hmac-sha256 (base checked with node:crypto HMAC)',
    message: TEST_REQUEST,
    label: 'sig-b25',
    signatureInput: 'sig-b25=("date" "@authority" "content-type");created=1618884473;keyid="test-shared-secret"',
    signature: 'sig-b25=:pxcQw6G3AjtMBQjwo8XzkZf/bws5LelbaMk5rGIGtE8=:',
    base: [
      '"date": Tue, 20 Apr 2021 02:07:55 GMT',
      '"@authority": example.com',
      '"content-type": application/json',
      '"@signature-params": ("date" "@authority" "content-type");created=1618884473;keyid="test-shared-secret"',
    ],
    alg: 'hmac-sha256',
    key: 'shared-secret',
  },
  {
    section: 'B.2.6 ed25519',
    message: TEST_REQUEST,
    label: 'sig-b26',
    signatureInput: 'sig-b26=("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519"',
    signature: 'sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:',
    base: [
      '"date": Tue, 20 Apr 2021 02:07:55 GMT',
      '"@method": POST',
      '"@path": /foo',
      '"@authority": example.com',
      '"content-type": application/json',
      '"content-length": 18',
      '"@signature-params": ("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519"',
    ],
    alg: 'ed25519',
    key: 'ed25519',
  },
  {
    section: '§2.4 request-response binding (req), ecdsa-p256-sha256',
    message: {
      status: 503,
      fields: {
        date: 'Tue, 20 Apr 2021 02:07:56 GMT',
        'content-type': 'application/json',
        'content-length': '62',
        'content-digest': 'sha-512=:0Y6iCBzGg5rZtoXS95Ijz03mslf6KAMCloESHObfwnHJDbkkWWQz6PhhU9kxsTbARtY2PTBOzq24uJFpHsMuAg==:',
      },
      request: TEST_REQUEST,
    },
    label: 'reqres',
    signatureInput:
      'reqres=("@status" "content-digest" "content-type" "@authority";req "@method";req "@path";req "content-digest";req);created=1618884479;keyid="test-key-ecc-p256"',
    signature: 'reqres=:dMT/A/76ehrdBTD/2Xx8QuKV6FoyzEP/I9hdzKN8LQJLNgzU4W767HK05rx1i8meNQQgQPgQp8wq2ive3tV5Ag==:',
    base: [
      '"@status": 503',
      '"content-digest": sha-512=:0Y6iCBzGg5rZtoXS95Ijz03mslf6KAMCloESHObfwnHJDbkkWWQz6PhhU9kxsTbARtY2PTBOzq24uJFpHsMuAg==:',
      '"content-type": application/json',
      '"@authority";req: example.com',
      '"@method";req: POST',
      '"@path";req: /foo',
      '"content-digest";req: sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:',
      '"@signature-params": ("@status" "content-digest" "content-type" "@authority";req "@method";req "@path";req "content-digest";req);created=1618884479;keyid="test-key-ecc-p256"',
    ],
    alg: 'ecdsa-p256-sha256',
    key: 'ecc-p256',
  },
];

const KEYS = {
  'rsa-pss': createPublicKey(TEST_KEY_RSA_PSS_PUBLIC),
  'ecc-p256': createPublicKey(TEST_KEY_ECC_P256_PUBLIC),
  ed25519: createPublicKey(createPrivateKey(TEST_KEY_ED25519_PRIVATE)),
};

function parsed(vector: Vector): { input: InnerList; signature: Buffer } {
  const input = parseDictionary(vector.signatureInput).get(vector.label) as InnerList;
  const signature = Buffer.from((parseDictionary(vector.signature).get(vector.label) as Item)[0] as ArrayBuffer);
  return { input, signature };
}

describe('RFC 9421 Appendix B test vectors', () => {
  for (const vector of VECTORS) {
    it(`${vector.section}: the signature base is byte for byte the RFC's, and the RFC's signature verifies`, () => {
      const { input, signature } = parsed(vector);
      const base = signatureBase(input[0], input[1], vector.message);
      expect(base).toBe(vector.base.join('\n'));
      // Signature-Input re-serializes to exactly what the RFC sends.
      expect(`${vector.label}=${serializeInnerList(input)}`).toBe(vector.signatureInput);
      if (vector.key === 'shared-secret') {
        expect(createHmac('sha256', TEST_SHARED_SECRET).update(base).digest()).toEqual(signature);
      } else {
        expect(verifyBase(vector.alg as Algorithm, KEYS[vector.key], base, signature)).toBe(true);
        // One changed character of the base and it no longer verifies.
        expect(verifyBase(vector.alg as Algorithm, KEYS[vector.key], base.replace('"', "'"), signature)).toBe(false);
      }
    });
  }

  it('B.2.6: ed25519 is deterministic, so signing with the B.1.4 key gives the RFC signature exactly', () => {
    const vector = VECTORS.find((v) => v.label === 'sig-b26')!;
    const { input, signature } = parsed(vector);
    expect(signBase('ed25519', createPrivateKey(TEST_KEY_ED25519_PRIVATE), signatureBase(input[0], input[1], vector.message))).toEqual(signature);
  });

  it('rejects the B.2.4 signature against the wrong key and the B.2.3 one against a changed message', () => {
    const b24 = parsed(VECTORS[3]!);
    expect(verifyBase('ecdsa-p256-sha256', KEYS['rsa-pss'], signatureBase(b24.input[0], b24.input[1], TEST_RESPONSE), b24.signature)).toBe(false);
    const b23 = parsed(VECTORS[2]!);
    const changed = { ...TEST_REQUEST, targetUri: 'https://example.com/foo?param=Value&Pet=cat' };
    expect(verifyBase('rsa-pss-sha512', KEYS['rsa-pss'], signatureBase(b23.input[0], b23.input[1], changed), b23.signature)).toBe(false);
  });

  it('has test-request and test-response digests that match their bodies (RFC 9530), and our sha-256 is RFC 9530 §2', () => {
    expect(() => checkContentDigest(String(TEST_REQUEST.fields['content-digest']), Buffer.from(REQUEST_BODY))).not.toThrow();
    expect(() => checkContentDigest(String(TEST_RESPONSE.fields['content-digest']), Buffer.from(RESPONSE_BODY))).not.toThrow();
    expect(contentDigest(REQUEST_BODY)).toBe('sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:');
    expect(() => checkContentDigest(contentDigest(REQUEST_BODY), Buffer.from(RESPONSE_BODY))).toThrow(HttpSignatureError);
    expect(() => checkContentDigest('md5=:AAAA:', Buffer.from(REQUEST_BODY))).toThrow(/no sha-256/);
  });
});

describe('structured field components (RFC 9421 §2.1.1, §2.1.2)', () => {
  const request = (fields: RequestMessage['fields']): RequestMessage => ({ method: 'GET', targetUri: 'https://example.com/', fields });
  /** The component lines of the signature base, without @signature-params. */
  const lines = (message: RequestMessage, ...covered: Item[]) => signatureBase(covered, new Map(), message).split('\n').slice(0, -1);

  it('picks dictionary members with "key", re-serialized as in RFC 9421 §2.1.2', () => {
    const message = request({ 'example-dict': ' a=1,    b=2;x=1;y=2,   c=(a   b   c), d' });
    const byKey = (key: string) => component('example-dict', { key });
    expect(lines(message, component('example-dict'), byKey('a'), byKey('d'), byKey('b'), byKey('c'))).toEqual([
      '"example-dict": a=1,    b=2;x=1;y=2,   c=(a   b   c), d',
      '"example-dict";key="a": 1',
      '"example-dict";key="d": ?1',
      '"example-dict";key="b": 2;x=1;y=2',
      '"example-dict";key="c": (a b c)',
    ]);
    // A repeated key: the last value wins (RFC 8941 §4.2.2), over field lines too.
    expect(lines(request({ 'example-dict': ['a=1, b=2', 'a=3'] }), byKey('a'))).toEqual(['"example-dict";key="a": 3']);
  });

  it('re-serializes a known structured field with "sf"', () => {
    const message = request({ 'content-digest': ['sha-256=:AQID:,   sha-512=:BAUG:;x=?1;y=2.50', 'md5=:BwgJ:'] });
    expect(lines(message, component('content-digest'), component('content-digest', { sf: true }))).toEqual([
      '"content-digest": sha-256=:AQID:,   sha-512=:BAUG:;x=?1;y=2.50, md5=:BwgJ:',
      '"content-digest";sf: sha-256=:AQID:, sha-512=:BAUG:;x;y=2.5, md5=:BwgJ:',
    ]);
    const certificates = request({ 'signature-certificate': ':AQID:,:BAUG:' });
    expect(lines(certificates, component('signature-certificate', { sf: true }))).toEqual(['"signature-certificate";sf: :AQID:, :BAUG:']);
  });

  it('refuses what it cannot read: sf on an unknown field, a field that does not parse, bs with sf, a missing member', () => {
    const message = request({ 'example-dict': 'a=1', 'content-digest': 'sha-256=:AQID:,', 'signature-certificate': ':AQID: :BAUG:' });
    expect(reason(() => lines(message, component('example-dict', { sf: true })))).toBe('malformed');
    expect(reason(() => lines(message, component('content-digest', { sf: true })))).toBe('malformed');
    expect(reason(() => lines(message, component('content-digest', { key: 'sha-256' })))).toBe('malformed');
    expect(reason(() => lines(message, component('signature-certificate', { sf: true })))).toBe('malformed');
    expect(reason(() => lines(message, component('example-dict', { sf: true, bs: true })))).toBe('malformed');
    expect(reason(() => lines(message, component('example-dict', { key: 'b' })))).toBe('missing-component');
    expect(() => lines(message, component('content-digest', { sf: true }))).toThrow(/"content-digest" does not parse: Parse error/);
  });
});

// ---------------------------------------------------------------------------------------------
// Our profile, with the sample PKI.

const intermediates = readCertificates(sample('issuing-ca.pem'));
const trust = createTrustStore({ roots: readCertificates(sample('root-ca.pem')), intermediates, crls: [readFileSync(sample('issuing-ca.crl.pem'))] });
const gateway = withChain(loadPemCredentials(sample('gateway.pem'), sample('gateway.key.pem')), intermediates);
const registry = simulatorSigning('business-registry');
const portal = simulatorSigning('dvcqg');

const trusting = (name: string): VerifyOptions => ({ verifyCertificate: (certificate, chain) => trust.verify(certificate, { chain, expectedName: name }) });
const NOW = Date.UTC(2026, 10, 28, 3, 0, 0);
const at = (ms: number) => ({ now: () => ms });

const URL_ = 'http://127.0.0.1:8401/api/service';
const BODY = JSON.stringify({ session: 's', madonvi: 'H52', service: 'LayThuTuc', MaTTHC: '1.003541.000.00.00.H52' });

function gatewayRequest(credentials: Credentials = gateway, now = NOW) {
  return signRequest(credentials, { method: 'POST', url: URL_, headers: { 'Content-Type': 'application/json; charset=utf-8', accept: 'application/json' }, body: BODY }, at(now));
}

function answer(request: RequestMessage, credentials: Credentials, now = NOW, body = '{"error_code":"0","data":{}}', status = 200) {
  const headers = { 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(body)) };
  const signed: Record<string, string> = { ...headers, ...signResponse(credentials, { status, headers, body }, request, at(now)) };
  return { status, headers: signed, body: Buffer.from(body) };
}

const reason = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    if (err instanceof HttpSignatureError) return err.reason;
    throw err;
  }
  throw new Error('expected a refusal');
};

describe('requests signed by the gateway', () => {
  it('covers method, target URI, date, type and digest, with created, expires, nonce, keyid and alg', () => {
    const { headers, message } = gatewayRequest();
    expect(headers['content-digest']).toBe(contentDigest(BODY));
    expect(headers.date).toBe(new Date(NOW).toUTCString());
    expect(headers['signature-input']).toMatch(
      /^sig1=\("@method" "@target-uri" "date" "content-type" "content-digest"\);created=\d+;expires=\d+;nonce="[\w-]{16}";keyid="[\w-]{43}";alg="rsa-pss-sha512"$/,
    );
    expect(headers['signature-input']).toContain(`keyid="${thumbprint(gateway.certificate)}"`);
    // The certificate travels with its intermediate, leaf first.
    expect(parseList(headers['signature-certificate']!).map((m) => Buffer.from((m as Item)[0] as ArrayBuffer))).toEqual([gateway.certificate.raw, intermediates[0]!.raw]);
    expect(message).toMatchObject({ method: 'POST', targetUri: URL_ });
  });

  it('verifies on the simulator side, and the signature is new every time (nonce)', () => {
    const first = gatewayRequest();
    const verified = verifyRequest(first.message, Buffer.from(BODY), { ...trusting('lienthong-gateway.sandbox.sonla.gov.vn'), ...at(NOW + 1000) });
    expect(verified).toMatchObject({ alg: 'rsa-pss-sha512' });
    expect(verified.certificate.subject).toContain('lienthong-gateway');
    expect(gatewayRequest().headers.signature).not.toBe(first.headers.signature);
  });

  it('is what an independent implementation (http-message-signatures) computes and verifies', async () => {
    const { headers, message } = gatewayRequest(gateway, Date.now());
    const ok = await httpbis.verifyMessage(
      { keyLookup: async () => ({ id: thumbprint(gateway.certificate), algs: ['rsa-pss-sha512'], verify: createVerifier(gateway.certificate.publicKey, 'rsa-pss-sha512') }) },
      { method: message.method, url: message.targetUri, headers },
    );
    expect(ok).toBe(true);
  });

  it('refuses what the simulator must refuse', () => {
    const options = { ...trusting('lienthong-gateway.sandbox.sonla.gov.vn'), ...at(NOW) };
    const body = Buffer.from(BODY);
    const { message } = gatewayRequest();
    const without = (...names: string[]) => ({ ...message, fields: Object.fromEntries(Object.entries(message.fields).filter(([n]) => !names.includes(n))) });
    expect(reason(() => verifyRequest(without('signature', 'signature-input'), body, options))).toBe('unsigned');
    expect(reason(() => verifyRequest(without('signature'), body, options))).toBe('malformed');
    expect(reason(() => verifyRequest({ ...message, fields: withTamperedSignature(message.fields as Record<string, string>) }, body, options))).toBe('signature');
    expect(reason(() => verifyRequest({ ...message, method: 'PUT' }, body, options))).toBe('signature');
    expect(reason(() => verifyRequest({ ...message, targetUri: 'http://127.0.0.1:8401/api/login' }, body, options))).toBe('signature');
    expect(reason(() => verifyRequest(message, Buffer.from(BODY.replace('H52', 'H14')), options))).toBe('digest');
    expect(reason(() => verifyRequest(message, body, { ...options, ...at(NOW + 301_000) }))).toBe('expired');
    expect(reason(() => verifyRequest(message, body, { ...options, ...at(NOW - 301_000) }))).toBe('expired');
    expect(reason(() => verifyRequest(without('signature-certificate'), body, options))).toBe('unknown-key');
    // A covered component the message no longer has.
    expect(reason(() => verifyRequest(without('date'), body, options))).toBe('missing-component');
    expect(reason(() => verifyRequest(without('content-digest'), body, options))).toBe('missing-component');
    // Another (trusted) certificate than the one keyid names.
    const other = { ...message, fields: { ...message.fields, 'signature-certificate': signResponse(registry.credentials(), { status: 200, headers: {}, body: '' }, undefined)['signature-certificate']! } };
    expect(reason(() => verifyRequest(other, body, options))).toBe('unknown-key');
    // A certificate the verifier does not accept: its error comes through unchanged.
    expect(() => verifyRequest(gatewayRequest(portal.credentials()).message, body, options)).toThrow(/expected "lienthong-gateway/);
  });

  it('refuses a signature that leaves a required component or the body uncovered', () => {
    const options = { ...trusting('lienthong-gateway.sandbox.sonla.gov.vn'), ...at(NOW) };
    // Signed correctly, but over @method and date only.
    const message: RequestMessage = { method: 'POST', targetUri: URL_, fields: { date: new Date(NOW).toUTCString() } };
    const covered = [component('@method'), component('date')];
    const params = new Map<string, string | number>([
      ['created', NOW / 1000],
      ['keyid', thumbprint(gateway.certificate)],
      ['alg', 'rsa-pss-sha512'],
    ]);
    const signature = signBase('rsa-pss-sha512', gateway.key, signatureBase(covered, params, message));
    const fields = {
      ...message.fields,
      'signature-input': `sig1=${serializeInnerList([covered, params])}`,
      signature: `sig1=:${signature.toString('base64')}:`,
      'signature-certificate': gatewayRequest().headers['signature-certificate']!,
    };
    expect(() => verifyMessage({ ...message, fields }, Buffer.alloc(0), covered, options)).not.toThrow();
    expect(reason(() => verifyRequest({ ...message, fields }, Buffer.alloc(0), options))).toBe('missing-component');
    expect(reason(() => verifyMessage({ ...message, fields }, Buffer.from('{}'), covered, options))).toBe('missing-component');
  });

  it('refuses an algorithm that does not fit the certificate key', () => {
    const options = { ...trusting('lienthong-gateway.sandbox.sonla.gov.vn'), ...at(NOW) };
    const { message } = gatewayRequest();
    const input = String(message.fields['signature-input']).replace('alg="rsa-pss-sha512"', 'alg="ecdsa-p256-sha256"');
    expect(reason(() => verifyRequest({ ...message, fields: { ...message.fields, 'signature-input': input } }, Buffer.from(BODY), options))).toBe('algorithm');
  });
});

describe('answers signed by a simulator', () => {
  const options = (name = sandboxName('dvcqg'), now = NOW) => ({ ...trusting(name), ...at(now) });

  it('covers status, date, type, digest and the request (method, target URI, digest, signature)', () => {
    const request = gatewayRequest().message;
    const response = answer(request, portal.credentials());
    expect(response.headers['signature-input']).toMatch(
      /^sig1=\("@status" "date" "content-type" "content-digest" "@method";req "@target-uri";req "content-digest";req "signature";req;key="sig1"\);created=\d+;expires=\d+;keyid="[\w-]+";alg="rsa-pss-sha512"$/,
    );
    expect(verifyResponse(response, request, options())).toMatchObject({ alg: 'rsa-pss-sha512' });
  });

  it('signs with ECDSA P-256 as r||s (64 bytes) for the business registry', () => {
    const request = signRequest(gateway, { method: 'GET', url: 'http://127.0.0.1:8402/api/v1/doanh-nghiep/5500123457' }, at(NOW)).message;
    const response = answer(request, registry.credentials());
    expect(response.headers['signature-input']).toContain('alg="ecdsa-p256-sha256"');
    expect(((parseDictionary(response.headers.signature!).get('sig1') as Item)[0] as ArrayBuffer).byteLength).toBe(64);
    expect(response.headers['signature-input']).not.toContain('"content-digest";req');
    expect(() => verifyResponse(response, request, options(sandboxName('business-registry')))).not.toThrow();
  });

  it('is what an independent implementation computes for the req components, and it verifies there', async () => {
    const request = gatewayRequest(gateway, Date.now());
    const response = answer(request.message, registry.credentials(), Date.now());
    const ok = await httpbis.verifyMessage(
      { keyLookup: async () => ({ algs: ['ecdsa-p256-sha256'], verify: createVerifier(registry.credentials().certificate.publicKey, 'ecdsa-p256-sha256') }) },
      { status: response.status, headers: response.headers as unknown as Record<string, string> },
      { method: 'POST', url: URL_, headers: request.headers },
    );
    expect(ok).toBe(true);
  });

  it('cannot be replayed as the answer to another request, even an identical one', () => {
    const first = gatewayRequest().message;
    const second = gatewayRequest().message;
    const response = answer(first, portal.credentials());
    expect(reason(() => verifyResponse(response, second, options()))).toBe('signature');
  });

  it('refuses unsigned, tampered, stale, swapped-body and wrongly bound answers', () => {
    const request = gatewayRequest().message;
    const good = answer(request, portal.credentials());
    const strip = (names: string[]) => ({ ...good, headers: Object.fromEntries(Object.entries(good.headers).filter(([n]) => !names.includes(n))) });
    expect(reason(() => verifyResponse(strip(['signature', 'signature-input']), request, options()))).toBe('unsigned');
    expect(reason(() => verifyResponse({ ...good, headers: withTamperedSignature(good.headers) }, request, options()))).toBe('signature');
    expect(reason(() => verifyResponse({ ...good, status: 404 }, request, options()))).toBe('signature');
    expect(reason(() => verifyResponse({ ...good, body: Buffer.from('{"error_code":"404"}') }, request, options()))).toBe('digest');
    expect(reason(() => verifyResponse(good, request, options(sandboxName('dvcqg'), NOW + 600_000)))).toBe('expired');
    // An answer signed without the request binding: missing components.
    const unbound = { status: 200, headers: { 'content-type': 'application/json', ...signResponse(portal.credentials(), { status: 200, headers: { 'content-type': 'application/json' }, body: '{}' }, undefined, at(NOW)) }, body: Buffer.from('{}') };
    expect(reason(() => verifyResponse(unbound, request, options()))).toBe('missing-component');
  });

  it('leaves certificate refusals to the trust store: revoked, expired, another system', () => {
    const request = gatewayRequest().message;
    const revoked = answer(request, portal.credentials({ system: 'dvcqg', mode: 'revoked-cert' }));
    const expired = answer(request, portal.credentials({ system: 'dvcqg', mode: 'expired-cert' }));
    const strict = options();
    expect(() => verifyResponse(revoked, request, strict)).toThrow(expect.objectContaining({ code: 'UPSTREAM_CERT_REVOKED' }));
    expect(() => verifyResponse(expired, request, strict)).toThrow(expect.objectContaining({ code: 'UPSTREAM_CERT_EXPIRED' }));
    expect(() => verifyResponse(answer(request, registry.credentials()), request, strict)).toThrow(expect.objectContaining({ code: 'UPSTREAM_CERT_UNTRUSTED' }));
  });
});

describe('createUpstreamSignatures', () => {
  const signing = { credentials: gateway, verifyPeer: (c: X509Certificate, chain?: X509Certificate[]) => trust.verify(c, { chain, expectedName: sandboxName('dvcqg') }) };
  const fakeHttp = (respond: (req: UpstreamRequest) => UpstreamResponse): UpstreamHttp & { sent: UpstreamRequest[] } => {
    const sent: UpstreamRequest[] = [];
    return { baseUrl: 'http://127.0.0.1:8401', sent, send: async (req) => (sent.push(req), respond(req)), close: async () => {} };
  };
  const request: UpstreamRequest = { method: 'POST', path: '/api/service', headers: { 'content-type': 'application/json' }, body: BODY, signal: new AbortController().signal };
  const signatures = createUpstreamSignatures(signing, { upstream: 'national portal' });
  const echo = (transform: (r: ReturnType<typeof answer>) => ReturnType<typeof answer> = (r) => r) => (req: UpstreamRequest) =>
    transform(answer({ method: req.method, targetUri: `http://127.0.0.1:8401${req.path}`, fields: req.headers! }, portal.credentials(), Date.now()));

  it('signs what it sends and hands back an answer that verified', async () => {
    const http = fakeHttp(echo());
    const response = await signatures.send(http, request);
    expect(response.status).toBe(200);
    expect(http.sent[0]!.headers).toMatchObject({ 'content-digest': contentDigest(BODY), 'content-type': 'application/json' });
  });

  it('turns refusals into UPSTREAM_SIGNATURE_INVALID, logged through cause', async () => {
    const cases: [(r: ReturnType<typeof answer>) => ReturnType<typeof answer>, string][] = [
      [(r) => ({ ...r, headers: { 'content-type': 'application/json' } }), 'national portal: the answer is not signed'],
      [(r) => ({ ...r, headers: withTamperedSignature(r.headers) }), 'national portal: the answer signature does not verify'],
      [(r) => ({ ...r, body: Buffer.from('{"error_code":"0","data":{"x":1}}') }), 'national portal: the answer body does not match its signed digest'],
    ];
    for (const [transform, detail] of cases) {
      const err = await signatures.send(fakeHttp(echo(transform)), request).catch((e: unknown) => e);
      expect(isGatewayError(err) && err.code).toBe('UPSTREAM_SIGNATURE_INVALID');
      expect(isGatewayError(err) && err.detail).toBe(detail);
      expect(isGatewayError(err) && err.upstreamFailure).toBe(true);
      expect((err as Error).cause).toBeInstanceOf(HttpSignatureError);
    }
  });

  it('passes certificate errors through with their own codes', async () => {
    const http = fakeHttp((req) => answer({ method: req.method, targetUri: `http://127.0.0.1:8401${req.path}`, fields: req.headers! }, registry.credentials(), Date.now()));
    expect(await signatures.send(http, request).catch((e: unknown) => e)).toMatchObject({ code: 'UPSTREAM_CERT_UNTRUSTED' });
  });
});

describe('Signature and Signature-Input, read as RFC 8941 says', () => {
  const options = { ...trusting('lienthong-gateway.sandbox.sonla.gov.vn'), ...at(NOW) };
  const body = Buffer.from(BODY);
  const signed = () => {
    const { message } = gatewayRequest();
    return { message, input: String(message.fields['signature-input']), signature: String(message.fields.signature) };
  };
  const withFields = (message: RequestMessage, fields: Fields): RequestMessage => ({ ...message, fields: { ...message.fields, ...fields } });
  const verify = (message: RequestMessage) => verifyRequest(message, body, options);

  it('takes the last of a repeated label or parameter (RFC 8941 §4.2.2, §4.2.3.2)', () => {
    const { message, input, signature } = signed();
    const bogus = 'sig1=:AAAA:';
    expect(() => verify(withFields(message, { signature: `${bogus}, ${signature}` }))).not.toThrow();
    expect(() => verify(withFields(message, { signature: [bogus, signature] }))).not.toThrow();
    expect(reason(() => verify(withFields(message, { signature: `${signature}, ${bogus}` })))).toBe('signature');
    const stale = input.replace(/created=\d+/, 'created=1');
    expect(() => verify(withFields(message, { 'signature-input': `${stale}, ${input}` }))).not.toThrow();
    expect(reason(() => verify(withFields(message, { 'signature-input': `${input}, ${stale}` })))).toBe('expired');
    expect(() => verify(withFields(message, { 'signature-input': input.replace(/;created=(\d+)/, ';created=1;created=$1') }))).not.toThrow();
    expect(reason(() => verify(withFields(message, { 'signature-input': input.replace(/;created=(\d+)/, ';created=$1;created=1') })))).toBe('expired');
  });

  it('refuses byte sequences that are not base64, and other items where a byte sequence belongs', () => {
    const { message } = signed();
    for (const bad of ['sig1=:A:', 'sig1=:AQ=D:', 'sig1=:not base64!:', 'sig1=:AQID', 'sig1=AQID', 'sig1="AQID"', 'sig1=(:AQID:)']) {
      expect(reason(() => verify(withFields(message, { signature: bad }))), bad).toBe('malformed');
    }
    expect(reason(() => verify(withFields(message, { 'signature-certificate': ':A:' })))).toBe('malformed');
    expect(reason(() => checkContentDigest('sha-256=:A:', body))).toBe('digest');
    expect(reason(() => checkContentDigest('sha-256=AQID', body))).toBe('digest');
  });

  it('refuses long integers, decimals, dates, display strings and tokens where integers and strings belong', () => {
    const { message, input } = signed();
    const cases = {
      'a 16-digit integer': input.replace(/created=\d+/, 'created=1234567890123456'),
      'a decimal created': input.replace(/created=(\d+)/, 'created=$1.5'),
      'a decimal expires': input.replace(/expires=(\d+)/, 'expires=$1.25'),
      'an RFC 9651 date': input.replace(/created=(\d+)/, 'created=@$1'),
      'an RFC 9651 display string as keyid': input.replace(/keyid="([^"]+)"/, 'keyid=%"$1"'),
      'an RFC 9651 display string as an extra parameter': `${input};tag=%"x"`,
      'alg as a token': input.replace(/alg="([^"]+)"/, 'alg=$1'),
      'a character no token has': input.replace(/;nonce="[^"]+"/, ';nonce=a{b'),
      'an upper-case label': input.replace('sig1=', 'Sig1='),
      'a trailing comma': `${input},`,
      'an unclosed inner list': input.replace(')', ''),
    };
    for (const [what, bad] of Object.entries(cases)) {
      expect(reason(() => verify(withFields(message, { 'signature-input': bad }))), what).toBe('malformed');
    }
    // A token is not the string "date": the required component is missing.
    expect(reason(() => verify(withFields(message, { 'signature-input': input.replace('"date"', 'date') })))).toBe('missing-component');
    const err = (() => {
      try {
        verify(withFields(message, { 'signature-input': cases['a 16-digit integer'] }));
      } catch (e) {
        return e as HttpSignatureError;
      }
    })();
    expect(err?.message).toMatch(/^Signature-Input does not parse: Parse error: Exceeded maximum integer length/);
    expect(err?.cause).toBeInstanceOf(Error);
  });
});
