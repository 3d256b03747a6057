import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { listen, type Listening } from '../../../src/http/listen.ts';
import { FaultBoard } from '../../../src/sandbox/faults.ts';
import { people } from '../../../src/sandbox/personas.ts';
import { fixtureTextReader, simulatorDeps } from '../../contract/test-kit.ts';
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

const ACTION = '"http://dancuquocgia.gov.vn/lienthong/XacThucThongTinCongDan"';
async function post(body: string, headers: Record<string, string> = {}) {
  const response = await fetch(`${server.url}/CongDanService`, {
    method: 'POST',
    headers: { 'content-type': 'text/xml; charset=utf-8', soapaction: ACTION, ...headers },
    body,
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
    expect(received[0]!.fields).toMatchObject({ MaDonVi: 'H52.101.114', MaCanBo: 'canbo.motcua.01', MaTichHop: 'LIENTHONG-H52' });
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

  it('refuses what is not a well-formed request of its own', async () => {
    const cases: [string, Record<string, string>, string][] = [
      ['<!DOCTYPE x [<!ENTITY a "b">]>' + verifyRequest.replace(/^<\?xml[^>]*\?>/, ''), {}, 'DTD'],
      [verifyRequest.slice(0, 200), {}, 'XML hợp lệ'],
      [verifyRequest.replaceAll('XacThucThongTinCongDan', 'XoaCongDan'), { soapaction: '' }, 'Không có thao tác XoaCongDan'],
      [verifyRequest, { soapaction: '"http://dancuquocgia.gov.vn/lienthong/TraCuuThongTinCongDan"' }, 'SOAPAction'],
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
