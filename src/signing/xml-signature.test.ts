import type { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { DOMParser, XMLSerializer, type Document, type Element } from '@xmldom/xmldom';
import { SignedXml } from 'xml-crypto';
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../errors/gateway-error.ts';
import { GATEWAY_SANDBOX_NAME, sample } from './material.ts';
import { createTrustStore, loadPemCredentials, readCertificates, withChain, type Credentials } from './trust-store.ts';
import { ALGORITHMS, signEnveloped, signSoapEnvelope, spoilSignature, verifyEnveloped, verifySoapEnvelope, XMLNS, type CertificateCheck } from './xml-signature.ts';

const intermediates = readCertificates(sample('issuing-ca.pem'));
const trust = createTrustStore({ roots: readCertificates(sample('root-ca.pem')), intermediates, crls: [readFileSync(sample('issuing-ca.crl.pem'))] });
const load = (name: string): Credentials => withChain(loadPemCredentials(sample(`${name}.pem`), sample(`${name}.key.pem`)), intermediates);
const rsa = load('gateway');
const ec = load('gateway-ec');
/** The gateway's certificate, chained to the sample root, as the simulators check it. */
const gatewayCheck: CertificateCheck = (certificate, chain) => trust.verify(certificate, { chain, expectedName: GATEWAY_SANDBOX_NAME });
const anyCertificate: CertificateCheck = () => {};

const ENVELOPE =
  '<?xml version="1.0" encoding="utf-8"?>' +
  '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Header/><soap:Body>' +
  '<XacThucThongTinCongDanResponse xmlns="http://dancuquocgia.gov.vn/lienthong"><MaYeuCau>r-1</MaYeuCau><MaKetQua>00</MaKetQua>' +
  '<MoTa>Thành công &amp; đủ</MoTa><TonTai>false</TonTai></XacThucThongTinCongDanResponse></soap:Body></soap:Envelope>';
const DOCUMENT = '<?xml version="1.0" encoding="UTF-8"?><KetQuaTraCuu><MaLoi>02</MaLoi><MoTa>Không tìm thấy người nộp thuế</MoTa><MaYeuCau>r-2</MaYeuCau></KetQuaTraCuu>';

const parse = (xml: string) => new DOMParser().parseFromString(xml, 'text/xml');
const serialize = (doc: Document) => new XMLSerializer().serializeToString(doc);
const first = (doc: Document | Element, ns: string, name: string) => doc.getElementsByTagNameNS(ns, name)[0]!;
const refusal = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    if (err instanceof GatewayError) return err;
    throw err;
  }
  throw new Error('expected a refusal');
};
const refusedAs = (code: string, fn: () => unknown) => expect(refusal(fn).code).toBe(code);

/** What xml-crypto alone says of a document, given the right key: it checks arithmetic only. */
function xmlCryptoAlone(xml: string, credentials: Credentials): boolean {
  const sig = new SignedXml({ publicCert: credentials.certificate.publicKey });
  sig.loadSignature(first(parse(xml), XMLNS.ds, 'Signature') as unknown as globalThis.Node);
  return sig.checkSignature(xml);
}

describe('WS-Security: signing and verifying an envelope', () => {
  it('signs with RSA-SHA256 or ECDSA-SHA256 by key type, over the Body and the Timestamp, and verifies', () => {
    for (const [credentials, method] of [
      [rsa, ALGORITHMS.rsaSha256],
      [ec, ALGORITHMS.ecdsaSha256],
    ] as const) {
      const signed = signSoapEnvelope(ENVELOPE, credentials);
      expect(signed).toContain(`<ds:SignatureMethod Algorithm="${method}"/>`);
      expect(signed).toContain(`<ds:CanonicalizationMethod Algorithm="${ALGORITHMS.excC14n}"/>`);
      const doc = parse(signed);
      const references = Array.from(doc.getElementsByTagNameNS(XMLNS.ds, 'Reference')).map((r) => r.getAttribute('URI'));
      expect(references).toEqual([`#${first(doc, XMLNS.wsu, 'Timestamp').getAttributeNS(XMLNS.wsu, 'Id')}`, `#${first(doc, XMLNS.soap, 'Body').getAttributeNS(XMLNS.wsu, 'Id')}`]);
      const seen: [X509Certificate, X509Certificate[]][] = [];
      const verified = verifySoapEnvelope(signed, (certificate, chain) => {
        seen.push([certificate, chain]);
        gatewayCheck(certificate, chain);
      });
      expect(verified.certificate.fingerprint256).toBe(credentials.certificate.fingerprint256);
      // The intermediates travel as further tokens, so the receiver needs only the root.
      expect(seen[0]![1].map((c) => c.subject)).toEqual(intermediates.map((c) => c.subject));
      expect(verified.body.toString()).toContain('<MoTa>Thành công &amp; đủ</MoTa>');
      expect(verified.expires.getTime() - verified.created.getTime()).toBe(300_000);
    }
  });

  it('adds a Header to an envelope without one, and refuses to sign an envelope already signed', () => {
    const headerless = ENVELOPE.replace('<soap:Header/>', '');
    const signed = signSoapEnvelope(headerless, rsa);
    expect(signed).toMatch(/<soap:Header><wsse:Security soap:mustUnderstand="1">/);
    expect(verifySoapEnvelope(signed, gatewayCheck).certificate.subject).toContain(GATEWAY_SANDBOX_NAME);
    expect(() => signSoapEnvelope(signed, rsa)).toThrow(/already has a Security header/);
  });

  it('refuses a changed Body, a changed Timestamp and a spoilt signature value', () => {
    const signed = signSoapEnvelope(ENVELOPE, rsa);
    expect(() => verifySoapEnvelope(signed, gatewayCheck)).not.toThrow();
    const later = new Date(Date.now() + 60_000).toISOString();
    for (const changed of [
      signed.replace('<TonTai>false</TonTai>', '<TonTai>true</TonTai>'),
      signed.replace(/<wsu:Expires>[^<]+<\/wsu:Expires>/, `<wsu:Expires>${later}</wsu:Expires>`),
      spoilSignature(signed),
    ]) {
      expect(changed).not.toBe(signed);
      refusedAs('UPSTREAM_SIGNATURE_INVALID', () => verifySoapEnvelope(changed, gatewayCheck));
    }
  });

  it('refuses signature wrapping: a signed Body moved aside for a forged one, which xml-crypto alone accepts', () => {
    const doc = parse(signSoapEnvelope(ENVELOPE, rsa));
    const envelope = doc.documentElement!;
    const signedBody = first(doc, XMLNS.soap, 'Body');
    const forged = signedBody.cloneNode(true) as Element;
    forged.removeAttributeNS(XMLNS.wsu, 'Id');
    first(forged, 'http://dancuquocgia.gov.vn/lienthong', 'TonTai').textContent = 'true';
    const wrapper = doc.createElementNS('urn:example:wrapper', 'w:Wrapper');
    first(doc, XMLNS.soap, 'Header').appendChild(wrapper);
    wrapper.appendChild(signedBody);
    envelope.appendChild(forged);
    const wrapped = serialize(doc);

    expect(xmlCryptoAlone(wrapped, rsa)).toBe(true);
    const err = refusal(() => verifySoapEnvelope(wrapped, gatewayCheck));
    expect(err).toMatchObject({ code: 'UPSTREAM_SIGNATURE_INVALID', upstreamFailure: true });
    expect((err.cause as Error).message).toMatch(/Body is not the element the signature covers/);

    // The same forged Body carrying the signed Body's id: an id used twice is refused outright.
    forged.setAttributeNS(XMLNS.wsu, 'wsu:Id', signedBody.getAttributeNS(XMLNS.wsu, 'Id')!);
    expect((refusal(() => verifySoapEnvelope(serialize(doc), gatewayCheck)).cause as Error).message).toMatch(/used twice/);
  });

  it('refuses a signed Timestamp moved aside for a fresh unsigned one', () => {
    const doc = parse(signSoapEnvelope(ENVELOPE, rsa, { now: new Date(Date.now() - 3_600_000) }));
    const signedTimestamp = first(doc, XMLNS.wsu, 'Timestamp');
    const fresh = signedTimestamp.cloneNode(true) as Element;
    fresh.removeAttributeNS(XMLNS.wsu, 'Id');
    first(fresh, XMLNS.wsu, 'Created').textContent = new Date().toISOString();
    first(fresh, XMLNS.wsu, 'Expires').textContent = new Date(Date.now() + 300_000).toISOString();
    const security = first(doc, XMLNS.wsse, 'Security');
    const wrapper = doc.createElementNS('urn:example:wrapper', 'w:Wrapper');
    security.parentNode!.appendChild(wrapper);
    wrapper.appendChild(signedTimestamp);
    security.insertBefore(fresh, security.firstChild);
    const wrapped = serialize(doc);
    expect(xmlCryptoAlone(wrapped, rsa)).toBe(true);
    expect((refusal(() => verifySoapEnvelope(wrapped, gatewayCheck)).cause as Error).message).toMatch(/Timestamp is not covered/);
  });

  it('refuses a second Security header, a second signature, and a signature outside the Security header', () => {
    const signed = signSoapEnvelope(ENVELOPE, rsa);
    const security = /<wsse:Security\b.*<\/wsse:Security>/s.exec(signed)![0];
    const signature = /<ds:Signature\b.*<\/ds:Signature>/s.exec(signed)![0];
    const cases = {
      'more than one WS-Security header': signed.replace('</soap:Header>', `${security.replaceAll('wsu:Id="', 'wsu:Id="x')}</soap:Header>`),
      'the one signature must be in the Security header': signed.replace(signature, '').replace('</soap:Header>', `${signature}</soap:Header>`),
    };
    for (const [reason, xml] of Object.entries(cases)) {
      expect((refusal(() => verifySoapEnvelope(xml, gatewayCheck)).cause as Error).message, reason).toContain(reason);
    }
    const twice = signed.replace('</wsse:Security>', `${signature.replace('<ds:Signature ', '<ds:Signature Id="second" ')}</wsse:Security>`);
    expect((refusal(() => verifySoapEnvelope(twice, gatewayCheck)).cause as Error).message).toMatch(/one signature/);
  });

  it('refuses comments and CDATA sections, which split text that canonicalization joins again', () => {
    const signed = signSoapEnvelope(ENVELOPE, rsa);
    for (const split of ['<MaYeuCau>r-<!-- -->1</MaYeuCau>', '<MaYeuCau>r-<![CDATA[1]]></MaYeuCau>']) {
      const xml = signed.replace('<MaYeuCau>r-1</MaYeuCau>', split);
      expect(xml).not.toBe(signed);
      if (split.includes('<!--')) expect(xmlCryptoAlone(xml, rsa)).toBe(true);
      expect((refusal(() => verifySoapEnvelope(xml, gatewayCheck)).cause as Error).message).toMatch(/comments, CDATA/);
    }
  });

  it('refuses anything but the XML declaration and whitespace outside the Envelope, which xml-crypto alone accepts', () => {
    const signed = signSoapEnvelope(ENVELOPE, rsa);
    const forged = '<f:Envelope xmlns:f="http://schemas.xmlsoap.org/soap/envelope/"><f:Body><TonTai>true</TonTai></f:Body></f:Envelope>';
    const afterDeclaration = (inserted: string) => signed.replace(/^(<\?xml[^>]*\?>)/, `$1${inserted}`);
    for (const xml of [
      afterDeclaration(`<!--x--><!--${forged}-->`),
      afterDeclaration(`<?x ?${forged}?>`),
      `${signed}<!--${forged}-->`,
      `${signed}<?x y?>`,
      signed.replace(/^<\?xml[^>]*\?>/, '<!--x-->'),
    ]) {
      expect(xml).not.toBe(signed);
      expect(xmlCryptoAlone(xml, rsa)).toBe(true);
      const err = refusal(() => verifySoapEnvelope(xml, gatewayCheck));
      expect(err.code).toBe('UPSTREAM_SIGNATURE_INVALID');
      expect((err.cause as Error).message).toMatch(/outside the root element/);
    }
    expect(() => verifySoapEnvelope(afterDeclaration('\n  ') + '\n', gatewayCheck)).not.toThrow();
    expect(() => verifySoapEnvelope(signed.replace(/^<\?xml[^>]*\?>/, ''), gatewayCheck)).not.toThrow();
  });

  it('hands back the Body parsed from the bytes the signature covers, not from the text received', () => {
    const verified = verifySoapEnvelope(signSoapEnvelope(ENVELOPE, rsa), gatewayCheck);
    expect(verified.body.ownerDocument!.documentElement).toBe(verified.body);
    expect(verified.signedBody).toMatch(/^<soap:Body xmlns:soap="http:\/\/schemas.xmlsoap.org\/soap\/envelope\/"/);
    expect(serialize(verified.body.ownerDocument!)).toBe(verified.signedBody);
    expect(verified.body.textContent).toContain('Thành công & đủ');
  });

  it('refuses a Timestamp that has expired or was created in the future, allowing the clock skew', () => {
    const now = Date.now();
    const at = (offset: number) => signSoapEnvelope(ENVELOPE, rsa, { now: new Date(now + offset), ttlSeconds: 300 });
    expect(() => verifySoapEnvelope(at(-300_000 - 30_000), gatewayCheck)).not.toThrow();
    expect(() => verifySoapEnvelope(at(30_000), gatewayCheck)).not.toThrow();
    expect((refusal(() => verifySoapEnvelope(at(-300_000 - 90_000), gatewayCheck)).cause as Error).message).toMatch(/expired/);
    expect((refusal(() => verifySoapEnvelope(at(90_000), gatewayCheck)).cause as Error).message).toMatch(/future/);
    expect(() => verifySoapEnvelope(at(90_000), gatewayCheck, { skewSeconds: 120 })).not.toThrow();
  });

  it('hands the token and its chain to the certificate check, whose refusal comes out unchanged', () => {
    const signed = signSoapEnvelope(ENVELOPE, load('population-revoked'));
    const revoked = refusal(() => verifySoapEnvelope(signed, (certificate, chain) => trust.verify(certificate, { chain })));
    expect(revoked.code).toBe('UPSTREAM_CERT_REVOKED');
    expect(refusal(() => verifySoapEnvelope(signed, gatewayCheck)).code).toBe('UPSTREAM_CERT_REVOKED');
    // A certificate the trust store accepts, but not the name pinned for this peer.
    expect(refusal(() => verifySoapEnvelope(signSoapEnvelope(ENVELOPE, load('tax')), gatewayCheck)).code).toBe('UPSTREAM_CERT_UNTRUSTED');
  });

  it('refuses a signature whose KeyInfo names no token of the Security header', () => {
    const signed = signSoapEnvelope(ENVELOPE, rsa);
    const bodyId = /<soap:Body wsu:Id="([^"]+)"/.exec(signed)![1]!;
    const elsewhere = signed.replace(/(<wsse:Reference URI="#)[^"]+"/, `$1${bodyId}"`);
    expect((refusal(() => verifySoapEnvelope(elsewhere, gatewayCheck)).cause as Error).message).toMatch(/names no X\.509 token/);
    const garbled = signed.replace(/(<wsse:BinarySecurityToken[^>]*>)MII/, '$1AAA');
    expect((refusal(() => verifySoapEnvelope(garbled, gatewayCheck)).cause as Error).message).toMatch(/not an X\.509 certificate/);
  });

  it('tells an unsigned envelope (UPSTREAM_SIGNATURE_INVALID) from what is not an envelope (UPSTREAM_BAD_RESPONSE)', () => {
    refusedAs('UPSTREAM_SIGNATURE_INVALID', () => verifySoapEnvelope(ENVELOPE, gatewayCheck));
    refusedAs('UPSTREAM_SIGNATURE_INVALID', () => verifySoapEnvelope(ENVELOPE.replace('<soap:Header/>', ''), gatewayCheck));
    refusedAs('UPSTREAM_BAD_RESPONSE', () => verifySoapEnvelope(ENVELOPE.slice(0, 200), gatewayCheck));
    refusedAs('UPSTREAM_BAD_RESPONSE', () => verifySoapEnvelope('<html><body>Bảo trì</body></html>', gatewayCheck));
    refusedAs('UPSTREAM_BAD_RESPONSE', () => verifySoapEnvelope(ENVELOPE.replace('<soap:Header/>', '<soap:Header/><soap:Header/>'), gatewayCheck));
    const laughs = '<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "lol"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>' + ENVELOPE.replace(/^<\?xml[^>]*\?>/, '').replace('r-1', '&b;');
    const started = performance.now();
    const err = refusal(() => verifySoapEnvelope(laughs, gatewayCheck));
    expect(err.code).toBe('UPSTREAM_BAD_RESPONSE');
    expect((err.cause as Error).message).toMatch(/DTD/);
    expect(performance.now() - started).toBeLessThan(100);
  });

  it('parses each certificate once, by its DER thumbprint', () => {
    const first = verifySoapEnvelope(signSoapEnvelope(ENVELOPE, rsa), gatewayCheck).certificate;
    const second = verifySoapEnvelope(signSoapEnvelope(ENVELOPE, rsa), gatewayCheck).certificate;
    expect(second).toBe(first);
  });
});

describe('enveloped signatures', () => {
  it('signs the whole document by key type, with the chain in X509Data, and returns what was signed', () => {
    for (const [credentials, method] of [
      [rsa, ALGORITHMS.rsaSha256],
      [ec, ALGORITHMS.ecdsaSha256],
    ] as const) {
      const signed = signEnveloped(DOCUMENT, credentials);
      expect(signed.startsWith('<?xml version="1.0" encoding="UTF-8"?><KetQuaTraCuu><MaLoi>02</MaLoi>')).toBe(true);
      expect(signed).toMatch(/<ds:Signature xmlns:ds="http:\/\/www.w3.org\/2000\/09\/xmldsig#">.*<\/ds:Signature><\/KetQuaTraCuu>$/s);
      expect(signed).toContain(`<ds:SignatureMethod Algorithm="${method}"/>`);
      expect(signed).toContain(`<ds:Transform Algorithm="${ALGORITHMS.enveloped}"/><ds:Transform Algorithm="${ALGORITHMS.excC14n}"/>`);
      expect(signed.match(/<ds:X509Certificate>/g)).toHaveLength(2);
      const verified = verifyEnveloped(signed, gatewayCheck);
      expect(verified.certificate.fingerprint256).toBe(credentials.certificate.fingerprint256);
      expect(verified.signedXml).toBe(DOCUMENT.replace(/^<\?xml[^>]*\?>/, ''));
    }
  });

  it('refuses comments, processing instructions and content outside the signed root', () => {
    const signed = signEnveloped(DOCUMENT, rsa);
    const forged = '<KetQuaTraCuu><MaLoi>00</MaLoi><MoTa>Mạo Danh</MoTa></KetQuaTraCuu>';
    for (const xml of [signed.replace('?><KetQuaTraCuu>', `?><!--${forged}--><KetQuaTraCuu>`), signed.replace('?><KetQuaTraCuu>', `?><?x ?${forged}?><KetQuaTraCuu>`), `${signed}<!--${forged}-->`]) {
      expect(xml).not.toBe(signed);
      expect((refusal(() => verifyEnveloped(xml, gatewayCheck)).cause as Error).message).toMatch(/outside the root element/);
    }
    refusedAs('UPSTREAM_BAD_RESPONSE', () => verifyEnveloped(`${signed}${forged}`, gatewayCheck));
  });

  it('refuses changed content, a spoilt signature value, an unsigned document, and what is not XML', () => {
    const signed = signEnveloped(DOCUMENT, rsa);
    refusedAs('UPSTREAM_SIGNATURE_INVALID', () => verifyEnveloped(signed.replace('<MaLoi>02</MaLoi>', '<MaLoi>00</MaLoi>'), gatewayCheck));
    refusedAs('UPSTREAM_SIGNATURE_INVALID', () => verifyEnveloped(spoilSignature(signed), gatewayCheck));
    refusedAs('UPSTREAM_SIGNATURE_INVALID', () => verifyEnveloped(DOCUMENT, gatewayCheck));
    refusedAs('UPSTREAM_BAD_RESPONSE', () => verifyEnveloped(signed.slice(0, -20), gatewayCheck));
    refusedAs('UPSTREAM_BAD_RESPONSE', () => verifyEnveloped('<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>', gatewayCheck));
    expect(() => signEnveloped('<!DOCTYPE x><x/>', rsa)).toThrow(/DTD/);
  });

  it('refuses a signature that is not a child of the root, or that is not the only one', () => {
    const signed = signEnveloped(DOCUMENT, rsa);
    const signature = /<ds:Signature\b.*<\/ds:Signature>/s.exec(signed)![0];
    const nested = `<?xml version="1.0" encoding="UTF-8"?><Wrapper>${signed.replace(/^<\?xml[^>]*\?>/, '')}<KetQuaTraCuu><MaLoi>00</MaLoi></KetQuaTraCuu></Wrapper>`;
    expect((refusal(() => verifyEnveloped(nested, gatewayCheck)).cause as Error).message).toMatch(/not a child of the root/);
    const twice = signed.replace('</KetQuaTraCuu>', `${signature}</KetQuaTraCuu>`);
    expect((refusal(() => verifyEnveloped(twice, gatewayCheck)).cause as Error).message).toMatch(/more than one signature/);
  });

  it('refuses a reference to part of the document, and SHA-1, even when xml-crypto alone accepts them', () => {
    const partial = new SignedXml({ privateKey: rsa.key, publicCert: rsa.certificate.toString(), signatureAlgorithm: ALGORITHMS.rsaSha256, canonicalizationAlgorithm: ALGORITHMS.excC14n });
    partial.addReference({ xpath: "//*[local-name(.)='MaYeuCau']", transforms: [ALGORITHMS.enveloped, ALGORITHMS.excC14n], digestAlgorithm: ALGORITHMS.sha256 });
    partial.computeSignature(DOCUMENT, { prefix: 'ds' });
    const onlyPart = partial.getSignedXml();
    expect(xmlCryptoAlone(onlyPart, rsa)).toBe(true);
    expect((refusal(() => verifyEnveloped(onlyPart, gatewayCheck)).cause as Error).message).toMatch(/whole document/);

    const sha1 = new SignedXml({ privateKey: rsa.key, publicCert: rsa.certificate.toString(), signatureAlgorithm: 'http://www.w3.org/2000/09/xmldsig#rsa-sha1', canonicalizationAlgorithm: ALGORITHMS.excC14n });
    sha1.addReference({ xpath: '/*', transforms: [ALGORITHMS.enveloped, ALGORITHMS.excC14n], digestAlgorithm: 'http://www.w3.org/2000/09/xmldsig#sha1', isEmptyUri: true });
    sha1.computeSignature(DOCUMENT, { prefix: 'ds' });
    const weak = sha1.getSignedXml();
    expect(xmlCryptoAlone(weak, rsa)).toBe(true);
    expect((refusal(() => verifyEnveloped(weak, gatewayCheck)).cause as Error).message).toMatch(/signature method .*rsa-sha1/);
  });

  it('hands the X509Data certificates to the check, whose refusal comes out unchanged', () => {
    expect(refusal(() => verifyEnveloped(signEnveloped(DOCUMENT, load('tax-expired')), (c, chain) => trust.verify(c, { chain }))).code).toBe('UPSTREAM_CERT_EXPIRED');
    const seen: number[] = [];
    verifyEnveloped(signEnveloped(DOCUMENT, rsa), (_certificate, chain) => void seen.push(chain.length));
    expect(seen).toEqual([1]);
    expect(() => verifyEnveloped(signEnveloped(DOCUMENT, rsa), anyCertificate)).not.toThrow();
  });
});
