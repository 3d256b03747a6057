import { fileURLToPath } from 'node:url';
import { createClientAsync, type WSDL } from 'soap';
import { beforeAll, describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors/gateway-error.ts';
import { caught, fixtureTextReader } from '../contract/test-kit.ts';
import { STRICT_BOOLEANS } from './client.ts';
import { checkRawAnswer, fromCallError, fromTransport, readLookup, readVerification, type RawAnswer } from './errors.ts';
import { MappingError, toCitizenRecord, toVerificationRequest, wireLookupAnswer, type RequestHeader, type WireCitizen } from './mapping.ts';

const fixture = fixtureTextReader(import.meta.url);

// Fixtures are parsed exactly as in production: by `soap`, with our WSDL and options.
let wsdl: WSDL;
beforeAll(async () => {
  const client = await createClientAsync(fileURLToPath(new URL('./congdan-service.wsdl', import.meta.url)), {
    disableCache: true,
    customDeserializer: STRICT_BOOLEANS,
  });
  wsdl = client.wsdl;
});
const parsed = (xml: string, operation: string): unknown => (wsdl.xmlToObject(xml) as { Body: Record<string, unknown> }).Body[`${operation}Response`];
const lookupAnswer = (name: string) => parsed(fixture(name), 'TraCuuThongTinCongDan');
const verifyAnswer = (xml: string) => parsed(xml, 'XacThucThongTinCongDan');
const citizenOf = (name: string): WireCitizen => wireLookupAnswer.parse(lookupAnswer(name)).CongdanCollection!.CongDan![0]!;

const header = (MaYeuCau: string): RequestHeader => ({ MaYeuCau, MaDVC: '1.001612.000.00.00.H52', MaTichHop: 'LIENTHONG-H52', MaDonVi: 'H52.101.114', MaCanBo: 'canbo.motcua.01' });
const lookupOf = (MaYeuCau: string, SoDinhDanh: string) => ({ ...header(MaYeuCau), SoDinhDanh });

/** What `soap` throws for an answer: a fault, or its own "Invalid XML" object. */
function thrownBySoap(xml: string): unknown {
  try {
    wsdl.xmlToObject(xml);
  } catch (err) {
    return err;
  }
  throw new Error('expected soap to throw');
}

describe('population mapping', () => {
  it('maps a living citizen with a two-level address', () => {
    const record = readLookup(lookupAnswer('lookup-citizen.xml'), lookupOf('c3d1a9b2-7e45-4f0a-b6c8-91e2f3a4d5b6', '014089001234'));
    const address = {
      detail: 'Bản Hụm, tổ 3',
      commune: 'Phường Tô Hiệu',
      district: null,
      province: 'Sơn La',
      provinceCode: '14',
      districtCode: null,
      communeCode: '04054',
      country: 'VN',
    };
    expect(record).toEqual({
      idNumber: '014089001234',
      oldIdNumber: '050712345',
      fullName: 'Lò Văn Thắng',
      familyName: 'Lò',
      middleName: 'Văn',
      givenName: 'Thắng',
      gender: 'male',
      dateOfBirth: '1989-04-17',
      ethnicity: 'Thái',
      religion: 'Không',
      nationality: 'VN',
      maritalStatus: 'married',
      bloodType: 'O',
      birthRegistrationPlace: address,
      hometown: address,
      permanentAddress: address,
      currentAddress: address,
      father: { fullName: 'Lò Văn Khởi', idNumber: null },
      mother: { fullName: 'Lường Thị Xiêm', idNumber: null },
      spouse: { fullName: 'Sùng Thị Dợ', idNumber: null },
      householdHead: { fullName: 'Lò Văn Thắng', idNumber: '014089001234' },
      deceased: false,
    });
  });

  it('normalises an NFD-encoded record to NFC and keeps a legacy district', () => {
    const raw = fixture('lookup-legacy-district-nfd.xml');
    // The fixture really is decomposed: "Cầm" is not in it as one code point per letter.
    expect(raw).not.toContain('Cầm');
    expect(raw).toContain('Cầm'.normalize('NFD'));
    const record = readLookup(parsed(raw, 'TraCuuThongTinCongDan'), lookupOf('9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d', '014194002871'));
    expect(record.fullName).toBe('Cầm Thị Hoa');
    expect(record.familyName).toBe('Cầm');
    expect(record.ethnicity).toBe('Thái');
    expect(record.permanentAddress).toEqual({
      detail: 'Bản Cang',
      commune: 'Xã Mường Bú',
      district: 'Huyện Mường La',
      province: 'Sơn La',
      provinceCode: '14',
      districtCode: '120',
      communeCode: '04198',
      country: 'VN',
    });
    for (const text of [record.fullName, record.givenName, record.permanentAddress!.commune!, record.mother!.fullName] as string[]) {
      expect(text).toBe(text.normalize('NFC'));
    }
  });

  it('marks a deceased citizen', () => {
    const record = readLookup(lookupAnswer('lookup-deceased.xml'), lookupOf('e2f4a6b8-c0d2-4e4f-a6b8-c0d2e4f6a8b0', '014158228456'));
    expect(record).toMatchObject({ fullName: 'Lường Thị Lả', gender: 'female', maritalStatus: 'divorced', deceased: true, spouse: null });
  });

  it('refuses codes and dates it does not know instead of guessing', () => {
    const wire = citizenOf('lookup-citizen.xml');
    expect(() => toCitizenRecord({ ...wire, GioiTinh: '0' })).toThrow(MappingError);
    expect(() => toCitizenRecord({ ...wire, TinhTrangHonNhan: '9' })).toThrow(MappingError);
    expect(() => toCitizenRecord({ ...wire, NgayThangNamSinh: { Nam: '1989', NgayThangNam: null } })).toThrow(/year only/);
    expect(() => toCitizenRecord({ ...wire, NgayThangNamSinh: { Nam: '1989', NgayThangNam: '19890231' } })).toThrow(MappingError);
    expect(() => toCitizenRecord({ ...wire, NgayThangNamSinh: { Nam: '1990', NgayThangNam: '19890417' } })).toThrow(/disagrees/);
    expect(() => toCitizenRecord({ ...wire, NgayMat: '2020' })).toThrow(MappingError);
    expect(toCitizenRecord({ ...wire, TinhTrangHonNhan: null, HoVaTen: { Ho: 'Lò', ChuDem: '', Ten: 'Thắng' } })).toMatchObject({
      maritalStatus: null,
      middleName: null,
      fullName: 'Lò Thắng',
    });
  });

  it('builds a verification request with only the fields given, names in NFC', () => {
    expect(toVerificationRequest(header('r1'), { idNumber: '014089001234', fullName: '  lò   văn THẮNG '.normalize('NFD'), dateOfBirth: '1989-04-17' })).toEqual({
      ...header('r1'),
      SoDinhDanh: '014089001234',
      HoVaTen: 'lò văn THẮNG',
      NgayThangNamSinh: '19890417',
    });
    const idOnly = toVerificationRequest(header('r2'), { idNumber: '014089001234' });
    expect(Object.keys(idOnly)).not.toContain('HoVaTen');
    expect(Object.keys(idOnly)).not.toContain('NgayThangNamSinh');
  });
});

describe('population answers', () => {
  it('reads XacThuc answers', () => {
    expect(readVerification(verifyAnswer(fixture('verify-match.xml')), header('6f1c2a4e-8b1d-4c53-9a57-2f0e4d1b7c90'))).toBe(true);
    expect(readVerification(verifyAnswer(fixture('verify-no-match.xml')), header('0b9e7d55-3c2a-4f18-8e61-5d4c3b2a1f07'))).toBe(false);
  });

  it('refuses a garbled boolean instead of reading it as false', () => {
    const garbled = fixture('verify-no-match.xml').replace('<TonTai>false</TonTai>', '<TonTai>không rõ</TonTai>');
    expect(garbled).not.toBe(fixture('verify-no-match.xml'));
    expect(caught(() => readVerification(verifyAnswer(garbled), header('0b9e7d55-3c2a-4f18-8e61-5d4c3b2a1f07'))).code).toBe('UPSTREAM_BAD_RESPONSE');
  });

  it('refuses an answer to another request (MaYeuCau not echoed)', () => {
    expect(caught(() => readVerification(verifyAnswer(fixture('verify-match.xml')), header('someone-else'))).code).toBe('UPSTREAM_BAD_RESPONSE');
    expect(caught(() => readLookup(lookupAnswer('lookup-citizen.xml'), lookupOf('someone-else', '014089001234'))).code).toBe('UPSTREAM_BAD_RESPONSE');
  });

  it('turns "not found" into SUBJECT_NOT_FOUND, which does not count against the upstream', () => {
    const err = caught(() => readLookup(lookupAnswer('lookup-not-found.xml'), lookupOf('1d3f5b7a-9c1e-4b3d-8f5a-7c9e1b3d5f7a', '014089999999')));
    expect(err).toMatchObject({ code: 'SUBJECT_NOT_FOUND', upstreamFailure: false });
  });

  it('refuses answers about another citizen, several citizens, or unknown result codes', () => {
    const request = lookupOf('c3d1a9b2-7e45-4f0a-b6c8-91e2f3a4d5b6', '014089001234');
    expect(caught(() => readLookup(lookupAnswer('lookup-citizen.xml'), { ...request, SoDinhDanh: '014194002871' })).code).toBe('UPSTREAM_BAD_RESPONSE');
    const xml = fixture('lookup-citizen.xml');
    const one = /<CongDan>[\s\S]*<\/CongDan>/.exec(xml)![0];
    const twice = xml.replace(one, one + one);
    expect(caught(() => readLookup(parsed(twice, 'TraCuuThongTinCongDan'), request)).detail).toMatch(/2 citizens/);
    const unknownCode = xml.replace('<MaKetQua>00</MaKetQua>', '<MaKetQua>17</MaKetQua>');
    expect(caught(() => readLookup(parsed(unknownCode, 'TraCuuThongTinCongDan'), request)).code).toBe('UPSTREAM_BAD_RESPONSE');
  });

  it('maps SOAP faults by their code, without passing on the database text', () => {
    const server = fromCallError(thrownBySoap(fixture('fault-server.xml')), 7);
    expect(server).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', retryAfter: 7, upstreamFailure: true });
    expect(server.detail).not.toContain('Lỗi');
    expect(String((server.cause as Error).message)).toContain('Lỗi hệ thống');

    const client = fromCallError(thrownBySoap(fixture('fault-client-missing-officer.xml')), 7);
    expect(client).toMatchObject({ code: 'UPSTREAM_BAD_RESPONSE', upstreamFailure: true });
    expect(client.detail).not.toContain('Thiếu');

    expect(fromCallError(thrownBySoap(fixture('fault-failed-authentication.xml')), 7)).toMatchObject({ code: 'UPSTREAM_AUTH', status: 502, upstreamFailure: true });
  });

  it('refuses a truncated answer', () => {
    expect(fromCallError(thrownBySoap(fixture('malformed.xml')), 7)).toMatchObject({ code: 'UPSTREAM_BAD_RESPONSE', upstreamFailure: true });
  });
});

describe('population raw answers and transport', () => {
  const raw = (over: Partial<RawAnswer>): RawAnswer => ({ kind: 'soap', url: 'http://x/CongDanService', status: 200, contentType: 'text/xml; charset=utf-8', body: fixture('verify-match.xml'), ...over });
  const check = (over: Partial<RawAnswer>) => caught(() => checkRawAnswer(raw(over), 4));

  it('lets SOAP answers and faults through to the parser', () => {
    expect(() => checkRawAnswer(raw({}), 4)).not.toThrow();
    expect(() => checkRawAnswer(raw({ status: 500, body: fixture('fault-server.xml') }), 4)).not.toThrow();
    expect(() => checkRawAnswer(raw({ kind: 'wsdl', contentType: 'text/xml' }), 4)).not.toThrow();
  });

  it('refuses what is not a SOAP answer', () => {
    expect(check({ status: 503, contentType: 'text/html', body: '<html>Bảo trì</html>' })).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', retryAfter: 4 });
    expect(check({ status: 502, contentType: 'text/xml' })).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE' });
    expect(check({ status: 200, contentType: 'application/json' }).code).toBe('UPSTREAM_BAD_RESPONSE');
    expect(check({ status: 404, contentType: 'text/html' }).code).toBe('UPSTREAM_BAD_RESPONSE');
    expect(check({ status: 403, contentType: 'text/html' }).code).toBe('UPSTREAM_AUTH');
    expect(check({ body: '<!DOCTYPE x [<!ENTITY a "b">]>' + fixture('verify-match.xml') }).detail).toMatch(/DTD/);
    expect(check({ kind: 'wsdl', status: 500, body: fixture('fault-server.xml') }).code).toBe('UPSTREAM_UNAVAILABLE');
    expect(check({ kind: 'wsdl', status: 404, contentType: 'text/plain' }).code).toBe('UPSTREAM_BAD_RESPONSE');
  });

  it('maps transport failures, also when wrapped', () => {
    const coded = (code: string, cause?: unknown) => Object.assign(new Error(code), { code, cause });
    expect(fromTransport(coded('ECONNREFUSED'), 4)).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', retryAfter: 4, upstreamFailure: true });
    expect(fromTransport(new Error('socket hang up', { cause: coded('ECONNRESET') }), 4).code).toBe('UPSTREAM_UNAVAILABLE');
    expect(fromTransport(coded('ECONNABORTED'), 4).code).toBe('UPSTREAM_TIMEOUT');
    expect(fromTransport(coded('ERR_BAD_RESPONSE'), 4).code).toBe('UPSTREAM_BAD_RESPONSE');
    const own = new GatewayError('UPSTREAM_AUTH');
    expect(fromTransport(own, 4)).toBe(own);
  });
});
