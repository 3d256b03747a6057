import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { adapterModules, SYSTEM_IDS } from '../../adapters/index.ts';
import { sample } from '../signing/material.ts';
import { SAMPLE_FINGERPRINTS } from '../signing/sample-pki.ts';
import { ATTACKS_BY_SYSTEM, faultSchema } from './faults.ts';
import { portOffsetProblems } from './sandbox.ts';

describe('the sandbox, as the registry of national systems describes it', () => {
  it("gives every simulator a port of its own, the first six systems' as documented", () => {
    expect(portOffsetProblems(adapterModules)).toEqual([]);
    const offsets = Object.fromEntries(adapterModules.map((m) => [m.id, m.sandbox.port]));
    expect(offsets).toMatchObject({ 'business-registry': 1, population: 2, tax: 3, 'social-insurance': 4, dvcqg: 5, vneid: 6 });
    expect(portOffsetProblems([...adapterModules, { id: 'land', sandbox: { port: 7 } }])).toEqual(['land: sandbox port offset 7 is already taken by the sandbox TSA']);
    expect(portOffsetProblems([...adapterModules, { id: 'land', sandbox: { port: 8 } }])).toEqual(['land: sandbox port offset 8 is already taken by the sandbox witness']);
    expect(portOffsetProblems([...adapterModules, { id: 'land', sandbox: { port: 2 } }])).toEqual(['land: sandbox port offset 2 is already taken by population']);
    expect(portOffsetProblems([...adapterModules, { id: 'land', sandbox: { port: 9 } }])).toEqual(['land: sandbox port offset 9 is already taken by the default port of `lienthong audit witness`']);
  });

  it("takes each system's attacks from its module, and refuses the others", () => {
    expect(Object.keys(ATTACKS_BY_SYSTEM).sort()).toEqual([...SYSTEM_IDS].sort());
    for (const module of adapterModules) expect(ATTACKS_BY_SYSTEM[module.id]).toEqual(module.sandbox.attacks);
    expect(faultSchema.safeParse({ system: 'civil-status', mode: 'attack', variant: 'unknown-key' }).success).toBe(true);
    expect(faultSchema.safeParse({ system: 'civil-status', mode: 'attack', variant: 'xxe' }).success).toBe(false);
    expect(faultSchema.safeParse({ system: 'land', mode: 'down' }).success).toBe(false);
  });

  it('holds sample certificates, and their fingerprints, for every system that declares an algorithm', () => {
    for (const module of adapterModules.filter((m) => m.sandbox.certificate)) {
      for (const suffix of ['', '-revoked', '-expired', '-impostor']) {
        expect(existsSync(sample(`${module.id}${suffix}.pem`)), `${module.id}${suffix}.pem`).toBe(true);
        expect(SAMPLE_FINGERPRINTS[`${module.id}${suffix}.pem`], `${module.id}${suffix}.pem`).toBeDefined();
      }
    }
  });
});
