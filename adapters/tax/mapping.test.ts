import { describe, expect, it } from 'vitest';
import { taxpayers } from '../../src/sandbox/personas.ts';
import { caught, fixtureReader, responder } from '../contract/test-kit.ts';
import { interpretAnswer, readAnswer, type SentLookup } from './errors.ts';
import { MappingError, toTaxpayer } from './mapping.ts';
import { answerXml, toWire } from './simulator/server.ts';

const fixture = fixtureReader(import.meta.url);
const response = responder('application/xml; charset=utf-8');
const at = new Date('2026-11-27T23:42:51Z');

/** The request ids recorded in the fixtures, as the client would have sent them. */
const SENT: Record<string, SentLookup> = {
  'organization-legacy-district.xml': { maSoThue: '5500123457', maYeuCau: '6f1c2a4e-8b1d-4c57-9a2e-6d1f0b7c9e21' },
  'organization-with-signature-element.xml': { maSoThue: '5500123457', maYeuCau: '6f1c2a4e-8b1d-4c57-9a2e-6d1f0b7c9e21' },
  'branch.xml': { maSoThue: '5500123457-001', maYeuCau: '0b7e5d9a-3c44-4f1e-8a61-2f9d7c3b5e10' },
  'individual.xml': { maSoThue: '014089001234', maYeuCau: '9a3f6c21-7d58-4b0e-b1c4-5e8a2d7f6c93' },
  'household-business.xml': { maSoThue: '014201000415', maYeuCau: 'c2d84e17-5f3a-4a9b-9e06-1b7c4d2a8f55' },
  'not-found.xml': { maSoThue: '5500999999', maYeuCau: '4e8b1a7c-2d95-4c3f-a6e0-9f1d5b3c7a28' },
};

/** A fixture read the way the client reads an answer: screened, then interpreted. */
function wireOf(name: string, body: Buffer | string = fixture(name), status = 200) {
  return interpretAnswer(status, readAnswer(response(status, body), 5), SENT[name]!);
}

describe('tax mapping', () => {
  it('maps an organization whose address still names its district', () => {
    expect(toTaxpayer(wireOf('organization-legacy-district.xml'), at)).toEqual({
      taxCode: '5500123457',
      name: 'CÔNG TY CỔ PHẦN CHÈ MỘC CHÂU XANH',
      taxpayerType: 'organization',
      status: 'active',
      taxOffice: { code: '14100', name: 'Thuế tỉnh Sơn La' },
      registrationDate: '2015-03-12',
      address: {
        detail: 'Tiểu khu 40',
        commune: 'Phường Mộc Châu',
        district: 'Huyện Mộc Châu',
        province: 'Sơn La',
        provinceCode: '14',
        districtCode: '118',
        communeCode: '04285',
        country: 'VN',
      },
      retrievedAt: '2026-11-28T06:42:51+07:00',
    });
  });

  it('maps an individual by 12-digit ID number, keeping the leading zero and normalising the name to NFC', () => {
    const raw = fixture('individual.xml').toString('utf8');
    expect(raw).toContain('Lò Văn Thắng'.normalize('NFD'));
    const taxpayer = toTaxpayer(wireOf('individual.xml'), at);
    expect(taxpayer).toMatchObject({ taxCode: '014089001234', taxpayerType: 'individual', status: 'active', registrationDate: '2020-12-13' });
    expect(taxpayer.name).toBe('Lò Văn Thắng'.normalize('NFC'));
    expect(taxpayer.name).not.toBe('Lò Văn Thắng'.normalize('NFD'));
    expect(taxpayer.address).toMatchObject({ commune: 'Phường Tô Hiệu', communeCode: '04054', district: null, districtCode: null });
  });

  it('maps a household business', () => {
    expect(toTaxpayer(wireOf('household-business.xml'), at)).toMatchObject({
      taxCode: '014201000415',
      name: 'HỘ KINH DOANH GIÀNG A PÁO',
      taxpayerType: 'household_business',
      taxOffice: { code: '14101', name: 'Thuế cơ sở 1 tỉnh Sơn La' },
    });
  });

  it('maps a branch with its -001 code and a two-level address', () => {
    const taxpayer = toTaxpayer(wireOf('branch.xml'), at);
    expect(taxpayer).toMatchObject({ taxCode: '5500123457-001', taxpayerType: 'organization', name: 'CHI NHÁNH CÔNG TY CỔ PHẦN CHÈ MỘC CHÂU XANH TẠI VÂN HỒ' });
    expect(taxpayer.address).toMatchObject({ commune: 'Xã Vân Hồ', district: null, districtCode: null, country: 'VN' });
  });

  it('tolerates an enveloped signature element inside the root', () => {
    const signed = toTaxpayer(wireOf('organization-with-signature-element.xml'), at);
    expect(signed).toEqual(toTaxpayer(wireOf('organization-legacy-district.xml'), at));
    expect(JSON.stringify(signed)).not.toContain('Signature');
  });

  it('maps a missing or empty address to null', () => {
    const wire = wireOf('branch.xml');
    expect(toTaxpayer({ ...wire, DiaChi: undefined }, at).address).toBeNull();
    const empty = fixture('branch.xml').toString('utf8').replace(/<DiaChi>[\s\S]*<\/DiaChi>/, '<DiaChi/>');
    expect(toTaxpayer(wireOf('branch.xml', empty), at).address).toBeNull();
  });

  it('refuses codes it does not know instead of guessing', () => {
    const wire = wireOf('organization-legacy-district.xml');
    expect(() => toTaxpayer({ ...wire, TrangThai: '09' }, at)).toThrow(MappingError);
    expect(() => toTaxpayer({ ...wire, TrangThai: '0' }, at)).toThrow(MappingError);
    expect(() => toTaxpayer({ ...wire, TrangThai: 'constructor' }, at)).toThrow(MappingError);
    expect(() => toTaxpayer({ ...wire, LoaiNNT: '4' }, at)).toThrow(MappingError);
    expect(() => toTaxpayer({ ...wire, NgayDangKy: '20150231' }, at)).toThrow(MappingError);
    expect(() => toTaxpayer({ ...wire, NgayDangKy: '2015-03-12' }, at)).toThrow(MappingError);
  });

  it('gives back every sandbox taxpayer exactly as the personas hold it', () => {
    for (const persona of taxpayers) {
      const maYeuCau = `req-${persona.taxCode}`;
      const xml = answerXml({ MaLoi: '00', MoTa: 'Thành công', MaYeuCau: maYeuCau, NguoiNopThue: toWire(persona) });
      const taxpayer = toTaxpayer(interpretAnswer(200, readAnswer(response(200, xml), 5), { maSoThue: persona.taxCode, maYeuCau }), at);
      const { idNumber: _idNumber, address, ...rest } = persona;
      expect(taxpayer).toEqual({ ...rest, address: address && { ...address, country: 'VN' }, retrievedAt: '2026-11-28T06:42:51+07:00' });
    }
  });
});

describe('tax answers', () => {
  it('turns "not found" into SUBJECT_NOT_FOUND, which does not count against the upstream', () => {
    const err = caught(() => wireOf('not-found.xml'));
    expect(err.code).toBe('SUBJECT_NOT_FOUND');
    expect(err.upstreamFailure).toBe(false);
  });

  it('turns server errors into UPSTREAM_UNAVAILABLE without passing on the tax administration text', () => {
    const err = caught(() => readAnswer(response(500, fixture('system-error.xml')), 7));
    expect(err).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', retryAfter: 7, upstreamFailure: true });
    expect(err.detail).not.toContain('Lỗi');
    expect(caught(() => readAnswer(response(503, '', 'text/html'), 7)).code).toBe('UPSTREAM_UNAVAILABLE');
  });

  it('turns a refusal of the gateway itself into UPSTREAM_AUTH', () => {
    expect(caught(() => readAnswer(response(403, '<KetQuaTraCuu><MaLoi>03</MaLoi></KetQuaTraCuu>'), 5))).toMatchObject({
      code: 'UPSTREAM_AUTH',
      status: 502,
      upstreamFailure: true,
    });
  });

  it('refuses what is not XML in UTF-8', () => {
    const body = fixture('organization-legacy-district.xml');
    const cases: [Buffer | string, string][] = [
      [body, 'application/json'],
      [body, 'text/html; charset=utf-8'],
      [body, ''],
      [body, 'application/xml; charset=iso-8859-1'],
      [Buffer.from([0x3c, 0x61, 0x3e, 0xff, 0xfe, 0x3c, 0x2f, 0x61, 0x3e]), 'application/xml'],
      [body.toString('utf8').replace('encoding="UTF-8"', 'encoding="UTF-16"'), 'application/xml'],
      ['<KetQuaTraCuu><MaLoi>00\u0000</MaLoi></KetQuaTraCuu>', 'application/xml'],
    ];
    for (const [payload, type] of cases) {
      expect(caught(() => readAnswer(response(200, payload, type), 5))).toMatchObject({ code: 'UPSTREAM_BAD_RESPONSE', status: 502, upstreamFailure: true });
    }
    // text/xml is XML too, and a byte-order mark is not an error.
    expect(readAnswer(response(200, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), body]), 'text/xml'), 5)).toMatch(/^<\?xml/);
  });

  it('refuses answers that are broken, unexpected or about something else', () => {
    const org = fixture('organization-legacy-district.xml').toString('utf8');
    const sent = SENT['organization-legacy-district.xml']!;
    const cases: [number, string][] = [
      [200, org.slice(0, 300)],
      [200, '<KetQuaTraCuu><MaLoi>00</MaLoi>'],
      [200, 'không phải XML'],
      [200, ''],
      // A 404 means a wrong endpoint, not an unknown taxpayer: "not found" comes with HTTP 200.
      [404, fixture('not-found.xml').toString('utf8').replace('4e8b1a7c-2d95-4c3f-a6e0-9f1d5b3c7a28', sent.maYeuCau)],
      [400, '<KetQuaTraCuu><MaLoi>01</MaLoi><MoTa>Thiếu mã đơn vị</MoTa></KetQuaTraCuu>'],
      [200, `<KetQuaTraCuu><MaLoi>07</MaLoi><MaYeuCau>${sent.maYeuCau}</MaYeuCau></KetQuaTraCuu>`],
      [200, `<KetQuaTraCuu><MaLoi>00</MaLoi><MaYeuCau>${sent.maYeuCau}</MaYeuCau></KetQuaTraCuu>`],
      [200, org.replace(sent.maYeuCau, 'a-different-request')],
      [200, org.replace(/<MaYeuCau>.*<\/MaYeuCau>/, '')],
      [200, org.replace('<MaSoThue>5500123457</MaSoThue>', '<MaSoThue>5500345675</MaSoThue>')],
      [200, org.replace('<MaSoThue>5500123457</MaSoThue>', '<MaSoThue>5500123457</MaSoThue><MaSoThue>5500345675</MaSoThue>')],
      [200, org.replace('</NguoiNopThue>', '</NguoiNopThue><NguoiNopThue><MaSoThue>5500345675</MaSoThue></NguoiNopThue>')],
      [200, org.replace('<TenNNT>', '<TenNNT>&undeclared;')],
      [200, org.replace('<TenNNT>', '<TenNNT><b>x</b>')],
      [200, '<KetQuaTraCuu><MaLoi>00</MaLoi></KetQuaTraCuu><KetQuaTraCuu/>'],
      [200, org + '<KetQuaTraCuu/>'],
      [200, `${org}<Khac/>`],
    ];
    for (const [status, body] of cases) {
      expect(caught(() => interpretAnswer(status, body, sent)), body.slice(0, 120)).toMatchObject({ code: 'UPSTREAM_BAD_RESPONSE', upstreamFailure: true });
    }
  });

  it('decodes the predefined entities and character references in values', () => {
    const org = fixture('organization-legacy-district.xml').toString('utf8');
    const body = org.replace('CÔNG TY CỔ PHẦN CHÈ MỘC CHÂU XANH', 'CÔNG TY CỔ PHẦN CHÈ &amp; CÀ PHÊ M&#7896;C CH&#xC2;U &lt;XANH&gt;');
    const wire = interpretAnswer(200, body, SENT['organization-legacy-district.xml']!);
    expect(wire.TenNNT).toBe('CÔNG TY CỔ PHẦN CHÈ & CÀ PHÊ MỘC CHÂU <XANH>');
  });
});
