import { expect } from 'vitest';
import { adapterContract } from '../contract/suite.ts';
import { people, personasSummary } from '../../src/sandbox/personas.ts';
import { civilStatus } from './index.ts';
import type { BirthRegistration } from './registry.ts';

const known = people[0]!;

adapterContract({
  module: civilStatus,
  known: (ops, ctx) => ops.getBirth(ctx, known.idNumber),
  unknown: (ops, ctx) => ops.getBirth(ctx, personasSummary().unknown.idNumber),
  expectKnown: (answer) => {
    const birth = answer as BirthRegistration;
    expect(birth.idNumber).toBe(known.idNumber);
    expect(birth.fullName).toBe(known.fullName);
    expect(birth.dateOfBirth).toBe(known.dateOfBirth);
    expect(birth.retrievedAt).toMatch(/\+07:00$/);
  },
});
