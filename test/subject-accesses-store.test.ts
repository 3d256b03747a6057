import { afterAll, describe, expect, it } from 'vitest';
import { BASE_TIME, SUBJECTS, createTestLog } from './helpers/audit-log.ts';
import { storeBackends } from './helpers/backends.ts';

/**
 * The store's side of getSubjectAccesses: a subject's entries newest first, paged by index, on
 * both stores, written by the real queue and integrator.
 */

const { backends, cleanup } = storeBackends('subject accesses');
afterAll(cleanup);

describe.each(backends)('entries about a subject on $name', (backend) => {
  it.skipIf(backend.skip)('are listed newest first, paged with before without gap or overlap, and only about that subject', async () => {
    const log = await createTestLog({ database: await backend.options() });
    try {
      await log.append(40);
      await log.append(23);
      const subject = log.hashIdentifier(SUBJECTS[0]);
      const expected = log.leaves.flatMap((leaf, index) => (leaf.subjectHash === subject ? [index] : [])).reverse();
      expect(expected.length).toBeGreaterThan(12);

      const whole = await log.audit.entriesAbout({ subjectHash: subject, limit: 100 });
      expect(whole.items.map((e) => e.index)).toEqual(expected);
      expect(whole.nextBefore).toBeNull();
      expect(whole.items.map((e) => JSON.parse(e.leaf) as { id: string }).map((l) => l.id)).toEqual(expected.map((i) => log.leaves[i]!.id));

      const paged: number[] = [];
      let before: number | undefined;
      let pages = 0;
      do {
        const page = await log.audit.entriesAbout({ subjectHash: subject, before, limit: 4 });
        expect(page.items.length).toBeLessThanOrEqual(4);
        paged.push(...page.items.map((e) => e.index));
        before = page.nextBefore ?? undefined;
        pages++;
        if (page.nextBefore !== null) expect(page.nextBefore).toBe(page.items[page.items.length - 1]!.index);
      } while (before !== undefined);
      expect(paged).toEqual(expected);
      expect(pages).toBe(Math.ceil(expected.length / 4));

      // Before an index: only older ones; since an instant: only those at or after it (leaves are one second apart).
      const cut = expected[3]!;
      expect((await log.audit.entriesAbout({ subjectHash: subject, before: cut, limit: 100 })).items.map((e) => e.index)).toEqual(expected.filter((i) => i < cut));
      const since = new Date(BASE_TIME + 30_000).toISOString();
      expect((await log.audit.entriesAbout({ subjectHash: subject, since, limit: 100 })).items.map((e) => e.index)).toEqual(expected.filter((i) => i >= 30));
      expect((await log.audit.entriesAbout({ subjectHash: subject, before: cut, since, limit: 100 })).items.map((e) => e.index)).toEqual(expected.filter((i) => i >= 30 && i < cut));

      // Another subject's entries and an unknown subject: none of these.
      const other = await log.audit.entriesAbout({ subjectHash: log.hashIdentifier(SUBJECTS[1]), limit: 100 });
      expect(other.items.length).toBeGreaterThan(0);
      expect(other.items.some((e) => expected.includes(e.index))).toBe(false);
      expect(await log.audit.entriesAbout({ subjectHash: log.hashIdentifier('014089009999'), limit: 10 })).toEqual({ items: [], nextBefore: null });
    } finally {
      await log.close();
    }
  });
});
