import { DOMParser, type Element } from '@xmldom/xmldom';
import { describe, expect, it } from 'vitest';
import { caught, fixtureTextReader } from '../contract/test-kit.ts';
import { checkRawAnswer, readLookup, readVerification, readVerifiedBody, type RawAnswer } from './errors.ts';
import { MappingError, NAMESPACE, OPERATIONS, REQUEST_NAMESPACE, requestEnvelope, toCitizenRecord, toLookupRequest, toVerificationRequest, wireLookupAnswer, type Operation, type RequestHeader, type WireCitizen } from './mapping.ts';
import { readServiceDescription, SERVICE_DESCRIPTION } from './service-description.ts';

const fixture = fixtureTextReader(import.meta.url);

/** The Body of a recorded envelope: what the signature check hands the client. */
const bodyOf = (xml: string): Element => {
  const envelope = new DOMParser().parseFromString(xml, 'text/xml').documentElement!;
  return Array.from(envelope.childNodes).find((n) => n.nodeType === 1 && (n as Element).localName === 'Body') as Element;
};
// Fixtures are read exactly as in production, from the Body element on.
const parsed = (xml: string, operation: Operation, status = 200): Record<string, unknown> => readVerifiedBody(bodyOf(xml), operation, status, 7);
const lookupAnswer = (name: string) => parsed(fixture(name), 'TraCuuThongTinCongDan');
const verifyAnswer = (xml: string) => parsed(xml, 'XacThucThongTinCongDan');
const citizenOf = (name: string): WireCitizen => wireLookupAnswer.parse(lookupAnswer(name)).CongdanCollection!.CongDan![0]!;

const header = (MaYeuCau: string): RequestHeader => ({ MaYeuCau, MaDVC: '1.001612.000.00.00.H52', MaTichHop: 'LIENTHONG-H52', MaDonVi: 'H52.101.114', MaCanBo: 'canbo.motcua.01' });
const lookupOf = (MaYeuCau: string, SoDinhDanh: string) => ({ ...header(MaYeuCau), SoDinhDanh });

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
      NgayThangNamSinh: { NgayThangNam: '19890417' },
    });
    // A year alone travels as Nam, as the database takes it for people whose day of birth is unknown.
    expect(toVerificationRequest(header('r3'), { idNumber: '014089001234', dateOfBirth: '1989' }).NgayThangNamSinh).toEqual({ Nam: '1989' });
    const idOnly = toVerificationRequest(header('r2'), { idNumber: '014089001234' });
    expect(Object.keys(idOnly)).not.toContain('HoVaTen');
    expect(Object.keys(idOnly)).not.toContain('NgayThangNamSinh');
  });

  it('names a 9-digit old card number by SoCMND alone, in the element order the description gives', () => {
    const verification = toVerificationRequest(header('r4'), { idNumber: '050712345', fullName: 'Lò Văn Thắng' });
    expect(verification).toEqual({ ...header('r4'), SoCMND: '050712345', HoVaTen: 'Lò Văn Thắng' });
    expect(toLookupRequest(header('r5'), '050712345')).toEqual({ ...header('r5'), SoCMND: '050712345' });
    expect(toLookupRequest(header('r6'), '014089001234')).toEqual({ ...header('r6'), SoDinhDanh: '014089001234' });
    const envelope = requestEnvelope(OPERATIONS.lookup, toLookupRequest(header('r5'), '050712345'), SERVICE_DESCRIPTION[OPERATIONS.lookup].requestFields);
    expect(envelope).toContain('<qldc:MaCanBo>canbo.motcua.01</qldc:MaCanBo><qldc:SoCMND>050712345</qldc:SoCMND></qldc:TraCuuThongTinCongDan>');
    expect(envelope).not.toContain('SoDinhDanh');
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
    // Asked by old card number: the answer must be about the holder of that card.
    const byOldCard = { ...header('c3d1a9b2-7e45-4f0a-b6c8-91e2f3a4d5b6'), SoCMND: '050712345' };
    expect(readLookup(lookupAnswer('lookup-citizen.xml'), byOldCard)).toMatchObject({ idNumber: '014089001234', oldIdNumber: '050712345' });
    expect(caught(() => readLookup(lookupAnswer('lookup-citizen.xml'), { ...byOldCard, SoCMND: '050398765' })).code).toBe('UPSTREAM_BAD_RESPONSE');
    const xml = fixture('lookup-citizen.xml');
    const one = /<CongDan>[\s\S]*<\/CongDan>/.exec(xml)![0];
    const twice = xml.replace(one, one + one);
    expect(caught(() => readLookup(parsed(twice, 'TraCuuThongTinCongDan'), request)).detail).toMatch(/2 citizens/);
    const unknownCode = xml.replace('<MaKetQua>00</MaKetQua>', '<MaKetQua>17</MaKetQua>');
    expect(caught(() => readLookup(parsed(unknownCode, 'TraCuuThongTinCongDan'), request)).code).toBe('UPSTREAM_BAD_RESPONSE');
  });

  it('maps SOAP faults by their code, without passing on the database text', () => {
    const server = caught(() => parsed(fixture('fault-server.xml'), OPERATIONS.lookup, 500));
    expect(server).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', retryAfter: 7, upstreamFailure: true });
    expect(server.detail).not.toContain('Lỗi');
    expect(String((server.cause as Error).message)).toContain('Lỗi hệ thống');

    const client = caught(() => parsed(fixture('fault-client-missing-officer.xml'), OPERATIONS.verify, 500));
    expect(client).toMatchObject({ code: 'UPSTREAM_BAD_RESPONSE', upstreamFailure: true });
    expect(client.detail).not.toContain('Thiếu');

    expect(caught(() => parsed(fixture('fault-failed-authentication.xml'), OPERATIONS.verify, 500))).toMatchObject({ code: 'UPSTREAM_AUTH', status: 502, upstreamFailure: true });
  });

  it('refuses an answer that came with another status than 200 without a fault', () => {
    expect(caught(() => parsed(fixture('verify-match.xml'), OPERATIONS.verify, 500)).detail).toMatch(/HTTP 500 without a SOAP fault/);
  });

  it('refuses a Body two readers could read differently', () => {
    const xml = fixture('verify-match.xml');
    const refused = (changed: string) => {
      expect(changed).not.toBe(xml);
      return caught(() => parsed(changed, OPERATIONS.verify));
    };
    // Another operation's answer, or a second element beside the answer.
    expect(caught(() => parsed(xml, OPERATIONS.lookup)).detail).toMatch(/instead of TraCuuThongTinCongDanResponse/);
    expect(refused(xml.replace('</soap:Body>', '<Khac xmlns="urn:x"/></soap:Body>')).detail).toMatch(/exactly one element/);
    // A field twice: one reader takes the first, another the last.
    expect(refused(xml.replace('<TonTai>true</TonTai>', '<TonTai>false</TonTai><TonTai>true</TonTai>')).detail).toMatch(/TonTai occurs twice/);
    // Text beside elements, and an element outside the service's namespace.
    expect(refused(xml.replace('<MaKetQua>00</MaKetQua>', '<MaKetQua>00<x>1</x></MaKetQua>')).code).toBe('UPSTREAM_BAD_RESPONSE');
    expect(refused(xml.replace('<TonTai>true</TonTai>', '<TonTai xmlns="urn:other">true</TonTai>')).detail).toMatch(/not in the service's namespace/);
    // The answer element itself in another namespace.
    expect(refused(xml.replace(`<XacThucThongTinCongDanResponse xmlns="${NAMESPACE}">`, '<XacThucThongTinCongDanResponse xmlns="urn:other">')).code).toBe('UPSTREAM_BAD_RESPONSE');
  });
});

describe('population requests and the shipped service description', () => {
  it('reads the SOAPAction and field order of each operation from the shipped WSDL', () => {
    expect(SERVICE_DESCRIPTION[OPERATIONS.verify]).toEqual({
      soapAction: `${REQUEST_NAMESPACE}/XacThucThongTinCongDan`,
      requestFields: ['MaYeuCau', 'MaDVC', 'MaTichHop', 'MaDonVi', 'MaCanBo', 'SoDinhDanh', 'SoCMND', 'HoVaTen', 'NgayThangNamSinh'],
    });
    expect(SERVICE_DESCRIPTION[OPERATIONS.lookup].requestFields).toEqual(['MaYeuCau', 'MaDVC', 'MaTichHop', 'MaDonVi', 'MaCanBo', 'SoDinhDanh', 'SoCMND']);
  });

  it('refuses a description that refers to other documents, carries a DTD or lacks an operation', () => {
    const wsdl = fixture('../congdan-service.wsdl');
    expect(() => readServiceDescription(wsdl)).not.toThrow();
    const imported = wsdl.replace('<wsdl:types>', '<wsdl:import namespace="urn:x" location="http://attacker.example/x.wsdl"/><wsdl:types>');
    expect(imported).not.toBe(wsdl);
    expect(() => readServiceDescription(imported)).toThrow(/other documents/);
    const schemaImport = wsdl.replace(/(<xs:schema[^>]*>)/, '$1<xs:import namespace="urn:x" schemaLocation="http://attacker.example/x.xsd"/>');
    expect(schemaImport).not.toBe(wsdl);
    expect(() => readServiceDescription(schemaImport)).toThrow(/other documents/);
    expect(() => readServiceDescription(wsdl.replace('<?xml version="1.0" encoding="UTF-8"?>', '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY e "x">]>'))).toThrow(/DTD/);
    expect(() => readServiceDescription(wsdl.replaceAll('TraCuuThongTinCongDan"', 'TraCuuKhac"'))).toThrow(/TraCuuThongTinCongDan/);
  });

  it('writes a request envelope in the described order, escaping text, refusing undescribed fields', () => {
    const { requestFields } = SERVICE_DESCRIPTION[OPERATIONS.verify];
    const request = { ...toVerificationRequest(header('r<1>&'), { idNumber: '014089001234', fullName: 'Lò Văn Thắng', dateOfBirth: '1989-04-17' }) };
    const xml = requestEnvelope(OPERATIONS.verify, request, requestFields);
    const content = bodyOf(xml).getElementsByTagNameNS(REQUEST_NAMESPACE, OPERATIONS.verify)[0]!;
    const fields = Array.from(content.childNodes).map((n) => [(n as Element).localName, (n as Element).namespaceURI === REQUEST_NAMESPACE ? n.textContent : 'wrong namespace']);
    expect(fields).toEqual([
      ['MaYeuCau', 'r<1>&'],
      ['MaDVC', '1.001612.000.00.00.H52'],
      ['MaTichHop', 'LIENTHONG-H52'],
      ['MaDonVi', 'H52.101.114'],
      ['MaCanBo', 'canbo.motcua.01'],
      ['SoDinhDanh', '014089001234'],
      ['HoVaTen', 'Lò Văn Thắng'],
      ['NgayThangNamSinh', '19890417'],
    ]);
    // The date nests, as the database's schema has it.
    expect(xml).toContain('<qldc:NgayThangNamSinh><qldc:NgayThangNam>19890417</qldc:NgayThangNam></qldc:NgayThangNamSinh>');
    expect(() => requestEnvelope(OPERATIONS.lookup, request, SERVICE_DESCRIPTION[OPERATIONS.lookup].requestFields)).toThrow(/no field HoVaTen, NgayThangNamSinh/);
  });
});

describe('population raw answers', () => {
  const raw = (over: Partial<RawAnswer>): RawAnswer => ({ url: 'http://x/CongDanService', status: 200, contentType: 'text/xml; charset=utf-8', body: fixture('verify-match.xml'), ...over });
  const check = (over: Partial<RawAnswer>) => caught(() => checkRawAnswer(raw(over), 4));

  it('lets SOAP answers and faults through to verification', () => {
    expect(() => checkRawAnswer(raw({}), 4)).not.toThrow();
    expect(() => checkRawAnswer(raw({ status: 500, body: fixture('fault-server.xml') }), 4)).not.toThrow();
  });

  it('refuses what is not a SOAP answer', () => {
    expect(check({ status: 503, contentType: 'text/html', body: '<html>Bảo trì</html>' })).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', retryAfter: 4 });
    expect(check({ status: 502, contentType: 'text/xml' })).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE' });
    expect(check({ status: 200, contentType: 'application/json' }).code).toBe('UPSTREAM_BAD_RESPONSE');
    expect(check({ status: 404, contentType: 'text/html' }).code).toBe('UPSTREAM_BAD_RESPONSE');
    expect(check({ status: 403, contentType: 'text/html' }).code).toBe('UPSTREAM_AUTH');
    expect(check({ body: '<!DOCTYPE x [<!ENTITY a "b">]>' + fixture('verify-match.xml') }).detail).toMatch(/DTD/);
  });
});
