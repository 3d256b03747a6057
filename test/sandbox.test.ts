import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
    const index = (await (await fetch(sandbox.controlUrl)).json()) as { systems: { id: string; url: string; fault: unknown }[] };
    expect(index.systems.map((s) => s.id)).toContain('business-registry');
    for (const system of index.systems) {
      expect(system.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(system.url).not.toBe(sandbox.controlUrl);
      // A separate, real HTTP server.
      expect((await fetch(`${system.url}/api/v1/trang-thai`)).status).toBe(200);
    }
  });

  it('shows personas that look like Sơn La and whose identifiers are valid', async () => {
    const personas = (await (await fetch(`${sandbox.controlUrl}/personas`)).json()) as {
      people: { idNumber: string; fullName: string; dateOfBirth: string; gender: string }[];
      enterprises: { enterpriseCode: string; name: string; status: string }[];
    };
    expect(personas.people.length).toBeGreaterThanOrEqual(10);
    for (const p of personas.people) {
      expect(p.idNumber).toMatch(/^014\d{9}$/);
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
    for (const e of personas.enterprises) expect(parseEnterpriseCode(e.enterpriseCode).ok, e.enterpriseCode).toBe(true);
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
