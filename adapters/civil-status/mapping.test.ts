import { describe, expect, it } from 'vitest';
import { caught, fixtureReader, responder } from '../contract/test-kit.ts';
import { interpretAnswer } from './errors.ts';
import { wireAnswer } from './inferred.ts';
import { MappingError, toBirthRegistration } from './mapping.ts';
import { births } from './simulator/births.ts';
import { people } from '../../src/sandbox/personas.ts';

const fixture = fixtureReader(import.meta.url);
const answer = (name: string) => wireAnswer.parse(JSON.parse(fixture(name).toString('utf8')));
const response = responder('application/json; charset=utf-8');
const at = new Date('2026-11-27T03:08:00Z');

describe('civil-status mapping', () => {
  it('maps a birth registration with both parents and a legacy district', () => {
    expect(toBirthRegistration(answer('birth.json').DuLieu!, at)).toEqual({
      idNumber: '014089001234',
      fullName: 'Lò Văn Thắng',
      gender: 'male',
      dateOfBirth: '1989-04-12',
      placeOfBirth: {
        detail: 'Bản Hụm',
        commune: 'Xã Chiềng Ngần',
        district: 'Thành phố Sơn La',
        province: 'Tỉnh Sơn La',
        provinceCode: '14',
        districtCode: '116',
        communeCode: '04075',
        country: 'VN',
      },
      ethnicity: 'Thái',
      nationality: 'VN',
      father: { fullName: 'Lò Văn Pấng', idNumber: '014061000321' },
      mother: { fullName: 'Cầm Thị Ón', idNumber: null },
      registration: { number: '112/1989', book: '01/1989', date: '1989-05-02', authority: 'Ủy ban nhân dân Xã Chiềng Ngần' },
      retrievedAt: '2026-11-27T10:08:00+07:00',
    });
  });

  it('maps a registration without a father or a register book, on a two-level address', () => {
    const birth = toBirthRegistration(answer('birth-no-father.json').DuLieu!, at);
    expect(birth).toMatchObject({ gender: 'female', father: null, registration: { book: null, number: '45/1992' } });
    expect(birth.placeOfBirth).toMatchObject({ district: null, districtCode: null, commune: 'Phường Tô Hiệu', country: 'VN' });
  });

  it('normalises names to NFC', () => {
    const decomposed = { ...answer('birth.json').DuLieu!, HoTen: 'Lò Văn Thắng'.normalize('NFD') };
    expect(toBirthRegistration(decomposed, at).fullName).toBe('Lò Văn Thắng'.normalize('NFC'));
  });

  it('refuses codes and dates it cannot read instead of guessing', () => {
    const wire = answer('birth.json').DuLieu!;
    expect(() => toBirthRegistration({ ...wire, GioiTinh: '3' }, at)).toThrow(MappingError);
    expect(() => toBirthRegistration({ ...wire, NgaySinh: '19890231' }, at)).toThrow(MappingError);
    expect(() => toBirthRegistration({ ...wire, NgayDangKy: '1989-05-02' }, at)).toThrow(MappingError);
    // Registered before being born: a record the gateway does not pass on as it is.
    expect(() => toBirthRegistration({ ...wire, NgayDangKy: '19890401' }, at)).toThrow(MappingError);
  });

  it('maps every sandbox birth the simulator holds', () => {
    expect(births.size).toBe(people.length);
    for (const person of people.slice(0, 40)) {
      const birth = toBirthRegistration(births.get(person.idNumber)!, at);
      expect(birth).toMatchObject({ idNumber: person.idNumber, fullName: person.fullName, gender: person.gender, dateOfBirth: person.dateOfBirth });
      expect(birth.registration.date >= birth.dateOfBirth).toBe(true);
    }
  });
});

describe('civil-status answers', () => {
  it('reads a success answer', () => {
    expect(interpretAnswer(response(200, fixture('birth.json')), '014089001234', 5).HoTen).toBe('Lò Văn Thắng');
  });

  it('turns "not found" into SUBJECT_NOT_FOUND, which does not count against the upstream', () => {
    const err = caught(() => interpretAnswer(response(404, fixture('not-found.json')), '014089999999', 5));
    expect(err.code).toBe('SUBJECT_NOT_FOUND');
    expect(err.upstreamFailure).toBe(false);
  });

  it('turns failures into upstream errors without passing on the database text', () => {
    const unavailable = caught(() => interpretAnswer(response(500, '{"MaLoi":"99","MoTa":"Lỗi hệ thống"}'), '014089001234', 7));
    expect(unavailable).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', retryAfter: 7, upstreamFailure: true });
    expect(unavailable.detail).not.toContain('Lỗi');
    const cases: [number, string, string][] = [
      [200, '{"MaLoi":"00","DuLieu":', 'application/json'],
      [200, '<html>bảo trì</html>', 'text/html'],
      [200, '{"MaLoi":"00","DuLieu":{"SoDinhDanh":"014089001234"}}', 'application/json'],
      [404, '{"MaLoi":"404","MoTa":"Không có dịch vụ này"}', 'application/json'],
      [200, '{"MaLoi":"07"}', 'application/json'],
    ];
    for (const [status, body, type] of cases) {
      expect(caught(() => interpretAnswer(response(status, body, type), '014089001234', 5)), body).toMatchObject({ code: 'UPSTREAM_BAD_RESPONSE', upstreamFailure: true });
    }
  });

  it('turns a refusal of the gateway signature (401, 403) into UPSTREAM_AUTH', () => {
    for (const status of [401, 403]) {
      expect(caught(() => interpretAnswer(response(status, '{"MaLoi":"02"}'), '014089001234', 5))).toMatchObject({ code: 'UPSTREAM_AUTH', upstreamFailure: true });
    }
  });

  it('refuses an answer about another person', () => {
    expect(caught(() => interpretAnswer(response(200, fixture('birth.json')), '014192004567', 5)).code).toBe('UPSTREAM_BAD_RESPONSE');
  });
});
