import type { Readable } from 'node:stream';
import type { components } from '../../generated/gateway.ts';
import type { Actor, DossierScope } from '../dossiers/service.ts';

/**
 * The electronic document store's ports: what the document use cases (service.ts) need from
 * storage (src/store/documents.ts), from signing (src/signing/pades.ts) and from dossiers.
 */

/** `submission`: what a person or organisation handed in (digitised); `result`: what an agency decided. */
export type DocumentKind = 'submission' | 'result';
/** Whose document it is: a person (12-digit ID number) or an organisation (enterprise code). */
export type DocumentSubjectType = 'citizen' | 'enterprise';

/**
 * A certificate as the document's records name it (never the whole certificate), and one
 * signature a document carries: the gateway's seal, or one made elsewhere and checked on deposit.
 * The contract's shapes: kept with times in UTC, answered in +07:00.
 */
export type CertificateFacts = components['schemas']['CertificateFacts'];
export type SignatureFacts = components['schemas']['DocumentSignature'];

/** The metadata of a deposit, as the service hands it to the store (the store allocates the code). */
export interface NewDocument {
  /** The code's fixed part; the store appends `.` and a sequence unique across processes (see codes.ts). */
  codePrefix: string;
  kind: DocumentKind;
  subjectType: DocumentSubjectType;
  /** The ID number or enterprise code: kept encrypted; `subjectHash` (keyed hash) is what lists filter on. */
  subject: string;
  subjectHash: string;
  /** The document type's code (for results, the procedure's result code, e.g. KQ.G15.000031). */
  documentType: string;
  /** The document's name (may hold personal data: kept encrypted). */
  name: string;
  /** As judged by content. */
  mediaType: string;
  procedureCode: string | null;
  dossierCode: string | null;
  issuingAgency: string;
  /** yyyy-MM-dd. */
  issuedOn: string | null;
  validUntil: string | null;
  /** SHA-256 (lower-case hex) and size of the bytes stored: the sealed file for results. */
  sha256: string;
  size: number;
  signatures: SignatureFacts[];
  /**
   * The gateway's CMS SignedData (DER): for a sealed PDF the one inside it, for other types the
   * detached `.p7s`. Kept after the content is destroyed, so the signature facts still verify.
   */
  sealCms: Buffer | null;
  depositedAt: Date;
  clientId: string;
  agency: string;
  userHash: string;
  /** When the content may be destroyed; null: kept permanently. */
  retainUntil: Date | null;
}

export interface DocumentRecord extends Omit<NewDocument, 'codePrefix' | 'depositedAt' | 'retainUntil'> {
  code: string;
  depositedAt: string;
  retainUntil: string | null;
  legalHold: boolean;
  /** When the content was destroyed (its key deleted); null while it is kept. */
  destroyedAt: string | null;
}

/** Content on its way into the store, before its document row exists. */
export interface PendingContent {
  /** SHA-256 (hex) and length of the plaintext written. */
  readonly sha256: string;
  readonly size: number;
  /** Forgets the content (an upload refused after it was written). Safe to call twice. */
  discard(): Promise<void>;
}

export interface DocumentListFilter {
  subjectHash: string;
  documentType?: string | undefined;
  /** Only documents valid on this day (yyyy-MM-dd; no validUntil, or validUntil on or after it) and not destroyed. */
  validOn?: string | undefined;
  page: number;
  pageSize: number;
}

/**
 * Port: where documents are kept. Content is encrypted at rest under a key per document (wrapped
 * by a key derived from the privacy key), content-addressed, in the filesystem (SQLite) or in
 * PostgreSQL (chunked). A document row never exists without its content; content written without
 * a row (a crash, a refused upload) is removed by `sweep`, which runs on start.
 */
export interface DocumentStore {
  /** Streams content into the store (encrypting it), not yet visible as a document. */
  write(content: Readable | Buffer): Promise<PendingContent>;
  /** Makes pending content a document: allocates the code and inserts the row in one transaction. */
  commit(content: PendingContent, document: NewDocument): Promise<DocumentRecord>;
  get(code: string): Promise<DocumentRecord | undefined>;
  list(filter: DocumentListFilter): Promise<{ items: DocumentRecord[]; total: number }>;
  /** Documents deposited for a dossier (results and submissions), oldest first. */
  forDossier(dossierCode: string): Promise<DocumentRecord[]>;
  /** The stored bytes, decrypted and authenticated chunk by chunk; undefined when destroyed or unknown. */
  read(code: string): Promise<{ stream: Readable; size: number } | undefined>;
  /** Reads the whole stored content (for a signature check); undefined when destroyed or unknown. */
  readAll(code: string): Promise<Buffer | undefined>;
  setLegalHold(code: string, hold: boolean): Promise<DocumentRecord | undefined>;
  /** Codes whose retention ended by `now`, not on legal hold, not destroyed yet. */
  dueForDestruction(now: Date, limit?: number): Promise<string[]>;
  /**
   * Destroys the content: deletes its key and its bytes; metadata, hash and signature facts stay.
   * Refuses (returns false) a document on legal hold or not due; true when destroyed now.
   */
  destroy(code: string, now: Date): Promise<boolean>;
  /** Removes content that no document row names (left by a crash); answers how many were removed. */
  sweep(): Promise<number>;
}

/** A signature of a stored document checked again now. */
export interface CheckedSignature extends SignatureFacts {
  valid: boolean;
  /** Why it does not verify, in words. */
  problem?: string;
}

export interface SignatureCheck {
  checkedAt: string;
  /** Every signature verifies (and there is at least one where the document was sealed). */
  valid: boolean;
  /** The content was read and checked; false once destroyed (only the kept seal CMS is checked then). */
  contentChecked: boolean;
  signatures: CheckedSignature[];
}

/**
 * Port: the agency's seal and the checks of signatures made elsewhere (src/signing/document-sealer.ts).
 * Refusals are GatewayErrors: DOCUMENT_CONTENT_INVALID (encrypted or malformed PDF),
 * DOCUMENT_SIGNATURE_INVALID (a signature it carries does not verify: math, chain, dates,
 * revocation), TIMESTAMP_UNAVAILABLE (the TSA did not answer while sealing).
 */
export interface DocumentSealer {
  /** Checks a PDF's structure and every signature it already carries; answers those signatures. */
  inspectPdf(pdf: Buffer): Promise<SignatureFacts[]>;
  /** Seals a PDF as PAdES-B-T (an incremental update: earlier signatures stay valid). */
  sealPdf(pdf: Buffer): Promise<{ content: Buffer; sealCms: Buffer; signature: SignatureFacts }>;
  /** Seals any other content by its SHA-256: a detached CMS (`.p7s`) with a signature timestamp. */
  sealDetached(sha256: Buffer): Promise<{ sealCms: Buffer; signature: SignatureFacts }>;
  /**
   * Checks a stored document's signatures again: against its content when kept, else its seal CMS
   * alone. For content that is not a PDF, `contentDigest` (the SHA-256 of the kept content,
   * hashed as it streamed) may stand for `content`: a detached seal signs the digest.
   */
  check(document: Pick<DocumentRecord, 'mediaType' | 'signatures' | 'sealCms' | 'sha256'>, content: Buffer | undefined, options?: { contentDigest?: Buffer }): Promise<SignatureCheck>;
}

/**
 * Port: what documents need from dossiers (implemented by the dossier service).
 * - `checkDepositFor`: the dossier exists, the client may see it, and its applicant is this
 *   subject; else DOSSIER_NOT_FOUND, or DOCUMENT_NOT_REUSABLE naming `dossierCode`.
 * - `resultDeposited`: a result was deposited for the dossier; queues the dossier's sync so that
 *   the national portal receives it in DanhSachGiayToKetQua.
 */
export interface DossierDocuments {
  checkDepositFor(scope: DossierScope, dossierCode: string, subject: { type: DocumentSubjectType; identifier: string }): Promise<void>;
  resultDeposited(actor: Actor, dossierCode: string, documentCode: string): Promise<void>;
}
