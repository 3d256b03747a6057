import { describe, expect, it } from 'vitest';
import { METRIC_AGENCIES, createMetrics, type DigitisationCounts, type DocumentGaugeSource } from './metrics.ts';

/** A source of document figures that counts its reads and can be made to fail. */
function source(rows: () => DigitisationCounts[]) {
  const reads = { due: 0, stored: 0, digitisation: [] as { from: string; to: string }[] };
  let failing = false;
  const fail = () => {
    if (failing) throw new Error('the store is down');
  };
  const gauges: DocumentGaugeSource = {
    async dueForDestruction() {
      fail();
      reads.due++;
      return 3;
    },
    async storedByKind() {
      fail();
      reads.stored++;
      return { submission: 1, result: 4 };
    },
    async digitisation(range) {
      fail();
      reads.digitisation.push(range);
      return rows();
    },
  };
  return { gauges, reads, setFailing: (value: boolean) => (failing = value) };
}

describe('document gauges', () => {
  it('read the store on scrape, each figure at most once per cacheMs, for the current and previous month', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    let now = new Date('2026-03-01T02:00:00Z'); // 09:00 on 1 March in Vietnam: the previous month is February.
    let dossiers = 4;
    const fake = source(() => [{ agency: 'H52.101.114', month: '2026-03', dossiers, digitisedSubmission: 2, digitisedResult: 1, reusedDocument: 3 }]);
    metrics.watchDocuments(fake.gauges, { cacheMs: 60_000, now: () => now });

    const first = await metrics.registry.metrics();
    expect(first).toContain('lienthong_documents_due_for_destruction 3');
    expect(first).toContain('lienthong_documents_stored{kind="result"} 4');
    expect(first).toContain('lienthong_dossiers_received{agency="H52.101.114",month="2026-03"} 4');
    expect(first).toContain('lienthong_dossiers_received{agency="province",month="2026-03"} 4');
    expect(first).toContain('lienthong_dossiers_digitised_share{agency="H52.101.114",month="2026-03",measure="reusedDocument"} 0.75');
    expect(first).toContain('lienthong_dossiers_digitised_share{agency="province",month="2026-03",measure="digitisedResult"} 0.25');
    expect(fake.reads.digitisation).toEqual([{ from: '2026-02', to: '2026-03' }]);

    dossiers = 8;
    now = new Date(now.getTime() + 30_000);
    const cached = await metrics.registry.metrics();
    expect(fake.reads.due).toBe(1);
    expect(fake.reads.stored).toBe(1);
    expect(fake.reads.digitisation).toHaveLength(1);
    expect(cached).toContain('lienthong_dossiers_received{agency="province",month="2026-03"} 4');

    now = new Date(now.getTime() + 31_000);
    expect(await metrics.registry.metrics()).toContain('lienthong_dossiers_received{agency="province",month="2026-03"} 8');
    expect(fake.reads.digitisation).toHaveLength(2);
    expect(fake.reads.due).toBe(2);

    // A store that fails leaves the last values and the scrape answers.
    fake.setFailing(true);
    now = new Date(now.getTime() + 61_000);
    const failed = await metrics.registry.metrics();
    expect(failed).toContain('lienthong_documents_due_for_destruction 3');
    expect(failed).toContain('lienthong_dossiers_received{agency="province",month="2026-03"} 8');
    fake.setFailing(false);
    expect(await metrics.registry.metrics()).toContain('lienthong_dossiers_received{agency="province",month="2026-03"} 8');
    expect(fake.reads.digitisation).toHaveLength(3);
  });

  it('name at most METRIC_AGENCIES handling agencies, those with the most dossiers, and sum the rest as "other"', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const now = new Date('2026-07-31T18:30:00Z'); // 01:30 on 1 August in Vietnam: July and August.
    // Agencies as clients send them: many, free text, one named like the gauges' own labels.
    const rows: DigitisationCounts[] = [];
    const agencies = METRIC_AGENCIES + 5;
    for (let i = 0; i < agencies; i++) {
      // Agency i has agencies - i dossiers in July (the first ones most) and one in August.
      rows.push({ agency: `H52.${String(i).padStart(3, '0')}`, month: '2026-07', dossiers: agencies - i, digitisedSubmission: 1, digitisedResult: 0, reusedDocument: agencies - i });
      rows.push({ agency: `H52.${String(i).padStart(3, '0')}`, month: '2026-08', dossiers: 1, digitisedSubmission: 0, digitisedResult: 1, reusedDocument: 0 });
    }
    rows.push({ agency: 'province', month: '2026-08', dossiers: 1000, digitisedSubmission: 0, digitisedResult: 0, reusedDocument: 1000 });
    const fake = source(() => rows);
    metrics.watchDocuments(fake.gauges, { now: () => now });
    const text = await metrics.registry.metrics();
    expect(fake.reads.digitisation).toEqual([{ from: '2026-07', to: '2026-08' }]);

    const series = (name: string) => text.split('\n').filter((line) => line.startsWith(`${name}{`));
    const labelled = new Set(series('lienthong_dossiers_received').map((line) => /agency="([^"]*)"/.exec(line)![1]));
    expect(labelled.size).toBe(METRIC_AGENCIES + 2);
    // The top ones by dossiers over both months are named; the last five, and the one calling itself "province", are "other".
    for (let i = 0; i < METRIC_AGENCIES; i++) expect(labelled.has(`H52.${String(i).padStart(3, '0')}`)).toBe(true);
    expect(labelled.has(`H52.${String(METRIC_AGENCIES).padStart(3, '0')}`)).toBe(false);
    expect(series('lienthong_dossiers_digitised_share')).toHaveLength((METRIC_AGENCIES + 2) * 2 * 3);

    const rest = rows.filter((r) => r.month === '2026-07' && Number(r.agency.slice(4)) >= METRIC_AGENCIES);
    const restDossiers = rest.reduce((sum, r) => sum + r.dossiers, 0); // 5 + 4 + 3 + 2 + 1
    expect(text).toContain(`lienthong_dossiers_received{agency="other",month="2026-07"} ${restDossiers}`);
    expect(text).toContain(`lienthong_dossiers_digitised_share{agency="other",month="2026-07",measure="digitisedSubmission"} ${rest.length / restDossiers}`);
    expect(text).toContain(`lienthong_dossiers_received{agency="other",month="2026-08"} 1005`);
    expect(text).toContain(`lienthong_dossiers_received{agency="province",month="2026-08"} ${agencies + 1000}`);
    expect(text).toMatch(/# HELP lienthong_dossiers_received .*agency="other"/);
  });

  it('show nothing of documents before a source is watched', async () => {
    const text = await createMetrics({ defaultMetrics: false }).registry.metrics();
    expect(text).toContain('# TYPE lienthong_documents_due_for_destruction gauge');
    expect(text).not.toMatch(/^lienthong_dossiers_received\{/m);
  });
});
