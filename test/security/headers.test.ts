import { readFileSync } from 'node:fs';
import { connect } from 'node:tls';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/load.ts';
import { loadContract } from '../../src/http/contract.ts';
import { enterprises } from '../../src/sandbox/personas.ts';
import { sample } from '../../src/signing/material.ts';
import { KEYS, startTestGateway, type TestGateway } from '../helpers/gateway.ts';

/** CORS from config, and the security headers every answer carries (HSTS over HTTPS). */

const PORTAL = 'https://dichvucong.sonla.gov.vn';
const STRANGER = 'https://evil.example';
const path = `/v1/enterprises/${enterprises[0]!.enterpriseCode}`;

let gw: TestGateway;
let plain: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway({ 'server.cors': { origins: [PORTAL], credentials: true } });
  plain = await startTestGateway();
});
afterAll(async () => {
  await gw?.close();
  await plain?.close();
});

const preflight = (target: TestGateway, origin: string) =>
  fetch(target.url + path, {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization, x-user-id, x-purpose' },
  });

describe('CORS', () => {
  it('answers a preflight from a configured origin, with credentials and the headers callers send', async () => {
    const res = await preflight(gw, PORTAL);
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(PORTAL);
    expect(res.headers.get('access-control-allow-credentials')).toBe('true');
    expect(res.headers.get('access-control-allow-headers')?.split(',')).toEqual(expect.arrayContaining(['authorization', 'x-user-id', 'x-purpose']));
    // Every method the API has (PATCH for a dossier's correction included) may be sent from the portal's pages.
    const methods = new Set(loadContract().operations.map((o) => o.method.toUpperCase()));
    expect(res.headers.get('access-control-allow-methods')?.split(',')).toEqual(expect.arrayContaining([...methods]));
    expect(res.headers.get('vary')).toMatch(/origin/i);
  });

  it('gives an origin not listed no CORS header, so the browser refuses', async () => {
    const res = await preflight(gw, STRANGER);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
    const call = await gw.fetch(path, { headers: { origin: STRANGER } });
    expect(call.status).toBe(200);
    expect(call.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('lets a configured origin read the answer and its correlation headers', async () => {
    const res = await gw.fetch(path, { headers: { origin: PORTAL } });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(PORTAL);
    expect(res.headers.get('access-control-expose-headers')).toContain('x-request-id');
  });

  it('is off unless configured: a preflight is just a method the API does not have', async () => {
    const res = await preflight(plain, PORTAL);
    expect(res.status).toBe(405);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('refuses a wildcard origin with credentials, and an origin with a path, at config validation', () => {
    const load = (cors: unknown) => () => loadConfig({}, { file: 'config/sandbox.yaml', overrides: { 'server.cors': cors } });
    expect(load({ origins: ['*'], credentials: true })).toThrow(ConfigError);
    expect(load({ origins: ['*'], credentials: true })).toThrow(/server\.cors\.origins: a wildcard origin cannot be combined with credentials/);
    expect(load({ origins: [`${PORTAL}/path`] })).toThrow(/server\.cors\.origins/);
    expect(load({ origins: ['*'] })().server.cors).toMatchObject({ origins: ['*'], credentials: false });
    expect(load({ origins: [PORTAL], credentials: true })().server.cors.credentials).toBe(true);
  });
});

describe('security headers', () => {
  it('come with every answer, problems included', async () => {
    for (const res of [await gw.fetch(path), await gw.fetch('/v1/enterprises/1', { key: null })]) {
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('x-frame-options')).toBe('SAMEORIGIN');
      expect(res.headers.get('content-security-policy')).toContain("default-src 'self'");
      expect(res.headers.get('referrer-policy')).toBe('no-referrer');
      expect(res.headers.get('x-powered-by')).toBeNull();
    }
  });

  it('keep answers about a person out of every cache, refusals included, and leave the catalogue cacheable', async () => {
    const about = { 'x-user-id': 'officer-17', 'x-purpose': 'XAC_MINH_DANH_TINH' };
    const person = await gw.fetch('/v1/citizens/verify', { method: 'POST', headers: { 'content-type': 'application/json', ...about }, body: JSON.stringify({ idNumber: '014089001234', fullName: 'X', dateOfBirth: '1989-01-01' }) });
    expect(person.headers.get('cache-control')).toBe('no-store');
    const documents = await gw.fetch('/v1/documents?subject=01408900123', { headers: about });
    expect(documents.status).toBe(400);
    expect(documents.headers.get('cache-control')).toBe('no-store');
    expect((await gw.fetch('/v1/procedures?pageSize=1')).headers.get('cache-control')).toBeNull();
  });

  it('include HSTS for a year on HTTPS', async () => {
    const dispatcher = new Agent({ connect: { ca: readFileSync(sample('root-ca.pem'), 'utf8'), servername: 'localhost' } });
    try {
      const res = await request(`${gw.gateway.tlsUrl}${path}`, { dispatcher, headers: { authorization: `Bearer ${KEYS.portal}` } });
      await res.body.text();
      expect(res.statusCode).toBe(200);
      const hsts = String(res.headers['strict-transport-security']);
      expect(Number(/max-age=(\d+)/.exec(hsts)?.[1])).toBeGreaterThanOrEqual(31_536_000);
      expect(hsts).toContain('includeSubDomains');
    } finally {
      await dispatcher.close();
    }
  });
});

describe('the HTTPS listener', () => {
  /** The cipher a TLS 1.2 handshake settles on, or the error it fails with. */
  function handshake(ciphers: string): Promise<string> {
    const { hostname, port } = new URL(gw.gateway.tlsUrl!);
    return new Promise((resolve) => {
      const socket = connect({ host: hostname, port: Number(port), servername: 'localhost', ca: readFileSync(sample('root-ca.pem'), 'utf8'), maxVersion: 'TLSv1.2', ciphers }, () => {
        const name = socket.getCipher().name;
        socket.end();
        resolve(name);
      });
      socket.on('error', (err) => resolve(`refused: ${err.message}`));
    });
  }

  it('takes forward-secret AEAD suites under TLS 1.2, and refuses static RSA and CBC with SHA-1', async () => {
    expect(await handshake('ECDHE-RSA-AES128-GCM-SHA256')).toBe('ECDHE-RSA-AES128-GCM-SHA256');
    expect(await handshake('AES256-GCM-SHA384')).toMatch(/^refused/);
    expect(await handshake('ECDHE-RSA-AES128-SHA')).toMatch(/^refused/);
  });
});
