import { createHmac, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { storeBackends } from '../../test/helpers/backends.ts';
import { createDatabase, type DatabaseHandle } from '../store/database.ts';
import { migrateToLatest } from '../store/migrations.ts';
import { createOfficerRegistry, loadInspectorateKey, officerHash, unsealOfficer } from './officers.ts';

const inspectorate = generateKeyPairSync('rsa', { modulusLength: 2048 });
const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
const hashKey = Buffer.from('officer-registry-test-hash-key-0123456789', 'utf8');
const hashIdentifier = (value: string) => createHmac('sha256', hashKey).update(value).digest('hex');

const { backends, cleanup } = storeBackends('officer registry');
const handles: DatabaseHandle[] = [];
afterAll(async () => {
  for (const handle of handles) await handle.db.destroy();
  await cleanup();
});

for (const backend of backends) describe.skipIf(backend.skip)(`the officer registry on ${backend.name}`, () => {
  async function registry() {
    const handle = createDatabase(await backend.options());
    handles.push(handle);
    await migrateToLatest(handle);
    return { handle, officers: createOfficerRegistry({ db: handle.db, publicKey: inspectorate.publicKey, hashIdentifier }) };
  }

  it('keeps one row per officer, however often and concurrently the officer acts', async () => {
    const { handle, officers } = await registry();
    await Promise.all(Array.from({ length: 20 }, () => officers.remember('canbo-0042', 'H52.101.114')));
    await officers.remember('canbo-0042', 'H52');
    await officers.remember('thanhtra-0007', 'H52.04');
    const rows = await handle.db.selectFrom('officer_registry').selectAll().orderBy('agency').execute();
    expect(rows.map((r) => [r.user_hash, r.agency])).toEqual([
      [officerHash(hashIdentifier, 'thanhtra-0007'), 'H52.04'],
      // The agency it first acted for.
      [officerHash(hashIdentifier, 'canbo-0042'), 'H52.101.114'],
    ]);
    // A second registry (another gateway process) adds nothing for a known officer.
    const again = createOfficerRegistry({ db: handle.db, publicKey: inspectorate.publicKey, hashIdentifier });
    await again.remember('canbo-0042', 'H52.30');
    expect(await handle.db.selectFrom('officer_registry').select('user_hash').execute()).toHaveLength(2);
  });

  it('seals the identifier so that only the inspectorate key decrypts it', async () => {
    const { officers } = await registry();
    await officers.remember('canbo-0042', 'H52.101.114');
    const record = (await officers.sealed(officerHash(hashIdentifier, 'canbo-0042')))!;
    expect(record).toMatchObject({ userHash: officerHash(hashIdentifier, 'canbo-0042'), agency: 'H52.101.114' });
    expect(Date.now() - Date.parse(record.firstSeen)).toBeLessThan(60_000);
    expect(record.sealed).toHaveLength(256);
    expect(record.sealed.includes(Buffer.from('canbo-0042'))).toBe(false);
    expect(unsealOfficer(inspectorate.privateKey, record.sealed)).toBe('canbo-0042');
    expect(() => unsealOfficer(other.privateKey, record.sealed)).toThrow();
    expect(await officers.sealed(officerHash(hashIdentifier, 'nobody'))).toBeUndefined();
  });

  it('seals the longest identifier accepted, and passes over one too long to seal', async () => {
    const { officers } = await registry();
    await officers.remember('é'.repeat(95), 'H52');
    expect(unsealOfficer(inspectorate.privateKey, (await officers.sealed(officerHash(hashIdentifier, 'é'.repeat(95))))!.sealed)).toBe('é'.repeat(95));
    await officers.remember('é'.repeat(96), 'H52');
    expect(await officers.sealed(officerHash(hashIdentifier, 'é'.repeat(96)))).toBeUndefined();
  });
});

describe('the inspectorate key file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lienthong-inspectorate-'));
  const file = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };

  it('takes an RSA public key', () => {
    const key = loadInspectorateKey(file('pub.pem', inspectorate.publicKey.export({ type: 'spki', format: 'pem' }).toString()));
    expect(key.asymmetricKeyDetails?.modulusLength).toBe(2048);
  });

  it('refuses a private key, a small key and a key of another kind', () => {
    expect(() => loadInspectorateKey(file('key.pem', inspectorate.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()))).toThrow(/private key/);
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    expect(() => loadInspectorateKey(file('small.pem', small))).toThrow(/1024-bit/);
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    expect(() => loadInspectorateKey(file('ec.pem', ec))).toThrow(/not an RSA public key/);
  });
});
