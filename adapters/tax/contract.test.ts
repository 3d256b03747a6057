import { expect } from 'vitest';
import { adapterContract } from '../contract/suite.ts';
import { taxpayers, UNKNOWN } from '../../src/sandbox/personas.ts';
import type { Taxpayer } from './registry.ts';
import { tax } from './index.ts';

const known = taxpayers[0]!;

adapterContract({
  module: tax,
  known: (ops, ctx) => ops.getTaxpayer(ctx, known.taxCode),
  unknown: (ops, ctx) => ops.getTaxpayer(ctx, UNKNOWN.enterpriseCode),
  expectKnown: (answer) => {
    const taxpayer = answer as Taxpayer;
    expect(taxpayer.taxCode).toBe(known.taxCode);
    expect(taxpayer.name).toBe(known.name);
    expect(taxpayer.status).toBe(known.status);
    expect(taxpayer.taxpayerType).toBe(known.taxpayerType);
    expect(taxpayer.taxOffice).toEqual(known.taxOffice);
    expect(taxpayer.registrationDate).toBe(known.registrationDate);
    expect(taxpayer.retrievedAt).toMatch(/\+07:00$/);
  },
});
