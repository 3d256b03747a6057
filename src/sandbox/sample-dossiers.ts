import { officerHash } from '../audit/officers.ts';
import type { DossierService } from '../core/dossiers/service.ts';
import type { Dossier } from '../core/dossiers/port.ts';
import type { Logger } from '../logging.ts';
import { people, procedures } from './personas.ts';
import { SAMPLE_CLIENT } from './sample-documents.ts';

/**
 * Dossiers the sandbox gateway holds from its first start, so that the national service index
 * (GET /v1/reports/service-index) and the digitisation report show figures at once: two handling
 * agencies, this month and the two before, on time and late (with and without supplement waits,
 * one still waiting at a month's end), a withdrawal, online and at the desk, paid online or not,
 * with digitised submissions, listed results and reused documents. Handed over through
 * the dossier service like any portal's (and delivered to the sandbox's national portal), once:
 * nothing is handed over when the sandbox's own client already has dossiers.
 *
 * Dates are counted from the start: the months are the current one (Vietnam time) and the two
 * before; in the current month every instant lies between its first moment and now.
 */

/** A status change of a sample: the status, and when (ISO 8601, +07:00). */
export interface SampleEvent {
  status: number;
  at: string;
}

export interface SampleDossier {
  /** A short name, for tests and logs. */
  key: string;
  dossier: Dossier;
  /** The status changes after the hand-over, in order. */
  events: SampleEvent[];
}

export const SAMPLE_AGENCIES = ['Ủy ban nhân dân phường Tô Hiệu', 'Sở Y tế tỉnh Sơn La'] as const;

const DAY_MS = 86_400_000;
const VIETNAM_MS = 7 * 3_600_000;

/** The first instant (UTC ms) of the month `offset` months from the one `now` falls in, Vietnam time. */
function monthStart(now: Date, offset: number): number {
  const local = new Date(now.getTime() + VIETNAM_MS);
  return Date.UTC(local.getUTCFullYear(), local.getUTCMonth() + offset, 1) - VIETNAM_MS;
}

const iso = (ms: number) => `${new Date(ms + VIETNAM_MS).toISOString().slice(0, 19)}+07:00`;

interface Shape {
  key: string;
  agency: 0 | 1;
  procedure: number;
  channel: Dossier['channel'];
  received: number;
  due: number | null;
  fee?: number;
  paidOnline?: boolean;
  vneid?: boolean;
  populationDb?: boolean;
  digitised?: boolean;
  reused?: boolean;
  result?: boolean;
  initial?: 1 | 2;
  events: [number, number][];
}

/** The sample dossiers as of `now`. */
export function sampleDossiers(now: Date): SampleDossier[] {
  const current = monthStart(now, 0);
  // In the current month: a share of the time elapsed since it began (so before now, whatever the day).
  const soFar = (share: number) => current + Math.floor((now.getTime() - current) * share);
  // In an earlier month: day `day` (0 = the 1st) at `hour` o'clock.
  const on = (offset: number, day: number, hour: number) => monthStart(now, offset) + day * DAY_MS + hour * 3_600_000;
  const shapes: Shape[] = [
    // This month.
    { key: 'C1', agency: 0, procedure: 0, channel: 'online', received: soFar(0.1), due: soFar(0.1) + 7 * DAY_MS, fee: 50_000, paidOnline: true, vneid: true, digitised: true, reused: true, result: true, initial: 2, events: [[9, soFar(0.5)], [10, soFar(0.6)]] },
    { key: 'C2', agency: 0, procedure: 1, channel: 'in_person', received: soFar(0.2), due: now.getTime() + 10 * DAY_MS, fee: 30_000, digitised: true, initial: 2, events: [[4, soFar(0.3)]] },
    { key: 'C3', agency: 1, procedure: 2, channel: 'online', received: soFar(0.3), due: soFar(0.3) + 5 * DAY_MS, populationDb: true, initial: 2, events: [[9, soFar(0.7)]] },
    // Last month.
    { key: 'P1', agency: 0, procedure: 0, channel: 'online', received: on(-1, 1, 9), due: on(-1, 5, 17), fee: 50_000, paidOnline: true, digitised: true, result: true, initial: 2, events: [[9, on(-1, 8, 10)]] },
    { key: 'P2', agency: 0, procedure: 1, channel: 'in_person', received: on(-1, 2, 8), due: on(-1, 7, 17), fee: 30_000, events: [[2, on(-1, 2, 10)], [4, on(-1, 3, 9)]] },
    { key: 'P3', agency: 1, procedure: 2, channel: 'postal', received: on(-1, 4, 9), due: on(-1, 11, 17), vneid: true, digitised: true, reused: true, result: true, initial: 2, events: [[10, on(-1, 10, 15)]] },
    { key: 'P4', agency: 1, procedure: 3, channel: 'online', received: on(-1, 9, 9), due: on(-1, 19, 17), fee: 20_000, paidOnline: true, result: true, initial: 2, events: [[5, on(-1, 11, 9)], [4, on(-1, 12, 9)], [5, on(-1, 13, 9)], [4, on(-1, 14, 9)], [9, on(-1, 15, 9)]] },
    { key: 'P5', agency: 0, procedure: 3, channel: 'online', received: on(-1, 19, 9), due: on(-1, 25, 17), fee: 20_000, events: [[3, on(-1, 20, 9)]] },
    // Asked once for a supplement (four days' wait): finished after its due day, on time all the same.
    { key: 'P6', agency: 0, procedure: 1, channel: 'online', received: on(-1, 5, 9), due: on(-1, 8, 17), fee: 30_000, digitised: true, result: true, initial: 2, events: [[4, on(-1, 5, 10)], [5, on(-1, 6, 9)], [4, on(-1, 10, 9)], [9, on(-1, 11, 10)]] },
    // Withdrawn by the applicant while in processing: not rated.
    { key: 'P7', agency: 1, procedure: 2, channel: 'in_person', received: on(-1, 6, 9), due: on(-1, 12, 17), initial: 2, events: [[4, on(-1, 6, 10)], [7, on(-1, 9, 9)]] },
    // Two months ago.
    { key: 'Q1', agency: 0, procedure: 0, channel: 'in_person', received: on(-2, 2, 9), due: on(-2, 9, 17), fee: 50_000, paidOnline: true, digitised: true, reused: true, result: true, initial: 2, events: [[4, on(-2, 3, 9)], [9, on(-2, 7, 16)]] },
    { key: 'Q2', agency: 1, procedure: 2, channel: 'online', received: on(-2, 5, 9), due: on(-2, 8, 17), populationDb: true, initial: 2, events: [[9, on(-2, 14, 10)]] },
    { key: 'Q3', agency: 1, procedure: 4, channel: 'online', received: on(-2, 7, 9), due: null, initial: 2, events: [[9, on(-2, 8, 15)]] },
    // Still waiting for the applicant at the month's end, asked after its due day: overdue then, and since.
    { key: 'Q4', agency: 0, procedure: 1, channel: 'in_person', received: on(-2, 18, 9), due: on(-2, 20, 17), fee: 30_000, initial: 2, events: [[4, on(-2, 18, 10)], [5, on(-2, 23, 9)], [4, on(-1, 3, 9)]] },
    // Overdue at the month's end; a supplement wait of the next month does not make it on time then.
    { key: 'Q5', agency: 1, procedure: 3, channel: 'online', received: on(-2, 10, 9), due: on(-2, 15, 17), fee: 20_000, initial: 2, events: [[4, on(-2, 11, 9)], [5, on(-1, 3, 9)], [4, on(-1, 25, 9)]] },
  ];
  return shapes.map((s, i) => {
    const procedure = procedures[s.procedure % procedures.length]!;
    const applicant = people[i % people.length]!;
    const received = iso(s.received);
    const agencyCode = s.agency === 0 ? 'H52.101.114' : 'H52.21';
    const n = String(9001 + i);
    const dossier: Dossier = {
      code: `${agencyCode}-${received.slice(2, 10).replaceAll('-', '')}-${n}`,
      procedureCode: procedure.code,
      procedureName: procedure.name,
      field: { code: procedure.field.code, name: procedure.field.name },
      receiptNumber: `${n}/BN-SB`,
      applicant: { type: 'citizen', identifier: applicant.idNumber, name: applicant.fullName },
      summary: `${procedure.name} (hồ sơ mẫu của sandbox ${s.key})`,
      receivedAt: received,
      ...(s.due !== null ? { dueAt: iso(s.due) } : {}),
      ...(s.initial ? { status: s.initial } : {}),
      channel: s.channel,
      handlingAgency: SAMPLE_AGENCIES[s.agency],
      ...(s.paidOnline ? { onlinePayment: true } : {}),
      ...(s.vneid ? { vneidVerified: true } : {}),
      ...(s.populationDb ? { nationalDatabases: ['population' as const] } : {}),
      ...(s.fee ? { fees: [{ name: 'Lệ phí giải quyết thủ tục', amount: s.fee, paid: s.paidOnline === true }] } : {}),
      attachments: [
        {
          id: `sb-${s.key.toLowerCase()}-01`,
          name: 'Don-de-nghi.pdf',
          componentCode: 'TP01',
          url: `https://motcua.sonla.gov.vn/files/sb-${s.key.toLowerCase()}-01.pdf`,
          digitised: s.digitised === true,
          reused: s.reused === true,
        },
      ],
      ...(s.result ? { results: [{ id: `kq-${s.key.toLowerCase()}`, name: 'Kết quả giải quyết', url: `https://motcua.sonla.gov.vn/files/kq-${s.key.toLowerCase()}.pdf` }] } : {}),
    };
    return { key: s.key, dossier, events: s.events.map(([status, at]) => ({ status, at: iso(at) })) };
  });
}

/** The sandbox's desk officer who hands the samples over, and the purpose it names. */
const SAMPLE_PURPOSE = 'TIEP_NHAN_HO_SO';

/**
 * Hands every sample over with its status changes, unless the sandbox's client already handed
 * dossiers over (an earlier start). A sample that fails is logged and skipped.
 */
export async function depositSampleDossiers(deps: { dossiers: DossierService; log: Logger; hashIdentifier: (value: string) => string; now?: () => Date }): Promise<{ handedOver: string[] }> {
  const now = deps.now ?? (() => new Date());
  const scope = { all: false, clientId: SAMPLE_CLIENT, agencies: [] };
  const held = await deps.dossiers.list(scope, { page: 1, pageSize: 1 });
  if (held.total > 0) return { handedOver: [] };
  const actor = { clientId: SAMPLE_CLIENT, agency: 'H52', userHash: officerHash(deps.hashIdentifier, SAMPLE_CLIENT), purpose: SAMPLE_PURPOSE, scope };
  const handedOver: string[] = [];
  for (const sample of sampleDossiers(now())) {
    try {
      await deps.dossiers.create(actor, sample.dossier);
      for (const event of sample.events) await deps.dossiers.addEvent(actor, sample.dossier.code, { kind: 'status', status: event.status, at: event.at } as Parameters<DossierService['addEvent']>[2]);
      handedOver.push(sample.dossier.code);
    } catch (err) {
      deps.log.warn({ err, sample: sample.key }, 'a sandbox sample dossier could not be handed over');
    }
  }
  if (handedOver.length > 0) deps.log.info({ handedOver }, 'sandbox sample dossiers handed over');
  return { handedOver };
}
