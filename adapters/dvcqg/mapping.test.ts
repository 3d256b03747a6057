import { describe, expect, it } from 'vitest';
import { caught, fixtureReader, responder } from '../contract/test-kit.ts';
import { interpretLoginAnswer, interpretServiceAnswer } from './errors.ts';
import { MappingError, toLevel, toProcedure, toProcedureSummary, wireProcedure, wireServiceAnswer, wireSummaryList } from './mapping.ts';

const fixture = fixtureReader(import.meta.url);
/** The `result` array of a fixture answer. */
const result = (name: string): unknown[] => wireServiceAnswer.parse(JSON.parse(fixture(name).toString('utf8'))).result ?? [];
const first = (name: string): unknown => result(name)[0];
const response = responder('application/json; charset=utf-8');
const at = new Date('2026-11-27T23:42:51Z');

describe('dvcqg mapping', () => {
  it('maps the LayDanhSachTTHC list with agency codes, and normalises names to NFC', () => {
    const summaries = wireSummaryList.parse(result('procedure-list.json')).map(toProcedureSummary);
    expect(summaries).toEqual([
      {
        code: '1.003541.000.00.00.H52',
        name: 'Đăng ký khai sinh',
        field: { code: 'HT', name: 'Hộ tịch' },
        agencies: ['H52.101.114', 'H52.118.101', 'H52.128.101'],
        level: 'Toàn trình',
      },
      {
        code: '1.006223.000.00.00.H52',
        name: 'Cấp Phiếu lý lịch tư pháp',
        field: { code: 'LLTP', name: 'Lý lịch tư pháp' },
        agencies: ['H52.20'],
        level: 'Toàn trình',
      },
      {
        code: '1.002896.000.00.00.H52',
        name: 'Cấp giấy chứng nhận cơ sở đủ điều kiện an toàn thực phẩm',
        field: { code: 'ATTP', name: 'An toàn thực phẩm' },
        agencies: ['H52.21', 'H52.25'],
        level: 'Một phần',
      },
    ]);
    // The fixture sends the second name decomposed (NFD); it must come out composed.
    expect(fixture('procedure-list.json').toString('utf8')).toContain('\\u0301');
    expect(summaries[1]!.name).toBe(summaries[1]!.name.normalize('NFC'));
    expect(summaries[1]!.name.length).toBe('Cấp Phiếu lý lịch tư pháp'.length);
  });

  it('maps the nested LayThuTuc procedure: steps by case, channels with times and fees, forms, legal bases, results', () => {
    const procedure = toProcedure(wireProcedure.parse(first('procedure.json')), at);
    expect(procedure).toEqual({
      code: '1.003541.000.00.00.H52',
      name: 'Đăng ký khai sinh',
      field: { code: 'HT', name: 'Hộ tịch' },
      fields: [{ code: 'HT', name: 'Hộ tịch' }],
      steps:
        'Bước 1: Người yêu cầu nộp hồ sơ tại Bộ phận Một cửa hoặc trên Cổng Dịch vụ công. Bước 2: Công chức tư pháp - hộ tịch kiểm tra, ghi vào Sổ hộ tịch. ' +
        'Trường hợp trẻ em bị bỏ rơi Bước 1: Kèm biên bản xác nhận việc trẻ bị bỏ rơi.',
      stepsByCase: [
        { case: null, steps: ['Bước 1: Người yêu cầu nộp hồ sơ tại Bộ phận Một cửa hoặc trên Cổng Dịch vụ công.', 'Bước 2: Công chức tư pháp - hộ tịch kiểm tra, ghi vào Sổ hộ tịch.'] },
        { case: 'Trường hợp trẻ em bị bỏ rơi', steps: ['Bước 1: Kèm biên bản xác nhận việc trẻ bị bỏ rơi.'] },
      ],
      channels: 'Trực tiếp; Trực tuyến',
      channelOptions: [
        { channel: 'in_person', durations: [{ amount: 1, unit: 'Ngày làm việc', description: 'Ngay trong ngày nếu nhận hồ sơ trước 15 giờ', fees: [] }] },
        { channel: 'online', durations: [{ amount: 1, unit: 'Ngày làm việc', description: null, fees: [] }] },
      ],
      dossierComponents: [
        { name: 'Tờ khai đăng ký khai sinh', code: 'GT-HT-01', formName: 'Tờ khai đăng ký khai sinh', formUrl: 'https://dichvucong.gov.vn/mau/to-khai-khai-sinh.docx' },
        { name: 'Giấy chứng sinh', code: 'GT-HT-02', formName: null, formUrl: null },
      ],
      legalBasis: ['Luật Hộ tịch', 'Nghị định về thực hiện thủ tục hành chính theo cơ chế một cửa, một cửa liên thông'],
      legalDocuments: [
        { number: '60/2014/QH13', title: 'Luật Hộ tịch' },
        { number: '118/2025/NĐ-CP', title: 'Nghị định về thực hiện thủ tục hành chính theo cơ chế một cửa, một cửa liên thông' },
      ],
      implementingAgencies: ['Ủy ban nhân dân phường Tô Hiệu', 'Ủy ban nhân dân phường Mộc Châu', 'Ủy ban nhân dân xã Vân Hồ'],
      implementingAgencyDetails: [
        { code: 'H52.101.114', name: 'Ủy ban nhân dân phường Tô Hiệu' },
        { code: 'H52.118.101', name: 'Ủy ban nhân dân phường Mộc Châu' },
        { code: 'H52.128.101', name: 'Ủy ban nhân dân xã Vân Hồ' },
      ],
      results: ['Giấy khai sinh'],
      resultDocuments: [{ code: 'KQ-HT-01', name: 'Giấy khai sinh' }],
      fees: null,
      processingTime: '1 Ngày làm việc',
      retrievedAt: '2026-11-28T06:42:51+07:00',
    });
    // "Vân Hồ" arrives decomposed in the fixture.
    expect(procedure.implementingAgencies[2]).toBe('Ủy ban nhân dân xã Vân Hồ'.normalize('NFC'));
  });

  it('reads fees per channel, amounts written as text or numbers', () => {
    const procedure = toProcedure(wireProcedure.parse(first('procedure-with-fee.json')), at);
    expect(procedure.channelOptions.map((c) => [c.channel, c.durations[0]!.fees])).toEqual([
      ['in_person', [{ code: 'LP-LLTP-01', amount: 200000, unit: 'Đồng' }]],
      ['online', [{ code: 'LP-LLTP-02', amount: 100000, unit: 'Đồng' }]],
      ['postal', [{ code: 'LP-LLTP-01', amount: 200000, unit: 'Đồng' }]],
    ]);
    expect(procedure).toMatchObject({ fees: '200.000 Đồng; 100.000 Đồng', processingTime: '10 Ngày', implementingAgencies: ['Sở Tư pháp tỉnh Sơn La'] });
  });

  it('maps the service levels of Decree 43/2011 to those of Decree 42/2022', () => {
    expect(toLevel('4')).toBe('Toàn trình');
    expect(toLevel(3)).toBe('Một phần');
    expect(toLevel('2')).toBeNull();
    expect(toLevel(null)).toBeNull();
    expect(toLevel('')).toBeNull();
    expect(toLevel('Mo\u0302\u0323t pha\u0302\u0300n')).toBe('Một phần');
    expect(() => toLevel('7')).toThrow(MappingError);
  });

  it('refuses what it cannot read instead of guessing', () => {
    const wire = wireProcedure.parse(first('procedure.json'));
    expect(() => toProcedure({ ...wire, CACHTHUCTHUCHIEN: [{ KENH: '9', THOIGIAN: [] }] }, at)).toThrow(MappingError);
    const raw = first('procedure.json') as Record<string, unknown>;
    expect(wireProcedure.safeParse({ ...raw, LINHVUCTHUCHIEN: undefined }).success).toBe(false);
    expect(wireProcedure.safeParse({ ...raw, LINHVUCTHUCHIEN: [] }).success).toBe(false);
    // The flat shape older guesses used is not what the portal sends.
    expect(wireProcedure.safeParse({ ...raw, TRINHTUTHUCHIEN: 'Bước 1: Nộp hồ sơ.' }).success).toBe(false);
    expect(wireProcedure.safeParse({ ...raw, CACHTHUCTHUCHIEN: [{ KENH: '1', THOIGIAN: [{ THOIGIANGIAIQUYET: 'mười' }] }] }).success).toBe(false);
    expect(wireSummaryList.safeParse([{ MATTHC: '1.003541.000.00.00.H52' }]).success).toBe(false);
  });
});

describe('dvcqg answers', () => {
  it('accepts both success codes, "0" and "00"', () => {
    expect(interpretServiceAnswer(response(200, fixture('procedure-list.json')), 5)).toMatchObject({ kind: 'ok', result: expect.any(Array) });
    expect(interpretServiceAnswer(response(200, fixture('procedure.json')), 5)).toMatchObject({ kind: 'ok', result: [{ MATTHC: '1.003541.000.00.00.H52' }] });
    for (const code of ['0', '00', 0]) {
      expect(interpretServiceAnswer(response(200, JSON.stringify({ error_code: code, result: [] })), 5)).toEqual({ kind: 'ok', result: [] });
    }
  });

  it('reads the data under `result` only, and the dossier services from their code alone', () => {
    // Data elsewhere than `result` is not read.
    expect(interpretServiceAnswer(response(200, '{"error_code":"0","data":[{"MATTHC":"x"}]}'), 5)).toEqual({ kind: 'ok', result: undefined });
    expect(interpretServiceAnswer(response(200, fixture('lookup-empty.json')), 5)).toEqual({ kind: 'ok', result: [] });
    expect(interpretServiceAnswer(response(200, fixture('lookup-held.json')), 5)).toMatchObject({ kind: 'ok', result: [{ MaHoSo: '000.00.01.H52-261127-0001' }] });
    expect(interpretServiceAnswer(response(200, fixture('sync-ok.json')), 5, { itemRefusals: true })).toEqual({ kind: 'ok', result: undefined });
    // "đã tồn tại" on a delivery: the dossier is held already, whatever the code.
    expect(interpretServiceAnswer(response(200, fixture('sync-already-held.json')), 5, { itemRefusals: true })).toEqual({ kind: 'already-held' });
    expect(caught(() => interpretServiceAnswer(response(200, fixture('sync-already-held.json')), 5)).code).toBe('UPSTREAM_BAD_RESPONSE');
  });

  it('reads the login session, and refuses the gateway account with UPSTREAM_AUTH counted against the upstream', () => {
    expect(interpretLoginAnswer(response(200, fixture('login-ok.json')), 5)).toBe('q3v0cJx1m9yZ8kS2bT7pW4eR6uA5dF0h');
    for (const status of [200, 401]) {
      const refused = caught(() => interpretLoginAnswer(response(status, fixture('login-refused.json')), 5));
      expect(refused).toMatchObject({ code: 'UPSTREAM_AUTH', status: 502, upstreamFailure: true });
      expect(refused.detail).not.toContain('mật khẩu');
    }
    expect(caught(() => interpretLoginAnswer(response(200, '{"error_code":"0"}'), 5)).code).toBe('UPSTREAM_BAD_RESPONSE');
  });

  it('turns a refusal of the gateway signature or certificate ("2") into UPSTREAM_AUTH on login and on service calls', () => {
    for (const status of [200, 401]) {
      const answer = response(status, fixture('signature-refused.json'));
      expect(caught(() => interpretLoginAnswer(answer, 5))).toMatchObject({ code: 'UPSTREAM_AUTH', upstreamFailure: true });
      const refused = caught(() => interpretServiceAnswer(answer, 5));
      expect(refused).toMatchObject({ code: 'UPSTREAM_AUTH', upstreamFailure: true });
      expect(refused.detail).not.toContain('Chữ ký');
    }
  });

  it('recognises an expired session and "not found"', () => {
    expect(interpretServiceAnswer(response(200, fixture('session-expired.json')), 5)).toEqual({ kind: 'session-expired' });
    expect(interpretServiceAnswer(response(401, fixture('session-expired.json')), 5)).toEqual({ kind: 'session-expired' });
    expect(interpretServiceAnswer(response(200, fixture('not-found.json')), 5)).toEqual({ kind: 'not-found' });
  });

  it('turns failures into upstream errors without passing on the portal text', () => {
    const unavailable = caught(() => interpretServiceAnswer(response(500, fixture('system-error.json')), 7));
    expect(unavailable).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', retryAfter: 7, upstreamFailure: true });
    expect(unavailable.detail).not.toContain('Lỗi');
    expect(caught(() => interpretLoginAnswer(response(503, fixture('system-error.json')), 7))).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', retryAfter: 7 });

    const agency = caught(() => interpretServiceAnswer(response(200, '{"error_code":"403","message":"Tài khoản không được phép"}'), 5));
    expect(agency).toMatchObject({ code: 'UPSTREAM_AUTH', upstreamFailure: true });

    const cases: [number, string, string][] = [
      [200, '{"error_code":"0","result":[{"MATTHC":', 'application/json'],
      [200, '<html>bảo trì</html>', 'text/html'],
      [200, '{"error_code":"0","result":{"MATTHC":"x"}}', 'application/json'],
      [200, '{"message":"Thành công","result":[]}', 'application/json'],
      [200, '{"error_code":"400","message":"Dịch vụ không tồn tại"}', 'application/json'],
      [400, '{"error_code":"0","result":[]}', 'application/json'],
      [200, '{"error_code":"99"}', 'application/json'],
    ];
    for (const [status, body, type] of cases) {
      const err = caught(() => interpretServiceAnswer(response(status, body, type), 5));
      expect(err).toMatchObject({ code: 'UPSTREAM_BAD_RESPONSE', status: 502, upstreamFailure: true });
      expect(err.detail).not.toMatch(/Dịch vụ|bảo trì/);
    }

    // A dossier item refused as invalid: permanent, with the portal's reason kept apart from the detail.
    const refused = caught(() => interpretServiceAnswer(response(200, '{"error_code":"400","message":"  Dữ liệu hồ sơ không hợp lệ:   ChuHoSo "}'), 5, { itemRefusals: true }));
    expect(refused).toMatchObject({ code: 'UPSTREAM_BAD_RESPONSE', permanent: true, upstreamFailure: false, upstreamReason: '400 Dữ liệu hồ sơ không hợp lệ: ChuHoSo' });
    expect(refused.detail).not.toContain('Dữ liệu');
    const transient = caught(() => interpretServiceAnswer(response(500, fixture('system-error.json')), 7, { itemRefusals: true }));
    expect(transient).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', permanent: false });
  });
});
