import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { DocumentStore } from '../src/core/documents/port.ts';
import { purgeDue } from '../src/core/documents/retention.ts';
import { createDocumentStore } from '../src/store/documents.ts';
import { createDocumentFigures } from '../src/store/document-figures.ts';
import { openStore, type Store } from '../src/store/store.ts';
import { storeBackends } from './helpers/backends.ts';
import { storeDocument } from './helpers/ops-documents.ts';

const { backends, cleanup } = storeBackends('document retention');
const directories: string[] = [];
afterAll(async () => {
  for (const dir of directories) rmSync(dir, { recursive: true, force: true });
  await cleanup();
});

const DAY = 86_400_000;

const deposit = (documents: DocumentStore, retainDays: number | null) => storeDocument(documents, { retainDays });

async function open(options: Awaited<ReturnType<(typeof backends)[number]['options']>>): Promise<{ store: Store; documents: DocumentStore }> {
  const store = await openStore(options);
  const directory = mkdtempSync(join(tmpdir(), 'lienthong-retention-'));
  directories.push(directory);
  return { store, documents: createDocumentStore({ db: store.db, dialect: store.dialect, directory, masterKey: randomBytes(32) }) };
}

describe.each(backends)('document retention on $name', (backend) => {
  it.skipIf(backend.skip)('destroys content past its retention, keeps the rest and what is on legal hold, in batches', async () => {
    const { store, documents } = await open(await backend.options());
    try {
      const expired = [];
      for (let i = 0; i < 5; i++) expired.push(await deposit(documents, -1 - i));
      const held = await deposit(documents, -30);
      const future = await deposit(documents, 365);
      const permanent = await deposit(documents, null);
      expect((await documents.setLegalHold(held.code, true))?.legalHold).toBe(true);
      const figures = createDocumentFigures(store.db, store.dialect);
      expect(await figures.dueForDestruction(new Date())).toBe(5);

      // A dry run lists what is due and destroys nothing.
      const dry = await purgeDue(documents, new Date(), { dryRun: true });
      expect(dry.destroyed.sort()).toEqual(expired.map((e) => e.code).sort());
      expect(await documents.readAll(expired[0]!.code)).toEqual(expired[0]!.content);

      const result = await purgeDue(documents, new Date(), { batchSize: 2 });
      expect(result.destroyed.sort()).toEqual(expired.map((e) => e.code).sort());
      expect(result.refused).toEqual([]);
      for (const { code } of expired) {
        const record = await documents.get(code);
        expect(record?.destroyedAt).not.toBeNull();
        // The record of what was issued stays: hash, size, seal.
        expect(record?.sha256).toMatch(/^[0-9a-f]{64}$/);
        expect(record?.sealCms?.length).toBe(64);
        expect(await documents.readAll(code)).toBeUndefined();
        expect(await documents.read(code)).toBeUndefined();
      }
      for (const kept of [held, future, permanent]) expect(await documents.readAll(kept.code)).toEqual(kept.content);
      expect(await figures.dueForDestruction(new Date())).toBe(0);
      expect(await figures.storedByKind()).toEqual({ result: 3, submission: 0 });

      // Nothing left to do: a second run destroys nothing.
      expect((await purgeDue(documents, new Date())).destroyed).toEqual([]);

      // Released from hold, it is purged by the next run; the future one only once its time comes.
      await documents.setLegalHold(held.code, false);
      expect((await purgeDue(documents, new Date())).destroyed).toEqual([held.code]);
      expect((await purgeDue(documents, new Date(Date.now() + 366 * DAY))).destroyed).toEqual([future.code]);
      expect(await documents.readAll(permanent.code)).toEqual(permanent.content);
    } finally {
      await store.close();
    }
  });

  it.skipIf(backend.skip)('lists and destroys every document due, beyond any one query limit (the store answers 100 codes unless told otherwise)', async () => {
    const { store, documents } = await open(await backend.options());
    try {
      const expired: string[] = [];
      for (let i = 0; i < 230; i++) expired.push((await deposit(documents, -1 - (i % 7))).code);
      const kept = await deposit(documents, 30);

      const dry = await purgeDue(documents, new Date(), { dryRun: true, batchSize: 50 });
      expect(dry.destroyed).toHaveLength(230);
      expect(dry.destroyed.sort()).toEqual([...expired].sort());
      expect((await purgeDue(documents, new Date(), { dryRun: true })).destroyed).toHaveLength(230);
      expect(await createDocumentFigures(store.db, store.dialect).dueForDestruction(new Date())).toBe(230);

      const result = await purgeDue(documents, new Date());
      expect(result.refused).toEqual([]);
      expect(result.destroyed.sort()).toEqual([...expired].sort());
      expect(await documents.dueForDestruction(new Date(), 1000)).toEqual([]);
      expect(await documents.readAll(kept.code)).toEqual(kept.content);
    } finally {
      await store.close();
    }
  });

  it.skipIf(backend.skip)('goes on past a batch the store refused whole (put on legal hold between listing and destroying)', async () => {
    const { store, documents } = await open(await backend.options());
    try {
      const expired: string[] = [];
      for (let i = 0; i < 6; i++) expired.push((await deposit(documents, -10 + i)).code);
      // The first batch listed is put on hold by someone else just before each destroy.
      const raced = new Set(await documents.dueForDestruction(new Date(), 2));
      const racing: DocumentStore = {
        ...documents,
        async destroy(code, at) {
          if (raced.has(code)) await documents.setLegalHold(code, true);
          return documents.destroy(code, at);
        },
      };
      const result = await purgeDue(racing, new Date(), { batchSize: 2 });
      expect(result.refused.sort()).toEqual([...raced].sort());
      expect(result.destroyed.sort()).toEqual(expired.filter((code) => !raced.has(code)).sort());
    } finally {
      await store.close();
    }
  });
});
