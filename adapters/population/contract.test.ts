import { expect } from 'vitest';
import { adapterContract } from '../contract/suite.ts';
import type { CitizenRecord } from '../../src/core/citizens-port.ts';
import { people, UNKNOWN } from '../../src/sandbox/personas.ts';
import { population } from './index.ts';

const known = people.find((p) => p.dateOfDeath === null)!;

adapterContract({
  module: population,
  known: (ops, ctx) => ops.lookup(ctx, known.idNumber),
  unknown: (ops, ctx) => ops.lookup(ctx, UNKNOWN.idNumber),
  expectKnown: (answer) => {
    const citizen = answer as CitizenRecord;
    expect(citizen.idNumber).toBe(known.idNumber);
    expect(citizen.fullName).toBe(known.fullName);
    expect(citizen.dateOfBirth).toBe(known.dateOfBirth);
    expect(citizen.gender).toBe(known.gender);
    expect(citizen.permanentAddress?.communeCode).toBe(known.permanentAddress.communeCode);
    expect(citizen.deceased).toBe(false);
  },
});
