import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { PDFDocument, StandardFonts, rgb } from 'pdf-lib';
import type { DocumentService } from '../core/documents/service.ts';
import type { DocumentKind, DocumentSubjectType } from '../core/documents/port.ts';
import { officerHash } from '../audit/officers.ts';
// The standard PDF fonts print no Vietnamese diacritics: text is written without them.
import { withoutDiacritics } from '../core/names.ts';
import { addDays, anniversary, vietnamDay } from '../core/time.ts';
import type { Logger } from '../logging.ts';
import { agencyNames, enterprises, people } from './personas.ts';

/**
 * Documents the sandbox gateway holds from its first start, so that a portal developer can list a
 * persona's documents, download one sealed result and name it in a dossier (reuse) at once. They
 * are deposited through the document service like any deposit (results sealed with the agency's
 * certificate and a timestamp), once: a document already held for the same subject and type is
 * not deposited again. The document type codes are the sandbox's own (`KQ.SB.…`).
 *
 * The PDFs carry their text without Vietnamese diacritics: pdf-lib's standard fonts encode
 * WinAnsi only, and a font with Vietnamese glyphs would have to be embedded (a font file and
 * fontkit). The metadata (`name`) keeps the Vietnamese spelling.
 */

export interface SampleDocument {
  subjectType: DocumentSubjectType;
  subject: string;
  kind: DocumentKind;
  documentType: string;
  /** As the metadata gives it, in Vietnamese. */
  name: string;
  issuingAgency: string;
  /** yyyy-MM-dd. */
  issuedOn: string;
  validUntil: string | null;
  /** The lines printed on the page (Vietnamese written without diacritics). */
  lines: string[];
}

const person = (fullName: string) => {
  const found = people.find((p) => p.fullName === fullName);
  if (!found) throw new Error(`no sandbox persona ${fullName}`);
  return found;
};

const enterprise = (name: string) => {
  const found = enterprises.find((e) => e.name === name);
  if (!found) throw new Error(`no sandbox enterprise ${name}`);
  return found;
};

/** yyyy-MM-dd `days` after `day`. */

/** The sample documents; dates of validity are counted from `today` (yyyy-MM-dd), so they are valid whenever the sandbox first starts. */
export function sampleDocuments(today: string): SampleDocument[] {
  const pao = person('Giàng A Páo');
  const lan = person('Đinh Thị Lan');
  const mango = enterprise('CÔNG TY TNHH MỘT THÀNH VIÊN XOÀI YÊN CHÂU');
  const ward = 'H52.128.101';
  const health = 'H52.21';
  const foodSafetyIssued = addDays(today, -30);
  return [
    {
      subjectType: 'citizen',
      subject: pao.idNumber,
      kind: 'result',
      documentType: 'KQ.SB.000001',
      name: `Trích lục khai sinh (bản sao) — ${pao.fullName}`,
      issuingAgency: ward,
      issuedOn: '2025-09-15',
      validUntil: null,
      lines: [
        'TRICH LUC KHAI SINH (BAN SAO)',
        `Ho, chu dem, ten: ${withoutDiacritics(pao.fullName)}`,
        `Ngay, thang, nam sinh: ${pao.dateOfBirth}`,
        `So dinh danh ca nhan: ${pao.idNumber}`,
        `Noi dang ky: ${withoutDiacritics(agencyNames[ward]!)}`,
      ],
    },
    {
      subjectType: 'citizen',
      subject: lan.idNumber,
      kind: 'result',
      documentType: 'KQ.SB.000002',
      name: `Giấy chứng nhận đăng ký hộ kinh doanh — ${lan.fullName}`,
      issuingAgency: ward,
      issuedOn: '2025-10-01',
      validUntil: null,
      lines: [
        'GIAY CHUNG NHAN DANG KY HO KINH DOANH',
        'Ten ho kinh doanh: HO KINH DOANH DINH LAN - CHE SHAN TUYET',
        `Chu ho kinh doanh: ${withoutDiacritics(lan.fullName)}, so dinh danh ${lan.idNumber}`,
        'Nganh, nghe kinh doanh: che bien va ban le che',
        `Co quan cap: ${withoutDiacritics(agencyNames[ward]!)}`,
      ],
    },
    {
      subjectType: 'enterprise',
      subject: mango.enterpriseCode,
      kind: 'result',
      documentType: 'KQ.SB.000003',
      name: `Giấy chứng nhận cơ sở đủ điều kiện an toàn thực phẩm — ${mango.name}`,
      issuingAgency: health,
      issuedOn: foodSafetyIssued,
      validUntil: anniversary(foodSafetyIssued, 3),
      lines: [
        'GIAY CHUNG NHAN CO SO DU DIEU KIEN AN TOAN THUC PHAM',
        `Co so: ${withoutDiacritics(mango.name)}`,
        `Ma so doanh nghiep: ${mango.enterpriseCode}`,
        'Loai hinh san xuat: che bien xoai say',
        `Co quan cap: ${withoutDiacritics(agencyNames[health]!)}`,
      ],
    },
  ];
}

/** A one-page A4 PDF of the sample's text, marked as sandbox data. */
export async function samplePdf(sample: SampleDocument): Promise<Buffer> {
  const pdf = await PDFDocument.create();
  // The dates of the document, not of the run: the same sample gives the same file.
  const issued = new Date(`${sample.issuedOn}T08:00:00+07:00`);
  pdf.setCreationDate(issued);
  pdf.setModificationDate(issued);
  pdf.setTitle(withoutDiacritics(sample.name));
  pdf.setProducer('lienthong sandbox');
  const page = pdf.addPage([595.28, 841.89]);
  const regular = await pdf.embedFont(StandardFonts.Helvetica);
  const bold = await pdf.embedFont(StandardFonts.HelveticaBold);
  page.drawText('CONG HOA XA HOI CHU NGHIA VIET NAM', { x: 150, y: 780, size: 12, font: bold });
  page.drawText('Doc lap - Tu do - Hanh phuc', { x: 215, y: 762, size: 11, font: regular });
  const [title, ...body] = sample.lines;
  page.drawText(title!, { x: 60, y: 700, size: 14, font: bold });
  body.forEach((line, i) => page.drawText(line, { x: 60, y: 660 - i * 22, size: 11, font: regular }));
  page.drawText(`Ngay cap: ${sample.issuedOn}${sample.validUntil ? `   Co gia tri den: ${sample.validUntil}` : ''}`, { x: 60, y: 660 - body.length * 22 - 10, size: 11, font: regular });
  page.drawText('DU LIEU MAU CUA SANDBOX - KHONG CO GIA TRI PHAP LY (sandbox sample, not a real document)', { x: 60, y: 80, size: 9, font: regular, color: rgb(0.6, 0, 0) });
  return Buffer.from(await pdf.save());
}

/** Who deposits the samples: the sandbox itself (client and acting user), for the issuing agency. */
export const SAMPLE_CLIENT = 'sandbox-samples';
/** The sandbox configuration's identity-check purpose (config/sandbox.yaml). */
const SAMPLE_PURPOSE = 'XAC_MINH_DANH_TINH';

/**
 * Deposits every sample the store does not hold yet (same subject and document type); answers the
 * codes deposited now and how many were there already. A sample that fails is logged and skipped:
 * the sandbox starts without it.
 */
export async function depositSampleDocuments(
  deps: { documents: DocumentService; log: Logger; hashIdentifier: (value: string) => string; now?: () => Date },
): Promise<{ deposited: string[]; present: number }> {
  const now = deps.now ?? (() => new Date());
  const today = vietnamDay(now());
  const deposited: string[] = [];
  let present = 0;
  for (const sample of sampleDocuments(today)) {
    const ctx = {
      requestId: randomUUID(),
      exchangeId: randomUUID(),
      signal: AbortSignal.timeout(30_000),
      log: deps.log,
      clientId: SAMPLE_CLIENT,
      agency: sample.issuingAgency,
      // The subject is checked in the national database, as for any deposit: the call names who and why.
      userId: SAMPLE_CLIENT,
      purpose: SAMPLE_PURPOSE,
    };
    // The same caller as the call context, named as the routes name an acting user.
    const actor = {
      clientId: ctx.clientId,
      agency: ctx.agency,
      userHash: officerHash(deps.hashIdentifier, ctx.userId),
      purpose: ctx.purpose,
      scope: { all: false, clientId: ctx.clientId, agencies: [] },
    };
    try {
      const held = await deps.documents.list({ subject: sample.subject, documentType: sample.documentType, page: 1, pageSize: 1 });
      if (held.total > 0) {
        present++;
        continue;
      }
      const file = await deps.documents.receive({ stream: Readable.from([await samplePdf(sample)]), filename: `${sample.documentType}.pdf`, declaredType: 'application/pdf' });
      const document = await deps.documents.deposit(ctx, actor, {
        subjectType: sample.subjectType,
        subject: sample.subject,
        kind: sample.kind,
        documentType: sample.documentType,
        name: sample.name,
        issuingAgency: sample.issuingAgency,
        issuedOn: sample.issuedOn,
        ...(sample.validUntil ? { validUntil: sample.validUntil } : {}),
      }, file);
      deposited.push(document.code);
    } catch (err) {
      deps.log.warn({ err, documentType: sample.documentType }, 'a sandbox sample document could not be deposited');
    }
  }
  if (deposited.length > 0) deps.log.info({ deposited }, 'sandbox sample documents deposited');
  return { deposited, present };
}
