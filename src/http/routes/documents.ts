import { pipeline } from 'node:stream/promises';
import type { Request, Response } from 'express';
import { serializeDictionary } from 'structured-headers';
import { MEDIA_TYPE_NAMES, checkDepositAllowed, wellFormedSubject, type DepositActor, type DepositMetadata, type Depositor, type DocumentService, type ReceivedFile } from '../../core/documents/service.ts';
import { withoutDiacritics } from '../../core/names.ts';
import { GatewayError } from '../../errors/gateway-error.ts';
import type { DocumentLinks } from '../../signing/document-links.ts';
import { scopeOf, type AuthenticatedClient } from '../auth.ts';
import type { Operation } from '../contract.ts';
import { actorOf, exchangeContext } from '../context.ts';
import type { RecordLocals } from '../exchange-recorder.ts';
import type { Handlers } from '../handlers.ts';
import { fieldsReadBefore, readMultipart } from '../multipart.ts';
import type { Validation } from '../validation.ts';

/** Who downloads through a shared address (getSharedDocumentContent), as the exchange log names it. */
const NATIONAL_PORTAL: AuthenticatedClient = { id: 'national-portal', agency: 'national-portal', roles: [], operations: [], rateLimit: { points: 0, durationSeconds: 1 } };

/** Text fields of a deposit beyond which the body is refused, and the longest one (a document's name is the longest). */
const MAX_FIELDS = 20;
const MAX_FIELD_BYTES = 4096;

/**
 * `Content-Disposition: attachment` with the document's name (RFC 6266): an ASCII `filename` for
 * old clients (other characters as `_`), and `filename*` in UTF-8 (RFC 8187) with the name as given.
 */
export function contentDisposition(name: string, mediaType: string): string {
  const extensions = (MEDIA_TYPE_NAMES[mediaType]?.extensions ?? []).map((e) => `.${e}`);
  const file = extensions.length === 0 || extensions.some((e) => name.toLowerCase().endsWith(e)) ? name : `${name}${extensions[0]}`;
  const ascii = withoutDiacritics(file).replace(/[^\x20-\x7e]|["\\]/g, '_');
  const encoded = encodeURIComponent(file).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}

/** `Repr-Digest` (RFC 9530): the SHA-256 of the representation, as a structured dictionary. */
export function reprDigest(sha256Hex: string): string {
  return serializeDictionary({ 'sha-256': Buffer.from(sha256Hex, 'hex') });
}

export function documentHandlers(deps: {
  documents: DocumentService;
  validation: Validation;
  maxBytes: number;
  hashIdentifier(value: string): string;
  /** The addresses the national portal downloads documents from; without them none is shared (404). */
  links?: DocumentLinks | undefined;
}): Handlers {
  const actor = (res: Response): DepositActor => actorOf(res, deps.hashIdentifier);
  const depositor = (res: Response): Depositor => {
    const client = res.locals.client as AuthenticatedClient;
    return { clientId: client.id, roles: client.roles, agency: client.agency, actsFor: scopeOf(client).agencies };
  };
  const code = (req: Request) => String(req.params.documentCode);
  const locals = (res: Response) => res.locals as RecordLocals;
  /** Names the deposit's subject for the exchange log, from its fields as read (a refused deposit is logged with it too). */
  const nameSubject = (res: Response, fields: Readonly<Record<string, string>> | undefined) => {
    if (wellFormedSubject(fields?.subject)) locals(res).subject = fields.subject;
  };

  return {
    createDocument: async (req, res) => {
      const operation = res.locals.operation as Operation;
      const who = depositor(res);
      let read: { fields: Record<string, string>; file: ReceivedFile };
      try {
        read = await readMultipart<ReceivedFile>(
          req,
          { fileBytes: deps.maxBytes, fileField: 'file', fields: MAX_FIELDS, fieldBytes: MAX_FIELD_BYTES },
          // Fields sent before the file that show the deposit is not allowed refuse it before anything is stored.
          async (part, before) => {
            checkDepositAllowed(who, before);
            return deps.documents.receive(part);
          },
          (received) => deps.documents.forget(received),
        );
      } catch (err) {
        nameSubject(res, fieldsReadBefore(err));
        throw err;
      }
      const { fields, file } = read;
      nameSubject(res, fields);
      let metadata: DepositMetadata;
      try {
        // The exchange log reads the request's fields (the subject) from the body, as for JSON bodies.
        req.body = fields;
        metadata = deps.validation.of(operation.operationId).form(fields) as unknown as DepositMetadata;
        checkDepositAllowed(who, metadata);
      } catch (err) {
        await deps.documents.forget(file);
        throw err;
      }
      if (metadata.dossierCode) locals(res).caseId ??= metadata.dossierCode;
      const document = await deps.documents.deposit(exchangeContext(req, res), actor(res), metadata, file);
      res.status(201).location(`/v1/documents/${encodeURIComponent(document.code)}`).json(document);
    },
    listDocuments: async (req, res) => {
      const q = req.query as Record<string, unknown>;
      const subject = String(q.subject);
      locals(res).subject = subject;
      const page = await deps.documents.list({
        subject,
        documentType: q.documentType as string | undefined,
        valid: q.valid === undefined ? undefined : q.valid === true || q.valid === 'true',
        page: Number(q.page ?? 1),
        pageSize: Number(q.pageSize ?? 20),
      });
      locals(res).resultCount = page.items.length;
      res.json(page);
    },
    getDocument: async (req, res) => {
      res.json(await deps.documents.get(code(req), (subject) => (locals(res).subject = subject)));
    },
    getDocumentContent: async (req, res) => {
      await sendContent(req, res, await deps.documents.content(code(req), (subject) => (locals(res).subject = subject)));
    },
    getSharedDocumentContent: async (req, res) => {
      // The national portal authenticates by the address alone: the log entry names it as the client.
      res.locals.client = NATIONAL_PORTAL;
      const documentCode = code(req);
      // A token that is not the code's tells nothing more than an unknown code would.
      if (!deps.links?.verify(documentCode, String(req.params.token))) throw new GatewayError('DOCUMENT_NOT_FOUND', { detail: `no document ${documentCode} is shared at this address` });
      await sendContent(req, res, await deps.documents.content(documentCode, (subject) => (locals(res).subject = subject)));
    },
  };

  /** A stored file, streamed once its exchange-log entry is durable. */
  async function sendContent(req: Request, res: Response, { document, stream, size }: Awaited<ReturnType<DocumentService['content']>>): Promise<void> {
    res.locals.resultCount = 1;
    // A streamed answer never goes through send: its exchange-log entry is made durable before the first byte.
    try {
      await locals(res).commitRecord?.();
    } catch (err) {
      stream.destroy();
      throw err;
    }
    res.status(200);
    res.setHeader('content-type', document.mediaType);
    res.setHeader('content-length', String(size));
    res.setHeader('content-disposition', contentDisposition(document.name, document.mediaType));
    res.setHeader('repr-digest', reprDigest(document.sha256));
    res.setHeader('etag', `"${document.sha256}"`);
    res.setHeader('cache-control', 'private, no-store');
    try {
      await pipeline(stream, res);
    } catch (err) {
      // Headers are sent: a chunk that fails authentication ends the answer short, it cannot become a problem.
      req.log.error({ err, documentCode: document.code }, 'document content could not be streamed');
      res.destroy();
    }
  }
}
