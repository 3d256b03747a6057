import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createDocumentStore } from '../src/store/documents.ts';
import { createDocumentFigures, digitisationReport } from '../src/store/document-figures.ts';
import { openStore } from '../src/store/store.ts';
import { storeBackends } from './helpers/backends.ts';
import { insertDossier, storeDocument } from './helpers/ops-documents.ts';

const { backends, cleanup } = storeBackends('digitisation figures');
const directories: string[] = [];
afterAll(async () => {
  for (const dir of directories) rmSync(dir, { recursive: true, force: true });
  await cleanup();
});

const WARD = 'H52.101.114';
const JUSTICE = 'H52.20';

describe.each(backends)('digitisation figures on $name', (backend) => {
  it.skipIf(backend.skip)('counts per agency and month of receipt in Vietnam time, from the flags and the documents deposited', async () => {
    const store = await openStore(await backend.options());
    const directory = mkdtempSync(join(tmpdir(), 'lienthong-figures-'));
    directories.push(directory);
    const documents = createDocumentStore({ db: store.db, dialect: store.dialect, directory, masterKey: randomBytes(32) });
    try {
      const db = store.db;
      // January (Vietnam time), the ward: a digitised submission that also reused a document.
      await insertDossier(db, { code: 'D1', receivedAt: '2024-01-31T23:30:00+07:00', agency: WARD, digitisedSubmission: true, reusedDocument: true });
      // 17:30 UTC on 31 January is 00:30 on 1 February in Vietnam: February. Its result was deposited.
      await insertDossier(db, { code: 'D2', receivedAt: '2024-01-31T17:30:00Z', agency: WARD });
      await storeDocument(documents, { kind: 'result', dossierCode: 'D2' });
      // January, the ward: a submission deposited (flag unset) and two results (one dossier).
      await insertDossier(db, { code: 'D3', receivedAt: '2024-01-15T10:00:00+07:00', agency: WARD });
      await storeDocument(documents, { kind: 'submission', dossierCode: 'D3' });
      await storeDocument(documents, { kind: 'result', dossierCode: 'D3' });
      await storeDocument(documents, { kind: 'result', dossierCode: 'D3' });
      // Handled by another agency than the client's: counted for the handling agency.
      await insertDossier(db, { code: 'D4', receivedAt: '2024-01-10T09:00:00+07:00', agency: WARD, handlingAgency: JUSTICE, reusedDocument: true });
      // Just outside the range on either side (Vietnam time): 31 December and 1 March.
      await insertDossier(db, { code: 'D5', receivedAt: '2023-12-31T16:59:59Z', agency: WARD, digitisedSubmission: true });
      await storeDocument(documents, { kind: 'result', dossierCode: 'D5' });
      await insertDossier(db, { code: 'D6', receivedAt: '2024-02-29T17:00:00Z', agency: WARD, reusedDocument: true });
      // February, given in another offset (13:00 UTC, 20:00 in Vietnam): nothing digitised.
      await insertDossier(db, { code: 'D7', receivedAt: '2024-02-10T08:00:00-05:00', agency: WARD });
      // A document of no dossier counts for none.
      await storeDocument(documents, { kind: 'result' });

      const figures = createDocumentFigures(db, store.dialect);
      const counts = await figures.digitisation({ from: '2024-01', to: '2024-02' });
      expect(counts).toEqual([
        { agency: WARD, month: '2024-01', dossiers: 2, digitisedSubmission: 2, digitisedResult: 1, reusedDocument: 1 },
        { agency: JUSTICE, month: '2024-01', dossiers: 1, digitisedSubmission: 0, digitisedResult: 0, reusedDocument: 1 },
        { agency: WARD, month: '2024-02', dossiers: 2, digitisedSubmission: 0, digitisedResult: 1, reusedDocument: 0 },
      ]);
      expect(await figures.digitisation({ from: '2023-12', to: '2023-12' })).toEqual([
        { agency: WARD, month: '2023-12', dossiers: 1, digitisedSubmission: 1, digitisedResult: 1, reusedDocument: 0 },
      ]);
      expect(await figures.digitisation({ from: '2024-03', to: '2024-03' })).toEqual([
        { agency: WARD, month: '2024-03', dossiers: 1, digitisedSubmission: 0, digitisedResult: 0, reusedDocument: 1 },
      ]);
      expect(await figures.digitisation({ from: '2024-04', to: '2024-12' })).toEqual([]);

      const report = digitisationReport(counts, { from: '2024-01', to: '2024-02', agency: WARD });
      expect(report.items).toEqual([
        { agency: WARD, month: '2024-01', dossiers: 2, digitisedSubmission: { count: 2, share: 1 }, digitisedResult: { count: 1, share: 0.5 }, reusedDocument: { count: 1, share: 0.5 } },
        { agency: WARD, month: '2024-02', dossiers: 2, digitisedSubmission: { count: 0, share: 0 }, digitisedResult: { count: 1, share: 0.5 }, reusedDocument: { count: 0, share: 0 } },
      ]);
      // The province stays the province's whatever the agency filter.
      expect(report.province).toEqual([
        { month: '2024-01', dossiers: 3, digitisedSubmission: { count: 2, share: 0.6667 }, digitisedResult: { count: 1, share: 0.3333 }, reusedDocument: { count: 2, share: 0.6667 } },
        { month: '2024-02', dossiers: 2, digitisedSubmission: { count: 0, share: 0 }, digitisedResult: { count: 1, share: 0.5 }, reusedDocument: { count: 0, share: 0 } },
      ]);
      expect(report.total).toEqual({ dossiers: 5, digitisedSubmission: { count: 2, share: 0.4 }, digitisedResult: { count: 2, share: 0.4 }, reusedDocument: { count: 2, share: 0.4 } });
      expect(report.target).toMatchObject({ measure: 'reusedDocument', share: 0.8 });
      expect(digitisationReport([], { from: '2024-04', to: '2024-04' }).total.reusedDocument).toEqual({ count: 0, share: null });
    } finally {
      await store.close();
    }
  });
});
