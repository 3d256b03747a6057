import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../errors/gateway-error.ts';
import type { DocumentRecord } from '../documents/port.ts';
import { vietnamDay } from '../time.ts';
import { checkAttachmentForms, completeAttachments, dossierFigures, namedDocuments, withDepositedResults, type ReuseCheck } from './documents.ts';
import { documentContentPath } from '../documents/codes.ts';
import type { Dossier } from './port.ts';
import { documentRecord } from '../../../test/helpers/document-records.ts';

type Attachment = NonNullable<Dossier['attachments']>[number];

const DAY_MS = 86_400_000;
/** A quarter past midnight in Vietnam: still the previous day in UTC, where a UTC comparison goes wrong. */
const now = new Date(Math.floor(Date.now() / DAY_MS) * DAY_MS + 17 * 3_600_000 + 15 * 60_000);
const today = vietnamDay(now);
const dayOffset = (days: number) => vietnamDay(new Date(now.getTime() + days * DAY_MS));

const hashIdentifier = (value: string) => `h:${value}`;
const PERSON = '014192004567';
const OTHER = '001085012345';
const ENTERPRISE = '0101234567';
const documentUrl = (code: string) => `https://lienthong.example${documentContentPath(code)}`;

const stored = (code: string, overrides: Partial<DocumentRecord> = {}): DocumentRecord => documentRecord(code, PERSON, hashIdentifier, { issuedOn: dayOffset(-400), ...overrides }, now);

const RESULT = 'H52.101.114.KQ.G15.000031.2026.000001';
const SUBMISSION = 'H52.101.114.TP.CCCD.2026.000002';
const OTHERS = 'H52.101.114.KQ.G15.000031.2026.000003';
const EXPIRED = 'H52.101.114.KQ.G15.000031.2026.000004';
const TODAY = 'H52.101.114.KQ.G15.000031.2026.000005';
const DESTROYED = 'H52.101.114.KQ.G15.000031.2026.000006';
const ENTERPRISES = 'H52.101.114.KQ.G01.000001.2026.000007';

const documents = new Map<string, DocumentRecord>([
  [RESULT, stored(RESULT)],
  [SUBMISSION, stored(SUBMISSION, { kind: 'submission', documentType: 'TP.CCCD', name: 'Căn cước' })],
  [OTHERS, stored(OTHERS, { subject: OTHER, subjectHash: hashIdentifier(OTHER) })],
  [EXPIRED, stored(EXPIRED, { validUntil: dayOffset(-1) })],
  [TODAY, stored(TODAY, { validUntil: today })],
  [DESTROYED, stored(DESTROYED, { destroyedAt: new Date(now.getTime() - 3_600_000).toISOString() })],
  [ENTERPRISES, stored(ENTERPRISES, { subjectType: 'enterprise', subject: ENTERPRISE, subjectHash: hashIdentifier(ENTERPRISE) })],
]);

const check: ReuseCheck = {
  documents: { get: async (code) => documents.get(code), forDossier: async () => [] },
  hashIdentifier,
  now,
};

const citizen = { type: 'citizen' as const, identifier: PERSON };
const naming = (documentCode: string, id = 'tp-1'): Attachment => ({ id, name: 'Giấy tờ', componentCode: 'TP02', documentCode });
const withUrl: Attachment = { id: 'tp-0', name: 'Don.pdf', componentCode: 'TP01', url: 'https://motcua.sonla.gov.vn/files/don.pdf', digitised: true, reused: false };

async function refusal(run: Promise<unknown>): Promise<GatewayError> {
  const error = await run.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(GatewayError);
  return error as GatewayError;
}

describe('attachments naming a stored document', () => {
  it('take exactly one of url and documentCode, naming the field', () => {
    expect(() => checkAttachmentForms([withUrl, naming(RESULT)])).not.toThrow();
    const both = (() => {
      try {
        checkAttachmentForms([withUrl, { ...naming(RESULT), url: 'https://x.example/a.pdf' }]);
      } catch (err) {
        return err as GatewayError;
      }
    })();
    expect(both).toMatchObject({ code: 'VALIDATION_FAILED', errors: [{ field: 'body.attachments.1.documentCode' }] });
    const neither = (() => {
      try {
        checkAttachmentForms([{ id: 'x', name: 'x', componentCode: 'TP01', digitised: true, reused: false }]);
      } catch (err) {
        return err as GatewayError;
      }
    })();
    expect(neither).toMatchObject({ code: 'VALIDATION_FAILED', errors: [{ field: 'body.attachments.0.url' }] });
  });

  it("complete the applicant's stored result as reused from an earlier result, its type standing in for it", async () => {
    const completed = await completeAttachments([withUrl, { ...naming(RESULT), reused: false, reusedFrom: 'earlier_submission', fromNationalRepository: true }], citizen, check);
    expect(completed![0]).toEqual(withUrl);
    expect(completed![1]).toEqual({
      id: 'tp-1',
      name: 'Giấy tờ',
      componentCode: 'TP02',
      documentCode: RESULT,
      digitised: true,
      reused: true,
      reusedFrom: 'earlier_result',
      replacesResultCode: 'KQ.G15.000031',
      fromNationalRepository: false,
    });
  });

  it('complete a stored submission as reused from an earlier submission, with no result code', async () => {
    const [attachment] = (await completeAttachments([{ ...naming(SUBMISSION), replacesResultCode: 'KQ.X' }], citizen, check))!;
    expect(attachment).toMatchObject({ documentCode: SUBMISSION, reused: true, reusedFrom: 'earlier_submission', digitised: true });
    expect(attachment).not.toHaveProperty('replacesResultCode');
  });

  it("refuse another person's document exactly as a code the store does not hold", async () => {
    const others = await refusal(completeAttachments([withUrl, naming(OTHERS)], citizen, check));
    const unknown = await refusal(completeAttachments([withUrl, naming('H52.101.114.KQ.G15.000031.2026.999999')], citizen, check));
    expect(others).toMatchObject({ code: 'DOCUMENT_NOT_REUSABLE', status: 422, errors: [{ field: 'body.attachments.1.documentCode' }] });
    expect(unknown.errors).toEqual(others.errors);
    expect(unknown.detail).toBe(others.detail);
    expect(others.detail).not.toContain(OTHER);
  });

  it("refuse an enterprise's document for a citizen with the same number, and any document for a state agency", async () => {
    const asCitizen = await refusal(completeAttachments([naming(ENTERPRISES)], { type: 'citizen', identifier: ENTERPRISE }, check));
    expect(asCitizen).toMatchObject({ code: 'DOCUMENT_NOT_REUSABLE', errors: [{ field: 'body.attachments.0.documentCode' }] });
    await expect(completeAttachments([naming(ENTERPRISES)], { type: 'business', identifier: ENTERPRISE }, check)).resolves.toHaveLength(1);
    await expect(completeAttachments([naming(RESULT)], { type: 'state_agency', identifier: PERSON }, check)).rejects.toMatchObject({ code: 'DOCUMENT_NOT_REUSABLE' });
  });

  it("take its owner's documents for a household business, which applies under the owner's ID number", async () => {
    await expect(completeAttachments([naming(RESULT)], { type: 'business', identifier: PERSON }, check)).resolves.toHaveLength(1);
    await expect(completeAttachments([naming(ENTERPRISES)], { type: 'business', identifier: PERSON }, check)).rejects.toMatchObject({ code: 'DOCUMENT_NOT_REUSABLE' });
  });

  it('keep a document the dossier already holds under the same id once it is no longer valid, never another person\'s', async () => {
    const held = [{ ...naming(EXPIRED, 'gks-1'), digitised: true, reused: true }];
    await expect(completeAttachments([naming(EXPIRED, 'gks-1')], citizen, { ...check, held })).resolves.toHaveLength(1);
    // Under another id it is a new attachment: checked as one.
    await expect(completeAttachments([naming(EXPIRED, 'gks-2')], citizen, { ...check, held })).rejects.toMatchObject({ code: 'DOCUMENT_NOT_REUSABLE' });
    await expect(completeAttachments([naming(EXPIRED, 'gks-1')], { type: 'citizen', identifier: OTHER }, { ...check, held })).rejects.toMatchObject({ code: 'DOCUMENT_NOT_REUSABLE' });
  });

  it('take a document valid until today (Vietnam time), and refuse one valid until yesterday or destroyed', async () => {
    await expect(completeAttachments([naming(TODAY)], citizen, check)).resolves.toHaveLength(1);
    const expired = await refusal(completeAttachments([naming(EXPIRED)], citizen, check));
    expect(expired).toMatchObject({ code: 'DOCUMENT_NOT_REUSABLE', errors: [{ field: 'body.attachments.0.documentCode' }] });
    expect(expired.detail).toContain(dayOffset(-1));
    const destroyed = await refusal(completeAttachments([naming(DESTROYED)], citizen, check));
    expect(destroyed.errors![0]!.message).toMatch(/destroyed/);
  });

  it('are refused where the gateway keeps no documents; attachments with URLs alone need no store', async () => {
    const without = { ...check, documents: undefined };
    await expect(completeAttachments([naming(RESULT)], citizen, without)).rejects.toMatchObject({ code: 'DOCUMENT_NOT_REUSABLE' });
    await expect(completeAttachments([withUrl], citizen, without)).resolves.toEqual([withUrl]);
  });

  it('are named in the exchange log once each, in order', () => {
    expect(namedDocuments([withUrl, naming(RESULT), naming(SUBMISSION), naming(RESULT, 'again')])).toEqual([RESULT, SUBMISSION]);
    expect(namedDocuments(undefined)).toEqual([]);
  });

  it('count as digitised and reused in the figures, withdrawn ones not at all', () => {
    expect(dossierFigures({ handlingAgency: 'UBND phường Tô Hiệu', attachments: [withUrl] })).toEqual({ handlingAgency: 'UBND phường Tô Hiệu', digitisedSubmission: true, reusedDocument: false });
    expect(dossierFigures({ handlingAgency: 'A', attachments: [{ ...withUrl, digitised: false }, naming(RESULT)] })).toMatchObject({ digitisedSubmission: true, reusedDocument: true });
    expect(dossierFigures({ handlingAgency: 'A', attachments: [{ ...withUrl, reused: true, deleted: true }] })).toMatchObject({ digitisedSubmission: false, reusedDocument: false });
    expect(dossierFigures({ handlingAgency: 'A' })).toMatchObject({ digitisedSubmission: false, reusedDocument: false });
  });
});

describe('results deposited for a dossier', () => {
  const own = { id: 'kq-7f3a', name: 'Giấy chứng nhận', url: 'https://motcua.sonla.gov.vn/ket-qua/kq-7f3a.pdf', resultCode: 'KQ-HKD-01' };

  it("follow the system's own results, by document code, content URL and type; submissions, destroyed ones and repeats left out", () => {
    const deposited = [
      stored(RESULT, { name: 'Giấy chứng nhận đăng ký hộ kinh doanh', documentType: 'KQ.G12.000001' }),
      stored(SUBMISSION, { kind: 'submission' }),
      stored(DESTROYED, { destroyedAt: now.toISOString() }),
      stored(TODAY),
    ];
    const results = withDepositedResults([own, { ...own, id: TODAY }], deposited, documentUrl);
    expect(results).toEqual([
      own,
      { ...own, id: TODAY },
      { id: RESULT, name: 'Giấy chứng nhận đăng ký hộ kinh doanh', url: `https://lienthong.example/v1/documents/${RESULT}/content`, resultCode: 'KQ.G12.000001' },
    ]);
  });

  it('leave the results untouched when none was deposited', () => {
    expect(withDepositedResults(undefined, [], documentUrl)).toBeUndefined();
    expect(withDepositedResults([own], [stored(SUBMISSION, { kind: 'submission' })], documentUrl)).toEqual([own]);
    expect(withDepositedResults(undefined, [stored(RESULT)], documentUrl)).toHaveLength(1);
  });
});
