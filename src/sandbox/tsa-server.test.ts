import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { derViolation } from '../../test/helpers/der.ts';
import { OID } from '../signing/cms.ts';
import { sample } from '../signing/material.ts';
import { createTrustStore, loadPemCredentials, readCertificates, withChain, type Credentials } from '../signing/trust-store.ts';
import { PKI_FAILURE, PKI_STATUS, TimestampError, createTimestampRequest, parseTimestampResponse, requestTimestamp, verifyTimestamp } from '../signing/tsa.ts';
import { SANDBOX_TSA_POLICY, createTsaServer, type TsaServerOptions } from './tsa-server.ts';

const work = mkdtempSync(join(tmpdir(), 'tsa-server-test-'));
const intermediates = readCertificates(sample('issuing-ca.pem'));
const trust = createTrustStore({ roots: readCertificates(sample('root-ca.pem')), intermediates, crls: [readFileSync(sample('issuing-ca.crl.pem'))] });
const bundle = join(work, 'ca-bundle.pem');
writeFileSync(bundle, readFileSync(sample('root-ca.pem'), 'utf8') + readFileSync(sample('issuing-ca.pem'), 'utf8'));
const load = (name: string): Credentials => withChain(loadPemCredentials(sample(`${name}.pem`), sample(`${name}.key.pem`)), intermediates);
const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest();

const servers: Server[] = [];
async function start(options: TsaServerOptions): Promise<string> {
  const server = createServer(createTsaServer(options));
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}
afterAll(async () => {
  await Promise.all(
    servers.map((s) => {
      const closed = new Promise((resolve) => s.close(resolve));
      s.closeAllConnections();
      return closed;
    }),
  );
  rmSync(work, { recursive: true, force: true });
});

function openssl(...args: string[]): { status: number | null; output: string } {
  const run = spawnSync('openssl', args, { encoding: 'utf8' });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

let counter = 0;
function files(reply: Buffer, data: Buffer): { tsr: string; dat: string } {
  const id = ++counter;
  const tsr = join(work, `reply-${id}.tsr`);
  const dat = join(work, `data-${id}.bin`);
  writeFileSync(tsr, reply);
  writeFileSync(dat, data);
  return { tsr, dat };
}

/** `openssl ts -verify` as the evidence README gives it. */
const opensslTsVerify = (tsr: string, dat: string) => openssl('ts', '-verify', '-data', dat, '-in', tsr, '-CAfile', bundle, '-untrusted', sample('tsa.pem'));

async function post(url: string, body: Uint8Array | string, headers: Record<string, string> = { 'content-type': 'application/timestamp-query' }, method = 'POST') {
  const res = await fetch(url, { method, headers, ...(method === 'GET' ? {} : { body: typeof body === 'string' ? body : new Uint8Array(body) }) });
  return { status: res.status, type: res.headers.get('content-type'), allow: res.headers.get('allow'), body: Buffer.from(await res.arrayBuffer()) };
}

describe('sandbox TSA over loopback HTTP', () => {
  let url: string;
  beforeAll(async () => {
    url = await start({ credentials: loadPemCredentials(sample('tsa.pem'), sample('tsa.key.pem')) });
  });

  it('answers a token that verifyTimestamp and openssl ts -verify both accept', async () => {
    const data = Buffer.from('checkpoint signature bytes\n');
    const before = Date.now();
    const result = await requestTimestamp(url, data, { timeoutMs: 5_000 });
    expect(result.genTime.getTime()).toBeGreaterThanOrEqual(before);
    expect(result.genTime.getTime()).toBeLessThanOrEqual(Date.now());
    expect(result.policy).toBe(SANDBOX_TSA_POLICY);
    expect(result.serial).toMatch(/^[0-9A-F]+$/);
    expect(derViolation(result.response)).toBeUndefined();
    expect(result.response.subarray(result.response.length - result.token.length).equals(result.token)).toBe(true);

    const verified = await verifyTimestamp(result.response, data, trust, { nonce: result.nonce });
    expect(verified.serial).toBe(result.serial);
    expect(verified.genTime.getTime()).toBe(result.genTime.getTime());

    const { tsr, dat } = files(result.response, data);
    const check = opensslTsVerify(tsr, dat);
    expect(check.output).toContain('Verification: OK');
    expect(check.status).toBe(0);
    // The token carries the TSA certificate (certReq), so -untrusted is not even needed.
    expect(openssl('ts', '-verify', '-data', dat, '-in', tsr, '-CAfile', bundle).output).toContain('Verification: OK');

    const text = openssl('ts', '-reply', '-in', tsr, '-text').output;
    expect(text).toContain('Status: Granted.');
    expect(text).toContain(`Policy OID: ${SANDBOX_TSA_POLICY}`);
    expect(text).toContain(`Nonce: 0x${result.nonce.toString(16).toUpperCase().padStart(16, '0')}`);
    expect(text).toContain(`Serial number: 0x${result.serial}`);
    expect(text).toContain('Accuracy: 0x01 seconds');
    expect(text).toMatch(/TSA: DirName:.*Time-Stamping Authority/);
  });

  it('signs with content-type id-ct-TSTInfo, signing-time, message-digest and signingCertificateV2, DER-sorted', async () => {
    const result = await requestTimestamp(url, Buffer.from('x'));
    const signedData = new pkijs.SignedData({ schema: pkijs.ContentInfo.fromBER(new Uint8Array(result.token)).content });
    expect(signedData.version).toBe(3);
    expect(signedData.encapContentInfo.eContentType).toBe(OID.tstInfo);
    expect(signedData.encapContentInfo.eContent!.idBlock.isConstructed).toBe(false);
    const attributes = signedData.signerInfos[0]!.signedAttrs!.attributes;
    expect(attributes.map((a) => a.type).sort()).toEqual([OID.contentType, OID.messageDigest, OID.signingTime, OID.signingCertificateV2].sort());
    const contentType = attributes.find((a) => a.type === OID.contentType)!.values[0] as asn1js.ObjectIdentifier;
    expect(contentType.valueBlock.toString()).toBe(OID.tstInfo);
    const encodings = attributes.map((a) => Buffer.from(a.toSchema().toBER()));
    expect([...encodings].sort(Buffer.compare)).toEqual(encodings);
    expect(signedData.signerInfos[0]!.signatureAlgorithm.algorithmId).toBe(OID.sha256WithRSAEncryption);
    // Random positive serials.
    const serials = await Promise.all([1, 2, 3, 4].map(() => requestTimestamp(url, Buffer.from('x')).then((r) => r.serial)));
    expect(new Set([...serials, result.serial]).size).toBe(5);
  });

  it('makes both verifiers fail when the data changes', async () => {
    const data = Buffer.from('the original bytes');
    const result = await requestTimestamp(url, data);
    const altered = Buffer.from(data);
    altered[0] = altered[0]! ^ 0x20;
    const { tsr, dat } = files(result.response, altered);
    const check = opensslTsVerify(tsr, dat);
    expect(check.status).not.toBe(0);
    expect(check.output).toMatch(/Verification: FAILED/);
    expect(check.output).toMatch(/message imprint mismatch/);
    await expect(verifyTimestamp(result.response, altered, trust)).rejects.toMatchObject({ reason: 'imprint' });
  });

  it('leaves the certificates out when certReq is false (openssl then needs -untrusted)', async () => {
    const data = Buffer.from('no certificate please');
    const res = await post(url, createTimestampRequest(sha256(data), { certReq: false, nonce: 1234n }));
    expect(res.status).toBe(200);
    expect(res.type).toBe('application/timestamp-reply');
    const signedData = new pkijs.SignedData({ schema: pkijs.ContentInfo.fromBER(new Uint8Array(parseTimestampResponse(res.body).token!)).content });
    expect(signedData.certificates).toBeUndefined();
    expect(derViolation(res.body)).toBeUndefined();
    const { tsr, dat } = files(res.body, data);
    expect(opensslTsVerify(tsr, dat).output).toContain('Verification: OK');
    await expect(verifyTimestamp(res.body, data, trust, { nonce: 1234n, certificates: [loadPemCredentials(sample('tsa.pem'), sample('tsa.key.pem')).certificate] })).resolves.toMatchObject({ nonce: 1234n });
  });

  it('refuses other methods (405), content types (415), non-TimeStampReq bodies (400) and oversized ones (413)', async () => {
    const get = await post(url, '', {}, 'GET');
    expect(get.status).toBe(405);
    expect(get.allow).toBe('POST');
    expect((await post(url, createTimestampRequest(sha256(Buffer.from('x'))), { 'content-type': 'application/octet-stream' })).status).toBe(415);
    expect((await post(url, 'hello', { 'content-type': 'application/timestamp-query' })).status).toBe(400);
    expect((await post(url, Buffer.concat([createTimestampRequest(sha256(Buffer.from('x'))), Buffer.from([0])]))).status).toBe(400);
    expect((await post(url, Buffer.alloc(20_000, 0x30))).status).toBe(413);
  });

  it('answers requests it cannot honour with a rejection status, not a token', async () => {
    // An imprint made with an algorithm it does not offer (MD5).
    const md5 = new pkijs.TimeStampReq({
      version: 1,
      messageImprint: new pkijs.MessageImprint({ hashAlgorithm: new pkijs.AlgorithmIdentifier({ algorithmId: '1.2.840.113549.2.5', algorithmParams: new asn1js.Null() }), hashedMessage: new asn1js.OctetString({ valueHex: new Uint8Array(16) }) }),
    });
    const badAlg = await post(url, Buffer.from(md5.toSchema().toBER()));
    expect(badAlg.status).toBe(200);
    expect(derViolation(badAlg.body)).toBeUndefined();
    expect(parseTimestampResponse(badAlg.body)).toMatchObject({ status: PKI_STATUS.rejection, failures: [PKI_FAILURE.badAlg] });
    const { tsr } = files(badAlg.body, Buffer.alloc(0));
    expect(openssl('ts', '-reply', '-in', tsr, '-text').output).toMatch(/Status: Rejected[\s\S]*unrecognized or unsupported algorithm identifier/);

    const policy = await requestTimestamp(url, Buffer.from('x'), { policy: '1.2.3.4' }).catch((e: unknown) => e);
    expect(policy).toBeInstanceOf(TimestampError);
    expect((policy as TimestampError).reason).toBe('rejected');
    expect((policy as TimestampError).message).toMatch(/only policy/);
    // Asking for its own policy is fine.
    await expect(requestTimestamp(url, Buffer.from('x'), { policy: SANDBOX_TSA_POLICY, trust })).resolves.toMatchObject({ policy: SANDBOX_TSA_POLICY });
  });

  it('uses the clock it is given', async () => {
    const fixed = new Date('2027-03-04T05:06:07.890Z');
    const clocked = await start({ credentials: loadPemCredentials(sample('tsa.pem'), sample('tsa.key.pem')), now: () => fixed, policy: '1.3.6.1.4.1.99999.2' });
    const result = await requestTimestamp(clocked, Buffer.from('x'), { trust });
    expect(result.genTime.toISOString()).toBe(fixed.toISOString());
    expect(result.policy).toBe('1.3.6.1.4.1.99999.2');
  });
});

describe('a TSA whose certificate lacks the timeStamping purpose', () => {
  it.each(['gateway', 'gateway-ec'])('is refused by verifyTimestamp (signed with %s.pem) and by openssl', async (name) => {
    const url = await start({ credentials: load(name) });
    const data = Buffer.from('checkpoint');
    // The transport-level checks pass: the reply is well formed, for this imprint and nonce.
    const result = await requestTimestamp(url, data);
    await expect(verifyTimestamp(result.response, data, trust, { nonce: result.nonce })).rejects.toMatchObject({ name: 'TimestampError', reason: 'extended-key-usage' });
    await expect(requestTimestamp(url, data, { trust })).rejects.toMatchObject({ reason: 'extended-key-usage' });
    const { tsr, dat } = files(result.response, data);
    const check = openssl('ts', '-verify', '-data', dat, '-in', tsr, '-CAfile', bundle);
    expect(check.status).not.toBe(0);
    expect(check.output).not.toContain('Verification: OK');
  });
});
