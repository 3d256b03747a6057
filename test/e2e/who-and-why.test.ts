import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPrivateKey } from 'node:crypto';
import { unsealOfficer } from '../../src/audit/officers.ts';
import { hashApiKey } from '../../src/config/load.ts';
import { people, procedures } from '../../src/sandbox/personas.ts';
import { sample } from '../../src/signing/material.ts';
import { run } from '../helpers/cli.ts';
import { eventually, sampleDossier } from '../helpers/dossiers.ts';
import { clearFaults, metric, setFault, startTestGateway, type TestGateway } from '../helpers/gateway.ts';

/**
 * Who asked and why, as an inspectorate checks it: X-Purpose must be a purpose of the client's
 * kind or a procedure of the national catalogue, a case reference goes with the exchange, and the
 * officer an entry names by hash is resolved only by the inspectorate's key, through a logged
 * operation.
 */

/** Asynchronous: the gateway answering the command runs in this process. */
const exec = promisify(execFile);

const KEY = { desk: 'who-why-desk-key-0001', inspector: 'who-why-inspector-key-0001' } as const;
const INSPECTOR = { 'x-user-id': 'thanhtra-0007', 'x-purpose': 'THANH_TRA_KIEM_TRA' };
const person = people.filter((p) => !p.dateOfDeath)[7]!;
const [known, second, uncached] = procedures;

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway({
    clients: [
      // Registered, by mistake, for the audit purpose too: the role rule still refuses it.
      { id: 'who-why-desk', agency: 'H52.101.114', roles: ['agency'], keyHash: hashApiKey(KEY.desk), purposes: ['XAC_MINH_DANH_TINH', 'THANH_TRA_KIEM_TRA', '*'] },
      // And an auditor registered for an everyday purpose.
      { id: 'who-why-inspector', agency: 'H52.04', roles: ['auditor'], keyHash: hashApiKey(KEY.inspector), purposes: ['THANH_TRA_KIEM_TRA', 'XAC_MINH_DANH_TINH'] },
    ],
  });
});
afterAll(async () => {
  await clearFaults(gw.controlUrl).catch(() => undefined);
  await gw?.close();
});

const verify = (purpose: string, headers: Record<string, string> = {}, userId = 'canbo-0042') =>
  gw.fetch('/v1/citizens/verify', {
    method: 'POST',
    key: KEY.desk,
    headers: { 'content-type': 'application/json', 'x-user-id': userId, 'x-purpose': purpose, ...headers },
    body: JSON.stringify({ idNumber: person.idNumber, fullName: person.fullName, dateOfBirth: person.dateOfBirth }),
  });

async function problem(res: Response) {
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  return (await res.json()) as { code: string; detail?: string; errors?: { field: string; message: string }[] };
}

const catalogueCalls = () => metric(gw.url, 'lienthong_upstream_calls_total', { upstream: 'dvcqg' });

interface Entry {
  id: string;
  operation: string;
  purpose: string | null;
  userHash: string;
  caseId?: string | null;
  resultCount?: number | null;
  criteria?: Record<string, string> | null;
  outcome: string;
}

/** The entries of the log, read as the inspector, once `found` is among them. */
async function entryWhere(found: (e: Entry) => boolean, what: string): Promise<Entry> {
  return eventually(
    async () => {
      const res = await gw.fetch('/v1/audit/entries?limit=1000', { key: KEY.inspector });
      expect(res.status).toBe(200);
      return ((await res.json()) as { items: Entry[] }).items.find(found);
    },
    15_000,
    what,
  );
}

describe('X-Purpose: a procedure code must exist in the national catalogue', () => {
  it('lets a catalogued procedure through, and answers the next call from the cached catalogue', async () => {
    expect((await verify(known!.code)).status).toBe(200);
    const before = await catalogueCalls();
    expect((await verify(known!.code)).status).toBe(200);
    expect(await catalogueCalls()).toBe(before);
  });

  it('refuses a well-formed code no procedure has, with 403 naming the header, before any national system', async () => {
    const res = await verify('1.000001.000.00.00.H52');
    expect(res.status).toBe(403);
    expect(res.headers.get('x-exchange-id')).toBeNull();
    const body = await problem(res);
    expect(body).toMatchObject({ code: 'PURPOSE_NOT_ALLOWED', errors: [{ field: 'header.x-purpose' }] });
    expect(body.detail).toContain('no procedure 1.000001.000.00.00.H52 in the national catalogue');
  });

  it('answers 503 rather than let an unchecked procedure through when the catalogue is down and holds no copy', async () => {
    expect((await verify(second!.code)).status).toBe(200);
    await setFault(gw.controlUrl, { system: 'dvcqg', mode: 'down' });
    try {
      const res = await verify(uncached!.code);
      expect(res.status).toBe(503);
      const body = await problem(res);
      expect(body).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', errors: [{ field: 'header.x-purpose' }] });
      expect(body.detail).toContain('national procedure catalogue cannot be reached');
      // A procedure already checked is still known while the portal is down.
      expect((await verify(second!.code)).status).toBe(200);
    } finally {
      await clearFaults(gw.controlUrl);
    }
  });
});

describe('X-Purpose: audit purposes are for auditors, and auditors claim nothing else', () => {
  it('refuses an audit purpose to a client without the auditor role, even one registered for it', async () => {
    const res = await verify('THANH_TRA_KIEM_TRA');
    expect(res.status).toBe(403);
    const body = await problem(res);
    expect(body).toMatchObject({ code: 'PURPOSE_NOT_ALLOWED', errors: [{ field: 'header.x-purpose', message: 'is an audit purpose, for auditors only' }] });
  });

  it('refuses an everyday purpose to an auditor searching by subject, and lets the audit purpose through', async () => {
    const search = (purpose: string) =>
      gw.fetch(`/v1/audit/entries?subject=${person.idNumber}`, { key: KEY.inspector, headers: { 'x-user-id': 'thanhtra-0007', 'x-purpose': purpose } });
    const refused = await search('XAC_MINH_DANH_TINH');
    expect(refused.status).toBe(403);
    expect(await problem(refused)).toMatchObject({ code: 'PURPOSE_NOT_ALLOWED', errors: [{ field: 'header.x-purpose', message: 'must be an audit purpose for a client with the auditor role' }] });
    expect((await search('THANH_TRA_KIEM_TRA')).status).toBe(200);
  });
});

describe('X-Case-Id', () => {
  it('refuses a malformed case reference with 400 naming the header', async () => {
    for (const bad of ['H52 0001', '<script>', 'x'.repeat(65), 'case#1', 'a\\b']) {
      const res = await verify(known!.code, { 'x-case-id': bad });
      expect(res.status, bad).toBe(400);
      expect(await problem(res)).toMatchObject({ code: 'VALIDATION_FAILED', errors: [{ field: 'header.x-case-id' }] });
    }
  });

  it('records the case reference in the exchange-log entry', async () => {
    const res = await verify(known!.code, { 'x-case-id': 'H52.101.114-261127-0001' });
    expect(res.status).toBe(200);
    const exchangeId = res.headers.get('x-exchange-id')!;
    const entry = await entryWhere((e) => e.id === exchangeId, 'the verification in the log');
    expect(entry).toMatchObject({ purpose: known!.code, caseId: 'H52.101.114-261127-0001' });
  });
});

describe('the officer behind a userHash, for the inspectorate only', () => {
  let userHash: string;
  beforeAll(async () => {
    const res = await verify(known!.code, {}, 'canbo-0042');
    expect(res.status).toBe(200);
    const exchangeId = res.headers.get('x-exchange-id')!;
    userHash = (await entryWhere((e) => e.id === exchangeId, 'the verification in the log')).userHash;
  });

  it('keeps one sealed row per officer, however often the officer acts', async () => {
    for (let i = 0; i < 3; i++) expect((await verify(known!.code, {}, 'canbo-0042')).status).toBe(200);
    const db = new BetterSqlite3(gw.dbPath, { readonly: true });
    try {
      const rows = db.prepare('select user_hash, agency, sealed from officer_registry where user_hash = ?').all(userHash) as { agency: string; sealed: string }[];
      expect(rows).toHaveLength(1);
      expect(rows[0]!.agency).toBe('H52.101.114');
      expect(Buffer.from(rows[0]!.sealed, 'base64').includes(Buffer.from('canbo-0042'))).toBe(false);
    } finally {
      db.close();
    }
  });

  it('seals an officer who hands over a dossier, whose delivery the log records later', async () => {
    const res = await gw.fetch('/v1/dossiers', {
      method: 'POST',
      key: KEY.desk,
      headers: { 'content-type': 'application/json', 'x-user-id': 'canbo-hoso-0001', 'x-purpose': known!.code },
      body: JSON.stringify(sampleDossier(4401)),
    });
    expect(res.status).toBe(202);
    const inspectorate = createPrivateKey(readFileSync(sample('inspectorate.key.pem')));
    const db = new BetterSqlite3(gw.dbPath, { readonly: true });
    try {
      const sealed = (db.prepare('select sealed from officer_registry').all() as { sealed: string }[]).map((r) => unsealOfficer(inspectorate, Buffer.from(r.sealed, 'base64')));
      expect(sealed).toContain('canbo-hoso-0001');
    } finally {
      db.close();
    }
  });

  it('answers the sealed identifier to an auditor, which the inspectorate key opens with openssl as the README shows', async () => {
    const res = await gw.fetch(`/v1/audit/officers/${userHash}`, { key: KEY.inspector, headers: INSPECTOR });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { userHash: string; agency: string; sealed: string; algorithm: string; firstSeen: string };
    expect(body).toMatchObject({ userHash, agency: 'H52.101.114', algorithm: 'RSA-OAEP-SHA256' });
    expect(Date.now() - Date.parse(body.firstSeen)).toBeLessThan(10 * 60_000);

    // The README's commands, verbatim, in a folder holding the inspectorate's key.
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const script = /```sh\n((?:(?!```)[\s\S])*openssl pkeyutl -decrypt(?:(?!```)[\s\S])*)```/.exec(readme)?.[1];
    expect(script, 'the README shows how to decrypt with openssl').toBeDefined();
    const dir = mkdtempSync(join(tmpdir(), 'lienthong-resolve-'));
    copyFileSync(sample('inspectorate.key.pem'), join(dir, 'inspectorate.key.pem'));
    writeFileSync(join(dir, 'resolve.sh'), `set -euo pipefail\n${script!}`);
    const { stdout } = await exec('bash', ['resolve.sh'], { cwd: dir, env: { PATH: process.env.PATH ?? '', GW: gw.url, LIENTHONG_API_KEY: KEY.inspector, USERHASH: userHash }, timeout: 20_000 });
    expect(stdout.trim()).toBe('canbo-0042');
  });

  it('resolves through `lienthong audit resolve`, and the resolution is itself an entry of the log', async () => {
    const result = await run([
      'audit', 'resolve', userHash, '--url', gw.url, '--key', KEY.inspector, '--user', 'thanhtra-0007', '--purpose', 'THANH_TRA_KIEM_TRA', '--case-id', 'TTr-2026-015',
      '--inspector-key', sample('inspectorate.key.pem'),
    ]);
    expect(result.stderr).toBe('');
    expect(result).toMatchObject({ code: 0, stdout: 'canbo-0042\n' });
    const entry = await entryWhere((e) => e.operation === 'getAuditOfficer' && e.caseId === 'TTr-2026-015', 'the resolution in the log');
    expect(entry).toMatchObject({ purpose: 'THANH_TRA_KIEM_TRA', resultCount: 1, criteria: { userHash } });
    expect(entry.userHash).not.toBe(userHash);
  });

  it('fails clearly with another key, and for an officer never seen', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lienthong-resolve-'));
    const otherKey = join(dir, 'other.key.pem');
    await exec('openssl', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', otherKey]);
    const args = (hash: string, key: string) => ['audit', 'resolve', hash, '--url', gw.url, '--key', KEY.inspector, '--user', 'thanhtra-0007', '--purpose', 'THANH_TRA_KIEM_TRA', '--inspector-key', key];
    const wrong = await run(args(userHash, otherKey));
    expect(wrong.code).toBe(1);
    expect(wrong.stdout).toBe('');
    expect(wrong.stderr).toMatch(/does not decrypt with this key/);
    const unknown = await run(args('0'.repeat(64), sample('inspectorate.key.pem')));
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/answered 404/);
    expect((await run(args('not-a-hash', sample('inspectorate.key.pem')))).code).toBe(2);
  });

  it('is for auditors with an audit purpose only', async () => {
    const path = `/v1/audit/officers/${userHash}`;
    expect((await gw.fetch(path, { key: KEY.desk, headers: { 'x-user-id': 'canbo-0042', 'x-purpose': 'XAC_MINH_DANH_TINH' } })).status).toBe(403);
    expect(await problem(await gw.fetch(path, { key: KEY.inspector }))).toMatchObject({ code: 'ACCOUNTABILITY_REQUIRED' });
    const everyday = await gw.fetch(path, { key: KEY.inspector, headers: { 'x-user-id': 'thanhtra-0007', 'x-purpose': 'XAC_MINH_DANH_TINH' } });
    expect(await problem(everyday)).toMatchObject({ code: 'PURPOSE_NOT_ALLOWED' });
    const malformed = await gw.fetch('/v1/audit/officers/ABC', { key: KEY.inspector, headers: INSPECTOR });
    expect(malformed.status).toBe(400);
  });
});
