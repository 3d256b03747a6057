import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { officerHash } from '../../src/audit/officers.ts';
import { vietnamDay, vietnamMonth } from '../../src/core/time.ts';
import { SAMPLE_CLIENT, sampleDocuments } from '../../src/sandbox/sample-documents.ts';
import { createSubjectHasher, loadHashKey } from '../../src/signing/attestation.ts';
import { openStore } from '../../src/store/store.ts';
import { sampleDossier } from '../helpers/dossiers.ts';
import { KEYS, metric, startTestGateway, type TestGateway } from '../helpers/gateway.ts';

/**
 * The operators' digitisation report and the document gauges, on a real gateway wired to the
 * sandbox; and the sandbox's sample documents, deposited on the first start only.
 */

const dir = mkdtempSync(join(tmpdir(), 'lienthong-digitisation-'));
/** Every start of this file's gateway keeps its state in the same place, as a restarted gateway does. */
const state = {
  'database.sqlitePath': join(dir, 'gateway.db'),
  'privacy.hashKeyFile': join(dir, 'hash-key'),
  'documents.directory': join(dir, 'documents'),
};

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway(state);
});
afterAll(async () => {
  await gw?.close();
});

const operator = { key: KEYS.operator, headers: { accept: 'application/json' } };
const dossierHeaders = { 'content-type': 'application/json', 'x-user-id': 'canbo-tohieu-0042', 'x-purpose': '1.001808.000.00.00.H52' };

describe('sandbox sample documents', () => {
  it('are deposited and sealed on the first start, and not again on the next', async () => {
    const samples = sampleDocuments(vietnamDay(new Date()));
    expect(samples.length).toBeGreaterThanOrEqual(2);
    expect(gw.logs.filter((line) => line.includes('sample document could not be deposited'))).toEqual([]);
    expect(await metric(gw.url, 'lienthong_documents_stored', { kind: 'result' })).toBe(samples.length);
    const deposited = gw.logs.filter((line) => line.includes('sandbox sample documents deposited'));
    expect(deposited).toHaveLength(1);
    expect((JSON.parse(deposited[0]!) as { deposited: string[] }).deposited).toHaveLength(samples.length);

    // Each is found by its person's ID number (or enterprise code), sealed by the gateway with a timestamp, and pdfsig accepts it.
    const lookup = { ...dossierHeaders, 'x-purpose': 'XAC_MINH_DANH_TINH' };
    for (const sample of samples) {
      const listed = await gw.fetch(`/v1/documents?${new URLSearchParams({ subject: sample.subject, documentType: sample.documentType })}`, { headers: lookup });
      expect(listed.status, await listed.clone().text()).toBe(200);
      const { items } = (await listed.json()) as { items: { code: string; kind: string; name: string; signatures: { by: string; form: string; timestamp: unknown }[] }[] };
      expect(items).toHaveLength(1);
      expect(items[0]).toMatchObject({ kind: 'result', name: sample.name, signatures: [{ by: 'gateway', form: 'pades', timestamp: expect.anything() }] });
      if (sample !== samples[0]) continue;
      const content = await gw.fetch(`/v1/documents/${items[0]!.code}/content`, { headers: lookup });
      expect(content.status).toBe(200);
      const file = join(dir, 'sample.pdf');
      writeFileSync(file, Buffer.from(await content.arrayBuffer()));
      const checked = spawnSync('pdfsig', [file], { encoding: 'utf8' });
      expect(checked.stdout).toMatch(/Signature Validation: Signature is Valid\./);
      expect(checked.stdout).toMatch(/Signature Type: ETSI\.CAdES\.detached/);
    }

    // Deposited by the sandbox's own client and user, the user named by its keyed officer hash as a request's X-User-Id is.
    const hashIdentifier = createSubjectHasher(loadHashKey(state['privacy.hashKeyFile'], { create: false }));
    const store = await openStore({ sqlitePath: state['database.sqlitePath'] });
    try {
      const rows = await store.db.selectFrom('documents').select(['client_id', 'user_hash']).execute();
      expect(rows).toHaveLength(samples.length);
      for (const row of rows) expect(row).toEqual({ client_id: SAMPLE_CLIENT, user_hash: officerHash(hashIdentifier, SAMPLE_CLIENT) });
    } finally {
      await store.close();
    }

    await gw.close();
    gw = await startTestGateway(state);
    expect(await metric(gw.url, 'lienthong_documents_stored', { kind: 'result' })).toBe(samples.length);
    expect(gw.logs.filter((line) => line.includes('sandbox sample documents deposited'))).toEqual([]);
    expect(gw.logs.filter((line) => line.includes('sample document could not be deposited'))).toEqual([]);
  });
});

describe('GET /v1/reports/digitisation', () => {
  it('counts the dossiers handed over per agency and month, for operators only, and as gauges', async () => {
    // A scrape before the dossiers: the figures it reads are kept for a minute.
    await fetch(`${gw.url}/metrics`);
    const codes = [];
    for (let n = 1; n <= 2; n++) {
      const dossier = sampleDossier(9100 + n);
      const res = await gw.fetch('/v1/dossiers', { method: 'POST', headers: dossierHeaders, body: JSON.stringify(dossier) });
      expect(res.status, await res.clone().text()).toBe(202);
      codes.push(dossier.code as string);
    }
    const month = vietnamMonth(new Date(sampleDossier(0).receivedAt as string));

    const res = await gw.fetch(`/v1/reports/digitisation?from=${month}&to=${month}`, operator);
    expect(res.status).toBe(200);
    const report = (await res.json()) as {
      items: { agency: string; month: string; dossiers: number; reusedDocument: { count: number; share: number | null } }[];
      province: { month: string; dossiers: number; digitisedSubmission: { count: number; share: number }; digitisedResult: { count: number; share: number }; reusedDocument: { count: number; share: number } }[];
      total: { dossiers: number };
      target: { measure: string; share: number };
    };
    expect(report.total.dossiers).toBe(2);
    expect(report.province).toHaveLength(1);
    const province = report.province[0]!;
    expect(province).toMatchObject({ month, dossiers: 2 });
    // Neither dossier had a result deposited for it.
    expect(province.digitisedResult).toEqual({ count: 0, share: 0 });
    for (const measure of ['digitisedSubmission', 'reusedDocument'] as const) expect(province[measure].share).toBe(province[measure].count / 2);
    expect(report.items.reduce((sum, item) => sum + item.dossiers, 0)).toBe(2);
    expect(report.target).toMatchObject({ measure: 'reusedDocument', share: 0.8 });

    // The same figures as gauges (month of receipt: the current or the previous one), read at most
    // once a minute: what the first scrape (before these dossiers) read is still shown; a restarted
    // gateway reads them afresh.
    expect(await metric(gw.url, 'lienthong_dossiers_received', { agency: 'province', month })).toBe(0);
    await gw.close();
    gw = await startTestGateway(state);
    expect(await metric(gw.url, 'lienthong_dossiers_received', { agency: 'province', month })).toBe(2);
    expect(await metric(gw.url, 'lienthong_dossiers_digitised_share', { agency: 'province', month, measure: 'reusedDocument' })).toBe(province.reusedDocument.share);
    expect(await metric(gw.url, 'lienthong_dossiers_digitised_share', { agency: report.items[0]!.agency, month, measure: 'digitisedResult' })).toBe(0);
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    expect(text).toMatch(/^# TYPE lienthong_documents_due_for_destruction gauge\nlienthong_documents_due_for_destruction 0$/m);

    // The agency filter narrows the rows, not the province.
    const other = await gw.fetch(`/v1/reports/digitisation?from=${month}&to=${month}&agency=H52.99`, operator);
    const filtered = (await other.json()) as typeof report;
    expect(filtered.items).toEqual([]);
    expect(filtered.total.dossiers).toBe(2);

    // Operators only; months as yyyy-MM, in order.
    expect((await gw.fetch(`/v1/reports/digitisation?from=${month}`, { key: KEYS.portal })).status).toBe(403);
    const bad = await gw.fetch('/v1/reports/digitisation?from=2026-13', operator);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { errors: { field: string; message: string }[] }).errors[0]).toMatchObject({ field: 'query.from', message: expect.stringContaining('yyyy-MM') });
    const reversed = await gw.fetch('/v1/reports/digitisation?from=2026-11&to=2026-10', operator);
    expect(reversed.status).toBe(400);
    expect(((await reversed.json()) as { errors: { field: string }[] }).errors[0]!.field).toBe('query.from');
  });
});
