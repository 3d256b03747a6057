import { base64url } from 'jose';
import { describe, expect, it } from 'vitest';
import { simulatorSigning } from '../../src/sandbox/signing.ts';
import { failure, fixtureTextReader, responder, testSigning } from '../contract/test-kit.ts';
import { interpretAnswer } from './errors.ts';
import { createAnswerVerifier } from './jws-answer.ts';
import { createJwsSigner } from './jws.ts';
import { wireAnswer, type WireRequest } from './inferred.ts';
import { isCardValidOn, MappingError, toSocialInsuranceRecord } from './mapping.ts';

const fixtureText = fixtureTextReader(import.meta.url);
const fixture = (name: string) => JSON.parse(fixtureText(name)) as Record<string, unknown>;
const record = (name: string) => wireAnswer.parse(fixture(name)).duLieu!;
// 06:42:51 on 28 November 2026 in Vietnam.
const at = new Date('2026-11-27T23:42:51Z');

describe('social-insurance mapping', () => {
  it('maps a participant with an employer and a card valid today', () => {
    expect(toSocialInsuranceRecord(record('participating-employer-card.json'), at)).toEqual({
      insuranceCode: '1410023456',
      idNumber: '014089001234',
      fullName: 'Lò Văn Thắng',
      participationStatus: 'participating',
      employer: { code: '5564801080', name: 'CÔNG TY TNHH CHÈ SƠN LA' },
      healthInsuranceCard: { number: 'DN4141410023456', validFrom: '2026-01-01', validTo: '2026-12-31', valid: true },
      retrievedAt: '2026-11-28T06:42:51+07:00',
    });
  });

  it('maps a participant who stopped, with an expired card', () => {
    expect(toSocialInsuranceRecord(record('stopped-expired-card.json'), at)).toEqual({
      insuranceCode: '1485131786',
      idNumber: '014050838238',
      fullName: 'Bùi Văn Đức',
      participationStatus: 'stopped',
      employer: null,
      healthInsuranceCard: { number: 'HT2141485131786', validFrom: '2025-01-01', validTo: '2025-12-31', valid: false },
      retrievedAt: '2026-11-28T06:42:51+07:00',
    });
  });

  it('maps a voluntary participant without a card and normalises an NFD name to NFC', () => {
    const wire = record('no-card-no-employer-nfd.json');
    expect(wire.hoTen).not.toBe(wire.hoTen.normalize('NFC'));
    const mapped = toSocialInsuranceRecord(wire, at);
    expect(mapped).toMatchObject({ insuranceCode: '1475266081', participationStatus: 'participating', employer: null, healthInsuranceCard: null });
    expect(mapped.fullName).toBe('Lầu A Páo');
    expect(mapped.fullName).toBe('Lầu A Páo'.normalize('NFC'));
  });

  it('maps a suspended participant and normalises the employer name to NFC', () => {
    const mapped = toSocialInsuranceRecord(record('suspended-employer-nfd.json'), at);
    expect(mapped.participationStatus).toBe('suspended');
    expect(mapped.employer).toEqual({ code: '5564801080', name: 'CÔNG TY TNHH CHÈ SƠN LA' });
    expect(mapped.employer!.name).toBe(mapped.employer!.name.normalize('NFC'));
  });

  it('leaves idNumber out for a participant the system has no ID number for', () => {
    const mapped = toSocialInsuranceRecord({ ...record('participating-employer-card.json'), soDinhDanh: null }, at);
    expect(mapped).not.toHaveProperty('idNumber');
  });

  it('judges card validity on the Vietnamese calendar day, both ends included', () => {
    const card = record('participating-employer-card.json');
    const validity = (instant: string) => toSocialInsuranceRecord(card, new Date(instant)).healthInsuranceCard!.valid;
    expect(validity('2025-12-31T16:59:59Z')).toBe(false); // 23:59:59 on 31 Dec 2025 in Vietnam
    expect(validity('2025-12-31T17:00:00Z')).toBe(true); // 00:00 on 1 Jan 2026 in Vietnam
    expect(validity('2026-12-31T16:59:59Z')).toBe(true); // the last day
    expect(validity('2026-12-31T17:00:00Z')).toBe(false); // 1 Jan 2027 in Vietnam, still 31 Dec in UTC
    expect(isCardValidOn({ validFrom: '2026-01-01', validTo: '2026-01-01' }, '2026-01-01')).toBe(true);
  });

  it('refuses codes and dates it does not understand instead of guessing', () => {
    const wire = record('participating-employer-card.json');
    expect(() => toSocialInsuranceRecord({ ...wire, trangThaiThamGia: '9' }, at)).toThrow(MappingError);
    expect(() => toSocialInsuranceRecord({ ...wire, theBhyt: { ...wire.theBhyt!, giaTriDen: '20260231' } }, at)).toThrow(MappingError);
    expect(() => toSocialInsuranceRecord({ ...wire, theBhyt: { ...wire.theBhyt!, giaTriTu: '20270101' } }, at)).toThrow(MappingError);
    expect(wireAnswer.safeParse({ ...fixture('participating-employer-card.json'), duLieu: { ...wire, theBhyt: { ...wire.theBhyt!, soThe: 'DN41414' } } }).success).toBe(false);
  });
});

describe('social-insurance answers', () => {
  // Signed as the system signs (its sample certificate in x5c), verified as the gateway verifies.
  const signer = createJwsSigner(simulatorSigning('social-insurance').credentials());
  const sign = (payload: unknown) => signer(JSON.stringify(payload));
  const verify = createAnswerVerifier(testSigning('social-insurance'));
  const response = responder('application/jose');
  const request = (name: string, query: Partial<WireRequest> = {}): WireRequest => {
    const payload = fixture(name);
    const duLieu = payload.duLieu as { maSoBhxh: string } | undefined;
    return { maYeuCau: String(payload.maYeuCau), maDonVi: 'H52', maSoBhxh: duLieu?.maSoBhxh ?? '1499999999', ...query };
  };
  const options = { retryAfterSeconds: 5, verify };

  it('reads a signed success answer, asked by insurance code or by ID number', async () => {
    const body = await sign(fixture('participating-employer-card.json'));
    expect((await interpretAnswer(response(200, body), request('participating-employer-card.json'), options)).hoTen).toBe('Lò Văn Thắng');
    const byId: WireRequest = { maYeuCau: '5f0c2a4e-8d1b-4c3e-9a7f-2b6d1e0c9a11', maDonVi: 'H52', soDinhDanh: '014089001234' };
    expect((await interpretAnswer(response(200, body), byId, options)).maSoBhxh).toBe('1410023456');
  });

  it('turns a signed "not found" into SUBJECT_NOT_FOUND, which does not count against the upstream', async () => {
    const err = await failure(interpretAnswer(response(200, await sign(fixture('not-found.json'))), request('not-found.json'), options));
    expect(err.code).toBe('SUBJECT_NOT_FOUND');
    expect(err.upstreamFailure).toBe(false);
  });

  it('turns the plain-JSON system error into UPSTREAM_UNAVAILABLE without passing its text on', async () => {
    const err = await failure(interpretAnswer(response(500, fixtureText('system-error.json'), 'application/json; charset=utf-8'), request('not-found.json'), { retryAfterSeconds: 7, verify }));
    expect(err).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', retryAfter: 7, upstreamFailure: true });
    expect(err.detail).not.toContain('Lỗi');
    // Whatever a failing proxy puts in the body, 5xx is the system being unavailable.
    expect((await failure(interpretAnswer(response(502, '<html>Bad gateway</html>', 'text/html'), request('not-found.json'), options))).code).toBe('UPSTREAM_UNAVAILABLE');
  });

  it('maps a refused calling agency to UPSTREAM_AUTH', async () => {
    const refused = { maLoi: '03', moTa: 'Đơn vị chưa được cấp quyền tra cứu', maYeuCau: 'r-1', thoiGian: '20261128064633' };
    expect(await failure(interpretAnswer(response(403, await sign(refused)), request('not-found.json'), options))).toMatchObject({ code: 'UPSTREAM_AUTH', upstreamFailure: true });
    expect((await failure(interpretAnswer(response(200, await sign(refused)), { ...request('not-found.json'), maYeuCau: 'r-1' }, options))).code).toBe('UPSTREAM_AUTH');
  });

  it('refuses everything else with UPSTREAM_BAD_RESPONSE', async () => {
    const success = fixture('participating-employer-card.json');
    const asked = request('participating-employer-card.json');
    const cases: [string, ReturnType<typeof response>, WireRequest][] = [
      ['a JWS in the wrong content type', response(200, await sign(success), 'text/plain'), asked],
      ['a maintenance page', response(200, '<html>bảo trì</html>', 'text/html'), asked],
      ['a broken JWS', response(200, 'eyJhbGciOiJFUzI1NiJ9.@@@'), asked],
      ['a payload without thoiGian', response(200, await sign({ ...success, thoiGian: undefined })), asked],
      ['a replayed answer to another request', response(200, await sign(success)), { ...asked, maYeuCau: 'another-request' }],
      ['an answer about another participant', response(200, await sign(success)), { ...asked, maSoBhxh: '1410078123' }],
      ['an answer about another ID number', response(200, await sign(success)), { maYeuCau: asked.maYeuCau, maDonVi: 'H52', soDinhDanh: '014194002871' }],
      ['a success code without data', response(200, await sign({ ...success, duLieu: null })), asked],
      ['an invalid-request refusal', response(400, await sign({ maLoi: '01', moTa: 'Yêu cầu không hợp lệ', maYeuCau: asked.maYeuCau, thoiGian: '20261128064633' })), asked],
      ['"not found" with a 404 status', response(404, await sign(fixture('not-found.json'))), request('not-found.json')],
      ['an unknown result code', response(200, await sign({ maLoi: '07', maYeuCau: asked.maYeuCau, thoiGian: '20261128064633' })), asked],
    ];
    for (const [name, answer, asking] of cases) {
      const err = await failure(interpretAnswer(answer, asking, options));
      expect({ name, code: err.code, upstreamFailure: err.upstreamFailure }).toEqual({ name, code: 'UPSTREAM_BAD_RESPONSE', upstreamFailure: true });
    }
  });

  it('refuses unsigned answers, "not found" included, with UPSTREAM_SIGNATURE_INVALID', async () => {
    const success = fixture('participating-employer-card.json');
    const notFound = fixture('not-found.json');
    const unsigned = (payload: unknown) => `${base64url.encode('{"alg":"none"}')}.${base64url.encode(JSON.stringify(payload))}.`;
    const cases: [string, ReturnType<typeof response>, WireRequest][] = [
      ['the payload as plain JSON', response(200, JSON.stringify(success), 'application/json'), request('participating-employer-card.json')],
      ['"not found" as plain JSON', response(200, JSON.stringify(notFound), 'application/json; charset=utf-8'), request('not-found.json')],
      ['an unsigned JWS', response(200, unsigned(success)), request('participating-employer-card.json')],
      ['an unsigned "not found"', response(200, unsigned(notFound)), request('not-found.json')],
    ];
    for (const [name, answer, asking] of cases) {
      const err = await failure(interpretAnswer(answer, asking, options));
      expect({ name, code: err.code, status: err.status, upstreamFailure: err.upstreamFailure }).toEqual({ name, code: 'UPSTREAM_SIGNATURE_INVALID', status: 502, upstreamFailure: true });
    }
  });
});
