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
import { derViolation } from '../../test/helpers/der.ts';
import { OID, createSignedData, derTlv, signingCertificateV2Attribute, verifySignedData } from './cms.ts';
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

/** The TLVs inside a DER constructed value, byte for byte. */
const elements = (der: Uint8Array): Buffer[] => (asn1js.fromBER(new Uint8Array(der)).result as asn1js.Constructed).valueBlock.value.map((b) => Buffer.from(b.valueBeforeDecodeView));

/** The TSTInfo a genuine token carries (its signature checked). */
const tstInfoOf = async (token: Buffer) => (await verifySignedData(token, { trust, contentType: OID.tstInfo })).content;

/** The token with its eContent replaced and everything else (signed attributes, signature) kept. */
function withEContent(token: Buffer, content: Uint8Array): Buffer {
  const [contentType, wrapped] = elements(token);
  const [version, digestAlgorithms, encap, ...rest] = elements(elements(wrapped!)[0]!);
  const swapped = derTlv(0x30, elements(encap!)[0]!, derTlv(0xa0, derTlv(0x04, content)));
  return derTlv(0x30, contentType!, derTlv(0xa0, derTlv(0x30, version!, digestAlgorithms!, swapped, ...rest)));
}

/** The TSTInfo with its genTime written as `text`, signed by the sandbox TSA as a token. */
async function tokenWithGenTime(tstInfo: Buffer, text: string): Promise<Buffer> {
  const fields = elements(tstInfo);
  fields[4] = derTlv(0x18, Buffer.from(text, 'latin1'));
  return createSignedData({ content: derTlv(0x30, ...fields), contentType: OID.tstInfo, credentials: tsa, attributes: [signingCertificateV2Attribute(tsa.certificate)] });
}

/** yyyyMMddHHmmss of an instant, in UTC shifted by `offsetHours`. */
const digits = (at: Date, offsetHours = 0) => new Date(at.getTime() + offsetHours * 3_600_000).toISOString().replace(/\D/g, '').slice(0, 14);

describe('what was verified is what is used', () => {
  it('refuses bytes after the reply or the token, and anything beside the token', async () => {
    const response = await reply({ nonce: 9n });
    const token = parseTimestampResponse(response).token!;
    expect(await reason(verify(Buffer.concat([response, Buffer.from([0])]), { nonce: 9n }))).toBe('malformed');
    expect(await reason(verify(Buffer.concat([token, Buffer.from('3000', 'hex')]), { nonce: 9n }))).toBe('malformed');
    expect(() => parseTimestampResponse(Buffer.concat([response, token]))).toThrow(TimestampError);
    // A second token inside the TimeStampResp, after the first: neither is taken.
    const [status] = elements(response);
    const other = parseTimestampResponse(await reply({ nonce: 9n })).token!;
    expect(await reason(verify(derTlv(0x30, status!, token, other), { nonce: 9n }))).toBe('malformed');
    // The untouched reply passes: the refusals above are about the bytes added.
    expect(await reason(verify(response, { nonce: 9n }))).toBe('OK');
  });

  it('refuses a granted reply whose token carries another TSTInfo than the one signed', async () => {
    const token = parseTimestampResponse(await reply({ nonce: 1n })).token!;
    // A genuine TSTInfo of the same TSA, for the same data, from another token (another serial and genTime).
    const later = await tstInfoOf(parseTimestampResponse(await reply({ nonce: 1n, now: () => new Date(Date.now() + 3_600_000) })).token!);
    expect(await reason(verify(derTlv(0x30, elements(await reply())[0]!, withEContent(token, later)), { nonce: 1n }))).toBe('signature');
    // The signed TSTInfo with its genTime moved by an hour (same length, same DER form).
    const own = await tstInfoOf(token);
    const text = own.toString('latin1');
    const genTime = /\d{14}(\.\d+)?Z/.exec(text)![0];
    const moved = Buffer.from(text.replace(genTime, digits(new Date(Date.now() - 3_600_000)) + genTime.slice(14)), 'latin1');
    expect(moved.length).toBe(own.length);
    expect(await reason(verify(withEContent(token, moved), { nonce: 1n }))).toBe('signature');
    // The same reassembly with the signed TSTInfo verifies: only the swapped content is refused.
    expect(await reason(verify(withEContent(token, own), { nonce: 1n }))).toBe('OK');
  });

  it('reads genTime, serial, nonce and imprint from the TSTInfo the signature covers', async () => {
    const at = new Date(Date.now() - 120_000);
    const response = await reply({ nonce: 0x1234n, now: () => at });
    const verified = await verify(response, { nonce: 0x1234n });
    const signed = new pkijs.TSTInfo({ schema: asn1js.fromBER(new Uint8Array(await tstInfoOf(verified.token))).result });
    expect(verified.genTime.getTime()).toBe(at.getTime());
    expect(verified.genTime.getTime()).toBe(signed.genTime.getTime());
    expect(verified.serial).toBe(Buffer.from(signed.serialNumber.valueBlock.valueHexView).toString('hex').replace(/^(00)+(?=..)/, '').toUpperCase());
    expect(verified.nonce).toBe(0x1234n);
    expect(verified.hashedMessage.equals(Buffer.from(signed.messageImprint.hashedMessage.valueBlock.valueHexView))).toBe(true);
  });

  it('refuses a signed TSTInfo whose genTime is not written as RFC 3161 requires (Z, no trailing zeros)', async () => {
    const own = await tstInfoOf(parseTimestampResponse(await reply()).token!);
    const now = new Date();
    // The same instant in forms asn1js reads as other instants than openssl does: local time, an
    // offset, a fraction with a trailing zero (not DER).
    for (const text of [digits(now), `${digits(now, 7)}+0700`, `${digits(now)}.50Z`]) {
      expect(await reason(verify(await tokenWithGenTime(own, text))), text).toBe('malformed');
    }
    // The DER form of the same instant, signed the same way, is accepted and read as written.
    const good = await verify(await tokenWithGenTime(own, `${digits(now)}Z`));
    expect(good.genTime.toISOString()).toBe(`${now.toISOString().slice(0, 19)}.000Z`);
  });
});

describe('requestTimestamp keeps exactly what it verified', () => {
  /** A TSA whose genuine replies pass through `tamper` on the way out. */
  const tamperingTsa = (tamper: (reply: Buffer) => Buffer | Promise<Buffer>) =>
    serve((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        void createTimestampReply(Buffer.concat(chunks), { credentials: tsa })
          .then(tamper)
          .then((r) => res.writeHead(200, { 'content-type': 'application/timestamp-reply' }).end(r));
      });
    });

  it('returns the reply and token it verified, byte for byte', async () => {
    let sent: Buffer | undefined;
    const url = await tamperingTsa((r) => (sent = r));
    const result = await requestTimestamp(url, data, { trust });
    expect(result.response.equals(sent!)).toBe(true);
    expect(parseTimestampResponse(result.response).token!.equals(result.token)).toBe(true);
    const again = await verifyTimestamp(result.token, data, trust, { nonce: result.nonce });
    expect({ genTime: again.genTime, serial: again.serial, policy: again.policy }).toEqual({ genTime: result.genTime, serial: result.serial, policy: result.policy });
  });

  it('refuses trailing bytes, a replayed genuine reply and a token for other data, with the trust store', async () => {
    const trailing = await tamperingTsa((r) => Buffer.concat([r, Buffer.from('3000', 'hex')]));
    expect(await reason(requestTimestamp(trailing, data, { trust }))).toBe('malformed');
    const earlier = await reply({ nonce: 42n });
    const replaying = await tamperingTsa(() => earlier);
    expect(await reason(requestTimestamp(replaying, data, { trust }))).toBe('nonce');
    const otherData = await reply({ over: Buffer.from('other') });
    const elsewhere = await tamperingTsa(() => otherData);
    expect(await reason(requestTimestamp(elsewhere, data, { trust }))).toBe('imprint');
  });
});
