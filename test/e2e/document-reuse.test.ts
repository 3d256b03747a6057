/**
 * Documents once, reused everywhere, end to end: a real gateway wired to the sandbox. A result PDF
 * deposited for a sandbox person through the document API is named by a dossier of that person
 * instead of a URL; the national portal simulator holds it as reused (DuocTaiSuDung 2, the result
 * code in MaKetQuaThayThe, the gateway's content URL), and the URL gives the sealed file. A result
 * deposited for the dossier reaches the portal in DanhSachGiayToKetQua under its document code
 * with the next sync. A dossier of another person naming that document, and a document no longer
 * valid, are refused 422 DOCUMENT_NOT_REUSABLE, with nothing stored or queued. Each reuse, and each
 * refused one, is an exchange-log entry of the applicant naming the documents.
 */
import { createHash } from 'node:crypto';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDays, vietnamDay } from '../../src/core/time.ts';
import { people } from '../../src/sandbox/personas.ts';
import { eventually, sampleDossier, simulatorDossier } from '../helpers/dossiers.ts';
import { AUDITOR_HEADERS, KEYS, auditEntriesAbout, startTestGateway, type TestGateway, subjectHasherOf } from '../helpers/gateway.ts';
import { samplePdf } from '../helpers/pdf.ts';

const A = people[0]!;
const B = people[1]!;
const DESK = { 'x-user-id': 'canbo-tohieu-0042', 'x-purpose': 'TIEP_NHAN_HO_SO' };
const RESULT_TYPE = 'KQ.G15.000031';
/** A day in Vietnam time, `days` from today (yyyy-MM-dd). */
const dayFromToday = (days: number) => addDays(vietnamDay(new Date()), days);

let gw: TestGateway;
let dvcqg: string;
let hash: (value: string) => string;

beforeAll(async () => {
  gw = await startTestGateway({ 'outbox.pollIntervalMs': 50, 'outbox.backoffBaseMs': 20, 'outbox.backoffMaxMs': 200, 'audit.integrateIntervalMs': 50 });
  dvcqg = gw.gateway.sandbox!.urls.dvcqg!;
  hash = subjectHasherOf(gw);
}, 60_000);
afterAll(async () => {
  await gw?.close();
});

interface Deposited {
  code: string;
  contentUrl: string;
  sha256: string;
}

/** Deposits a PDF through the document API (multipart), for `subject`. */
async function deposit(subject: string, fields: Record<string, string>, text: string): Promise<Deposited> {
  const body = new FormData();
  for (const [name, value] of Object.entries({ subjectType: 'citizen', subject, kind: 'result', documentType: RESULT_TYPE, name: 'Giấy khai sinh (bản điện tử)', issuingAgency: 'H52.101.114', ...fields })) body.append(name, value);
  body.append('file', new Blob([new Uint8Array(await samplePdf({ text }))], { type: 'application/pdf' }), 'ket-qua.pdf');
  const res = await gw.fetch('/v1/documents', { method: 'POST', key: KEYS.agency, headers: DESK, body });
  const answer = await res.text();
  expect(res.status, answer).toBe(201);
  return JSON.parse(answer) as Deposited;
}

const dossierOf = (n: number, person: typeof A, attachments: unknown[]): Record<string, unknown> => {
  const base = sampleDossier(n);
  return { ...base, applicant: { ...(base.applicant as object), identifier: person.idNumber, name: person.fullName }, attachments };
};
const handOver = (dossier: unknown) => gw.fetch('/v1/dossiers', { method: 'POST', headers: { 'content-type': 'application/json', ...DESK }, body: JSON.stringify(dossier) });
const fileAttachment = { id: 'don-01', name: 'Don-de-nghi.pdf', componentCode: 'TP01', url: 'https://motcua.sonla.gov.vn/files/don-01.pdf', digitised: true, reused: false };
const naming = (documentCode: string) => ({ id: 'gks-01', name: 'Giay-khai-sinh.pdf', componentCode: 'TP02', documentCode });

/** What the gateway's database holds of a dossier: its row and its delivery jobs. */
function stored(code: string): { dossiers: number; jobs: number } {
  const db = new Database(gw.dbPath, { readonly: true });
  try {
    const count = (sql: string) => (db.prepare(sql).get(code) as { n: number }).n;
    return { dossiers: count('select count(*) as n from dossiers where code = ?'), jobs: count('select count(*) as n from outbox_jobs where dossier_code = ?') };
  } finally {
    db.close();
  }
}

interface Entry {
  operation: string;
  client: string;
  subjectHash: string | null;
  caseId: string | null;
  criteria: Record<string, string> | null;
  outcome: string;
  status: number;
}

const entriesAbout = (identifier: string, operation: string, enough: (items: Entry[]) => boolean) => auditEntriesAbout(gw, identifier, operation, enough);

type WireAttachment = Record<string, string>;

const escaped = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** The address the national portal is given for a stored document: shared, with its token, not the authenticated download. */
const sharedAddress = (documentCode: string) => expect.stringMatching(new RegExp(`^${escaped(gw.url)}/v1/documents/${escaped(documentCode)}/shared/[0-9a-f]{64}$`));

describe('a dossier reusing a stored document', () => {
  let result: Deposited;
  const dossier = dossierOf(301, A, [fileAttachment]);
  const code = String(dossier.code);

  it('reaches the portal as reused, with the content URL the sealed file is fetched from, and is logged against the applicant', async () => {
    result = await deposit(A.idNumber, {}, `reuse ${Date.now()}`);
    expect(result.contentUrl).toBe(`${gw.url}/v1/documents/${result.code}/content`);
    const res = await handOver({ ...dossier, attachments: [fileAttachment, naming(result.code)] });
    expect(res.status, await res.clone().text()).toBe(202);

    const held = await eventually(async () => simulatorDossier(dvcqg, code), 15_000, 'the dossier at the portal');
    const [own, reused] = held.item.TaiLieuNop as WireAttachment[];
    expect(own).toMatchObject({ TepDinhKemId: 'don-01', DuocTaiSuDung: '0', MaKetQuaThayThe: '' });
    expect(reused).toMatchObject({
      TepDinhKemId: 'gks-01',
      TenTepDinhKem: 'Giay-khai-sinh.pdf',
      MaThanhPhanHoSo: 'TP02',
      DuongDanTaiTepTin: sharedAddress(result.code),
      DuocSoHoa: '1',
      DuocTaiSuDung: '2',
      MaKetQuaThayThe: RESULT_TYPE,
      DuocLayTuKhoDMQG: '0',
      IsDeleted: '0',
    });
    expect(held.item.HoSoCoThanhPhanSoHoa).toBe('1');

    // The portal, which holds no key of ours, fetches the sealed PDF at the address it was given; another token is no address.
    const content = await fetch(reused!.DuongDanTaiTepTin!);
    expect(content.status).toBe(200);
    expect(createHash('sha256').update(Buffer.from(await content.arrayBuffer())).digest('hex')).toBe(result.sha256);
    const forged = reused!.DuongDanTaiTepTin!.replace(/[0-9a-f]{64}$/, (token) => `${token.slice(0, 63)}${token.endsWith('0') ? '1' : '0'}`);
    expect((await fetch(forged)).status).toBe(404);
    expect((await fetch(reused!.DuongDanTaiTepTin!.replace(/\/shared\/.*$/, '/content'))).status).toBe(401);
    // The download is logged against the document's subject (a refused token is logged too, about no one: the document is not read for it).
    const downloads = await entriesAbout(A.idNumber, 'getSharedDocumentContent', (items) => items.length >= 1);
    expect(downloads.map((e) => [e.client, e.status, e.subjectHash])).toEqual([['national-portal', 200, hash(A.idNumber)]]);
    const refused = await eventually(async () => {
      const res = await gw.fetch('/v1/audit/entries?operation=getSharedDocumentContent&limit=1000', { key: KEYS.auditor, headers: AUDITOR_HEADERS });
      const { items } = (await res.json()) as { items: Entry[] };
      return items.find((e) => e.status === 404);
    }, 15_000, 'the refused download in the exchange log');
    expect(refused).toMatchObject({ client: 'national-portal', subjectHash: null, status: 404 });
    // The token is the credential (x-secret): the records name the document, never the token, valid or forged.
    const token = reused!.DuongDanTaiTepTin!.slice(-64);
    for (const entry of [...downloads, refused!]) {
      expect(entry.criteria).toEqual({ documentCode: expect.any(String) });
      expect(JSON.stringify(entry)).not.toContain(token.slice(0, 60));
    }

    // The figures' clear columns.
    const db = new Database(gw.dbPath, { readonly: true });
    try {
      expect(db.prepare('select handling_agency, digitised_submission, reused_document from dossiers where code = ?').get(code)).toEqual({ handling_agency: dossier.handlingAgency, digitised_submission: 1, reused_document: 1 });
    } finally {
      db.close();
    }

    const [entry] = await entriesAbout(A.idNumber, 'createDossier', (items) => items.some((e) => e.caseId === code));
    expect(entry).toMatchObject({ subjectHash: hash(A.idNumber), caseId: code, criteria: { reusedDocuments: result.code }, status: 202 });
  }, 60_000);

  it('gets a result deposited for it with the next sync, in DanhSachGiayToKetQua under its document code', async () => {
    expect(result, 'the dossier of the previous test').toBeDefined();
    await eventually(async () => ((await simulatorDossier(dvcqg, code))?.held.length === 1 ? true : undefined), 15_000, 'the dossier delivered');
    const decided = await deposit(A.idNumber, { dossierCode: code, documentType: 'KQ.G12.000001', name: 'Giấy chứng nhận đăng ký hộ kinh doanh' }, `result ${Date.now()}`);
    const held = await eventually(async () => {
      const now = await simulatorDossier(dvcqg, code);
      return now && now.held.length >= 2 ? now : undefined;
    }, 15_000, 'the update carrying the result');
    expect(held.held.map((h) => h.sequence)).toEqual([1, 2]);
    expect(held.item.DanhSachGiayToKetQua).toEqual([
      { TenGiayTo: 'Giấy chứng nhận đăng ký hộ kinh doanh', GiayToId: decided.code, MaThanhPhanHoSo: '', DuongDanTepTinKetQua: sharedAddress(decided.code), MaGiayToKetQua: 'KQ.G12.000001' },
    ]);
    // The reused attachment is still sent as it was completed.
    expect((held.item.TaiLieuNop as WireAttachment[])[1]).toMatchObject({ DuocTaiSuDung: '2', DuongDanTaiTepTin: sharedAddress(result.code) });
    const state = (await (await gw.fetch(`/v1/dossiers/${code}`, { headers: DESK })).json()) as { history: { kind: string }[] };
    expect(state.history.map((h) => h.kind)).toEqual(['created', 'result']);
  }, 60_000);

  it('reaches the portal as reused when a correction names it, the correction logged with the codes', async () => {
    expect(result, 'the document of the first test').toBeDefined();
    const corrected = dossierOf(306, A, [fileAttachment]);
    const correctedCode = String(corrected.code);
    expect((await handOver(corrected)).status).toBe(202);
    await eventually(async () => ((await simulatorDossier(dvcqg, correctedCode))?.held.length === 1 ? true : undefined), 15_000, 'the dossier delivered');
    const patch = (attachments: unknown[]) =>
      gw.fetch(`/v1/dossiers/${correctedCode}`, { method: 'PATCH', headers: { 'content-type': 'application/merge-patch+json', ...DESK }, body: JSON.stringify({ attachments }) });
    // Another person's document: refused, nothing changed.
    const others = await deposit(B.idNumber, {}, `b ${Date.now()}`);
    const refused = await patch([fileAttachment, naming(others.code)]);
    expect(refused.status).toBe(422);
    expect(await refused.json()).toMatchObject({ code: 'DOCUMENT_NOT_REUSABLE', errors: [{ field: 'body.attachments.1.documentCode' }] });
    expect(stored(correctedCode)).toEqual({ dossiers: 1, jobs: 1 });

    const res = await patch([fileAttachment, naming(result.code)]);
    expect(res.status, await res.clone().text()).toBe(202);
    const held = await eventually(async () => {
      const now = await simulatorDossier(dvcqg, correctedCode);
      return now && now.held.length >= 2 ? now : undefined;
    }, 15_000, 'the correction at the portal');
    expect((held.item.TaiLieuNop as WireAttachment[])[1]).toMatchObject({ DuocTaiSuDung: '2', MaKetQuaThayThe: RESULT_TYPE, DuongDanTaiTepTin: sharedAddress(result.code) });
    const entries = await entriesAbout(A.idNumber, 'correctDossier', (items) => items.filter((e) => e.caseId === correctedCode).length >= 2);
    const mine = entries.filter((e) => e.caseId === correctedCode);
    expect(mine.map((e) => [e.status, e.criteria])).toEqual(
      expect.arrayContaining([
        [422, { dossierCode: correctedCode, reusedDocuments: others.code }],
        [202, { dossierCode: correctedCode, reusedDocuments: result.code }],
      ]),
    );
    for (const e of mine) expect(e.subjectHash).toBe(hash(A.idNumber));
  }, 60_000);

  it("refuses another person's dossier naming it, and a document no longer valid: 422, nothing stored or queued, the attempt logged", async () => {
    expect(result, 'the document of the first test').toBeDefined();
    const forB = dossierOf(302, B, [naming(result.code)]);
    const refused = await handOver(forB);
    const body = (await refused.json()) as { code: string; errors: { field: string; message: string }[]; detail: string };
    expect(refused.status).toBe(422);
    expect(body).toMatchObject({ code: 'DOCUMENT_NOT_REUSABLE', errors: [{ field: 'body.attachments.0.documentCode' }] });
    expect(body.detail).not.toContain(A.idNumber);
    // Said as of a code the store does not hold.
    const unknown = (await (await handOver(dossierOf(303, B, [naming('H52.101.114.KQ.G15.000031.2026.999999')]))).json()) as typeof body;
    expect(unknown.errors).toEqual(body.errors);

    const expired = await deposit(A.idNumber, { kind: 'submission', documentType: 'TP.GKS', issuedOn: dayFromToday(-400), validUntil: dayFromToday(-1) }, `expired ${Date.now()}`);
    const late = await handOver(dossierOf(304, A, [naming(expired.code)]));
    expect(late.status).toBe(422);
    expect(await late.json()).toMatchObject({ code: 'DOCUMENT_NOT_REUSABLE', errors: [{ field: 'body.attachments.0.documentCode' }] });

    // Both ways of naming: refused as a bad request.
    const both = await handOver(dossierOf(305, A, [{ ...naming(result.code), url: 'https://motcua.sonla.gov.vn/files/x.pdf', digitised: true, reused: false }]));
    expect(both.status).toBe(400);
    expect(await both.json()).toMatchObject({ code: 'VALIDATION_FAILED', errors: [{ field: 'body.attachments.0.documentCode' }] });

    for (const n of [302, 303, 304, 305]) {
      const refusedCode = String(sampleDossier(n).code);
      expect(stored(refusedCode), refusedCode).toEqual({ dossiers: 0, jobs: 0 });
      expect((await gw.fetch(`/v1/dossiers/${refusedCode}`, { headers: DESK })).status).toBe(404);
      expect(await simulatorDossier(dvcqg, refusedCode)).toBeUndefined();
    }
    const forBCode = String(forB.code);
    const [entry] = await entriesAbout(B.idNumber, 'createDossier', (items) => items.some((e) => e.caseId === forBCode));
    expect(entry).toMatchObject({ subjectHash: hash(B.idNumber), caseId: forBCode, criteria: { reusedDocuments: result.code }, outcome: 'denied', status: 422 });
  }, 60_000);
});
