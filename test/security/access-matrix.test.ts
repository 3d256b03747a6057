import { readFileSync } from 'node:fs';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashApiKey } from '../../src/config/load.ts';
import { ROLES, type Role } from '../../src/config/schema.ts';
import { CITIZEN_FIELDS } from '../../src/core/citizens.ts';
import { sample } from '../../src/signing/material.ts';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { KEY_OF, consoleSession, contract, contractRequest, sessionOnly } from './requests.ts';

/**
 * Who may call what, from the contract's x-roles: every operation against every role, no key, a
 * wrong key and a disabled (revoked) client. Keys never come back in an answer or a log line.
 */

const REVOKED_KEY = 'revoked-portal-key-0001';
const WRONG_KEY = 'wrong-key-0123456789';
const SAMPLE_ORG = 'Liên thông sandbox (NOT FOR PRODUCTION)';
const SAMPLE_PORTAL_CERTIFICATE = { subject: { C: 'VN', O: SAMPLE_ORG, CN: 'sandbox-portal' }, issuer: { C: 'VN', O: SAMPLE_ORG, CN: 'Liên thông Sample Issuing CA' } };
const AGENCY: Record<Role, string> = { portal: 'H52', agency: 'H52.101.114', auditor: 'H52.04', operator: 'H52.18' };

let gw: TestGateway;
const bodies: string[] = [];
beforeAll(async () => {
  gw = await startTestGateway({
    clients: [
      ...ROLES.map((role) => ({
        id: `sandbox-${role}`,
        agency: AGENCY[role],
        roles: [role],
        keyHash: hashApiKey(KEY_OF[role]),
        // The purpose contractRequest sends: the matrix is about roles, not purposes.
        purposes: ['XAC_MINH_DANH_TINH', '*'],
        // And every citizen field, so that a generated lookup asking for any field is not refused by the field policy.
        citizenFields: { '*': [...CITIZEN_FIELDS] },
        ...(role === 'portal' ? { certificate: SAMPLE_PORTAL_CERTIFICATE } : {}),
      })),
      { id: 'revoked-portal', agency: 'H52', roles: ['portal'], keyHash: hashApiKey(REVOKED_KEY), disabled: true },
    ],
    // The matrix sends many refused keys from one address; brute-force throttling has its own test (test/rate-limit.test.ts).
    'rateLimit.authFailures': { points: 1_000_000, durationSeconds: 60 },
    'rateLimit.default': { points: 1_000_000, durationSeconds: 1 },
  });
});
afterAll(async () => {
  await gw?.close();
});

async function call(operationId: string, authorization: string | undefined): Promise<{ status: number; code?: string }> {
  const operation = contract.byId.get(operationId)!;
  const request = contractRequest(operation, authorization);
  const res = await fetch(gw.url + request.url, { method: request.method, headers: request.headers, ...(request.body ? { body: request.body } : {}), redirect: 'manual' });
  const text = await res.text();
  bodies.push(text);
  let code: string | undefined;
  try {
    code = (JSON.parse(text) as { code?: string }).code;
  } catch {
    code = undefined;
  }
  return { status: res.status, code };
}

/** A call made with a console session of this role's client (signed in with its key), not with the key itself. */
async function sessionCall(operationId: string, role: Role): Promise<{ status: number; code?: string }> {
  const request = contractRequest(contract.byId.get(operationId)!, undefined);
  const headers = { ...request.headers, ...(await consoleSession(gw.url, KEY_OF[role])) };
  const res = await fetch(gw.url + request.url, { method: request.method, headers, ...(request.body ? { body: request.body } : {}), redirect: 'manual' });
  const text = await res.text();
  bodies.push(text);
  return { status: res.status, code: text ? (JSON.parse(text) as { code?: string }).code : undefined };
}

const authenticated = contract.operations.filter((o) => o.authenticated);
const matrix = authenticated.flatMap((o) => ROLES.map((role) => [o.operationId, role, o.roles.includes(role)] as const));

describe.each(matrix)('%s called by a %s client', (operationId, role, allowed) => {
  it(allowed ? 'is let through (x-roles lists the role)' : 'is refused with 403 (x-roles does not list the role)', async () => {
    const { status, code } = allowed && sessionOnly(contract.byId.get(operationId)!) ? await sessionCall(operationId, role) : await call(operationId, `Bearer ${KEY_OF[role]}`);
    if (allowed) {
      expect(status, code).not.toBe(401);
      expect(code, `${status}`).not.toBe('FORBIDDEN');
      // Every operation of the contract is built: none may fall through to the 501 safety net.
      expect(code, `${status}`).not.toBe('NOT_IMPLEMENTED');
    } else {
      expect(status).toBe(403);
      expect(code).toBe('FORBIDDEN');
    }
  });
});

describe.each(authenticated.map((o) => [o.operationId] as const))('%s without valid credentials', (operationId) => {
  it('is refused with 401 for no key, a wrong key, a malformed header and a revoked client', async () => {
    for (const authorization of [undefined, `Bearer ${WRONG_KEY}`, `Basic ${Buffer.from('sandbox:portal').toString('base64')}`, `Bearer ${REVOKED_KEY}`]) {
      const { status, code } = await call(operationId, authorization);
      expect(status, String(authorization)).toBe(401);
      expect(code).toBe('UNAUTHENTICATED');
    }
  });
});

describe('a client certificate instead of a key (mutual TLS)', () => {
  it('gives the portal certificate exactly the portal role’s operations', async () => {
    const dispatcher = new Agent({
      connect: { ca: readFileSync(sample('root-ca.pem'), 'utf8'), servername: 'localhost', cert: readFileSync(sample('portal-client.pem')), key: readFileSync(sample('portal-client.key.pem')) },
    });
    try {
      for (const operation of authenticated) {
        const r = contractRequest(operation, undefined);
        const res = await request(`${gw.gateway.tlsUrl}${r.url}`, { method: r.method as 'GET', headers: r.headers, ...(r.body !== undefined ? { body: r.body } : {}), dispatcher });
        const text = await res.body.text();
        bodies.push(text);
        if (operation.roles.includes('portal')) expect([401, 403], `${operation.operationId}: ${text.slice(0, 200)}`).not.toContain(res.statusCode);
        else expect(res.statusCode, operation.operationId).toBe(403);
      }
    } finally {
      await dispatcher.close();
    }
  });
});

describe('the public operational endpoints', () => {
  it.each(contract.operations.filter((o) => !o.authenticated).map((o) => [o.operationId] as const))('%s needs no key', async (operationId) => {
    const { status, code } = await call(operationId, undefined);
    expect(status, code).not.toBe(401);
    expect(status, code).not.toBe(403);
  });
});

describe('separation of duties', () => {
  // Signing out of one's own console session changes nothing but the session.
  const writes = contract.operations.filter((o) => o.authenticated && o.method !== 'get' && o.operationId !== 'deleteConsoleSession');
  it('no write operation lets an auditor in', () => {
    expect(writes.length).toBeGreaterThan(0);
    for (const o of writes) expect(o.roles, o.operationId).not.toContain('auditor');
  });
  it('no audit-log operation lets a portal (or agency) client in', () => {
    const audit = contract.operations.filter((o) => o.path.startsWith('/v1/audit/'));
    expect(audit.length).toBeGreaterThanOrEqual(5);
    for (const o of audit) expect(o.roles, o.operationId).toEqual(['auditor']);
  });
});

describe('API keys', () => {
  it('never appear in an answer or a log line', () => {
    expect(bodies.length).toBeGreaterThan(matrix.length);
    const secrets = [...Object.values(KEY_OF), WRONG_KEY, REVOKED_KEY];
    for (const secret of secrets) {
      expect(bodies.filter((b) => b.includes(secret))).toEqual([]);
      expect(gw.logs.filter((l) => l.includes(secret))).toEqual([]);
    }
    expect(gw.logs.filter((l) => /bearer /i.test(l))).toEqual([]);
  });
});
