import { describe, expect, it } from 'vitest';
import { caught, fixtureReader, responder } from '../contract/test-kit.ts';
import { interpretAnswer } from './errors.ts';
import { wireAnswer } from './inferred.ts';
import { MappingError, toEnterprise } from './mapping.ts';

const fixture = fixtureReader(import.meta.url);
const answer = (name: string) => wireAnswer.parse(JSON.parse(fixture(name).toString('utf8')));
const response = responder('application/json; charset=utf-8');
const at = new Date('2026-11-27T23:42:51Z');

describe('business-registry mapping', () => {
  it('maps a joint-stock company with a legacy district', () => {
    expect(toEnterprise(answer('enterprise-joint-stock.json').DuLieu!, at)).toEqual({
      enterpriseCode: '5500123457',
      name: 'CÔNG TY CỔ PHẦN CHÈ MỘC CHÂU XANH',
      foreignName: 'MOC CHAU GREEN TEA JOINT STOCK COMPANY',
      abbreviatedName: 'MOC CHAU GREEN TEA JSC',
      legalForm: 'joint_stock',
      status: 'active',
      registrationDate: '2015-03-12',
      headOffice: {
        detail: 'Tiểu khu 40',
        commune: 'Phường Mộc Châu',
        district: 'Huyện Mộc Châu',
        province: 'Sơn La',
        provinceCode: '14',
        districtCode: '118',
        communeCode: '04285',
        country: 'VN',
      },
      legalRepresentative: { fullName: 'Trần Đức Minh', position: 'Tổng giám đốc' },
      charterCapital: 45_000_000_000,
      retrievedAt: '2026-11-28T06:42:51+07:00',
    });
  });

  it('maps a branch with a two-level address and normalises names to NFC', () => {
    const enterprise = toEnterprise(answer('branch-post-reform.json').DuLieu!, at);
    expect(enterprise).toMatchObject({ enterpriseCode: '5500123457-001', legalForm: 'branch', charterCapital: null, foreignName: null });
    expect(enterprise.headOffice).toMatchObject({ district: null, districtCode: null, commune: 'Xã Vân Hồ', country: 'VN' });
    expect(enterprise.legalRepresentative.fullName).toBe('Trần Đức Minh');
    expect(enterprise.legalRepresentative.fullName).toBe(enterprise.legalRepresentative.fullName.normalize('NFC'));
    // The registry's ID number of the representative is personal data the API does not pass on.
    expect(JSON.stringify(enterprise)).not.toContain('SoDinhDanh');
  });

  it('refuses codes it does not know instead of guessing', () => {
    const wire = answer('enterprise-joint-stock.json').DuLieu!;
    expect(() => toEnterprise({ ...wire, MaTinhTrang: '9' }, at)).toThrow(MappingError);
    expect(() => toEnterprise({ ...wire, MaLoaiHinh: 'XYZ' }, at)).toThrow(MappingError);
    expect(() => toEnterprise({ ...wire, NgayThanhLap: '20150231' }, at)).toThrow(MappingError);
  });
});

describe('business-registry answers', () => {
  it('reads a success answer', () => {
    expect(interpretAnswer(response(200, fixture('enterprise-joint-stock.json')), '5500123457', 5).TenDoanhNghiep).toMatch(/CHÈ/);
  });

  it('turns "not found" into SUBJECT_NOT_FOUND, which does not count against the upstream', () => {
    const err = caught(() => interpretAnswer(response(404, fixture('not-found.json')), '5500999999', 5));
    expect(err.code).toBe('SUBJECT_NOT_FOUND');
    expect(err.upstreamFailure).toBe(false);
  });

  it('turns failures into upstream errors without passing on the registry text', () => {
    const unavailable = caught(() => interpretAnswer(response(500, '{"MaLoi":"99","MoTa":"Lỗi hệ thống"}'), '5500123457', 7));
    expect(unavailable).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', retryAfter: 7, upstreamFailure: true });
    expect(unavailable.detail).not.toContain('Lỗi');

    const cases: [number, string, string][] = [
      [200, '{"MaLoi":"00","DuLieu":', 'application/json'],
      [200, '<html>maintenance</html>', 'text/html'],
      [200, '{"MaLoi":"00","DuLieu":{"MaSoDoanhNghiep":"5500123457"}}', 'application/json'],
      [400, '{"MaLoi":"01","MoTa":"Thiếu mã đơn vị"}', 'application/json'],
      [200, '{"MaLoi":"07"}', 'application/json'],
    ];
    for (const [status, body, type] of cases) {
      expect(caught(() => interpretAnswer(response(status, body, type), '5500123457', 5))).toMatchObject({ code: 'UPSTREAM_BAD_RESPONSE', upstreamFailure: true });
    }
  });

  it('turns a refusal of the gateway signature or certificate (401, 403) into UPSTREAM_AUTH, counted against the upstream', () => {
    for (const status of [401, 403]) {
      expect(caught(() => interpretAnswer(response(status, '{"MaLoi":"02","MoTa":"Chữ ký số không hợp lệ"}'), '5500123457', 5))).toMatchObject({ code: 'UPSTREAM_AUTH', upstreamFailure: true });
    }
  });

  it('refuses an answer about another enterprise', () => {
    expect(caught(() => interpretAnswer(response(200, fixture('enterprise-joint-stock.json')), '0100109106', 5)).code).toBe('UPSTREAM_BAD_RESPONSE');
  });
});
