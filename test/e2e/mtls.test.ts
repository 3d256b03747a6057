import { readFileSync } from 'node:fs';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sample } from '../../src/signing/material.ts';
import { enterprises } from '../../src/sandbox/personas.ts';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway();
});
afterAll(async () => {
  await gw?.close();
});

const ca = readFileSync(sample('root-ca.pem'), 'utf8');
const agent = (client?: string) =>
  new Agent({
    connect: {
      ca,
      servername: 'localhost',
      ...(client ? { cert: readFileSync(sample(`${client}.pem`)), key: readFileSync(sample(`${client}.key.pem`)) } : {}),
    },
  });

async function call(client?: string, headers: Record<string, string> = {}) {
  const dispatcher = agent(client);
  try {
    const res = await request(`${gw.gateway.tlsUrl}/v1/enterprises/${enterprises[0]!.enterpriseCode}`, { dispatcher, headers });
    return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
  } finally {
    await dispatcher.close();
  }
}

describe('mutual TLS', () => {
  it('serves HTTPS with the gateway certificate', () => {
    expect(gw.gateway.tlsUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
  });

  it('authenticates a client by its certificate instead of a key', async () => {
    const res = await call('portal-client');
    expect(res.status).toBe(200);
    expect(res.body.enterpriseCode).toBe(enterprises[0]!.enterpriseCode);
  });

  it('refuses a connection without certificate or key, and certificates it does not know or trust', async () => {
    expect((await call()).status).toBe(401);
    // Trusted chain, but no client is registered under that name.
    const stranger = await call('dvcqg');
    expect(stranger.status).toBe(401);
    expect(String(stranger.body.detail)).toMatch(/no client is registered/);
    // Revoked and expired certificates are refused with the reason.
    const revoked = await call('tax-revoked');
    expect(revoked.status).toBe(401);
    expect(String(revoked.body.detail)).toMatch(/revoked/);
    const expired = await call('tax-expired');
    expect(expired.status).toBe(401);
    expect(String(expired.body.detail)).toMatch(/valid/);
  });

  it('still takes a Bearer key over HTTPS', async () => {
    expect((await call(undefined, { authorization: 'Bearer sandbox-agency-key' })).status).toBe(200);
  });
});
