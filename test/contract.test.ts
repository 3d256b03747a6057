import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, problemType } from '../src/errors/codes.ts';
import { loadContract } from '../src/http/contract.ts';
import { ROLES } from '../src/config/schema.ts';
import type { components } from '../src/generated/gateway.ts';
import type { Enterprise } from '../src/core/enterprises.ts';

const document = parse(readFileSync('openapi/gateway.yaml', 'utf8')) as {
  components: { schemas: { ErrorCode: { enum: string[]; 'x-error-catalogue': Record<string, { status: number; title: string; type: string }> } } };
};

// Compile-time: what the core returns is what the contract promises.
type ApiEnterprise = components['schemas']['Enterprise'];
const toApi = (e: Enterprise): ApiEnterprise => e;
void toApi;

describe('the error catalogue and the contract', () => {
  const schema = document.components.schemas.ErrorCode;

  it('list exactly the same codes', () => {
    expect([...schema.enum].sort()).toEqual(Object.keys(ERROR_CODES).sort());
  });

  it('agree on each code’s status, title and type', () => {
    for (const [code, spec] of Object.entries(ERROR_CODES)) {
      const documented = schema['x-error-catalogue'][code];
      expect(documented, code).toBeDefined();
      expect(documented).toMatchObject({ status: spec.status, title: spec.title, type: problemType(code as keyof typeof ERROR_CODES) });
    }
  });
});

describe('the contract', () => {
  const contract = loadContract();

  it('says in words what every pattern stands for, as a refusal tells the caller', () => {
    const undescribed: string[] = [];
    const visit = (value: unknown, at: string): void => {
      if (Array.isArray(value)) return value.forEach((item, i) => visit(item, `${at}/${i}`));
      if (value === null || typeof value !== 'object') return;
      const schema = value as Record<string, unknown>;
      if (typeof schema.pattern === 'string' && typeof schema['x-pattern-description'] !== 'string') undescribed.push(at);
      for (const [key, item] of Object.entries(schema)) visit(item, `${at}/${key}`);
    };
    visit(document, '#');
    expect(undescribed).toEqual([]);
  });

  it('gives every operation an id, and every protected one roles the gateway knows', () => {
    expect(contract.operations.length).toBeGreaterThanOrEqual(30);
    for (const op of contract.operations) {
      if (!op.authenticated) continue;
      expect(op.roles.length, op.operationId).toBeGreaterThan(0);
      for (const role of op.roles) expect(ROLES).toContain(role);
    }
  });

  it('keeps the audit log to auditors, the reports to operators, the console to both, and lets the portal call everything else', () => {
    for (const op of contract.operations.filter((o) => o.authenticated)) {
      if (op.path.startsWith('/v1/audit/')) expect(op.roles, op.operationId).toEqual(['auditor']);
      else if (op.path.startsWith('/v1/reports/')) expect(op.roles, op.operationId).toEqual(['operator']);
      else if (op.path.startsWith('/v1/console/')) expect(op.roles, op.operationId).toEqual(['auditor', 'operator']);
      else expect(op.roles, op.operationId).toContain('portal');
    }
  });

  it('matches paths, literal segments before templates, and lists allowed methods', () => {
    expect(contract.match('GET', '/v1/enterprises/5500123457')).toMatchObject({ operation: { operationId: 'getEnterprise' } });
    expect(contract.match('GET', '/v1/accounts/sso/start')).toMatchObject({ operation: { operationId: 'startSso' } });
    expect(contract.match('DELETE', '/v1/accounts/links/0b5e')).toMatchObject({ operation: { operationId: 'deleteAccountLink' } });
    expect(contract.match('PUT', '/v1/accounts/links')).toEqual({ allowed: expect.arrayContaining(['POST', 'GET']) });
    expect(contract.match('HEAD', '/healthz')).toMatchObject({ operation: { operationId: 'healthz' } });
    expect(contract.match('GET', '/v1/enterprises')).toBeUndefined();
    expect(contract.match('GET', '/v1/enterprises/a/b')).toBeUndefined();
  });
});
