import { createHash, type X509Certificate } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { afterAll, describe, expect, it } from 'vitest';
import { createTimestampReply } from '../sandbox/tsa-server.ts';
import { OID, createSignedData, derViolation, signingCertificateV2Attribute, verifySignedData } from './cms.ts';
import { sample } from './material.ts';
import { createTrustStore, loadPemCredentials, readCertificates, withChain, type Credentials } from './trust-store.ts';
import {
  PKI_FAILURE,
  PKI_STATUS,
  TimestampError,
  createTimestampRequest,
  integerValue,
  parseTimestampResponse,
  requestTimestamp,
  verifyTimestamp,
  type VerifyTimestampOptions,
} from './tsa.ts';

const work = mkdtempSync(join(tmpdir(), 'tsa-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const intermediates = readCertificates(sample('issuing-ca.pem'));
const trust = createTrustStore({ roots: readCertificates(sample('root-ca.pem')), intermediates, crls: [readFileSync(sample('issuing-ca.crl.pem'))] });
const load = (name: string): Credentials => withChain(loadPemCredentials(sample(`${name}.pem`), sample(`${name}.key.pem`)), intermediates);
const tsa = loadPemCredentials(sample('tsa.pem'), sample('tsa.key.pem'));
const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest();
const data = Buffer.from('a detached CMS signature over checkpoint 42', 'utf8');

async function reason(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof TimestampError) return err.reason;
    throw err;
  }
  return 'OK';
}

/** A reply from the sandbox TSA, in process. */
function reply(options: { nonce?: bigint; certReq?: boolean; policy?: string; credentials?: Credentials; now?: () => Date; over?: Uint8Array } = {}): Promise<Buffer> {
  const query = createTimestampRequest(sha256(options.over ?? data), {
    ...(options.nonce !== undefined ? { nonce: options.nonce } : {}),
    ...(options.certReq !== undefined ? { certReq: options.certReq } : {}),
    ...(options.policy ? { policy: options.policy } : {}),
  });
  return createTimestampReply(query, { credentials: options.credentials ?? tsa, ...(options.now ? { now: options.now } : {}) });
}

const verify = (response: Uint8Array, options: VerifyTimestampOptions = {}, over: Uint8Array = data) => verifyTimestamp(response, over, trust, options);

/** A TSA certificate issued by the sample issuing CA with the given extensions (openssl). */
function issueTsa(name: string, extensions: string): Credentials {
  const dir = mkdtempSync(join(work, `${name}-`));
  const ext = join(dir, 'ext.cnf');
  writeFileSync(ext, `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,nonRepudiation\n${extensions}\n`);
  const run = (...args: string[]) => expect(spawnSync('openssl', args, { encoding: 'utf8' }).status).toBe(0);
  run('req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'csr.pem'), '-subj', `/C=VN/CN=${name}`);
  // -set_serial: no .srl file is written next to the sample CA.
  run('x509', '-req', '-in', join(dir, 'csr.pem'), '-CA', sample('issuing-ca.pem'), '-CAkey', sample('issuing-ca.key.pem'), '-set_serial', `0x${Date.now().toString(16)}`, '-days', '30', '-extfile', ext, '-out', join(dir, 'cert.pem'));
  return loadPemCredentials(join(dir, 'cert.pem'), join(dir, 'key.pem'));
}

const servers: Server[] = [];
afterAll(() =>
  Promise.all(
    servers.map((s) => {
      const closed = new Promise((resolve) => s.close(resolve));
      s.closeAllConnections();
      return closed;
    }),
  ),
);
async function serve(listener: RequestListener): Promise<string> {
  const server = createServer(listener);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/tsa`;
}

describe('time-stamp requests', () => {
  it('are strict DER TimeStampReqs openssl reads: SHA-256 imprint, nonce, certReq', () => {
    const query = createTimestampRequest(sha256(data), { nonce: 0x0123456789abcdefn });
    expect(derViolation(query)).toBeUndefined();
    const file = join(work, 'query.tsq');
    writeFileSync(file, query);
    const text = spawnSync('openssl', ['ts', '-query', '-in', file, '-text'], { encoding: 'utf8' }).stdout;
    expect(text).toContain('Hash Algorithm: sha256');
    expect(text).toContain('Nonce: 0x0123456789ABCDEF');
    expect(text).toContain('Certificate required: yes');
    expect(text).toContain('Policy OID: unspecified');
  });

  it('encode nonces as positive INTEGERs and leave certReq out when false', () => {
    const nonceOf = (query: Buffer) => new pkijs.TimeStampReq({ schema: asn1js.fromBER(new Uint8Array(query)).result }).nonce!;
    const big = nonceOf(createTimestampRequest(sha256(data), { nonce: 0x80n }));
    expect(Buffer.from(big.valueBlock.valueHexView).toString('hex')).toBe('0080');
    expect(integerValue(big)).toBe(0x80n);
    const fromBuffer = nonceOf(createTimestampRequest(sha256(data), { nonce: Buffer.from('0000ff01', 'hex') }));
    expect(Buffer.from(fromBuffer.valueBlock.valueHexView).toString('hex')).toBe('00ff01');
    const noCert = new pkijs.TimeStampReq({ schema: asn1js.fromBER(new Uint8Array(createTimestampRequest(sha256(data), { certReq: false }))).result });
    expect(noCert.certReq).toBeUndefined();
    expect(noCert.nonce).toBeUndefined();
    expect(() => createTimestampRequest(Buffer.alloc(20))).toThrow(/32 bytes/);
  });
});

describe('verifyTimestamp', () => {
  it('accepts a granted reply and its bare token, and says what it checked', async () => {
    const response = await reply({ nonce: 77n });
    const verified = await verify(response, { nonce: 77n, policy: '1.3.6.1.4.1.99999.1' });
    expect(verified.tsa.fingerprint256).toBe(tsa.certificate.fingerprint256);
    expect(verified.nonce).toBe(77n);
    expect(verified.hashedMessage.equals(sha256(data))).toBe(true);
    expect(verified.accuracy).toEqual({ seconds: 1 });
    expect(parseTimestampResponse(response).token!.equals(verified.token)).toBe(true);
    expect((await verify(verified.token, { nonce: Buffer.from([77]) })).serial).toBe(verified.serial);
  });

  it('refuses other data, another nonce, another policy', async () => {
    const response = await reply({ nonce: 5n });
    expect(await reason(verify(response, {}, Buffer.from('other data')))).toBe('imprint');
    expect(await reason(verify(response, { nonce: 6n }))).toBe('nonce');
    expect(await reason(verify(await reply(), { nonce: 6n }))).toBe('nonce');
    expect(await reason(verify(response, { policy: '1.2.3.4' }))).toBe('policy');
  });

  it('refuses a rejection status, and garbage', async () => {
    const rejected = await reply({ policy: '1.2.3.4' });
    const parsed = parseTimestampResponse(rejected);
    expect(parsed.status).toBe(PKI_STATUS.rejection);
    expect(parsed.failures).toEqual([PKI_FAILURE.unacceptedPolicy]);
    expect(parsed.token).toBeUndefined();
    expect(await reason(verify(rejected))).toBe('rejected');
    expect(await reason(verify(Buffer.from('3000', 'hex')))).toBe('malformed');
    expect(await reason(verify(Buffer.from('nonsense')))).toBe('malformed');
  });

  it('refuses a token whose signature or TSTInfo was altered', async () => {
    const token = parseTimestampResponse(await reply()).token!;
    const badSignature = Buffer.from(token);
    badSignature[badSignature.length - 1] = badSignature[badSignature.length - 1]! ^ 1;
    expect(await reason(verify(badSignature))).toBe('signature');
    // Flip a byte of the TSTInfo's imprint: the message-digest no longer matches.
    const tampered = Buffer.from(token);
    const at = tampered.indexOf(sha256(data));
    tampered[at] = tampered[at]! ^ 1;
    expect(await reason(verify(tampered, {}, data))).toBe('signature');
  });

  it('checks the TSA chain against the trust store', async () => {
    const response = await reply();
    const elsewhere = createTrustStore({ roots: readCertificates(sample('gateway.pem')) });
    expect(await reason(verifyTimestamp(response, data, elsewhere))).toBe('untrusted');
  });

  it('finds the TSA certificate among given ones when certReq was false', async () => {
    const response = await reply({ certReq: false });
    expect(await reason(verify(response))).toBe('signature');
    expect(await reason(verify(response, { certificates: [tsa.certificate] }))).toBe('OK');
  });

  it('refuses TSAs without a critical extendedKeyUsage of timeStamping only', async () => {
    expect(await reason(verify(await reply({ credentials: load('gateway') })))).toBe('extended-key-usage');
    expect(await reason(verify(await reply({ credentials: issueTsa('non-critical', 'extendedKeyUsage=timeStamping') })))).toBe('extended-key-usage');
    expect(await reason(verify(await reply({ credentials: issueTsa('two-purposes', 'extendedKeyUsage=critical,timeStamping,serverAuth') })))).toBe('extended-key-usage');
    expect(await reason(verify(await reply({ credentials: issueTsa('no-eku', 'subjectKeyIdentifier=hash') })))).toBe('extended-key-usage');
    // The same construction with the right extension is accepted (EC P-256 TSA key).
    expect(await reason(verify(await reply({ credentials: issueTsa('good-ec', 'extendedKeyUsage=critical,timeStamping') })))).toBe('OK');
  });

  it('requires an ESS signing-certificate attribute naming the TSA certificate', async () => {
    const token = parseTimestampResponse(await reply()).token!;
    const tstInfo = (await verifySignedData(token, { trust, contentType: OID.tstInfo })).content;
    const resign = (attributes: pkijs.Attribute[]) => createSignedData({ content: tstInfo, contentType: OID.tstInfo, credentials: tsa, attributes });
    expect(await reason(verify(await resign([])))).toBe('signing-certificate');
    const gateway: X509Certificate = load('gateway').certificate;
    expect(await reason(verify(await resign([signingCertificateV2Attribute(gateway)])))).toBe('signing-certificate');
    // ESS v1 (SHA-1 certHash, no issuerSerial) naming the TSA certificate is accepted too.
    const essCertId = new asn1js.Sequence({ value: [new asn1js.OctetString({ valueHex: createHash('sha1').update(tsa.certificate.raw).digest() })] });
    const v1 = new pkijs.Attribute({ type: OID.signingCertificate, values: [new asn1js.Sequence({ value: [new asn1js.Sequence({ value: [essCertId] })] })] });
    expect(await reason(verify(await resign([v1])))).toBe('OK');
  });

  it('refuses a genTime outside the TSA certificate’s validity', async () => {
    expect(await reason(verify(await reply({ now: () => new Date('2001-01-01T00:00:00Z') })))).toBe('time');
  });
});

describe('requestTimestamp over HTTP', () => {
  it('refuses HTTP errors, wrong content types and timeouts', async () => {
    const html = await serve((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<p>hi</p>'));
    expect(await reason(requestTimestamp(html, data))).toBe('http');
    const failing = await serve((_req, res) => res.writeHead(500).end());
    expect(await reason(requestTimestamp(failing, data))).toBe('http');
    const silent = await serve(() => undefined);
    const started = Date.now();
    expect(await reason(requestTimestamp(silent, data, { timeoutMs: 200 }))).toBe('http');
    expect(Date.now() - started).toBeLessThan(5_000);
    const aborted = new AbortController();
    setTimeout(() => aborted.abort(), 50);
    expect(await reason(requestTimestamp(silent, data, { signal: aborted.signal }))).toBe('http');
  });

  it('refuses replayed replies (nonce) and replies for other data (imprint)', async () => {
    let cached: Buffer | undefined;
    const replaying = await serve((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        void (async () => {
          cached ??= await createTimestampReply(Buffer.concat(chunks), { credentials: tsa });
          res.writeHead(200, { 'content-type': 'application/timestamp-reply' }).end(cached);
        })();
      });
    });
    expect(await reason(requestTimestamp(replaying, data))).toBe('OK');
    expect(await reason(requestTimestamp(replaying, data))).toBe('nonce');
    expect(await reason(requestTimestamp(replaying, Buffer.from('other')))).toBe('imprint');
  });

  it('verifies in full when given the trust store', async () => {
    const gatewayTsa = await serve((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        void createTimestampReply(Buffer.concat(chunks), { credentials: load('gateway-ec') }).then((r) => res.writeHead(200, { 'content-type': 'application/timestamp-reply' }).end(r));
      });
    });
    expect(await reason(requestTimestamp(gatewayTsa, data))).toBe('OK');
    expect(await reason(requestTimestamp(gatewayTsa, data, { trust }))).toBe('extended-key-usage');
  });
});
