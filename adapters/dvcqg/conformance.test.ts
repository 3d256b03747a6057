import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listen, type Listening } from '../../src/http/listen.ts';
import { FaultBoard } from '../../src/sandbox/faults.ts';
import { procedures } from '../../src/sandbox/personas.ts';
import { fixtureReader, simulatorDeps } from '../contract/test-kit.ts';
import { SANDBOX_ACCOUNT } from './sandbox-account.ts';
import { createDvcqgSimulator, type DvcqgSimulator } from './simulator/server.ts';

/*
 * The stand-in portal against a client written the way public one-stop systems wrote theirs
 * (DOMAIN.md, "What real integrations send"), not against the gateway's adapter: plain JSON over
 * HTTP, the login with a `dstcode` header, `maTTHC` and `mahoso` as parameters, nothing read but
 * `error_code`, `message` and `result`, no message signatures. Its dossier item is transcribed
 * from the sources' field list, not produced by the gateway's mapping.
 */

const fixture = fixtureReader(import.meta.url);
const item = JSON.parse(fixture('opencps-dossier-item.json').toString('utf8')) as Record<string, unknown>;

/** What such a client reads of an answer. */
interface Answer {
  error_code: string;
  message?: string;
  result?: Record<string, unknown>[];
}

function oneStopClient(baseUrl: string, agency: string) {
  let session: string | undefined;
  let logins = 0;
  const postJson = async (path: string, body: unknown, headers: Record<string, string> = {}) => {
    const response = await fetch(baseUrl + path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    const json = (await response.json()) as Record<string, unknown>;
    return { status: response.status, json, signed: response.headers.has('signature') };
  };
  const login = async () => {
    const { json } = await postJson('/api/login', { username: SANDBOX_ACCOUNT.username, password: SANDBOX_ACCOUNT.password }, { dstcode: agency });
    if (String(json.error_code) !== '0' || typeof json.session !== 'string') throw new Error(`login refused: ${String(json.error_code)}`);
    session = json.session;
    logins++;
    return session;
  };
  /** One service call; a refused session is renewed once. */
  const call = async (service: string, params: Record<string, unknown> = {}): Promise<Answer> => {
    for (let attempt = 0; ; attempt++) {
      const token = session ?? (await login());
      const { json } = await postJson('/api/service', { session: token, madonvi: agency, service, ...params });
      const answer: Answer = { error_code: String(json.error_code) };
      if (typeof json.message === 'string') answer.message = json.message;
      if (Array.isArray(json.result)) answer.result = json.result as Record<string, unknown>[];
      if (answer.error_code === '401' && attempt === 0) {
        session = undefined;
        continue;
      }
      return answer;
    }
  };
  const ok = (answer: Answer) => answer.error_code === '0' || answer.error_code === '00';
  /** Create, or update when the portal says it already holds the dossier. */
  const syncDossier = async (dossier: Record<string, unknown>, isUpdating: boolean): Promise<Answer[]> => {
    const first = await call('DongBoHoSoMC', { isUpdating: isUpdating ? 'True' : 'False', data: [dossier] });
    if (!ok(first) && !isUpdating && (first.message ?? '').includes('đã tồn tại')) return [first, await call('DongBoHoSoMC', { isUpdating: 'True', data: [dossier] })];
    return [first];
  };
  return { postJson, login, call, ok, syncDossier, logins: () => logins };
}

describe('dvcqg simulator conformance: an OpenCPS-style client works against it unchanged', () => {
  let server: Listening;
  let simulator: DvcqgSimulator;
  beforeAll(async () => {
    simulator = createDvcqgSimulator(simulatorDeps('dvcqg', new FaultBoard()));
    server = await listen(simulator, '127.0.0.1', 0);
  });
  afterAll(async () => {
    await server.close();
  });

  it('logs in with the dstcode header and answers unsigned, as the real portal does', async () => {
    const client = oneStopClient(server.url, 'H52');
    const answer = await client.postJson('/api/login', SANDBOX_ACCOUNT, { dstcode: 'H52' });
    expect(answer).toMatchObject({ status: 200, signed: false, json: { error_code: '0', session: expect.any(String) } });
  });

  it('reads the catalogue from `result`: the list, one procedure nested, the agency and field catalogues', async () => {
    const client = oneStopClient(server.url, 'H52');
    const list = await client.call('LayDanhSachTTHC');
    expect(client.ok(list)).toBe(true);
    expect(list.result!.map((p) => p.MATTHC)).toEqual(procedures.map((p) => p.code));

    const code = String(list.result![0]!.MATTHC);
    const one = await client.call('LayThuTuc', { maTTHC: code });
    expect(client.ok(one)).toBe(true);
    expect(one.result).toHaveLength(1);
    const procedure = one.result![0]! as Record<string, unknown[]> & { MATTHC: string };
    expect(procedure.MATTHC).toBe(code);
    // The nesting of the sources' field list, level by level.
    expect(procedure.LINHVUCTHUCHIEN![0]).toEqual({ MALINHVUC: expect.any(String), TENLINHVUC: expect.any(String) });
    expect(procedure.TRINHTUTHUCHIEN![0]).toEqual({ TRUONGHOP: expect.any(String), TRINHTU: expect.arrayContaining([{ TENTRINHTU: expect.any(String) }]) });
    const channel = procedure.CACHTHUCTHUCHIEN![0] as { KENH: string; THOIGIAN: Record<string, unknown>[] };
    expect(Object.keys(channel).sort()).toEqual(['KENH', 'THOIGIAN']);
    expect(Object.keys(channel.THOIGIAN[0]!).sort()).toEqual(['DONVITINH', 'MOTA', 'PHILEPHI', 'THOIGIANGIAIQUYET']);
    expect(procedure.COQUANTHUCHIEN![0]).toEqual({ MADONVI: expect.any(String), TENDONVI: expect.any(String) });
    const documents = (procedure.THANHPHANHOSO![0] as { GIAYTO: Record<string, unknown>[] }).GIAYTO;
    expect(Object.keys(documents[0]!).sort()).toEqual(['MAGIAYTO', 'TENGIAYTO', 'TENMAUDON', 'URL']);
    expect(Object.keys(procedure.CANCUPHAPLY![0]!).sort()).toEqual(['SOVANBAN', 'TENVANBAN']);
    expect(Object.keys(procedure.KETQUATHUCHIEN![0]!).sort()).toEqual(['MAKETQUA', 'TENKETQUA']);

    // A code the catalogue does not have: success with an empty result.
    expect(await client.call('LayThuTuc', { maTTHC: '1.999999.000.00.00.H52' })).toEqual({ error_code: '0', message: expect.any(String), result: [] });

    const agencies = await client.call('LayDanhMucCoQuan');
    expect(agencies.result!.length).toBeGreaterThan(0);
    expect(Object.keys(agencies.result![0]!).sort()).toEqual(['MADONVI', 'TENDONVI']);
    const fields = await client.call('LayDanhMucLinhVuc');
    expect(Object.keys(fields.result![0]!).sort()).toEqual(['MALINHVUC', 'TENLINHVUC']);
  });

  it('looks a dossier up by mahoso, creates it, takes "đã tồn tại" as the cue to update, and takes its progress', async () => {
    const client = oneStopClient(server.url, 'H52');
    const dossier: Record<string, unknown> = { ...item, MaTTHC: procedures[0]!.code };
    const code = String(dossier.MaHoSo);

    // Not held: success with an empty result.
    expect(await client.call('TraCuuHoSo', { mahoso: code })).toEqual({ error_code: '0', message: expect.any(String), result: [] });

    const created = await client.syncDossier(dossier, false);
    // The answer is a code and a message: nothing else.
    expect(created).toEqual([{ error_code: '0', message: expect.any(String) }]);
    const held = await client.call('TraCuuHoSo', { mahoso: code });
    expect(held.result).toHaveLength(1);

    // Sent as new again (an integration that lost track): refused as held, then sent as an update.
    const again = await client.syncDossier({ ...dossier, TrangThaiHoSo: '9', NgayKetThucXuLy: '20261127160000' }, false);
    expect(again).toHaveLength(2);
    expect(again[0]!.error_code).not.toBe('0');
    expect(again[0]!.message).toContain('đã tồn tại');
    expect(again[1]).toEqual({ error_code: '0', message: expect.any(String) });

    // Progress after a successful sync; the start and the due date may be empty.
    const progress = await client.call('CapNhatTienDoHoSoMC', {
      data: [
        {
          MaHoSo: code,
          NguoiXuLy: 'Quàng Văn Minh',
          ChucDanh: 'Công chức tư pháp - hộ tịch',
          ThoiDiemXuLy: '20261127150000',
          PhongBanXuLy: 'Bộ phận Một cửa',
          NoiDungXuLy: 'Đã ký Giấy khai sinh',
          TrangThai: '9',
          NgayBatDau: '',
          NgayKetThucTheoQuyDinh: '',
        },
      ],
    });
    expect(progress).toEqual({ error_code: '0', message: expect.any(String) });
    expect(simulator.dossiers().find((d) => d.code === code)).toMatchObject({ status: '9', duplicates: 0, outOfOrder: 0 });
  });

  it('refuses a session it ended, and the client renews it by logging in again', async () => {
    const client = oneStopClient(server.url, 'H52');
    await client.login();
    simulator.expireSessions();
    const answer = await client.call('LayDanhSachTTHC');
    expect(client.ok(answer)).toBe(true);
    expect(client.logins()).toBe(2);
  });
});
