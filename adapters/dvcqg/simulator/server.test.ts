import { simulatorDeps } from '../../contract/test-kit.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listen, type Listening } from '../../../src/http/listen.ts';
import { FaultBoard } from '../../../src/sandbox/faults.ts';
import { procedures } from '../../../src/sandbox/personas.ts';
import { SANDBOX_ACCOUNT } from '../sandbox-account.ts';
import { createDvcqgSimulator } from './server.ts';

describe('dvcqg simulator', () => {
  const faults = new FaultBoard();
  let server: Listening;
  beforeAll(async () => {
    server = await listen(createDvcqgSimulator(simulatorDeps('dvcqg', faults)), '127.0.0.1', 0);
  });
  afterAll(async () => {
    await server.close();
  });

  const post = async (path: string, body: unknown) => {
    const response = await fetch(server.url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: response.status, type: response.headers.get('content-type'), json: (await response.json()) as Record<string, unknown> };
  };
  const session = async () => (await post('/api/login', SANDBOX_ACCOUNT)).json.session as string;

  it('answers the health probe without a session', async () => {
    const response = await fetch(`${server.url}/api/health`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ error_code: '0' });
  });

  it('refuses a wrong password with HTTP 401 and error_code "1"', async () => {
    expect(await post('/api/login', { ...SANDBOX_ACCOUNT, password: 'x' })).toMatchObject({ status: 401, json: { error_code: '1' } });
  });

  it('requires a valid session, an agency and a known service', async () => {
    expect((await post('/api/service', { session: 'forged', madonvi: 'H52', service: 'LayDanhSachTTHC' })).json).toMatchObject({ error_code: '401' });
    const token = await session();
    expect((await post('/api/service', { session: token, service: 'LayDanhSachTTHC' })).json).toMatchObject({ error_code: '400' });
    expect((await post('/api/service', { session: token, madonvi: 'H14', service: 'LayDanhSachTTHC' })).json).toMatchObject({ error_code: '403' });
    expect((await post('/api/service', { session: token, madonvi: 'H52', service: 'KhongCo' })).json).toMatchObject({ error_code: '400' });
    expect((await post('/api/service', { session: token, madonvi: 'H52', service: 'LayThuTuc' })).json).toMatchObject({ error_code: '400' });
  });

  it('lists the province catalogue, filtered by MaTinh, for the account agency and its sub-agencies', async () => {
    const token = await session();
    const all = await post('/api/service', { session: token, madonvi: 'H52.101.114', service: 'LayDanhSachTTHC' });
    expect(all).toMatchObject({ status: 200, type: 'application/json; charset=utf-8', json: { error_code: '00' } });
    expect(all.json.data).toHaveLength(procedures.length);
    expect((await post('/api/service', { session: token, madonvi: 'H52', service: 'LayDanhSachTTHC', MaTinh: 'H14' })).json.data).toEqual([]);
  });

  it('is not signing yet: the unsigned and bad-signature faults leave answers unchanged', async () => {
    const token = await session();
    const ask = () => post('/api/service', { session: token, madonvi: 'H52', service: 'LayThuTuc', MaTTHC: procedures[0]!.code });
    const plain = await ask();
    for (const mode of ['unsigned', 'bad-signature'] as const) {
      faults.set({ system: 'dvcqg', mode });
      expect(await ask()).toEqual(plain);
    }
    faults.clear();
  });
});
