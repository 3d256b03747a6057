import { simulatorDeps, testSigning } from '../../contract/test-kit.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listen, type Listening } from '../../../src/http/listen.ts';
import { FaultBoard } from '../../../src/sandbox/faults.ts';
import { procedures } from '../../../src/sandbox/personas.ts';
import { signRequest, verifyResponse, type VerifyOptions } from '../../../src/signing/http-signatures.ts';
import { SANDBOX_ACCOUNT } from '../sandbox-account.ts';
import { createDvcqgSimulator } from './server.ts';

describe('dvcqg simulator', () => {
  const faults = new FaultBoard();
  let server: Listening;
  /** The same portal configured to require signatures. */
  let strict: Listening;
  beforeAll(async () => {
    server = await listen(createDvcqgSimulator(simulatorDeps('dvcqg', faults)), '127.0.0.1', 0);
    strict = await listen(createDvcqgSimulator(simulatorDeps('dvcqg', new FaultBoard()), { messageSecurity: 'rfc9421' }), '127.0.0.1', 0);
  });
  afterAll(async () => {
    await server.close();
    await strict.close();
  });

  const gateway = testSigning('dvcqg');
  const trusting: VerifyOptions = { verifyCertificate: (certificate, chain) => gateway.verifyPeer(certificate, chain) };

  /** A POST signed as the gateway signs it; the answer's signature is checked before it is read. */
  const post = async (path: string, body: unknown) => {
    const text = JSON.stringify(body);
    const signed = signRequest(gateway.credentials, { method: 'POST', url: server.url + path, headers: { 'content-type': 'application/json', dstcode: 'H52' }, body: text });
    const response = await fetch(server.url + path, { method: 'POST', headers: signed.headers, body: text });
    const headers: Record<string, string> = {};
    response.headers.forEach((value, name) => (headers[name] = value));
    const raw = Buffer.from(await response.arrayBuffer());
    verifyResponse({ status: response.status, headers, body: raw }, signed.message, trusting);
    return { status: response.status, type: response.headers.get('content-type'), json: JSON.parse(raw.toString('utf8')) as Record<string, unknown> };
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
    expect(all.json.result).toHaveLength(procedures.length);
    expect(all.json).not.toHaveProperty('data');
    expect((await post('/api/service', { session: token, madonvi: 'H52', service: 'LayDanhSachTTHC', MaTinh: 'H14' })).json.result).toEqual([]);
  });

  it('answers an unknown procedure with an empty result, and serves the agency and field catalogues', async () => {
    const token = await session();
    expect((await post('/api/service', { session: token, madonvi: 'H52', service: 'LayThuTuc', maTTHC: '1.999999.000.00.00.H52' })).json).toEqual({ error_code: '0', message: 'Thành công', result: [] });
    const agencies = (await post('/api/service', { session: token, madonvi: 'H52', service: 'LayDanhMucCoQuan' })).json.result as { MADONVI: string; TENDONVI: string }[];
    expect(agencies).toContainEqual({ MADONVI: 'H52.20', TENDONVI: 'Sở Tư pháp tỉnh Sơn La' });
    const fields = (await post('/api/service', { session: token, madonvi: 'H52', service: 'LayDanhMucLinhVuc' })).json.result as { MALINHVUC: string }[];
    expect(fields.map((f) => f.MALINHVUC)).toContain(procedures[0]!.field.code);
  });

  it('under messageSecurity none, takes unsigned requests and answers them unsigned; refuses a login without dstcode', async () => {
    const login = (headers: Record<string, string>) => fetch(`${server.url}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(SANDBOX_ACCOUNT) });
    const plain = await login({ dstcode: 'H52' });
    expect(plain.status).toBe(200);
    expect(plain.headers.get('signature-input')).toBeNull();
    expect(await plain.json()).toMatchObject({ error_code: '0', session: expect.any(String) });
    expect(await (await login({})).json()).toMatchObject({ error_code: '403' });
    expect(await (await login({ dstcode: 'H14' })).json()).toMatchObject({ error_code: '403' });
  });

  it('refuses unsigned and wrongly signed requests with HTTP 401 error_code "2", and signs that answer too', async () => {
    const unsigned = await fetch(`${strict.url}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json', dstcode: 'H52' }, body: JSON.stringify(SANDBOX_ACCOUNT) });
    expect(unsigned.status).toBe(401);
    expect(await unsigned.json()).toMatchObject({ error_code: '2' });
    expect(unsigned.headers.get('signature-input')).toMatch(/^sig1=\("@status" "date" "content-type" "content-digest" "@method";req "@target-uri";req\)/);

    // Signed for one body, sent with another: the digest no longer matches.
    const signed = signRequest(gateway.credentials, { method: 'POST', url: `${server.url}/api/login`, headers: { 'content-type': 'application/json' }, body: JSON.stringify(SANDBOX_ACCOUNT) });
    const swapped = await fetch(`${server.url}/api/login`, { method: 'POST', headers: signed.headers, body: JSON.stringify({ ...SANDBOX_ACCOUNT, username: 'other' }) });
    expect(swapped.status).toBe(401);
    // Signed for the login, sent to the service endpoint.
    const moved = await fetch(`${server.url}/api/service`, { method: 'POST', headers: signed.headers, body: JSON.stringify(SANDBOX_ACCOUNT) });
    expect(moved.status).toBe(401);
  });

  it('answers the message-level faults: unsigned, a spoiled signature, a revoked or an expired certificate', async () => {
    const token = await session();
    const ask = () => post('/api/service', { session: token, madonvi: 'H52', service: 'LayThuTuc', maTTHC: procedures[0]!.code });
    const expected = { unsigned: /not signed/, 'bad-signature': /does not verify/, 'revoked-cert': /revoked/, 'expired-cert': /valid .* to/ } as const;
    for (const [mode, message] of Object.entries(expected)) {
      faults.set({ system: 'dvcqg', mode: mode as keyof typeof expected });
      await expect(ask(), mode).rejects.toThrow(message);
    }
    faults.clear();
    expect((await ask()).json).toMatchObject({ error_code: '0' });
  });
});
