import { createHash, generateKeyPairSync } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { afterAll, describe, expect, it } from 'vitest';
import { derViolation } from '../../test/helpers/der.ts';
import { CmsError, OID, compareDer, createSignedData, parseSignedData, signDetached, sortAttributes, verifyDetached, verifySignedData } from './cms.ts';
import { sample } from './material.ts';
import { createTrustStore, loadPemCredentials, readCertificates, withChain, type Credentials } from './trust-store.ts';

const work = mkdtempSync(join(tmpdir(), 'cms-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const intermediates = readCertificates(sample('issuing-ca.pem'));
const roots = readCertificates(sample('root-ca.pem'));
const trust = createTrustStore({ roots, intermediates, crls: [readFileSync(sample('issuing-ca.crl.pem'))] });
const bundle = join(work, 'ca-bundle.pem');
writeFileSync(bundle, readFileSync(sample('root-ca.pem'), 'utf8') + readFileSync(sample('issuing-ca.pem'), 'utf8'));
const load = (name: string): Credentials => withChain(loadPemCredentials(sample(`${name}.pem`), sample(`${name}.key.pem`)), intermediates);

function openssl(...args: string[]): { status: number | null; output: string } {
  const run = spawnSync('openssl', args, { encoding: 'utf8' });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

/** `openssl cms -verify` of a detached DER signature, as the checkpoint README tells agencies to run it. */
function opensslVerify(signature: Buffer, content: Buffer, caFile = bundle): { status: number | null; output: string } {
  const name = `${Math.random().toString(36).slice(2)}`;
  const sig = join(work, `${name}.p7s`);
  const txt = join(work, `${name}.txt`);
  writeFileSync(sig, signature);
  writeFileSync(txt, content);
  return openssl('cms', '-verify', '-binary', '-inform', 'DER', '-in', sig, '-content', txt, '-CAfile', caFile, '-purpose', 'any', '-out', '/dev/null');
}

async function reason(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof CmsError) return err.reason;
    throw err;
  }
  return 'OK';
}

function signerInfoOf(signature: Buffer): { signedData: pkijs.SignedData; signerInfo: pkijs.SignerInfo } {
  const contentInfo = pkijs.ContentInfo.fromBER(new Uint8Array(signature));
  const signedData = new pkijs.SignedData({ schema: contentInfo.content });
  return { signedData, signerInfo: signedData.signerInfos[0]! };
}

const content = Buffer.from('lienthong.sonla.gov.vn/exchange-log\n42\nq5Qk3bDgk6rHqJbVDQ1Rz8ZyqPZ3I7dRrCQm1dUe+8w=\n', 'utf8');

describe.each([
  { name: 'gateway', algorithm: OID.sha256WithRSAEncryption },
  { name: 'gateway-ec', algorithm: OID.ecdsaWithSHA256 },
])('detached CMS signatures with $name', ({ name, algorithm }) => {
  const credentials = load(name);

  it('produces strict DER that openssl cms -verify accepts with the root and issuing CA', async () => {
    const signature = await signDetached(content, credentials);
    expect(derViolation(signature)).toBeUndefined();
    const result = opensslVerify(signature, content);
    expect(result.output).toContain('CMS Verification successful');
    expect(result.status).toBe(0);
    // The intermediates travel in the signature: the root alone is enough for openssl.
    expect(opensslVerify(signature, content, sample('root-ca.pem')).status).toBe(0);
  });

  it('is a detached SignedData with the signer, its chain and DER-sorted signed attributes', async () => {
    const before = Date.now();
    const signature = await signDetached(content, credentials);
    const { signedData, signerInfo } = signerInfoOf(signature);
    expect(signedData.version).toBe(1);
    expect(signedData.encapContentInfo.eContentType).toBe(OID.data);
    expect(signedData.encapContentInfo.eContent).toBeUndefined();
    expect(signerInfo.signatureAlgorithm.algorithmId).toBe(algorithm);
    expect(signerInfo.digestAlgorithm.algorithmId).toBe(OID.sha256);
    // Certificates are carried byte for byte.
    expect(signature.includes(credentials.certificate.raw)).toBe(true);
    expect(signature.includes(intermediates[0]!.raw)).toBe(true);
    expect(signature.includes(roots[0]!.raw)).toBe(false);
    const attributes = signerInfo.signedAttrs!.attributes;
    expect(attributes.map((a) => a.type).sort()).toEqual([OID.contentType, OID.messageDigest, OID.signingTime].sort());
    const encodings = attributes.map((a) => Buffer.from(a.toSchema().toBER()));
    expect([...encodings].sort(compareDer)).toEqual(encodings);
    const verified = await verifyDetached(signature, content, trust);
    expect(verified.signer.fingerprint256).toBe(credentials.certificate.fingerprint256);
    expect(verified.signingTime!.getTime()).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
    expect(verified.signingTime!.getTime()).toBeLessThanOrEqual(Date.now());
  });

  it('fails in openssl and verifyDetached when one byte of the content changes', async () => {
    const signature = await signDetached(content, credentials);
    const changed = Buffer.from(content);
    changed[5] = changed[5]! ^ 0x01;
    const result = opensslVerify(signature, changed);
    expect(result.status).not.toBe(0);
    expect(result.output).toMatch(/Verification failure/);
    expect(await reason(verifyDetached(signature, changed, trust))).toBe('digest-mismatch');
  });

  it('fails when the signature value is altered', async () => {
    const signature = await signDetached(content, credentials);
    // The signature OCTET STRING closes the SignerInfo (there are no unsigned attributes).
    signature[signature.length - 1] = signature[signature.length - 1]! ^ 0x01;
    expect(await reason(verifyDetached(signature, content, trust))).toBe('bad-signature');
    expect(opensslVerify(signature, content).status).not.toBe(0);
  });
});

describe('signer trust', () => {
  it('refuses a signature whose certificate comes from another root, even with look-alike names', async () => {
    // A look-alike PKI: a self-signed CA named like the real issuing CA, and a leaf with the gateway's name.
    const dir = mkdtempSync(join(work, 'other-root-'));
    const issuingSubject = '/C=VN/O=Liên thông sandbox (NOT FOR PRODUCTION)/CN=Liên thông Sample Issuing CA';
    const ext = join(dir, 'ext.cnf');
    writeFileSync(ext, 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n');
    const steps = [
      ['req', '-x509', '-utf8', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'ca.key.pem'), '-out', join(dir, 'ca.pem'), '-subj', issuingSubject, '-days', '30'],
      ['req', '-new', '-utf8', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'leaf.key.pem'), '-out', join(dir, 'leaf.csr'), '-subj', '/C=VN/O=Liên thông sandbox (NOT FOR PRODUCTION)/CN=lienthong-gateway.sandbox.sonla.gov.vn'],
      ['x509', '-req', '-in', join(dir, 'leaf.csr'), '-CA', join(dir, 'ca.pem'), '-CAkey', join(dir, 'ca.key.pem'), '-set_serial', '0x1001', '-days', '30', '-extfile', ext, '-out', join(dir, 'leaf.pem')],
    ];
    for (const step of steps) expect(openssl(...step).status).toBe(0);
    const impostor = loadPemCredentials(join(dir, 'leaf.pem'), join(dir, 'leaf.key.pem'));
    const signature = await createSignedData({ content, detached: true, credentials: { ...impostor, chain: readCertificates(join(dir, 'ca.pem')) } });
    expect(derViolation(signature)).toBeUndefined();
    expect(await reason(verifyDetached(signature, content, trust))).toBe('untrusted');
    expect(opensslVerify(signature, content).status).not.toBe(0);
    // The same signature is fine for whoever trusts that other root: only the chain was wrong.
    const theirs = createTrustStore({ roots: readCertificates(join(dir, 'ca.pem')) });
    expect(await reason(verifyDetached(signature, content, theirs))).toBe('OK');
  });

  it('refuses a signer revoked by the CRL, with the trust store error as cause', async () => {
    const signature = await signDetached(content, load('population-revoked'));
    const err = await verifyDetached(signature, content, trust).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CmsError);
    expect((err as CmsError).reason).toBe('untrusted');
    expect(((err as CmsError).cause as { code?: string }).code).toBe('UPSTREAM_CERT_REVOKED');
  });

  it('finds the signer among given certificates when the signature carries none', async () => {
    const credentials = load('gateway');
    const bare = await createSignedData({ content, detached: true, credentials, certificates: 'none' });
    expect(derViolation(bare)).toBeUndefined();
    // No empty [0] set: straight from encapContentInfo to signerInfos.
    expect(signerInfoOf(bare).signedData.certificates).toBeUndefined();
    expect(await reason(verifyDetached(bare, content, trust))).toBe('no-signer-certificate');
    const verified = await verifySignedData(bare, { trust, content, certificates: [credentials.certificate] });
    expect(verified.signer.fingerprint256).toBe(credentials.certificate.fingerprint256);
  });
});

describe('malformed and misused signatures', () => {
  const credentials = load('gateway');

  it('refuses garbage, stray trailing bytes and attached content where detached is expected', async () => {
    expect(await reason(verifyDetached(Buffer.from('not a signature'), content, trust))).toBe('malformed');
    const signature = await signDetached(content, credentials);
    expect(await reason(verifyDetached(Buffer.concat([signature, Buffer.from([0])]), content, trust))).toBe('malformed');
    const attached = await createSignedData({ content, credentials });
    expect(derViolation(attached)).toBeUndefined();
    expect(await reason(verifyDetached(attached, content, trust))).toBe('not-detached');
    const inside = await verifySignedData(attached, { trust });
    expect(inside.content.equals(content)).toBe(true);
    // The whole content in one primitive OCTET STRING, not BER pieces.
    expect(attached.includes(Buffer.concat([Buffer.from([0x04, content.length]), content]))).toBe(true);
  });

  it('refuses a signature over a different content type than asked for', async () => {
    const signature = await createSignedData({ content, detached: true, credentials, contentType: OID.tstInfo });
    expect(await reason(verifyDetached(signature, content, trust))).toBe('content-type');
    expect(await reason(verifySignedData(signature, { trust, content, contentType: OID.tstInfo }))).toBe('OK');
  });

  it('refuses keys it does not sign with, and keys that are not the certificate’s', async () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    await expect(signDetached(content, { ...credentials, key: privateKey })).rejects.toThrow(/RSA-2048\+ or EC P-256/);
    const ec = load('gateway-ec');
    await expect(signDetached(content, { ...credentials, key: ec.key })).rejects.toThrow(/does not belong/);
  });
});

describe('DER helpers', () => {
  it('sorts attributes as a DER SET OF', () => {
    const a = new pkijs.Attribute({ type: OID.signingTime, values: [new asn1js.UTCTime({ valueDate: new Date(0) })] });
    const b = new pkijs.Attribute({ type: OID.contentType, values: [new asn1js.ObjectIdentifier({ value: OID.data })] });
    const c = new pkijs.Attribute({ type: OID.messageDigest, values: [new asn1js.OctetString({ valueHex: new Uint8Array(32) })] });
    // By whole encoding, so the length octet decides first: content-type (24), signing-time (28), message-digest (47).
    expect(sortAttributes([c, a, b]).map((x) => x.type)).toEqual([OID.contentType, OID.signingTime, OID.messageDigest]);
    expect(compareDer(Buffer.from([1, 2]), Buffer.from([1, 2, 0]))).toBeLessThan(0);
  });

  it('spots what is not DER', () => {
    expect(derViolation(Buffer.from('300302010a', 'hex'))).toBeUndefined();
    expect(derViolation(Buffer.from('3080020101 0000'.replace(/ /g, ''), 'hex'))).toMatch(/indefinite/);
    expect(derViolation(Buffer.from('30810302010a', 'hex'))).toMatch(/long-form/);
    expect(derViolation(Buffer.from('3004020200 7f'.replace(/ /g, ''), 'hex'))).toMatch(/INTEGER/);
    expect(derViolation(Buffer.from('3106020102020101', 'hex'))).toMatch(/SET not sorted/);
    expect(derViolation(Buffer.from('2406040161040162', 'hex'))).toMatch(/constructed/);
    expect(derViolation(Buffer.from('0101 01'.replace(/ /g, ''), 'hex'))).toMatch(/BOOLEAN/);
    expect(derViolation(Buffer.from('300302010a00', 'hex'))).toMatch(/one value|stray|past/);
  });
});

describe('CMS options for detached seals', () => {
  it('signs a precomputed SHA-256 without signing-time, with unsigned attributes from the signature value, all in DER', async () => {
    const content = Buffer.from('streamed content known only by its digest\n');
    const digest = createHash('sha256').update(content).digest();
    let seen: Buffer | undefined;
    const marker = Buffer.from(new asn1js.Utf8String({ value: 'unsigned' }).toBER(false));
    const signature = await createSignedData({
      contentDigest: digest,
      detached: true,
      credentials: load('gateway'),
      signingTime: null,
      unsignedAttributes: async (value) => {
        seen = value;
        return [{ type: '1.2.3.4.5', values: [marker] }];
      },
    });
    expect(derViolation(signature)).toBeUndefined();
    expect(opensslVerify(signature, content).status).toBe(0);
    expect(opensslVerify(signature, Buffer.concat([content, Buffer.from('!')])).status).not.toBe(0);
    const verified = await verifySignedData(signature, { trust, contentDigest: digest });
    expect(verified.signingTime).toBeUndefined();
    expect(verified.signedAttributes.map((a) => a.type)).not.toContain(OID.signingTime);
    expect(await reason(verifySignedData(signature, { trust, contentDigest: createHash('sha256').update('other').digest() }))).toBe('digest-mismatch');
    // The unsigned attribute was asked for with the signature value the SignerInfo carries, and travels byte for byte.
    const signerInfo = parseSignedData(signature).signerInfos[0]!;
    expect(Buffer.from(signerInfo.signature.valueBlock.valueHexView).equals(seen!)).toBe(true);
    expect(Buffer.from((signerInfo.unsignedAttrs!.attributes[0]!.values[0] as asn1js.AsnType).toBER(false)).equals(marker)).toBe(true);
  });

  it('refuses a digest for attached content, and a digest of the wrong length', async () => {
    await expect(createSignedData({ contentDigest: Buffer.alloc(32), credentials: load('gateway') })).rejects.toThrow(/detached/);
    await expect(createSignedData({ contentDigest: Buffer.alloc(20), detached: true, credentials: load('gateway') })).rejects.toThrow(/32 bytes/);
  });
});
