import { expect } from 'vitest';
import { adapterContract } from '../contract/suite.ts';
import { insured, UNKNOWN } from '../../src/sandbox/personas.ts';
import type { SocialInsuranceRecord } from './registry.ts';
import { socialInsurance } from './index.ts';

const known = insured[0]!;

adapterContract({
  module: socialInsurance,
  known: (ops, ctx) => ops.lookup(ctx, { insuranceCode: known.insuranceCode }),
  unknown: (ops, ctx) => ops.lookup(ctx, { insuranceCode: UNKNOWN.insuranceCode }),
  expectKnown: (answer) => {
    const record = answer as SocialInsuranceRecord;
    expect(record.insuranceCode).toBe(known.insuranceCode);
    expect(record.idNumber).toBe(known.idNumber);
    expect(record.fullName).toBe(known.fullName);
    expect(record.participationStatus).toBe(known.participationStatus);
    expect(record.employer).toEqual(known.employer);
    const card = record.healthInsuranceCard;
    expect(card && { number: card.number, validFrom: card.validFrom, validTo: card.validTo }).toEqual(known.healthInsuranceCard);
    expect(record.retrievedAt).toMatch(/\+07:00$/);
  },
});
