import { expect } from 'vitest';
import { adapterContract } from '../contract/suite.ts';
import { parseEnterpriseCode, type EnterpriseCode } from '../../src/core/identifiers/tax-code.ts';
import { enterprises, personasSummary } from '../../src/sandbox/personas.ts';
import type { Enterprise } from '../../src/core/enterprises.ts';
import { businessRegistry } from './index.ts';

const code = (raw: string): EnterpriseCode => {
  const parsed = parseEnterpriseCode(raw);
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.value;
};
const known = enterprises[0]!;

adapterContract({
  module: businessRegistry,
  known: (ops, ctx) => ops.getEnterprise(ctx, code(known.enterpriseCode)),
  unknown: (ops, ctx) => ops.getEnterprise(ctx, code(personasSummary().unknown.enterpriseCode)),
  expectKnown: (answer) => {
    const enterprise = answer as Enterprise;
    expect(enterprise.enterpriseCode).toBe(known.enterpriseCode);
    expect(enterprise.name).toBe(known.name);
    expect(enterprise.status).toBe(known.status);
    expect(enterprise.retrievedAt).toMatch(/\+07:00$/);
  },
});
