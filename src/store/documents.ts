import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { sql, type Kysely, type Selectable } from 'kysely';
import { deriveKey, openBytes, sealBytes } from '../audit/bodies.ts';
import { SEQUENCE_DIGITS } from '../core/documents/codes.ts';
import type { DocumentRecord, DocumentStore, NewDocument, PendingContent, SignatureFacts } from '../core/documents/port.ts';
import type { Dialect } from './database.ts';
import { CONTENT_ID_BYTES, ContentIntegrityError, databaseContent, filesystemContent, readContent, writeContent, type ContentBackend } from './document-content.ts';
import type { Database, DocumentsTable } from './schema.ts';

/**
 * The document store (port: src/core/documents/port.ts). Each document's content is encrypted
 * under a key of its own (src/store/document-content.ts); that key is kept in the row, wrapped
 * under a key derived from the privacy key and bound to the document's code, so destroying the
 * content starts by deleting the wrapped key: from then on the bytes, if a crash leaves them, can
 * be read by nobody, and `sweep` removes them as content no row names.
 */

/** HKDF `info` of the key that wraps document keys. */
export const DOCUMENT_KEY_INFO = 'lienthong document keys';
/** HKDF `info` of the key that seals a document's personal metadata (subject, name). */
export const DOCUMENT_METADATA_INFO = 'lienthong document metadata';
/** Content no row names is removed by `sweep` once it is this old: another process may be about to commit it. */
export const SWEEP_GRACE_MS = 10 * 60 * 1000;

const KEY_BYTES = 32;

export interface DocumentStoreOptions {
  db: Kysely<Database>;
  dialect: Dialect;
  /** Where content is kept with SQLite (documents.directory); with PostgreSQL it is kept in the database. */
  directory: string;
  /** The privacy hash key: document keys and sealed metadata use keys derived from it. */
  masterKey: Buffer;
  /** The clock content's age is measured by in `sweep` (tests move it). */
  now?: () => Date;
  /** How old unnamed content must be before `sweep` removes it. */
  sweepGraceMs?: number;
}

/** What only the store knows of content it wrote: its key, its id, where it is. */
interface Held {
  key: Buffer;
  contentId: Buffer;
  address: string;
  state: 'pending' | 'committing' | 'committed' | 'discarded';
}

/** Additional data binding a sealed value to its document and purpose: a value moved to another row does not open. */
const boundTo = (purpose: 'key' | 'subject' | 'name', code: string) => Buffer.from(`lienthong document ${purpose}\0${code}`, 'utf8');

const formatCode = (prefix: string, sequence: number) => `${prefix}.${String(sequence).padStart(SEQUENCE_DIGITS, '0')}`;

export function createDocumentStore(options: DocumentStoreOptions): DocumentStore {
  const { db } = options;
  const now = options.now ?? (() => new Date());
  const graceMs = options.sweepGraceMs ?? SWEEP_GRACE_MS;
  const wrappingKey = deriveKey(options.masterKey, DOCUMENT_KEY_INFO);
  const metadataKey = deriveKey(options.masterKey, DOCUMENT_METADATA_INFO);
  const backend: ContentBackend = options.dialect === 'postgres' ? databaseContent(db, now) : filesystemContent(options.directory);
  const held = new WeakMap<PendingContent, Held>();
  /** Addresses written by this process and not committed or discarded yet: `sweep` leaves them. */
  const pendingAddresses = new Set<string>();

  const toRecord = (row: Selectable<DocumentsTable>): DocumentRecord => ({
    code: row.code,
    kind: row.kind,
    subjectType: row.subject_type,
    subject: openBytes(metadataKey, row.subject_sealed, boundTo('subject', row.code)).toString('utf8'),
    subjectHash: row.subject_hash,
    documentType: row.document_type,
    name: openBytes(metadataKey, row.name_sealed, boundTo('name', row.code)).toString('utf8'),
    mediaType: row.media_type,
    procedureCode: row.procedure_code,
    dossierCode: row.dossier_code,
    issuingAgency: row.issuing_agency,
    issuedOn: row.issued_on,
    validUntil: row.valid_until,
    sha256: row.sha256,
    size: Number(row.size),
    signatures: JSON.parse(row.signatures) as SignatureFacts[],
    sealCms: row.seal_cms === null ? null : Buffer.from(row.seal_cms, 'base64'),
    depositedAt: row.deposited_at,
    clientId: row.client_id,
    agency: row.agency,
    userHash: row.user_hash,
    retainUntil: row.retain_until,
    legalHold: Number(row.legal_hold) === 1,
    destroyedAt: row.destroyed_at,
  });

  const toRow = (code: string, document: NewDocument, content: Held): DocumentsTable => ({
    code,
    kind: document.kind,
    subject_type: document.subjectType,
    subject_hash: document.subjectHash,
    subject_sealed: sealBytes(metadataKey, Buffer.from(document.subject, 'utf8'), boundTo('subject', code)),
    document_type: document.documentType,
    name_sealed: sealBytes(metadataKey, Buffer.from(document.name, 'utf8'), boundTo('name', code)),
    media_type: document.mediaType,
    procedure_code: document.procedureCode,
    dossier_code: document.dossierCode,
    issuing_agency: document.issuingAgency,
    issued_on: document.issuedOn,
    valid_until: document.validUntil,
    sha256: document.sha256,
    size: document.size,
    signatures: JSON.stringify(document.signatures),
    seal_cms: document.sealCms === null ? null : document.sealCms.toString('base64'),
    deposited_at: document.depositedAt.toISOString(),
    client_id: document.clientId,
    agency: document.agency,
    user_hash: document.userHash,
    retain_until: document.retainUntil === null ? null : document.retainUntil.toISOString(),
    legal_hold: 0,
    destroyed_at: null,
    wrapped_key: sealBytes(wrappingKey, Buffer.concat([content.key, content.contentId]), boundTo('key', code)),
    content_address: content.address,
  });

  /** The content's key and id from a row's wrapped key; throws when it does not open (moved, altered, another privacy key). */
  const unwrap = (code: string, wrapped: string) => {
    try {
      const opened = openBytes(wrappingKey, wrapped, boundTo('key', code));
      if (opened.length !== KEY_BYTES + CONTENT_ID_BYTES) throw new Error(`unwrapped ${opened.length} bytes`);
      return { key: opened.subarray(0, KEY_BYTES), contentId: opened.subarray(KEY_BYTES) };
    } catch (err) {
      throw new ContentIntegrityError(`the key of document ${code} cannot be unwrapped (altered, moved, or another privacy key)`, { cause: err });
    }
  };

  /**
   * SQLite keeps removed bytes in the free space of its pages (a row's old value, a cell moved
   * when a page splits) unless `secure_delete` zeroes them: on for the connection before the first
   * document row is written, so that a destroyed key leaves no copy in the database file.
   */
  const zeroingFreedSpace = options.dialect === 'sqlite' ? sql`pragma secure_delete = on`.execute(db).then(() => undefined) : Promise.resolve();
  zeroingFreedSpace.catch(() => undefined);

  /**
   * Runs `change` (the key's removal) so that it leaves no copy in the database's files: on SQLite
   * the checkpoint empties the write-ahead log, which still holds the page as it was before.
   * PostgreSQL keeps the old row version until VACUUM reuses its space, and in its WAL: nothing a
   * statement can erase (the wrapped key then opens only with the privacy key).
   */
  const withoutTrace = async <T>(change: () => Promise<T>): Promise<T> => {
    await zeroingFreedSpace;
    if (options.dialect !== 'sqlite') return change();
    try {
      return await change();
    } finally {
      await sql`pragma wal_checkpoint(truncate)`.execute(db);
    }
  };

  const find = (code: string) => db.selectFrom('documents').selectAll().where('code', '=', code).executeTakeFirst();

  const read: DocumentStore['read'] = async (code) => {
    const row = await find(code);
    if (!row || row.wrapped_key === null || row.content_address === null) return undefined;
    const { key, contentId } = unwrap(code, row.wrapped_key);
    return { stream: await readContent(backend, row.content_address, key, contentId), size: Number(row.size) };
  };

  return {
    async write(content) {
      const key = randomBytes(KEY_BYTES);
      const contentId = randomBytes(CONTENT_ID_BYTES);
      const source: AsyncIterable<unknown> | Iterable<unknown> = Buffer.isBuffer(content) ? [content] : (content as Readable);
      const written = await writeContent(backend, source, key, contentId);
      const state: Held = { key, contentId, address: written.address, state: 'pending' };
      pendingAddresses.add(written.address);
      const pending: PendingContent = {
        sha256: written.sha256,
        size: written.size,
        async discard() {
          if (state.state !== 'pending') return;
          state.state = 'discarded';
          pendingAddresses.delete(state.address);
          await backend.remove(state.address);
        },
      };
      held.set(pending, state);
      return pending;
    },

    async commit(content, document) {
      const state = held.get(content);
      if (!state || state.state !== 'pending') throw new Error('the content is not pending in this document store (committed, discarded, or written elsewhere)');
      if (document.sha256 !== content.sha256 || document.size !== content.size) throw new Error('the document names other content than the content written');
      state.state = 'committing';
      try {
        await zeroingFreedSpace;
        const row = await db.transaction().execute(async (trx) => {
          // Pending longer than the sweep's grace, it may have been removed by another process: no row without its content.
          // Held first, before the counter's row: another process's sweep cannot remove it until this transaction ends.
          if (!(await backend.hold(trx, state.address))) throw new ContentIntegrityError('the content written is gone (swept while pending)');
          // One statement takes the next number (a row lock on PostgreSQL until commit): unique across processes, gap-free unless a transaction fails.
          const { last } = await trx
            .insertInto('document_sequences')
            .values({ prefix: document.codePrefix, last: 1 })
            .onConflict((oc) => oc.column('prefix').doUpdateSet({ last: sql<number>`${sql.ref('document_sequences.last')} + 1` }))
            .returning('last')
            .executeTakeFirstOrThrow();
          const values = toRow(formatCode(document.codePrefix, Number(last)), document, state);
          await trx.insertInto('documents').values(values).execute();
          return values;
        });
        state.state = 'committed';
        pendingAddresses.delete(state.address);
        return toRecord(row);
      } catch (err) {
        state.state = 'pending';
        throw err;
      }
    },

    async get(code) {
      const row = await find(code);
      return row && toRecord(row);
    },

    async list(filter) {
      let query = db.selectFrom('documents').where('subject_hash', '=', filter.subjectHash);
      if (filter.documentType !== undefined) query = query.where('document_type', '=', filter.documentType);
      if (filter.validOn !== undefined) {
        const day = filter.validOn;
        query = query.where((eb) => eb.or([eb('valid_until', 'is', null), eb('valid_until', '>=', day)])).where('destroyed_at', 'is', null);
      }
      const counted = await query.select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
      const rows = await query
        .selectAll()
        .orderBy('deposited_at', 'desc')
        .orderBy('code', 'desc')
        .limit(filter.pageSize)
        .offset((filter.page - 1) * filter.pageSize)
        .execute();
      return { items: rows.map(toRecord), total: Number(counted.n) };
    },

    async forDossier(dossierCode) {
      const rows = await db.selectFrom('documents').selectAll().where('dossier_code', '=', dossierCode).orderBy('deposited_at').orderBy('code').execute();
      return rows.map(toRecord);
    },

    read,

    async readAll(code) {
      const content = await read(code);
      if (!content) return undefined;
      const parts: Buffer[] = [];
      for await (const part of content.stream) parts.push(part as Buffer);
      return Buffer.concat(parts);
    },

    async setLegalHold(code, hold) {
      const row = await db
        .updateTable('documents')
        .set({ legal_hold: hold ? 1 : 0 })
        .where('code', '=', code)
        .returningAll()
        .executeTakeFirst();
      return row && toRecord(row);
    },

    async dueForDestruction(at, limit = 100) {
      const rows = await db
        .selectFrom('documents')
        .select('code')
        .where('retain_until', 'is not', null)
        .where('retain_until', '<=', at.toISOString())
        .where('legal_hold', '=', 0)
        .where('destroyed_at', 'is', null)
        .orderBy('retain_until')
        .orderBy('code')
        .limit(limit)
        .execute();
      return rows.map((r) => r.code);
    },

    async destroy(code, at) {
      const instant = at.toISOString();
      const row = await db.selectFrom('documents').select('content_address').where('code', '=', code).executeTakeFirst();
      if (!row) return false;
      // The key goes first, in one conditional statement (a concurrent destroy or hold sees the other's result).
      const result = await withoutTrace(() =>
        db
          .updateTable('documents')
          .set({ wrapped_key: null, content_address: null, destroyed_at: instant })
          .where('code', '=', code)
          .where('legal_hold', '=', 0)
          .where('destroyed_at', 'is', null)
          .where('retain_until', 'is not', null)
          .where('retain_until', '<=', instant)
          .executeTakeFirst(),
      );
      if (Number(result.numUpdatedRows) !== 1) return false;
      // Then the bytes: unreadable already; if this fails, no row names them and sweep removes them.
      if (row.content_address !== null) await backend.remove(row.content_address).catch(() => undefined);
      return true;
    },

    async sweep() {
      return backend.sweep({
        before: new Date(now().getTime() - graceMs),
        spare: pendingAddresses,
        async named(addresses) {
          if (addresses.length === 0) return new Set();
          const rows = await db.selectFrom('documents').select('content_address').where('content_address', 'in', addresses).execute();
          return new Set(rows.map((r) => r.content_address!));
        },
      });
    },
  };
}
