import { GatewayError } from '../../errors/gateway-error.ts';
import type { DocumentRecord, DocumentStore, DocumentSubjectType } from '../documents/port.ts';
import { vietnamDay } from '../time.ts';
import type { Dossier } from './port.ts';
import type { DossierFigures } from './store.ts';

/**
 * Dossiers and the electronic document store: attachments that name a stored document instead of
 * a file, and results deposited for a dossier. What the national portal receives of them (reuse
 * flags, results list) is the dvcqg adapter's mapping; here the gateway decides what the dossier
 * holds.
 */

/** What dossiers read of the document store. */
export type DossierDocumentStore = Pick<DocumentStore, 'get' | 'forDossier'>;

/** Where the national portal fetches a stored document's content (the document API's content path under the public base URL). */
export type DocumentUrl = (code: string) => string;

type Attachment = NonNullable<Dossier['attachments']>[number];
type Result = NonNullable<Dossier['results']>[number];
type Applicant = Dossier['applicant'];

/** Whose documents an applicant may reuse: a citizen's for a citizen, an enterprise's for a business; none for others. */
const DOCUMENT_SUBJECT: Partial<Record<Applicant['type'], DocumentSubjectType>> = { citizen: 'citizen', business: 'enterprise' };
/** A personal ID number: a business applying under one is a household business, its documents its owner's. */
const PERSONAL_ID = /^\d{12}$/;

/** The kind of document subject an applicant is, if any. */
export const documentSubjectOf = (applicant: Pick<Applicant, 'type' | 'identifier'>): DocumentSubjectType | undefined =>
  applicant.type === 'business' && PERSONAL_ID.test(applicant.identifier) ? 'citizen' : DOCUMENT_SUBJECT[applicant.type];


const invalid = (field: string, message: string) => new GatewayError('VALIDATION_FAILED', { detail: `${field} ${message}`, errors: [{ field, message }] });
const notReusable = (field: string, message: string) => new GatewayError('DOCUMENT_NOT_REUSABLE', { detail: `${field} ${message}`, errors: [{ field, message }] });

/** Said alike of a code the store does not hold and of another person's document: which one it is is not told. */
const NOT_THE_APPLICANTS = "is not one of the applicant's documents held by the gateway";

/** The codes of the attachments that name a stored document, in order, without repeats. */
export function namedDocuments(attachments: readonly { documentCode?: string | undefined }[] | null | undefined): string[] {
  return [...new Set((attachments ?? []).flatMap((a) => (a.documentCode ? [a.documentCode] : [])))];
}

/**
 * Exactly one of `url` and `documentCode` per attachment (400 VALIDATION_FAILED naming the field),
 * checked on the attachments as the client sent them (`body.attachments.<i>`).
 */
export function checkAttachmentForms(attachments: readonly Attachment[] | null | undefined): void {
  (attachments ?? []).forEach((a, i) => {
    const at = `body.attachments.${i}`;
    if (a.documentCode !== undefined && a.url !== undefined) throw invalid(`${at}.documentCode`, 'must not be given with url: name a stored document or give the URL of a file, not both');
    if (a.documentCode === undefined && a.url === undefined) throw invalid(`${at}.url`, 'is required unless documentCode names a stored document');
  });
}

export interface ReuseCheck {
  documents: DossierDocumentStore | undefined;
  hashIdentifier(value: string): string;
  now: Date;
  /**
   * The attachments the dossier already holds (a correction resends the whole list): one naming
   * the same document under the same id was valid when it came, and stays so however long the
   * dossier takes; it is still checked to be the applicant's.
   */
  held?: readonly Attachment[] | undefined;
}

/**
 * A stored document as the attachment the dossier holds: digitised and reused, from an earlier
 * result (standing in for it by its result code) or an earlier submission, not from the national
 * repository. Its URL is not kept: it is the document's address as the portal receives it
 * (withDocumentUrls), which may change with the gateway's public address.
 */
export function reusedAttachment(attachment: Attachment, document: Pick<DocumentRecord, 'code' | 'kind' | 'documentType'>): Attachment {
  const { replacesResultCode: _replaces, reusedFrom: _from, url: _url, ...rest } = attachment;
  return {
    ...rest,
    documentCode: document.code,
    digitised: true,
    reused: true,
    fromNationalRepository: false,
    ...(document.kind === 'result' ? { reusedFrom: 'earlier_result' as const, replacesResultCode: document.documentType } : { reusedFrom: 'earlier_submission' as const }),
  };
}

/**
 * Completes the attachments that name a stored document, after checking each: the applicant's
 * own (same keyed hash, matching kind of subject), valid today in Vietnam time, not destroyed.
 * Anything else is 422 DOCUMENT_NOT_REUSABLE naming `body.attachments.<i>.documentCode`; an
 * unknown code and another person's document are refused in the same words. Reads only: nothing
 * is written before every attachment passed.
 */
export async function completeAttachments(attachments: readonly Attachment[] | undefined, applicant: Pick<Applicant, 'type' | 'identifier'>, check: ReuseCheck): Promise<Attachment[] | undefined> {
  if (!attachments || !attachments.some((a) => a.documentCode !== undefined)) return attachments ? [...attachments] : undefined;
  const applicantHash = check.hashIdentifier(applicant.identifier);
  const subjectType = documentSubjectOf(applicant);
  const today = vietnamDay(check.now);
  const completed: Attachment[] = [];
  for (const [i, a] of attachments.entries()) {
    if (a.documentCode === undefined) {
      completed.push(a);
      continue;
    }
    const field = `body.attachments.${i}.documentCode`;
    if (!check.documents) throw notReusable(field, 'names a stored document, but this gateway keeps no documents');
    const document = await check.documents.get(a.documentCode);
    if (!document || subjectType === undefined || document.subjectType !== subjectType || document.subjectHash !== applicantHash) throw notReusable(field, NOT_THE_APPLICANTS);
    if (document.destroyedAt !== null) throw notReusable(field, 'names a document whose content was destroyed at the end of its retention');
    const alreadyHeld = check.held?.some((h) => h.id === a.id && h.documentCode === a.documentCode) ?? false;
    if (!alreadyHeld && document.validUntil !== null && document.validUntil < today) throw notReusable(field, `names a document valid until ${document.validUntil}, no longer valid today (${today})`);
    completed.push(reusedAttachment(a, document));
  }
  return completed;
}

/** What the digitisation figures and the service index count of a dossier as it stands: no personal data. */
export function dossierFigures(
  dossier: Pick<Dossier, 'handlingAgency' | 'attachments'> & Partial<Pick<Dossier, 'channel' | 'onlinePayment' | 'fees' | 'vneidVerified' | 'nationalDatabases' | 'results'>>,
): DossierFigures {
  const present = (dossier.attachments ?? []).filter((a) => !a.deleted);
  return {
    handlingAgency: dossier.handlingAgency,
    // An attachment naming a stored document is an electronic file the gateway holds: digitised, and reused.
    digitisedSubmission: present.some((a) => a.digitised === true || a.documentCode !== undefined),
    reusedDocument: present.some((a) => a.reused === true || a.documentCode !== undefined),
    ...(dossier.channel !== undefined
      ? {
          channel: dossier.channel,
          onlinePayment: dossier.onlinePayment === true,
          // The national rule counts dossiers of procedures with a fee in the catalogue, less those whose fees are all 0:
          // without the catalogue, a dossier with some fee above 0 (766.md, 3.6).
          feeDue: (dossier.fees ?? []).some((f) => f.amount > 0),
          populationData: dossier.vneidVerified === true || (dossier.nationalDatabases ?? []).includes('population'),
          resultListed: (dossier.results ?? []).length > 0,
        }
      : {}),
  };
}

/** The attachments as the portal receives them: those naming a stored document with its address. */
export function withDocumentUrls(attachments: Attachment[] | undefined, documentUrl: DocumentUrl): Attachment[] | undefined {
  if (!attachments?.some((a) => a.documentCode !== undefined)) return attachments;
  return attachments.map((a) => (a.documentCode === undefined ? a : { ...a, url: documentUrl(a.documentCode) }));
}

/**
 * The dossier's results as the portal receives them: those the one-stop system sent, then the
 * results deposited for the dossier that are not destroyed, each by its document code (one the
 * system already lists under that code is not repeated).
 */
export function withDepositedResults(results: Result[] | undefined, deposited: readonly DocumentRecord[], documentUrl: DocumentUrl): Result[] | undefined {
  const own = results ?? [];
  const listed = new Set(own.map((r) => r.id));
  const added: Result[] = deposited
    .filter((d) => d.kind === 'result' && d.destroyedAt === null && !listed.has(d.code))
    .map((d) => ({ id: d.code, name: d.name, url: documentUrl(d.code), resultCode: d.documentType }));
  if (added.length === 0) return results;
  return [...own, ...added];
}
