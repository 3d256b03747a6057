import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseIdNumber } from '../src/core/identifiers/id-number.ts';
import { parseEnterpriseCode } from '../src/core/identifiers/tax-code.ts';
import { createLogger } from '../src/logging.ts';
import { startSandbox, type Sandbox } from '../src/sandbox/sandbox.ts';

let sandbox: Sandbox;
beforeAll(async () => {
  sandbox = await startSandbox({ log: createLogger({ level: 'silent' }) }, { host: '127.0.0.1', port: 0 });
});
afterAll(async () => {
  await sandbox?.close();
});

const post = (body: unknown) =>
  fetch(`${sandbox.controlUrl}/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });

describe('sandbox control server', () => {
  it('lists each simulator with its own URL', async () => {
    const index = (await (await fetch(sandbox.controlUrl)).json()) as { systems: { id: string; url: string; health: string; fault: unknown }[] };
    expect(index.systems.map((s) => s.id)).toEqual(['business-registry', 'population', 'tax', 'social-insurance', 'dvcqg', 'vneid', 'civil-status']);
    expect(new Set(index.systems.map((s) => s.url)).size).toBe(index.systems.length);
    for (const system of index.systems) {
      expect(system.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(system.url).not.toBe(sandbox.controlUrl);
      // A separate, real HTTP server, up.
      expect((await fetch(system.health)).status, system.id).toBe(200);
    }
  });

  it('shows personas that look like Sơn La and whose identifiers are valid', async () => {
    const personas = (await (await fetch(`${sandbox.controlUrl}/personas`)).json()) as {
      people: { idNumber: string; oldIdNumber: string | null; fullName: string; dateOfBirth: string; gender: string; deceased: boolean }[];
      enterprises: { enterpriseCode: string; name: string; status: string }[];
      taxpayers: { taxCode: string; taxpayerType: string }[];
      insured: { insuranceCode: string; idNumber: string }[];
      procedures: { code: string; agencies: string[] }[];
    };
    expect(personas.people.length).toBeGreaterThanOrEqual(200);
    expect(new Set(personas.people.map((p) => p.idNumber)).size).toBe(personas.people.length);
    expect(personas.people.filter((p) => p.idNumber.startsWith('014')).length / personas.people.length).toBeGreaterThan(0.75);
    expect(personas.people.some((p) => p.deceased)).toBe(true);
    expect(personas.people.some((p) => p.oldIdNumber && /^\d{9}$/.test(p.oldIdNumber))).toBe(true);
    expect(new Set(personas.people.map((p) => `${p.gender}:${p.dateOfBirth.slice(0, 2)}`))).toEqual(new Set(['male:19', 'female:19', 'male:20', 'female:20']));
    for (const p of personas.people) {
      expect(parseIdNumber(p.idNumber).ok, p.idNumber).toBe(true);
      // Gender/century digit and year agree with the date of birth (DOMAIN.md).
      const year = Number(p.dateOfBirth.slice(0, 4));
      const digit = Number(p.idNumber[3]);
      expect(Math.floor(digit / 2)).toBe(Math.floor((year - 1900) / 100));
      expect(digit % 2).toBe(p.gender === 'female' ? 1 : 0);
      expect(p.idNumber.slice(4, 6)).toBe(p.dateOfBirth.slice(2, 4));
      expect(p.fullName).toBe(p.fullName.normalize('NFC'));
    }
    expect(personas.people.some((p) => /^(Lò|Cầm|Quàng|Tòng|Vì) /.test(p.fullName))).toBe(true);
    expect(personas.people.some((p) => /^(Giàng|Sùng|Mùa) /.test(p.fullName))).toBe(true);
    expect(new Set(personas.enterprises.map((e) => e.status))).toEqual(new Set(['active', 'suspended', 'dissolving', 'dissolved', 'bankrupt']));
    expect(personas.enterprises.length).toBeGreaterThanOrEqual(50);
    expect(personas.enterprises.some((e) => e.enterpriseCode.endsWith('-001'))).toBe(true);
    for (const e of personas.enterprises) expect(parseEnterpriseCode(e.enterpriseCode).ok, e.enterpriseCode).toBe(true);
    // Every enterprise is a taxpayer too; individuals pay under their personal ID number.
    const taxCodes = new Set(personas.taxpayers.map((t) => t.taxCode));
    for (const e of personas.enterprises) expect(taxCodes.has(e.enterpriseCode)).toBe(true);
    expect(new Set(personas.taxpayers.map((t) => t.taxpayerType))).toEqual(new Set(['organization', 'individual', 'household_business']));
    expect(personas.insured.length).toBeGreaterThanOrEqual(50);
    for (const i of personas.insured) expect(i.insuranceCode).toMatch(/^\d{10}$/);
    expect(personas.procedures.length).toBeGreaterThanOrEqual(30);
    for (const p of personas.procedures) expect(p.code).toMatch(/^1\.\d{6}\.000\.00\.00\.H52$/);
  });

  it('sets, lists and clears faults, and refuses bad ones naming the field', async () => {
    expect((await post({ system: 'business-registry', mode: 'latency', ms: 50 })).status).toBe(200);
    expect(sandbox.faults.get('business-registry')).toEqual({ system: 'business-registry', mode: 'latency', ms: 50 });
    const listed = (await (await fetch(`${sandbox.controlUrl}/faults`)).json()) as { faults: unknown[] };
    expect(listed.faults).toHaveLength(1);

    const badMode = await post({ system: 'business-registry', mode: 'explode' });
    expect(badMode.status).toBe(400);
    expect(badMode.headers.get('content-type')).toContain('application/problem+json');
    expect(((await badMode.json()) as { detail: string }).detail).toMatch(/^mode:/);
    expect(((await (await post({ system: 'registry', mode: 'down' })).json()) as { detail: string }).detail).toMatch(/^system:/);
    expect(((await (await post({ system: 'business-registry', mode: 'error', rate: 2 })).json()) as { detail: string }).detail).toMatch(/^rate:/);
    expect((await post('{not json')).status).toBe(400);

    const cleared = await fetch(`${sandbox.controlUrl}/faults`, { method: 'DELETE' });
    expect(((await cleared.json()) as { faults: unknown[] }).faults).toEqual([]);
    expect((await fetch(`${sandbox.controlUrl}/faults`, { method: 'PUT' })).status).toBe(405);
    expect((await fetch(`${sandbox.controlUrl}/nothing`)).status).toBe(404);
  });

  it('applies a fault to the simulator it names', async () => {
    const registry = sandbox.urls['business-registry']!;
    await post({ system: 'business-registry', mode: 'error' });
    expect((await fetch(`${registry}/api/v1/trang-thai`)).status).toBe(500);
    await fetch(`${sandbox.controlUrl}/faults?system=business-registry`, { method: 'DELETE' });
    expect((await fetch(`${registry}/api/v1/trang-thai`)).status).toBe(200);
  });
});
