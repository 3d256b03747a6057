import type { Request, Response } from 'express';
import type { Actor, DossierCorrection, DossierScope, DossierService, ListFilter } from '../../core/dossiers/service.ts';
import { procedureExists, type ProcedureService } from '../../core/procedures.ts';
import { actorOf, exchangeContext } from '../context.ts';
import type { RecordLocals } from '../exchange-recorder.ts';
import type { Dossier, DossierEvent } from '../../core/dossiers/port.ts';
import { namedDocuments } from '../../core/dossiers/documents.ts';
import { scopeOf, type AuthenticatedClient } from '../auth.ts';
import type { Handlers } from '../handlers.ts';

const flag = (value: unknown): boolean | undefined => (value === undefined ? undefined : value === true || value === 'true');
const int = (value: unknown): number | undefined => (value === undefined ? undefined : Number(value));

/**
 * The exchange-log entry of a hand-over or correction names the stored documents its attachments
 * reuse (`criteria.reusedDocuments`, comma-separated): a reuse is traceable to the applicant
 * (the entry's subjectHash) and to each document, accepted or refused.
 */
function recordReuse(locals: RecordLocals, attachments: Dossier['attachments'] | null | undefined, criteria: Record<string, string> = {}): void {
  const codes = namedDocuments(Array.isArray(attachments) ? attachments : undefined);
  if (codes.length > 0) locals.criteria = { ...criteria, reusedDocuments: codes.join(',') };
}

export function dossierHandlers(deps: { dossiers: DossierService; procedures?: ProcedureService | undefined; hashIdentifier(value: string): string }): Handlers {
  // Whose dossiers the caller may see and change; another client's are 404, as if they did not exist.
  const scope = (res: Response): DossierScope => scopeOf(res.locals.client as AuthenticatedClient);
  const actor = (res: Response): Actor => actorOf(res, deps.hashIdentifier);
  const key = (req: Request) => req.get('idempotency-key');
  const code = (req: Request) => String(req.params.dossierCode);

  return {
    createDossier: async (req, res) => {
      const body = req.body as Dossier;
      const locals = res.locals as RecordLocals;
      // The exchange-log entry of the hand-over names the dossier as its case, unless X-Case-Id names another.
      locals.caseId ??= body.code;
      recordReuse(locals, body.attachments);
      const answer = await deps.dossiers.create(actor(res), body, key(req));
      res.status(answer.status).location(`/v1/dossiers/${encodeURIComponent(body.code)}`).json(answer.body);
    },
    addDossierEvent: async (req, res) => {
      const answer = await deps.dossiers.addEvent(actor(res), code(req), req.body as DossierEvent, key(req));
      res.status(answer.status).json(answer.body);
    },
    getDossier: async (req, res) => {
      // Whose dossier was read: an entry of this read (a console session's, or a refusal) is about the applicant.
      const locals = res.locals as RecordLocals;
      res.json(await deps.dossiers.get(scope(res), code(req), (hash) => (locals.subjectHashes = [hash])));
    },
    listDossiers: async (req, res) => {
      const q = req.query as Record<string, unknown>;
      const filter: ListFilter = {
        code: q.code as string | undefined,
        deliveryState: q.deliveryState as ListFilter['deliveryState'],
        status: int(q.status),
        overdue: flag(q.overdue),
        page: int(q.page) ?? 1,
        pageSize: int(q.pageSize) ?? 20,
      };
      res.json(await deps.dossiers.list(scope(res), filter));
    },
    correctDossier: async (req, res) => {
      const dossierCode = code(req);
      const locals = res.locals as RecordLocals;
      // The exchange-log entry of the correction names the dossier as its case, unless X-Case-Id names another.
      locals.caseId ??= dossierCode;
      recordReuse(locals, (req.body as DossierCorrection).attachments, { dossierCode });
      const { procedures } = deps;
      // The catalogue's cached copy, as the X-Purpose check reads it: unknown is a bad value, anything else an upstream fault.
      const procedureKnown = procedures ? (procedureCode: string) => procedureExists(procedures, exchangeContext(req, res), procedureCode) : undefined;
      const answer = await deps.dossiers.correct(actor(res), dossierCode, req.body as DossierCorrection, {
        idempotencyKey: key(req),
        procedureKnown,
        // Whom the correction is about, accepted or refused: the applicant, as the exchange log hashes it.
        onSubject: (identifier) => {
          locals.subject = identifier;
        },
      });
      res.status(answer.status).json(answer.body);
    },
    redeliverDossier: async (req, res) => {
      res.status(202).json({ requeued: await deps.dossiers.redeliver(scope(res), code(req)) });
    },
  };
}
