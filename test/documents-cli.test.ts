import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DocumentStore } from '../src/core/documents/port.ts';
import { answeredInstant } from '../src/core/time.ts';
import { createDocumentStore } from '../src/store/documents.ts';
import { openStore } from '../src/store/store.ts';
import { run } from './helpers/cli.ts';
import { storeDocument } from './helpers/ops-documents.ts';

/** `lienthong documents purge | hold | release`, run as an operator runs them, on a store prepared beside them. */

const dir = mkdtempSync(join(tmpdir(), 'lienthong-documents-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A configuration file and a store under `dir/name`, filled by `seed` before any command runs; answers the configuration's path. */
async function prepare(name: string, seed: (documents: DocumentStore) => Promise<void>): Promise<string> {
  const home = join(dir, name);
  mkdirSync(home);
  const file = join(home, 'lienthong.yaml');
  const hashKeyFile = join(home, 'hash-key');
  const masterKey = randomBytes(32);
  writeFileSync(hashKeyFile, masterKey.toString('hex') + '\n', { mode: 0o600 });
  const directory = join(home, 'documents');
  writeFileSync(
    file,
    [
      'database:',
      `  sqlitePath: ${JSON.stringify(join(home, 'gateway.db'))}`,
      'privacy:',
      `  hashKeyFile: ${JSON.stringify(hashKeyFile)}`,
      'documents:',
      `  directory: ${JSON.stringify(directory)}`,
      '',
    ].join('\n'),
  );
  const store = await openStore({ sqlitePath: join(home, 'gateway.db') });
  try {
    await seed(createDocumentStore({ db: store.db, dialect: store.dialect, directory, masterKey }));
  } finally {
    await store.close();
  }
  return file;
}

/** What the store holds before the commands run: two documents past retention, one kept. */
const codes = { expired: '', alsoExpired: '', kept: '' };
/** When the kept one's retention ends (ISO 8601, UTC, as stored). */
let keptUntil = '';
let config = '';

beforeAll(async () => {
  config = await prepare('main', async (documents) => {
    codes.expired = (await storeDocument(documents, { retainDays: -2 })).code;
    codes.alsoExpired = (await storeDocument(documents, { retainDays: -1 })).code;
    codes.kept = (await storeDocument(documents, { retainDays: 30 })).code;
    keptUntil = (await documents.get(codes.kept))!.retainUntil!;
  });
});

describe('lienthong documents', () => {
  it('holds, lists what is due, purges what is not held, and releases', async () => {
    const hold = await run(['documents', 'hold', codes.alsoExpired, '--config', config]);
    expect(hold.code, hold.stderr).toBe(0);
    expect(hold.stdout).toContain(`${codes.alsoExpired}: on legal hold`);

    const dry = await run(['documents', 'purge', '--dry-run', '--config', config]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout.trim().split('\n')).toEqual([`due ${codes.expired}`, expect.stringMatching(/: 1 document due for destruction; nothing destroyed \(--dry-run\)$/)]);

    const purge = await run(['documents', 'purge', '--config', config]);
    expect(purge.code, purge.stderr).toBe(0);
    expect(purge.stdout.trim().split('\n')).toEqual([`destroyed ${codes.expired}`, expect.stringMatching(/: destroyed the content of 1 document past retention; metadata, hashes and signatures are kept$/)]);

    const again = await run(['documents', 'purge', '--config', config]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/destroyed the content of 0 documents past retention/);

    const release = await run(['documents', 'release', codes.alsoExpired, '--config', config]);
    expect(release.code, release.stderr).toBe(0);
    expect(release.stdout).toMatch(new RegExp(`^${codes.alsoExpired.replaceAll('.', '\\.')}: legal hold released; retention ended .*: purged by the next`));
    const afterRelease = await run(['documents', 'purge', '--config', config]);
    expect(afterRelease.stdout.trim().split('\n')[0]).toBe(`destroyed ${codes.alsoExpired}`);

    // The one still within retention is never touched, and says so.
    // Times as the gateway answers them: +07:00, whole seconds.
    const keptHold = await run(['documents', 'hold', codes.kept, '--config', config]);
    expect(keptUntil).toMatch(/Z$/);
    expect(keptHold.stdout.trim()).toBe(`${codes.kept}: on legal hold; its content is kept until released (retained until ${answeredInstant(keptUntil)})`);
    expect(keptHold.stdout).toMatch(/\(retained until \d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+07:00\)$/m);
    const destroyedHold = await run(['documents', 'hold', codes.expired, '--config', config]);
    expect(destroyedHold.code).toBe(0);
    expect(destroyedHold.stdout).toMatch(/its content was destroyed at \d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+07:00\)$/m);
    expect(release.stdout).toMatch(/retention ended \d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+07:00: purged by the next/);
  });

  it('lists and purges every document due, however many (not the first 100)', async () => {
    const due: string[] = [];
    const many = await prepare('many', async (documents) => {
      for (let i = 0; i < 130; i++) due.push((await storeDocument(documents, { retainDays: -1 - (i % 3) })).code);
    });
    const dry = await run(['documents', 'purge', '--dry-run', '--config', many]);
    expect(dry.code, dry.stderr).toBe(0);
    const listed = dry.stdout.trim().split('\n');
    expect(listed.at(-1)).toMatch(/: 130 documents due for destruction; nothing destroyed \(--dry-run\)$/);
    expect(listed.slice(0, -1).sort()).toEqual(due.map((code) => `due ${code}`).sort());

    const purge = await run(['documents', 'purge', '--config', many]);
    expect(purge.code, purge.stderr).toBe(0);
    const destroyed = purge.stdout.trim().split('\n');
    expect(destroyed.at(-1)).toMatch(/: destroyed the content of 130 documents past retention/);
    expect(destroyed.slice(0, -1).sort()).toEqual(due.map((code) => `destroyed ${code}`).sort());
    expect((await run(['documents', 'purge', '--dry-run', '--config', many])).stdout).toMatch(/: 0 documents due for destruction/);
  });

  it('answers an unknown document with exit code 1, bad usage with 2', async () => {
    const unknown = await run(['documents', 'hold', 'H52.KQ.NONE.2020.000001', '--config', config]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('holds no document H52.KQ.NONE.2020.000001');

    for (const args of [['documents'], ['documents', 'shred'], ['documents', 'hold'], ['documents', 'release', 'a', 'b'], ['documents', 'purge', 'now'], ['documents', 'purge', '--force']]) {
      const r = await run([...args, '--config', config]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toContain('Usage: lienthong');
    }
    expect((await run(['--help'])).stdout).toContain('documents purge [--dry-run]');
  });

  it('stops with exit code 2 on a bad configuration', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'documents:\n  maxBytes: -1\n');
    const r = await run(['documents', 'purge', '--config', bad]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('documents.maxBytes');
  });
});
