import { X509Certificate, createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayError } from '../errors/gateway-error.ts';
import { cairoPdf, extractPdfCms, extractPdfSignatures, extractTimestamp, nssDbWithRoot, openssl, pdfsig, qpdfLinearized, qpdfObjectStreams, samplePdf, scratch, startTsa } from '../../test/helpers/pdf.ts';
import { createDocumentSealer } from './document-sealer.ts';
import { sample } from './material.ts';
import { createSignedData, parseSignedData, signingCertificateV2Attribute } from './cms.ts';
import { signPdf } from './pades.ts';
import { embedSignature, prepareSignature, readPdf } from './pdf.ts';
import { createTrustStore, loadPemCredentials, readCertificates, withChain, type Credentials } from './trust-store.ts';

const intermediates = readCertificates(sample('issuing-ca.pem'));
const trust = createTrustStore({ roots: readCertificates(sample('root-ca.pem')), intermediates, crls: [readFileSync(sample('issuing-ca.crl.pem'))] });
const load = (name: string, chain = intermediates): Credentials => withChain(loadPemCredentials(sample(`${name}.pem`), sample(`${name}.key.pem`)), chain);
const sealCredentials = load('document-seal');
const work = scratch('pades-test-');
const nssDir = nssDbWithRoot(sample('root-ca.pem'), work.file('nssdb'));
/** For files with several signatures by the seal (see nssDbWithRoot): the root is still the only trust. */
const nssDirKnowingSeal = nssDbWithRoot(sample('root-ca.pem'), work.file('nssdb-known'), [sample('issuing-ca.pem'), sample('document-seal.pem')]);

let tsa: Awaited<ReturnType<typeof startTsa>>;
let tsaUrl: string;
beforeAll(async () => {
  tsa = await startTsa(load('tsa'));
  tsaUrl = tsa.url;
});
afterAll(async () => {
  await tsa.close();
  work.remove();
});

const sealer = () => createDocumentSealer({ credentials: sealCredentials, tsaUrl, trust, timeoutMs: 5_000 });
let counter = 0;
const write = (data: Buffer, suffix = '.pdf') => work.file(`file-${++counter}${suffix}`, data);
const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

/** A refusal's code, or 'resolved'. */
async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'resolved';
  } catch (err) {
    if (err instanceof GatewayError) return err.code;
    throw err;
  }
}

describe('PAdES-B-T seal', () => {
  for (const [form, make] of [
    ['a classic xref table', () => samplePdf({ pages: 2 })],
    ['a cross-reference stream (pdf-lib)', () => samplePdf({ objectStreams: true })],
    ['a cross-reference stream with PNG predictors (qpdf)', async () => qpdfObjectStreams(await samplePdf({ pages: 3 }))],
    ['a linearized layout (qpdf)', async () => qpdfLinearized(await samplePdf({ pages: 3 }))],
    ["cairo's layout (pdftocairo)", async () => cairoPdf(await samplePdf({ pages: 2 }))],
  ] as const) {
    it(`seals a PDF with ${form} so that pdfsig, openssl cms and openssl ts accept it`, async () => {
      const original = await make();
      const before = Date.now();
      const { content, sealCms, signature } = await sealer().sealPdf(original);

      // An incremental update: the original bytes are a prefix of the sealed file.
      expect(content.subarray(0, original.length).equals(original)).toBe(true);
      expect(signature).toMatchObject({ form: 'pades', by: 'gateway', coversWholeFile: true });
      expect(signature.signer.subject).toContain('con dấu số');
      expect(Date.parse(signature.timestamp!.genTime)).toBeGreaterThanOrEqual(before - 1000);
      expect((await readPdf(content)).xrefForm).toBe((await readPdf(original)).xrefForm);

      const report = pdfsig(write(content), { nssDir });
      expect(report.signatures, report.output).toHaveLength(1);
      expect(report.signatures[0]).toMatchObject({ signatureValidation: 'Signature is Valid.', certificateValidation: 'Certificate is Trusted.', signatureType: 'ETSI.CAdES.detached', coverage: 'Total document signed' });

      const extracted = extractPdfCms(content);
      expect(extracted.cms.equals(sealCms)).toBe(true);
      expect(extracted.byteRange[2] + extracted.byteRange[3]).toBe(content.length);
      const cmsFile = write(extracted.cms, '.p7s');
      const verified = openssl('cms', '-verify', '-binary', '-inform', 'DER', '-in', cmsFile, '-content', write(extracted.signedBytes, '.bin'), '-CAfile', sample('root-ca.pem'), '-certfile', sample('issuing-ca.pem'), '-purpose', 'any', '-out', '/dev/null');
      expect(verified.output).toContain('Verification successful');
      expect(verified.status).toBe(0);
      // No signing-time attribute: the time is /M.
      const printed = openssl('cms', '-cmsout', '-print', '-inform', 'DER', '-in', cmsFile).output;
      const signed = printed.slice(printed.indexOf('signedAttrs:'), printed.indexOf('unsignedAttrs:'));
      expect(signed).toContain('id-smime-aa-signingCertificateV2');
      expect(signed).toContain('messageDigest');
      expect(signed).not.toContain('signingTime');
      expect(printed.slice(printed.indexOf('unsignedAttrs:'))).toContain('id-smime-aa-timeStampToken');

      const { token, signatureValue } = extractTimestamp(extracted.cms);
      const ts = openssl('ts', '-verify', '-token_in', '-in', write(token, '.der'), '-data', write(signatureValue, '.bin'), '-CAfile', sample('root-ca.pem'), '-untrusted', sample('issuing-ca.pem'));
      expect(ts.output).toContain('Verification: OK');

      const check = await sealer().check({ mediaType: 'application/pdf', signatures: [signature], sealCms, sha256: sha256(content) }, content);
      expect(check).toMatchObject({ valid: true, contentChecked: true });
      expect(check.signatures).toHaveLength(1);
    });
  }

  it('seals an already signed PDF and leaves the first signature valid', async () => {
    const first = await sealer().sealPdf(await samplePdf({ pages: 2 }));
    const second = await sealer().sealPdf(first.content);
    const report = pdfsig(write(second.content), { nssDir: nssDirKnowingSeal });
    expect(report.signatures, report.output).toHaveLength(2);
    for (const s of report.signatures) expect(s).toMatchObject({ signatureValidation: 'Signature is Valid.', certificateValidation: 'Certificate is Trusted.' });
    expect(report.signatures.map((s) => s.coverage)).toEqual(['Not total document signed', 'Total document signed']);

    const facts = await sealer().inspectPdf(second.content);
    expect(facts.map((f) => f.coversWholeFile)).toEqual([false, true]);
    expect(facts.every((f) => f.by === 'external' && f.timestamp !== null)).toBe(true);
    const check = await sealer().check({ mediaType: 'application/pdf', signatures: [...facts], sealCms: second.sealCms, sha256: sha256(second.content) }, second.content);
    expect(check.valid).toBe(true);
    expect(check.signatures.map((s) => s.by)).toEqual(['external', 'gateway']);
  });

  it('a byte changed in the signed range: pdfsig and our check both say invalid', async () => {
    const { content, sealCms, signature } = await sealer().sealPdf(await samplePdf());
    // The page's new version (after /Contents, in the second range) gets a taller MediaBox.
    const altered = Buffer.from(content);
    const at = altered.lastIndexOf('842');
    const [, , start] = extractPdfCms(content).byteRange;
    expect(at).toBeGreaterThan(start);
    altered.write('843', at, 'latin1');

    const report = pdfsig(write(altered), { nssDir });
    expect(report.signatures, report.output).toHaveLength(1);
    expect(report.signatures[0]!.signatureValidation).not.toBe('Signature is Valid.');
    expect(report.signatures[0]!.signatureValidation).toMatch(/Digest Mismatch|Invalid/i);

    expect(await codeOf(sealer().inspectPdf(altered))).toBe('DOCUMENT_SIGNATURE_INVALID');
    const check = await sealer().check({ mediaType: 'application/pdf', signatures: [signature], sealCms, sha256: sha256(altered) }, altered);
    expect(check.valid).toBe(false);
    expect(check.signatures[0]!.problem).toMatch(/message-digest/);
  });

  it('a chain and timestamp larger than the space reserved by default: /Contents is made larger, not overrun', async () => {
    // The seal's chain padded with every sample certificate: some 30 KiB of certificates in the CMS.
    const extra = readdirSync(dirname(sample('root-ca.pem')))
      .filter((name) => name.endsWith('.pem') && !name.includes('.key') && !name.includes('.pub') && !name.includes('.crl'))
      .flatMap((name) => readCertificates(sample(name)));
    const large: Credentials = { ...sealCredentials, chain: [...sealCredentials.chain, ...extra] };
    const sealed = await signPdf(await samplePdf(), { credentials: large, tsaUrl, trust });
    expect(sealed.cms.length).toBeGreaterThan(24 * 1024);
    const extracted = extractPdfCms(sealed.content);
    expect(extracted.cms.equals(sealed.cms)).toBe(true);
    expect(extracted.byteRange[2] + extracted.byteRange[3]).toBe(sealed.content.length);
    const report = pdfsig(write(sealed.content), { nssDir });
    expect(report.signatures[0], report.output).toMatchObject({ signatureValidation: 'Signature is Valid.', coverage: 'Total document signed' });
    const check = await sealer().check({ mediaType: 'application/pdf', signatures: [sealed.signature], sealCms: sealed.cms, sha256: sha256(sealed.content) }, sealed.content);
    expect(check.signatures.find((s) => s.by === 'gateway')).toMatchObject({ valid: true });
  });

  it('an update appended after the seal: the seal still verifies but no longer covers the whole file', async () => {
    const { content, sealCms, signature } = await sealer().sealPdf(await samplePdf());
    const appended = (await signPdf(content, { credentials: load('tax'), tsaUrl, trust })).content;
    const check = await sealer().check({ mediaType: 'application/pdf', signatures: [signature], sealCms, sha256: sha256(appended) }, appended);
    expect(check.valid).toBe(false);
    const seal = check.signatures.find((s) => s.by === 'gateway')!;
    expect(seal).toMatchObject({ coversWholeFile: false, valid: false });
    expect(seal.problem).toMatch(/whole file/);
  });

  for (const [what, signer, pattern] of [
    ['a revoked certificate', () => load('tax-revoked'), /revoked/],
    ['an expired certificate', () => load('population-expired'), /valid .* to/],
    ['a certificate of an untrusted CA (impostor-ca)', () => load('tax-impostor', readCertificates(sample('impostor-ca.pem'))), /no path|not trusted/],
    ['an EC key of a revoked certificate', () => load('business-registry-revoked'), /revoked/],
  ] as const) {
    it(`refuses a PDF signed with ${what}: DOCUMENT_SIGNATURE_INVALID`, async () => {
      const signed = await signPdf(await samplePdf(), { credentials: signer(), tsaUrl, trust });
      let error: unknown;
      try {
        await sealer().inspectPdf(signed.content);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(GatewayError);
      expect((error as GatewayError).code).toBe('DOCUMENT_SIGNATURE_INVALID');
      expect((error as GatewayError).detail).toMatch(pattern);
      // The seal over it is still made; the bad signature keeps the whole document from being valid.
      const sealed = await sealer().sealPdf(signed.content);
      const check = await sealer().check({ mediaType: 'application/pdf', signatures: [sealed.signature], sealCms: sealed.sealCms, sha256: sha256(sealed.content) }, sealed.content);
      expect(check.valid).toBe(false);
      expect(check.signatures.find((s) => s.by === 'gateway')!.valid).toBe(true);
    });
  }

  it('a revoked signer is also refused by openssl with the CRL (the sample PKI agrees)', async () => {
    const signed = await signPdf(await samplePdf(), { credentials: load('tax-revoked'), tsaUrl, trust });
    const extracted = extractPdfCms(signed.content);
    const chain = write(Buffer.from(readFileSync(sample('root-ca.pem'), 'utf8') + readFileSync(sample('issuing-ca.pem'), 'utf8')), '.pem');
    const args = ['cms', '-verify', '-binary', '-inform', 'DER', '-in', write(extracted.cms, '.p7s'), '-content', write(extracted.signedBytes, '.bin'), '-CAfile', chain, '-purpose', 'any', '-out', '/dev/null'];
    expect(openssl(...args).status).toBe(0);
    const withCrl = write(Buffer.concat([readFileSync(chain), readFileSync(sample('issuing-ca.crl.pem'))]), '.pem');
    const revoked = openssl(...args.map((a) => (a === chain ? withCrl : a)), '-crl_check');
    expect(revoked.status).not.toBe(0);
    expect(revoked.output).toMatch(/revoked/);
  });
});

describe('signatures made elsewhere', () => {
  /**
   * A PDF signed without a timestamp by `credentials`, its /ByteRange rewritten by `widen` bytes
   * past /Contents first, and `edit` applied to the prepared bytes before they are signed.
   */
  async function signedElsewhere(credentials: Credentials, widen = 0, edit: (bytes: Buffer) => void = () => {}): Promise<Buffer> {
    const prepared = prepareSignature(await readPdf(await samplePdf()), { signedAt: new Date() });
    edit(prepared.bytes);
    const [, b, c, d] = prepared.byteRange;
    const range = [0, b, c + widen, d - widen];
    const at = prepared.bytes.lastIndexOf('/ByteRange [');
    const end = prepared.bytes.indexOf(']', at);
    prepared.bytes.write(`/ByteRange [${range.join(' ')}]`.padEnd(end + 1 - at, ' '), at, 'latin1');
    const content = Buffer.concat([prepared.bytes.subarray(0, b), prepared.bytes.subarray(c + widen)]);
    const cms = await createSignedData({ content, detached: true, credentials, attributes: [signingCertificateV2Attribute(credentials.certificate)] });
    return embedSignature(prepared, cms);
  }

  it('accepts a valid signature without a timestamp (judged now) and names its signer', async () => {
    const facts = await sealer().inspectPdf(await signedElsewhere(load('population')));
    expect(facts).toHaveLength(1);
    expect(facts[0]).toMatchObject({ form: 'pades', by: 'external', timestamp: null, coversWholeFile: true });
    expect(facts[0]!.signer.subject).toContain('CN=population.sandbox.lienthong.vn');
    expect(facts[0]!.signer.serialNumber).toBe(load('population').certificate.serialNumber.toUpperCase());
  });

  it('a signature whose /M names no real day is accepted without a signing time (not a fault of ours)', async () => {
    const pdf = await signedElsewhere(load('population'), 0, (bytes) => {
      const at = bytes.lastIndexOf('/M (D:');
      bytes.write('/M (D:20261399000000Z)', at, 'latin1');
    });
    expect((await readPdf(pdf)).signatures[0]!.signedAt).toBeUndefined();
    const facts = await sealer().inspectPdf(pdf);
    expect(facts[0]).toMatchObject({ by: 'external', signedAt: null, coversWholeFile: true });
  });

  it('names the signer of a signature that does not verify by its SignerInfo, not by the first certificate with its serial', async () => {
    const signer = load('population');
    // A self-signed certificate with the signer's serial number, sorted first in the CMS's certificate set.
    const dir = scratch('same-serial-');
    try {
      const made = openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=same serial, other issuer', '-set_serial', `0x${signer.certificate.serialNumber}`, '-days', '1', '-keyout', dir.file('k.pem'), '-out', dir.file('c.pem'));
      expect(made.status, made.output).toBe(0);
      const twin = readCertificates(dir.file('c.pem'))[0]!;
      const pdf = await signedElsewhere({ ...signer, chain: [twin, ...signer.chain] });
      expect(new X509Certificate(Buffer.from(parseSignedData(extractPdfCms(pdf).cms).certificates[0]!)).subject).toContain('same serial');
      // A byte of the first revision changed: the signature no longer verifies.
      const altered = Buffer.from(pdf);
      altered.write('596', altered.indexOf('595'), 'latin1');
      const check = await sealer().check({ mediaType: 'application/pdf', signatures: [], sealCms: null, sha256: sha256(altered) }, altered);
      expect(check.signatures).toHaveLength(1);
      expect(check.signatures[0]).toMatchObject({ valid: false, signer: { serialNumber: signer.certificate.serialNumber.toUpperCase() } });
      expect(check.signatures[0]!.signer.subject).toContain('CN=population.sandbox.lienthong.vn');
    } finally {
      dir.remove();
    }
  });

  it('refuses a /ByteRange that leaves out more than /Contents', async () => {
    const pdf = await signedElsewhere(load('population'), 10);
    let error: unknown;
    try {
      await sealer().inspectPdf(pdf);
    } catch (err) {
      error = err;
    }
    expect((error as GatewayError).code).toBe('DOCUMENT_SIGNATURE_INVALID');
    expect((error as GatewayError).detail).toMatch(/leaves out/);
  });
});

describe('CAdES-B-T detached seal', () => {
  it('seals content by its SHA-256; openssl cms -verify accepts the .p7s over the content', async () => {
    const content = Buffer.from('\x89PNG\r\n\x1a\n not really an image, but bytes to seal '.repeat(100), 'latin1');
    const digest = createHash('sha256').update(content).digest();
    const { sealCms, signature } = await sealer().sealDetached(digest);
    expect(signature).toMatchObject({ form: 'cms', by: 'gateway', signedAt: null });
    expect(signature.timestamp?.policy).toBeTruthy();

    const verified = openssl('cms', '-verify', '-binary', '-inform', 'DER', '-in', write(sealCms, '.p7s'), '-content', write(content, '.bin'), '-CAfile', sample('root-ca.pem'), '-certfile', sample('issuing-ca.pem'), '-purpose', 'any', '-out', '/dev/null');
    expect(verified.output).toContain('Verification successful');
    const other = openssl('cms', '-verify', '-binary', '-inform', 'DER', '-in', write(sealCms, '.p7s'), '-content', write(Buffer.concat([content, Buffer.from('x')]), '.bin'), '-CAfile', sample('root-ca.pem'), '-certfile', sample('issuing-ca.pem'), '-purpose', 'any', '-out', '/dev/null');
    expect(other.status).not.toBe(0);

    const { token, signatureValue } = extractTimestamp(sealCms);
    const ts = openssl('ts', '-verify', '-token_in', '-in', write(token, '.der'), '-data', write(signatureValue, '.bin'), '-CAfile', sample('root-ca.pem'), '-untrusted', sample('issuing-ca.pem'));
    expect(ts.output).toContain('Verification: OK');

    const record = { mediaType: 'image/png', signatures: [signature], sealCms, sha256: digest.toString('hex') };
    expect(await sealer().check(record, content)).toMatchObject({ valid: true, contentChecked: true });
    // Destroyed: the kept CMS still verifies against the recorded SHA-256.
    const destroyed = await sealer().check(record, undefined);
    expect(destroyed).toMatchObject({ valid: true, contentChecked: false });
    expect(destroyed.signatures[0]!.timestamp!.genTime).toBe(signature.timestamp!.genTime);
    // Other content, or a record whose hash was changed, does not.
    expect((await sealer().check(record, Buffer.concat([content, Buffer.from('x')]))).valid).toBe(false);
    expect((await sealer().check({ ...record, sha256: sha256(Buffer.from('other')) }, undefined)).valid).toBe(false);
  });

  it('a destroyed PDF: the kept seal CMS verifies over its signed attributes and timestamp', async () => {
    const { content, sealCms, signature } = await sealer().sealPdf(await samplePdf());
    const record = { mediaType: 'application/pdf', signatures: [signature], sealCms, sha256: sha256(content) };
    const check = await sealer().check(record, undefined);
    expect(check).toMatchObject({ valid: true, contentChecked: false });
    expect(check.signatures).toHaveLength(1);
    expect(check.signatures[0]).toMatchObject({ form: 'pades', by: 'gateway', valid: true });
    // A kept CMS with a byte of its signature changed does not.
    const broken = Buffer.from(sealCms);
    const { signatureValue } = extractTimestamp(sealCms);
    const at = broken.indexOf(signatureValue);
    broken[at + 10]! ^= 0x01;
    expect((await sealer().check({ ...record, sealCms: broken }, undefined)).valid).toBe(false);
  });
});

describe('TSA down', () => {
  it('sealing answers TIMESTAMP_UNAVAILABLE with a Retry-After', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const down = createDocumentSealer({ credentials: sealCredentials, tsaUrl: `http://127.0.0.1:${port}/`, trust, timeoutMs: 2_000 });
    const pdf = await samplePdf();
    for (const attempt of [() => down.sealPdf(pdf), () => down.sealDetached(createHash('sha256').update('x').digest())]) {
      let error: unknown;
      try {
        await attempt();
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(GatewayError);
      expect((error as GatewayError).code).toBe('TIMESTAMP_UNAVAILABLE');
      expect((error as GatewayError).status).toBe(503);
      expect((error as GatewayError).retryAfter).toBeGreaterThan(0);
    }
  });

  it('without a TSA configured nothing is sealed: TIMESTAMP_UNAVAILABLE, and checks still work', async () => {
    const none = createDocumentSealer({ credentials: sealCredentials, tsaUrl: undefined, trust });
    expect(await codeOf(none.sealPdf(await samplePdf()))).toBe('TIMESTAMP_UNAVAILABLE');
    expect(await codeOf(none.sealDetached(createHash('sha256').update('x').digest()))).toBe('TIMESTAMP_UNAVAILABLE');
    expect(await none.inspectPdf(await samplePdf())).toEqual([]);
  });

  it('a TSA whose certificate is not trusted is no timestamp either', async () => {
    const untrusted = await startTsa(load('tax'));
    try {
      const bad = createDocumentSealer({ credentials: sealCredentials, tsaUrl: untrusted.url, trust, timeoutMs: 5_000 });
      expect(await codeOf(bad.sealPdf(await samplePdf()))).toBe('TIMESTAMP_UNAVAILABLE');
    } finally {
      await untrusted.close();
    }
  });
});

describe('extracted signatures', () => {
  it('finds each signature of a twice-sealed file by its byte range', async () => {
    const first = await sealer().sealPdf(await samplePdf());
    const second = await sealer().sealPdf(first.content);
    const all = extractPdfSignatures(second.content);
    expect(all.map((s) => s.cms.equals(first.sealCms) || s.cms.equals(second.sealCms))).toEqual([true, true]);
  });
});
