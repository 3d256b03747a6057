import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { fileTypeFromBuffer } from 'file-type';
import { GatewayError, isGatewayError } from '../../errors/gateway-error.ts';
import type { components } from '../../generated/gateway.ts';
import type { PopulationRegistry } from '../citizens-port.ts';
import type { BusinessRegistry } from '../enterprises.ts';
import type { Actor, DossierScope } from '../dossiers/service.ts';
import { parseIdNumber } from '../identifiers/id-number.ts';
import { parseEnterpriseCode } from '../identifiers/tax-code.ts';
import type { CallContext } from '../ports.ts';
import { addDays, anniversary, answeredInstant, vietnamDay } from '../time.ts';
import { documentCodePrefix } from './codes.ts';
import type {
  CertificateFacts,
  DocumentKind,
  DocumentRecord,
  DocumentSealer,
  DocumentStore,
  DocumentSubjectType,
  DossierDocuments,
  PendingContent,
  SignatureCheck,
  SignatureFacts,
} from './port.ts';

/**
 * The electronic document store's use cases: deposit (a digitised submission, or a result the
 * gateway seals with the agency's certificate), list a person's or organisation's documents,
 * read one's metadata with a fresh signature check, and its content.
 *
 * A deposit arrives in two steps, because a multipart body carries the file and its metadata in
 * any order: `receive` takes the file as it streams in (its type judged by its first bytes, a PDF
 * held in memory for the signature checks and the seal, anything else streamed into the store),
 * then `deposit` checks the metadata, the subject and the dossier, seals and commits. Whatever
 * refuses the deposit after `receive` forgets what it received: nothing is stored.
 */

export type DocumentView = components['schemas']['Document'];
export type DocumentDetails = components['schemas']['DocumentDetails'];
export type DocumentPage = components['schemas']['DocumentPage'];

/** The metadata of a deposit, as the contract's createDocument fields give it (already checked against the schema). */
export interface DepositMetadata {
  subjectType: DocumentSubjectType;
  subject: string;
  kind: DocumentKind;
  documentType: string;
  name: string;
  procedureCode?: string | undefined;
  dossierCode?: string | undefined;
  issuingAgency: string;
  issuedOn?: string | undefined;
  validUntil?: string | undefined;
}

/** The file part of a deposit as it arrives. */
export interface IncomingFile {
  stream: Readable;
  /** The file name the part gives (may be empty). */
  filename: string;
  /** The part's Content-Type as sent (lower case, without parameters); empty when none. */
  declaredType: string;
}

/** A file received: its type judged by content, and either the whole PDF or content pending in the store. */
export type ReceivedFile = { mediaType: string; pdf: Buffer; pending?: undefined } | { mediaType: string; pdf?: undefined; pending: PendingContent };

/** Who deposits: as for dossiers, with the dossiers it may see (a deposit for a dossier must be one of them). */
export type DepositActor = Actor & { scope: DossierScope };

/** How long content is kept: whole years, or permanently. */
export type RetentionPeriod = number | 'permanent';

export interface DocumentListQuery {
  subject: string;
  documentType?: string | undefined;
  /** Only documents valid today (Vietnam time) whose content is kept. */
  valid?: boolean | undefined;
  page: number;
  pageSize: number;
}

export interface DocumentService {
  /** Takes the file as it streams in; refuses content that is not what it claims or not accepted. */
  receive(file: IncomingFile): Promise<ReceivedFile>;
  /** Forgets a received file (the deposit was refused before `deposit`). */
  forget(file: ReceivedFile): Promise<void>;
  /** Checks, seals (results) and stores the deposit; forgets the file whenever it refuses. */
  deposit(ctx: CallContext, actor: DepositActor, metadata: DepositMetadata, file: ReceivedFile): Promise<DocumentView>;
  list(query: DocumentListQuery): Promise<DocumentPage>;
  /** The metadata and a fresh check of its signatures; `onSubject` learns whose document it is before anything else. */
  get(code: string, onSubject?: (subject: string) => void): Promise<DocumentDetails>;
  /** The stored (sealed) content; DOCUMENT_DESTROYED once its retention ended. */
  content(code: string, onSubject?: (subject: string) => void): Promise<{ document: DocumentView; stream: Readable; size: number }>;
}

export interface DocumentServiceOptions {
  maxBytes: number;
  mediaTypes: readonly string[];
  checkSubject: boolean;
  retention: { default: RetentionPeriod; byType: Record<string, RetentionPeriod> };
  /** Where a document's content is fetched (the public base + documentContentPath). */
  contentUrl: (code: string) => string;
}

/** Bytes file-type needs to judge any type it knows. */
const SNIFF_BYTES = 4100;

/**
 * The media types a deposit may be, each with its file-name extensions (the first is the one a
 * download's name gets when it has none) and the other names clients give it in a part's
 * Content-Type. The one table of names: a name or part type that says one type for content of
 * another is refused, and a download is named by it.
 */
export const MEDIA_TYPE_NAMES: Readonly<Record<string, { extensions: readonly string[]; aliases: readonly string[] }>> = {
  'application/pdf': { extensions: ['pdf'], aliases: ['application/x-pdf'] },
  'image/png': { extensions: ['png'], aliases: ['image/x-png'] },
  'image/jpeg': { extensions: ['jpg', 'jpeg', 'jpe'], aliases: ['image/jpg', 'image/pjpeg'] },
  'image/tiff': { extensions: ['tif', 'tiff'], aliases: [] },
};

const invert = (names: (entry: (typeof MEDIA_TYPE_NAMES)[string]) => readonly string[]): ReadonlyMap<string, string> =>
  new Map(Object.entries(MEDIA_TYPE_NAMES).flatMap(([type, entry]) => names(entry).map((name) => [name, type] as const)));
const TYPE_OF_EXTENSION = invert((entry) => entry.extensions);
const TYPE_OF_ALIAS = invert((entry) => entry.aliases);

/**
 * Part types that claim nothing about the content. `text/plain` among them: a file part sent
 * without a Content-Type is reported as text/plain, the default RFC 7578 gives every part, so it
 * cannot be told from one that says so, and no accepted type is text.
 */
const NO_CLAIM = new Set(['', 'application/octet-stream', 'text/plain']);

function contentInvalid(detail: string): GatewayError {
  return new GatewayError('DOCUMENT_CONTENT_INVALID', { detail, errors: [{ field: 'body.file', message: detail }] });
}

/** The first bytes of a stream (up to `count`), and an iterator that continues after them. */
async function head(stream: Readable, count: number): Promise<{ first: Buffer; rest: AsyncIterator<Buffer>; ended: boolean }> {
  // Not destroyed when left early: a refused file is drained by the multipart reader, not cut.
  const rest = stream.iterator({ destroyOnReturn: false })[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const chunks: Buffer[] = [];
  let length = 0;
  while (length < count) {
    const next = await rest.next();
    if (next.done) return { first: Buffer.concat(chunks), rest, ended: true };
    chunks.push(next.value);
    length += next.value.length;
  }
  return { first: Buffer.concat(chunks), rest, ended: false };
}

/** What the file claims to be: its part's type (unless it claims nothing) and its name's extension. */
function claimsOf(file: IncomingFile): { type?: string; extension?: { ext: string; type: string | undefined } } {
  const claims: ReturnType<typeof claimsOf> = {};
  if (!NO_CLAIM.has(file.declaredType)) claims.type = TYPE_OF_ALIAS.get(file.declaredType) ?? file.declaredType;
  const dot = file.filename.lastIndexOf('.');
  if (dot > 0 && dot < file.filename.length - 1) {
    const ext = file.filename.slice(dot + 1).toLowerCase();
    claims.extension = { ext, type: TYPE_OF_EXTENSION.get(ext) };
  }
  return claims;
}

/**
 * The type of a file by its first bytes: refused when they are empty, when the part's type or
 * the name's extension says another type (422), or when it is not an accepted type (415).
 */
function judgeType(first: Buffer, detected: string | undefined, claims: ReturnType<typeof claimsOf>, accepted: ReadonlySet<string>): string {
  if (first.length === 0) throw new GatewayError('VALIDATION_FAILED', { detail: 'body.file is empty', errors: [{ field: 'body.file', message: 'must not be empty' }] });
  if (claims.type && claims.type !== detected) {
    throw contentInvalid(`the file is declared ${claims.type} but its content is ${detected ?? 'of no known type'}`);
  }
  if (claims.extension && claims.extension.type !== undefined && claims.extension.type !== detected) {
    throw contentInvalid(`the file is named .${claims.extension.ext} but its content is ${detected ?? 'of no known type'}`);
  }
  if (!detected || !accepted.has(detected)) {
    throw new GatewayError('UNSUPPORTED_MEDIA_TYPE', {
      detail: `the file's content is ${detected ?? 'of no known type'}; accepted: ${[...accepted].join(', ')}`,
      errors: [{ field: 'body.file', message: `must be one of: ${[...accepted].join(', ')}` }],
    });
  }
  return detected;
}

/**
 * When a period of `years` from a yyyy-MM-dd day ends: at the end of its anniversary (a day of
 * the same month and number; the month's last day when it has no such day, as for 29 February in
 * a common year), that is at the start of the next day, in Vietnam time.
 */
function yearsAfter(day: string, years: number): Date {
  return new Date(`${addDays(anniversary(day, years), 1)}T00:00:00+07:00`);
}

/** When a document's content may be destroyed: the end of its type's period (else the default's) from its issue day, else its deposit day; null: permanent. */
export function retainUntil(retention: DocumentServiceOptions['retention'], documentType: string, issuedOn: string | undefined, depositedAt: Date): Date | null {
  const period = retention.byType[documentType] ?? retention.default;
  if (period === 'permanent') return null;
  return yearsAfter(issuedOn ?? vietnamDay(depositedAt), period);
}

function answeredCertificate(facts: CertificateFacts): CertificateFacts {
  return { ...facts, notBefore: answeredInstant(facts.notBefore), notAfter: answeredInstant(facts.notAfter) };
}

function answeredSignature(facts: SignatureFacts): SignatureFacts {
  return {
    form: facts.form,
    by: facts.by,
    signer: answeredCertificate(facts.signer),
    signedAt: answeredInstant(facts.signedAt),
    timestamp: facts.timestamp ? { ...facts.timestamp, genTime: answeredInstant(facts.timestamp.genTime), tsa: answeredCertificate(facts.timestamp.tsa) } : null,
    ...(facts.coversWholeFile !== undefined ? { coversWholeFile: facts.coversWholeFile } : {}),
  };
}

/** The subject's identifier, checked as elsewhere (INVALID_IDENTIFIER naming body.subject). */
function checkIdentifier(type: DocumentSubjectType, subject: string): void {
  const parsed = type === 'citizen' ? parseIdNumber(subject) : parseEnterpriseCode(subject);
  if (!parsed.ok) throw new GatewayError('INVALID_IDENTIFIER', { detail: `subject ${parsed.reason}`, errors: [{ field: 'body.subject', message: parsed.reason }] });
}

/** Who deposits, as far as the right to deposit goes: the client's roles, its agency and those it acts for. */
export interface Depositor {
  clientId: string;
  roles: readonly string[];
  agency: string;
  actsFor: readonly string[];
}

function forbidden(field: string, message: string, detail: string): GatewayError {
  return new GatewayError('FORBIDDEN', { detail, errors: [{ field, message }] });
}

/**
 * A result is an agency's decision, sealed by the gateway in the agency's name: only a client
 * with the agency role deposits one, and only for its own agency or one it acts for. A portal
 * deposits what people hand in (submissions). Given the fields known so far, it refuses as soon
 * as they show the deposit is not allowed (a field not yet read is not judged).
 */
export function checkDepositAllowed(depositor: Depositor, fields: { readonly kind?: string | undefined; readonly issuingAgency?: string | undefined }): void {
  if (fields.kind !== 'result') return;
  if (!depositor.roles.includes('agency')) {
    throw forbidden('body.kind', 'may be submission only for a client without the agency role', `client ${depositor.clientId} may deposit submissions only: results are deposited by agencies`);
  }
  if (fields.issuingAgency !== undefined && fields.issuingAgency !== depositor.agency && !depositor.actsFor.includes(fields.issuingAgency)) {
    const own = [depositor.agency, ...depositor.actsFor].join(', ');
    throw forbidden('body.issuingAgency', `must be the client's agency or one it acts for (${own}) for a result`, `client ${depositor.clientId} may not deposit results issued by ${fields.issuingAgency}`);
  }
}

/** Whether a deposit's subject field is an identifier of either form (one the exchange log may name). */
export function wellFormedSubject(subject: unknown): subject is string {
  return typeof subject === 'string' && (parseIdNumber(subject).ok || parseEnterpriseCode(subject).ok);
}

export function createDocumentService(
  deps: {
    store: DocumentStore;
    sealer: DocumentSealer;
    dossiers?: DossierDocuments | undefined;
    population: PopulationRegistry;
    registry: BusinessRegistry;
    hashIdentifier: (value: string) => string;
    now?: () => Date;
  },
  options: DocumentServiceOptions,
): DocumentService {
  const now = deps.now ?? (() => new Date());
  const accepted = new Set(options.mediaTypes);

  const view = (record: DocumentRecord): DocumentView => ({
    code: record.code,
    kind: record.kind,
    subjectType: record.subjectType,
    subject: record.subject,
    documentType: record.documentType,
    name: record.name,
    mediaType: record.mediaType,
    size: record.size,
    sha256: record.sha256,
    procedureCode: record.procedureCode,
    dossierCode: record.dossierCode,
    issuingAgency: record.issuingAgency,
    issuedOn: record.issuedOn,
    validUntil: record.validUntil,
    depositedAt: answeredInstant(record.depositedAt),
    depositedBy: { clientId: record.clientId, agency: record.agency },
    retainUntil: answeredInstant(record.retainUntil),
    legalHold: record.legalHold,
    destroyedAt: answeredInstant(record.destroyedAt),
    contentUrl: options.contentUrl(record.code),
    signatures: record.signatures.map(answeredSignature),
  });

  const load = async (code: string, onSubject?: (subject: string) => void): Promise<DocumentRecord> => {
    const record = await deps.store.get(code);
    if (!record) throw new GatewayError('DOCUMENT_NOT_FOUND', { detail: `no stored document ${code}` });
    onSubject?.(record.subject);
    return record;
  };

  /** SUBJECT_NOT_FOUND unless the national population database or business registry holds the subject. */
  const subjectExists = async (ctx: CallContext, type: DocumentSubjectType, subject: string): Promise<void> => {
    const notFound = () => new GatewayError('SUBJECT_NOT_FOUND', { detail: `the ${type === 'citizen' ? 'population database' : 'business registry'} holds no ${subject}`, errors: [{ field: 'body.subject', message: 'is not known to the national database' }] });
    if (type === 'citizen') {
      let exists: boolean;
      try {
        exists = await deps.population.exists(ctx, { idNumber: subject });
      } catch (err) {
        if (isGatewayError(err) && err.code === 'SUBJECT_NOT_FOUND') throw notFound();
        throw err;
      }
      if (!exists) throw notFound();
      return;
    }
    try {
      await deps.registry.getEnterprise(ctx, (parseEnterpriseCode(subject) as { ok: true; value: Parameters<BusinessRegistry['getEnterprise']>[1] }).value);
    } catch (err) {
      if (isGatewayError(err) && err.code === 'SUBJECT_NOT_FOUND') throw notFound();
      throw err;
    }
  };

  /**
   * Checks the signatures of a document whose content is kept. A PDF is read whole into memory:
   * its signatures cover byte ranges of the file, and the checks need the file itself. Any other
   * content is hashed as it streams from the store, and its detached seal checked by that digest.
   */
  const checkKept = async (record: DocumentRecord): Promise<SignatureCheck> => {
    const mismatch = () => new Error(`document ${record.code}: the stored content does not have the recorded SHA-256`);
    if (record.mediaType === 'application/pdf') {
      const content = await deps.store.readAll(record.code);
      if (content && createHash('sha256').update(content).digest('hex') !== record.sha256) throw mismatch();
      return deps.sealer.check(record, content);
    }
    const read = await deps.store.read(record.code);
    if (!read) return deps.sealer.check(record, undefined);
    const hash = createHash('sha256');
    for await (const chunk of read.stream) hash.update(chunk as Buffer);
    const contentDigest = hash.digest();
    if (contentDigest.toString('hex') !== record.sha256) throw mismatch();
    return deps.sealer.check(record, undefined, { contentDigest });
  };

  const forget = async (file: ReceivedFile): Promise<void> => {
    await file.pending?.discard();
  };

  return {
    async receive(file) {
      const { first, rest, ended } = await head(file.stream, SNIFF_BYTES);
      let detected: string | undefined;
      try {
        detected = judgeType(first, await fileTypeFromBuffer(first).then((found) => found?.mime), claimsOf(file), accepted);
      } catch (err) {
        // The iterator lets go of the stream (without destroying it), so that the rest can be drained.
        await rest.return?.();
        throw err;
      }
      async function* whole(): AsyncGenerator<Buffer> {
        try {
          yield first;
          if (ended) return;
          for (let next = await rest.next(); !next.done; next = await rest.next()) yield next.value;
        } finally {
          await rest.return?.();
        }
      }
      if (detected === 'application/pdf') {
        // Checking and sealing a PDF need all of it: held in memory (the reader stops at maxBytes).
        const chunks: Buffer[] = [];
        for await (const chunk of whole()) chunks.push(chunk);
        return { mediaType: detected, pdf: Buffer.concat(chunks) };
      }
      return { mediaType: detected, pending: await deps.store.write(Readable.from(whole(), { objectMode: false })) };
    },

    forget,

    async deposit(ctx, actor, metadata, file) {
      let pending = file.pending;
      try {
        checkIdentifier(metadata.subjectType, metadata.subject);
        // Retention counts from the issue day: one in the future would keep the content longer.
        if (metadata.issuedOn && metadata.issuedOn > vietnamDay(now())) {
          throw new GatewayError('VALIDATION_FAILED', { detail: 'body.issuedOn is after today', errors: [{ field: 'body.issuedOn', message: 'must not be after today (Vietnam time)' }] });
        }
        if (metadata.issuedOn && metadata.validUntil && metadata.validUntil < metadata.issuedOn) {
          throw new GatewayError('VALIDATION_FAILED', { detail: 'body.validUntil is before body.issuedOn', errors: [{ field: 'body.validUntil', message: 'must not be before issuedOn' }] });
        }
        // A PDF (either kind) is judged before anyone is asked about its subject: the signatures it
        // already carries must verify, and are recorded.
        const signatures: SignatureFacts[] = file.pdf ? await deps.sealer.inspectPdf(file.pdf) : [];
        if (options.checkSubject) await subjectExists(ctx, metadata.subjectType, metadata.subject);
        if (metadata.dossierCode) {
          if (!deps.dossiers) throw new GatewayError('DOSSIER_NOT_FOUND', { detail: `no dossier ${metadata.dossierCode}` });
          await deps.dossiers.checkDepositFor(actor.scope, metadata.dossierCode, {
            type: metadata.subjectType,
            identifier: metadata.subject,
          });
        }
        let sealCms: Buffer | null = null;
        if (file.pdf) {
          let content = file.pdf;
          if (metadata.kind === 'result') {
            const sealed = await deps.sealer.sealPdf(file.pdf);
            content = sealed.content;
            sealCms = sealed.sealCms;
            signatures.push(sealed.signature);
          }
          pending = await deps.store.write(content);
        } else if (metadata.kind === 'result') {
          const sealed = await deps.sealer.sealDetached(Buffer.from(pending!.sha256, 'hex'));
          sealCms = sealed.sealCms;
          signatures.push(sealed.signature);
        }
        const content = pending!;
        const depositedAt = now();
        const record = await deps.store.commit(content, {
          codePrefix: documentCodePrefix(metadata.issuingAgency, metadata.documentType, depositedAt),
          kind: metadata.kind,
          subjectType: metadata.subjectType,
          subject: metadata.subject,
          subjectHash: deps.hashIdentifier(metadata.subject),
          documentType: metadata.documentType,
          name: metadata.name,
          mediaType: file.mediaType,
          procedureCode: metadata.procedureCode ?? null,
          dossierCode: metadata.dossierCode ?? null,
          issuingAgency: metadata.issuingAgency,
          issuedOn: metadata.issuedOn ?? null,
          validUntil: metadata.validUntil ?? null,
          sha256: content.sha256,
          size: content.size,
          signatures,
          sealCms,
          depositedAt,
          clientId: actor.clientId,
          agency: actor.agency,
          userHash: actor.userHash,
          retainUntil: retainUntil(options.retention, metadata.documentType, metadata.issuedOn, depositedAt),
        });
        pending = undefined;
        if (metadata.kind === 'result' && metadata.dossierCode && deps.dossiers) {
          // Stored and sealed whatever happens next: a failure to queue the sync is logged, not the deposit's.
          try {
            await deps.dossiers.resultDeposited(actor, metadata.dossierCode, record.code);
          } catch (err) {
            ctx.log.error({ err, dossierCode: metadata.dossierCode, documentCode: record.code }, 'the result is stored but its dossier sync could not be queued');
          }
        }
        return view(record);
      } finally {
        if (pending) await pending.discard();
      }
    },

    async list(query) {
      const { items, total } = await deps.store.list({
        subjectHash: deps.hashIdentifier(query.subject),
        documentType: query.documentType,
        validOn: query.valid ? vietnamDay(now()) : undefined,
        page: query.page,
        pageSize: query.pageSize,
      });
      return { items: items.map(view), page: query.page, pageSize: query.pageSize, total };
    },

    async get(code, onSubject) {
      const record = await load(code, onSubject);
      const check = record.destroyedAt ? await deps.sealer.check(record, undefined) : await checkKept(record);
      return {
        ...view(record),
        signatureCheck: {
          checkedAt: answeredInstant(check.checkedAt),
          valid: check.valid,
          contentChecked: check.contentChecked,
          signatures: check.signatures.map((s) => ({ ...answeredSignature(s), valid: s.valid, ...(s.problem ? { problem: s.problem } : {}) })),
        },
      };
    },

    async content(code, onSubject) {
      const record = await load(code, onSubject);
      const destroyed = () => new GatewayError('DOCUMENT_DESTROYED', { detail: `the content of ${code} was destroyed at the end of its retention; its metadata remains` });
      if (record.destroyedAt) throw destroyed();
      const read = await deps.store.read(code);
      if (!read) throw destroyed();
      return { document: view(record), stream: read.stream, size: read.size };
    },
  };
}
