import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashApiKey } from '../../src/config/load.ts';
import { sample } from '../../src/signing/material.ts';
import { enterprises } from '../../src/sandbox/personas.ts';
import { createOpensslCa } from '../helpers/openssl-pki.ts';
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

/**
 * Client certificates chain to their own CA (server.tls.clientRoots), not to the national roots
 * upstream signatures chain to; they must allow client authentication and carry the exact
 * subject and issuer registered for the client. Every certificate here is made for the test,
 * valid from an hour ago.
 */
describe('mutual TLS against a client CA of its own', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lienthong-mtls-'));
  const clientCa = createOpensslCa(join(dir, 'client-ca'), 'Test client CA');
  const otherCa = createOpensslCa(join(dir, 'other-ca'), 'Other client CA');
  const NAME = 'moc-chau-desk-tls';
  const KEY = 'moc-chau-desk-key-0001';
  const good = clientCa.issue('good', NAME, { tls: true });
  // Same subject, but no extendedKeyUsage at all: not issued for client authentication.
  const noClientAuth = clientCa.issue('no-eku', NAME);
  // Same subject and clientAuth, from another CA that is trusted for clients too: not the pinned issuer.
  const otherIssuer = otherCa.issue('other', NAME, { tls: true });
  // Same subject and clientAuth, from the sample national issuing CA: trusted for upstream signatures only.
  const national = issueUnderSampleCa(join(dir, 'national'), `/C=VN/O=Liên thông test/CN=${NAME}`);

  let gw2: TestGateway;
  beforeAll(async () => {
    gw2 = await startTestGateway({
      'server.tls.clientRoots': [clientCa.certificateFile, otherCa.certificateFile],
      'server.tls.clientCrls': [],
      clients: [
        {
          id: 'moc-chau-desk',
          agency: 'H52.101.114',
          roles: ['agency'],
          keyHash: hashApiKey(KEY),
          certificate: {
            subject: { C: 'VN', O: 'Liên thông test', CN: NAME },
            issuer: { C: 'VN', O: 'Liên thông test', CN: 'Test client CA' },
          },
        },
      ],
    });
  });
  afterAll(async () => {
    await gw2?.close();
  });

  async function present(files: { certificateFile: string; keyFile: string } | undefined, headers: Record<string, string> = {}) {
    const dispatcher = new Agent({
      connect: { ca, servername: 'localhost', ...(files ? { cert: readFileSync(files.certificateFile), key: readFileSync(files.keyFile) } : {}) },
    });
    try {
      const res = await request(`${gw2.gateway.tlsUrl}/v1/enterprises/${enterprises[0]!.enterpriseCode}`, { dispatcher, headers });
      return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
    } finally {
      await dispatcher.close();
    }
  }

  it('accepts the registered certificate', async () => {
    const res = await present(good);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.enterpriseCode).toBe(enterprises[0]!.enterpriseCode);
  });

  it('refuses a certificate under the national root, whatever its name', async () => {
    const res = await present(national);
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(String(res.body.detail)).toMatch(/refused: no path .* to a trusted root/);
    // The sample portal certificate, accepted by the sandbox's default client CA, is nobody here.
    expect((await present({ certificateFile: sample('portal-client.pem'), keyFile: sample('portal-client.key.pem') })).status).toBe(401);
  });

  it('refuses a certificate without the clientAuth extended key usage', async () => {
    const res = await present(noClientAuth);
    expect(res.status).toBe(401);
    expect(String(res.body.detail)).toMatch(/does not allow client authentication/);
  });

  it('refuses the right subject from another trusted issuer', async () => {
    const res = await present(otherIssuer);
    expect(res.status).toBe(401);
    expect(String(res.body.detail)).toMatch(/no client is registered for certificate "moc-chau-desk-tls" from this issuer/);
  });

  it('still takes the client’s key over HTTPS', async () => {
    expect((await present(undefined, { authorization: `Bearer ${KEY}` })).status).toBe(200);
  });
});

/** A leaf with clientAuth signed by the sample issuing CA (the national chain of the sandbox), valid from now for a day. */
function issueUnderSampleCa(dir: string, subject: string): { certificateFile: string; keyFile: string } {
  mkdirSync(dir, { recursive: true });
  const keyFile = join(dir, 'leaf.key.pem');
  const certificateFile = join(dir, 'leaf.pem');
  const run = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  run(['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', 'leaf.csr', '-subj', subject, '-utf8']);
  writeFileSync(join(dir, 'ext.cnf'), 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n');
  run([
    'x509', '-req', '-in', 'leaf.csr', '-CA', sample('issuing-ca.pem'), '-CAkey', sample('issuing-ca.key.pem'), '-CAcreateserial', '-CAserial', join(dir, 'serial'),
    '-out', certificateFile, '-extfile', 'ext.cnf', '-days', '1',
  ]);
  return { certificateFile, keyFile };
}
