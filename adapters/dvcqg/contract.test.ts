import { expect } from 'vitest';
import { adapterContract } from '../contract/suite.ts';
import type { Procedure } from '../../src/core/procedures-port.ts';
import { agencyNames, procedures, UNKNOWN } from '../../src/sandbox/personas.ts';
import { dvcqg } from './index.ts';

const known = procedures[0]!;

adapterContract({
  module: dvcqg,
  known: (ops, ctx) => ops.get(ctx, known.code),
  unknown: (ops, ctx) => ops.get(ctx, UNKNOWN.procedureCode),
  expectKnown: (answer) => {
    const procedure = answer as Procedure;
    expect(procedure.code).toBe(known.code);
    expect(procedure.name).toBe(known.name);
    expect(procedure.field).toEqual(known.field);
    expect(procedure.implementingAgencies).toEqual(known.agencies.map((code) => agencyNames[code]));
    expect(procedure.retrievedAt).toMatch(/\+07:00$/);
  },
});
