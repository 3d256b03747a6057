import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { listen, type Listening } from '../../../src/http/listen.ts';
import { FaultBoard } from '../../../src/sandbox/faults.ts';
import { people } from '../../../src/sandbox/personas.ts';
import { loadPemCredentials } from '../../../src/signing/trust-store.ts';
import { sample } from '../../../src/signing/material.ts';
import { signSoapEnvelope, verifySoapEnvelope } from '../../../src/signing/xml-signature.ts';
import { MESSAGE_FAULTS, fixtureTextReader, simulatorDeps, testSigning } from '../../contract/test-kit.ts';
import { createPopulationSimulator, matches, sameName, type ReceivedRequest } from './server.ts';

const fixture = fixtureTextReader(import.meta.url, '../fixtures/');
const faults = new FaultBoard();
const received: ReceivedRequest[] = [];
let server: Listening;

beforeAll(async () => {
  server = await listen(createPopulationSimulator(simulatorDeps('population', faults), { onRequest: (r) => received.push(r) }), '127.0.0.1', 0);
});
afterAll(async () => {
  await server.close();
});
afterEach(() => {
  faults.clear();
  received.length = 0;
});

const ACTION = '"http://dancuquocgia.bca/XacThucThongTinCongDan"';
const gateway = testSigning('population');
/** Posts the envelope signed with the gateway's certificate, or as given with `sign: false`. */
async function post(body: string, headers: Record<string, string> = {}, { sign = true } = {}) {
  const response = await fetch(`${server.url}/CongDanService`, {
    method: 'POST',
    headers: { 'content-type': 'text/xml; charset=utf-8', soapaction: ACTION, ...headers },
    body: sign ? signSoapEnvelope(body, gateway.credentials) : body,
  });
  return { status: response.status, type: response.headers.get('content-type'), text: await response.text() };
}

// The recorded request of the gateway asks about Lò Văn Thắng, born 17/04/1989.
const verifyRequest = fixture('request-verify.xml');
const withName = (name: string) => verifyRequest.replace('<HoVaTen>Lò Văn Thắng</HoVaTen>', `<HoVaTen>${name}</HoVaTen>`);

describe('population simulator', () => {
  it('serves its WSDL', async () => {
    const response = await fetch(`${server.url}/CongDanService?wsdl`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/xml/);
    const wsdl = await response.text();
    expect(wsdl).toContain('<wsdl:operation name="XacThucThongTinCongDan">');
    expect(wsdl).toContain('<wsdl:operation name="TraCuuThongTinCongDan">');
    expect((await fetch(`${server.url}/CongDanService`)).status).toBe(404);
    expect((await fetch(`${server.url}/khac`)).status).toBe(404);
    expect((await fetch(`${server.url}/CongDanService`, { method: 'PUT', body: 'x' })).status).toBe(405);
  });

  it('compares names as NFC, ignoring case and whitespace, on the raw wire', async () => {
    expect(withName('Tên khác')).not.toBe(verifyRequest);
    for (const name of ['Lò Văn Thắng'.normalize('NFD'), 'LÒ VĂN THẮNG', '  lò  văn\tthắng ']) {
      const answer = await post(withName(name));
      expect(answer.status).toBe(200);
      expect(answer.text).toContain('<TonTai>true</TonTai>');
    }
    expect((await post(withName('Lo Van Thang'))).text).toContain('<TonTai>false</TonTai>');
    expect((await post(verifyRequest.replace('19890417', '19890418'))).text).toContain('<TonTai>false</TonTai>');
    expect(received[0]!.fields).toMatchObject({ MaDonVi: 'H52.101.114', MaCanBo: 'canbo.motcua.01', MaTichHop: '037' });
  });

  it('answers a SOAP Client fault when agency, officer or purpose is missing', async () => {
    for (const field of ['MaDonVi', 'MaCanBo', 'MaDVC']) {
      const answer = await post(verifyRequest.replace(new RegExp(`<${field}>[^<]*</${field}>`), ''));
      expect(answer.status).toBe(500);
      expect(answer.type).toMatch(/^text\/xml/);
      expect(answer.text).toContain('<faultcode>soap:Client</faultcode>');
      expect(answer.text).toContain(`Thiếu thông tin bắt buộc: ${field}`);
      expect(answer.text).toContain('<MaLoi>01</MaLoi>');
    }
  });

  it('finds a person by SoCMND alone, and faults a request naming nobody or a malformed old card number', async () => {
    const id = /<SoDinhDanh>014089001234<\/SoDinhDanh>/;
    expect(verifyRequest).toMatch(id);
    expect((await post(verifyRequest.replace(id, '<SoCMND>050712345</SoCMND>'))).text).toContain('<TonTai>true</TonTai>');
    expect((await post(verifyRequest.replace(id, '<SoCMND>050398765</SoCMND>'))).text).toContain('<TonTai>false</TonTai>');
    const nobody = await post(verifyRequest.replace(id, ''));
    expect(nobody.status).toBe(500);
    expect(nobody.text).toContain('<MaLoi>01</MaLoi>');
    const malformed = await post(verifyRequest.replace(id, '<SoCMND>05071234</SoCMND>'));
    expect(malformed.status).toBe(500);
    expect(malformed.text).toContain('<MaLoi>02</MaLoi>');
  });

  it('refuses what is not a well-formed request of its own', async () => {
    const unsigned = [
      ['<!DOCTYPE x [<!ENTITY a "b">]>' + verifyRequest.replace(/^<\?xml[^>]*\?>/, ''), 'DTD'],
      [verifyRequest.slice(0, 200), 'XML hợp lệ'],
      ['<XacThucThongTinCongDan/>', 'SOAP Envelope'],
    ];
    for (const [body, message] of unsigned) {
      const answer = await post(body!, {}, { sign: false });
      expect(answer.status).toBe(500);
      expect(answer.text).toContain('<faultcode>soap:Client</faultcode>');
      expect(answer.text).toContain(message);
    }
    const cases: [string, Record<string, string>, string][] = [
      [verifyRequest.replaceAll('XacThucThongTinCongDan', 'XoaCongDan'), { soapaction: '' }, 'Không có thao tác XoaCongDan'],
      [verifyRequest, { soapaction: '"http://dancuquocgia.bca/TraCuuThongTinCongDan"' }, 'SOAPAction'],
      [verifyRequest, { 'content-type': 'application/json' }, 'Content-Type'],
      [verifyRequest.replace('014089001234', '05071234'), {}, '12 chữ số'],
    ];
    for (const [body, headers, message] of cases) {
      const answer = await post(body, headers);
      expect(answer.status).toBe(500);
      expect(answer.text).toContain('<faultcode>soap:Client</faultcode>');
      expect(answer.text).toContain(message);
    }
  });

  it('answers sandbox faults in its own format', async () => {
    faults.set({ system: 'population', mode: 'error' });
    const error = await post(verifyRequest);
    expect(error).toMatchObject({ status: 500, type: 'text/xml; charset=utf-8' });
    expect(error.text).toContain('<faultcode>soap:Server</faultcode>');
    faults.set({ system: 'population', mode: 'malformed' });
    const malformed = await post(verifyRequest);
    expect(malformed).toMatchObject({ status: 200, type: 'text/xml; charset=utf-8' });
    expect(malformed.text).not.toContain('</soap:Envelope>');
    // A fault is applied before anything, the WSDL included.
    expect(await (await fetch(`${server.url}/CongDanService?wsdl`)).text()).not.toContain('wsdl:definitions');
    expect(received).toEqual([]);
  });

  it('matches only living people on every field given', () => {
    const living = people.find((p) => p.dateOfDeath === null && p.oldIdNumber !== null)!;
    const dead = people.find((p) => p.dateOfDeath !== null)!;
    const wireDate = living.dateOfBirth.replaceAll('-', '');
    expect(matches(living, {})).toBe(true);
    expect(matches(living, { HoVaTen: living.fullName, NgayThangNamSinh: wireDate, SoCMND: living.oldIdNumber! })).toBe(true);
    expect(matches(living, { SoCMND: '000000000' })).toBe(false);
    expect(matches(living, { HoVaTen: '' })).toBe(false);
    expect(matches(dead, {})).toBe(false);
    expect(matches(undefined, {})).toBe(false);
    expect(sameName('Điêu Thị Ín', 'ĐIÊU THỊ ÍN'.normalize('NFD'))).toBe(true);
    expect(sameName('Điêu Thị Ín', 'Dieu Thi In')).toBe(false);
  });
});

describe('population simulator: message security', () => {
  const signing = testSigning('population');
  const verify = (xml: string) => verifySoapEnvelope(xml, signing.verifyPeer);
  const faultcode = (xml: string) => /<faultcode[^>]*>([^<]*)<\/faultcode>/.exec(xml)?.[1];

  it('signs every answer with its certificate, the faults it answers included', async () => {
    const answer = await post(verifyRequest);
    expect(verify(answer.text).body.toString()).toContain('<TonTai>true</TonTai>');
    expect(verify(answer.text).certificate.subject).toContain('CN=population.sandbox.lienthong.vn');
    const clientFault = await post(verifyRequest.replace(/<MaCanBo>[^<]*<\/MaCanBo>/, ''));
    expect(faultcode(verify(clientFault.text).body.toString())).toBe('soap:Client');
    faults.set({ system: 'population', mode: 'error' });
    expect(faultcode(verify((await post(verifyRequest)).text).body.toString())).toBe('soap:Server');
  });

  it('refuses an unsigned request with wsse:InvalidSecurity, before reading it', async () => {
    const answer = await post(verifyRequest, {}, { sign: false });
    expect(answer.status).toBe(500);
    expect(faultcode(answer.text)).toBe('wsse:InvalidSecurity');
    expect(verify(answer.text)).toBeTruthy();
    expect(received).toEqual([]);
  });

  it('refuses a request signed with a certificate other than the gateway’s with wsse:FailedAuthentication', async () => {
    const other = loadPemCredentials(sample('tax.pem'), sample('tax.key.pem'));
    const answer = await post(signSoapEnvelope(verifyRequest, other), {}, { sign: false });
    expect(answer.status).toBe(500);
    expect(faultcode(answer.text)).toBe('wsse:FailedAuthentication');
    expect(received).toEqual([]);
  });

  it('refuses a request changed after signing, or signed too long ago, with wsse:InvalidSecurity', async () => {
    const signed = signSoapEnvelope(verifyRequest, gateway.credentials);
    const changed = signed.replace('<SoDinhDanh>014089001234</SoDinhDanh>', '<SoDinhDanh>014089001235</SoDinhDanh>');
    expect(changed).not.toBe(signed);
    expect(faultcode((await post(changed, {}, { sign: false })).text)).toBe('wsse:InvalidSecurity');
    const stale = signSoapEnvelope(verifyRequest, gateway.credentials, { now: new Date(Date.now() - 10 * 60_000) });
    expect(faultcode((await post(stale, {}, { sign: false })).text)).toBe('wsse:InvalidSecurity');
    expect(received).toEqual([]);
  });

  it('answers unsigned, wrongly signed, or signed with a revoked or expired certificate as the faults say', async () => {
    faults.set({ system: 'population', mode: 'unsigned' });
    const unsigned = (await post(verifyRequest)).text;
    expect(unsigned).toContain('<TonTai>true</TonTai>');
    expect(unsigned).not.toContain('Signature');
    for (const [mode, code] of MESSAGE_FAULTS.filter(([mode]) => mode !== 'unsigned')) {
      faults.set({ system: 'population', mode });
      const answer = (await post(verifyRequest)).text;
      expect(answer, mode).toContain('<ds:SignatureValue>');
      expect(() => verify(answer), mode).toThrow(expect.objectContaining({ code }));
    }
  });
});
