import { randomUUID } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import { canonicalize } from 'json-canonicalize';
import type { BusinessResult, ExchangeRecord, UpstreamCall } from '../core/exchanges.ts';
import { DENIED_STATUSES } from '../audit/leaf.ts';
import { answerCarriesIdentifiers, identifiersOf } from '../audit/subjects.ts';
import type { BodyVault } from '../audit/bodies.ts';
import { exchangeRecorder, type ExchangeLog } from '../audit/exchange-log.ts';
import { officerHash } from '../audit/officers.ts';
import type { AuthenticatedClient } from './auth.ts';
import type { Operation } from './contract.ts';

/** What exchangeContext leaves on res.locals for the recorder. */
export interface ExchangeState {
  id: string;
  /** performance.now() and wall-clock time when the exchange began. */
  started: number;
  startedAt: number;
  upstream: string | null;
  calls: UpstreamCall[];
  /** Set when the call really went out to a national system. */
  reached: boolean;
}

/**
 * What handlers may tell the recorder on res.locals:
 * - `subject`: the identifier of the person the exchange turned out to be about, when only the
 *   national system names it (sign-on);
 * - `subjectHashes`: subjects the gateway knows only by their keyed hash (an account link's
 *   subject), recorded as they are;
 * - `result`: the business result (`match`, `mismatch`, `not_found`) when the handler knows it;
 * - `caseId`: the case or dossier the call is made for;
 * - `resultCount`, `criteria`: for an audit operation, how many entries it answered or exported,
 *   and what it asked for when the query alone does not say (an export's actual range);
 * - `commitRecord()`: set by the recorder on audit operations; a handler that streams its answer
 *   (an export) awaits it before the first byte, since its answer never goes through `send`.
 */
export interface RecordLocals {
  subject?: string;
  subjectHashes?: readonly string[];
  result?: BusinessResult;
  caseId?: string | null;
  resultCount?: number;
  criteria?: Record<string, string>;
  commitRecord?: () => Promise<void>;
}

/** Operations whose bodies are kept, and the vault that encrypts them. */
export interface BodyRecording {
  operations: ReadonlySet<string>;
  vault: BodyVault;
}

/** The shape requireAccountability accepts for X-User-Id: a refused attempt names its officer only if well-formed. */
const USER_ID = /^[\p{L}\p{N}._@:-]{1,128}$/u;
/** A claimed purpose is recorded on a refused attempt only if it looks like a code (it is what the caller typed). */
const PURPOSE = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * The business result, decided here and nowhere else: what the handler set, or what the error
 * code of the answer means (never parsed from free text).
 */
function businessResult(res: Response, reached: boolean): BusinessResult | null {
  const locals = res.locals as RecordLocals & { errorCode?: string };
  if (locals.result) return locals.result;
  if (reached && locals.errorCode === 'SUBJECT_NOT_FOUND') return 'not_found';
  if (reached && locals.errorCode === 'VERIFICATION_MISMATCH') return 'mismatch';
  return null;
}

/**
 * What an audit operation asked: its path parameters (the officer resolved) and its query, less
 * every parameter that names someone: those marked x-personal-data, and those x-subjects reads an
 * identifier from (those are only hashed, into `subjects`), and credentials (x-secret, such as a
 * shared document's link token). Kept in clear in the log, so a
 * parameter is left out unless the contract says nothing of it.
 */
function criteriaOf(req: Request, res: Response, operation: Operation): Record<string, string> {
  const named = new Set(operation.subjects.map((s) => s.path));
  const criteria: Record<string, string> = {};
  const secret = new Set(operation.secretParameters);
  for (const [name, value] of Object.entries(pathParams(res))) if (!named.has(`params.${name}`) && !secret.has(name)) criteria[name] = value;
  for (const [name, value] of Object.entries((req.query ?? {}) as Record<string, unknown>)) {
    if (operation.personalDataParameters.includes(name) || named.has(`query.${name}`) || secret.has(name)) continue;
    // As given: the request validator may have coerced numbers and booleans already.
    if (['string', 'number', 'boolean'].includes(typeof value)) criteria[name] = String(value);
  }
  return criteria;
}

/**
 * The path parameters as the contract match decoded them (none when they were not valid
 * percent-encoding): `req.params` is empty again by the time an error handler answers.
 */
function pathParams(res: Response): Record<string, string> {
  return (res.locals.params as Record<string, string> | undefined) ?? {};
}

/**
 * The request as its digest covers it: RFC 8785 JSON of method, path, query and body. A body
 * nested too deeply to canonicalise (only a refused request can carry one) is left out, and the
 * text says so.
 */
function requestTextOf(req: Request): string {
  const request = { method: req.method, path: req.path, query: req.query ?? {} };
  try {
    return canonicalize({ ...request, body: req.body ?? null });
  } catch {
    return canonicalize({ ...request, body: null, bodyNotCanonical: true });
  }
}

/** The JSON answer the client receives, for the identifiers it carries. */
function answerOf(body: unknown): unknown {
  const text = typeof body === 'string' ? body : Buffer.isBuffer(body) ? body.toString('utf8') : undefined;
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

type Kind = 'exchange' | 'denied' | 'audit';

/**
 * Records exchange-log leaves for what the gateway answers:
 * - exchanges, calls that reached a national system: the answer is held back until its leaf is
 *   durable, so nothing is ever answered that the log does not hold. A leaf that cannot be
 *   written turns the answer into an error rather than an unlogged success. For operations listed
 *   in `bodies`, the encrypted request and response are committed in the leaf's transaction: the
 *   bytes stored are exactly those digested into the leaf's requestMac and responseMac;
 * - refused attempts: an operation on personal data (x-personal-data, or a personal-data query
 *   parameter given) that the gateway refused before any national system (400, 403, 422) is a
 *   leaf with outcome `denied`, its error code, no upstream;
 * - audit operations (x-audit-record), and every call made with a console session (staff at the
 *   console): every call; an audit operation's with what it asked (`criteria`, never a parameter
 *   that names someone) and how many entries it got.
 * Unauthenticated calls (401) leave no leaf: they are not attributable to a client, and recording
 * them would let anyone flood the log (authentication failures are rate-limited by address and
 * counted in metrics instead). Installed after authentication and before authorisation, so a
 * client refused a role, an operation or a purpose is recorded.
 */
export function recordExchanges(deps: {
  log: ExchangeLog;
  hashIdentifier: (value: string) => string;
  bodies?: BodyRecording | undefined;
  /** The officer registry: an officer a leaf names is sealed to the inspectorate with the leaf. */
  officers?: { remember(userId: string, agency: string): Promise<void> } | undefined;
}): RequestHandler {
  const exchanges = exchangeRecorder(deps.log);
  return (req, res, next) => {
    const operation = res.locals.operation as Operation | undefined;
    // Not authenticated by now: a refusal (401) on its way. An operation without client
    // authentication (the sign-on callback) names its client later, on res.locals.
    if (!operation || (operation.authenticated && !res.locals.client)) return next();
    const personal = operation.personalData || operation.personalDataParameters.length > 0;
    // Every call made with a console session is recorded, as an audit operation's is.
    const audited = operation.auditRecord || res.locals.consoleSession !== undefined;
    if (!operation.exchange && !audited && !personal) return next();
    const arrived = { started: performance.now(), startedAt: Date.now() };
    const send = res.send.bind(res) as (body?: unknown) => Response;
    let recorded = false;

    const kindOf = (): Kind | undefined => {
      if (!res.locals.client) return undefined;
      const exchange = res.locals.exchange as ExchangeState | undefined;
      if (exchange?.reached) return 'exchange';
      // Refused for too many requests: nothing was attempted (and recording it would flood the log).
      if (res.statusCode === 429) return undefined;
      if (audited) return 'audit';
      const personalHere = operation.personalData || operation.personalDataParameters.some((name) => req.query[name] !== undefined);
      return personalHere && DENIED_STATUSES.has(res.statusCode) ? 'denied' : undefined;
    };

    // Async: whatever goes wrong building the leaf withholds the answer like a failed write, never crashes the response.
    const record = async (kind: Kind, body: unknown, responseText: string | Buffer | null): Promise<void> => {
      const client = res.locals.client as AuthenticatedClient;
      const exchange = res.locals.exchange as ExchangeState | undefined;
      const reached = kind === 'exchange';
      const locals = res.locals as RecordLocals & { userId?: string; purpose?: string; errorCode?: string };
      const id = exchange?.id ?? randomUUID();
      const requestText = requestTextOf(req);
      const request = { body: req.body as unknown, params: pathParams(res), query: req.query as Record<string, unknown> };
      const asked = identifiersOf(operation.subjects, request);
      const answer = jsonAnswer !== undefined ? jsonAnswer : answerOf(body);
      const answered = res.statusCode < 400 && answerCarriesIdentifiers(operation.subjects) ? identifiersOf(operation.subjects, { answer }) : [];
      // The primary subject: the one the handler named (sign-on), else the first in the request.
      const primary = locals.subject ?? asked[0];
      const claimedUser = req.get('x-user-id');
      const userId = locals.userId ?? (claimedUser && USER_ID.test(claimedUser) ? claimedUser : '');
      const claimedPurpose = req.get('x-purpose');
      const purpose = locals.purpose ?? (claimedPurpose && PURPOSE.test(claimedPurpose) ? claimedPurpose : null);
      const exchangeRecord: ExchangeRecord = {
        id,
        startedAt: new Date(exchange?.startedAt ?? arrived.startedAt),
        client: client.id,
        agency: client.agency,
        operation: operation.operationId,
        upstream: reached ? exchange!.upstream : null,
        purpose,
        userHash: officerHash(deps.hashIdentifier, userId),
        subjectHash: primary ? deps.hashIdentifier(primary) : (locals.subjectHashes?.[0] ?? null),
        // Refused before any national system was asked.
        outcome: !reached && DENIED_STATUSES.has(res.statusCode) ? 'denied' : undefined,
        status: res.statusCode,
        latencyMs: Math.round(performance.now() - (exchange?.started ?? arrived.started)),
        upstreamCalls: reached ? exchange!.calls : [],
        code: locals.errorCode ?? null,
        subjects: [...[...asked, ...answered, ...(locals.subject ? [locals.subject] : [])].map((s) => deps.hashIdentifier(s)), ...(locals.subjectHashes ?? [])],
        result: businessResult(res, reached),
        caseId: locals.caseId ?? null,
        resultCount: kind === 'audit' ? (locals.resultCount ?? null) : null,
        // Only an audit operation's own (x-audit-record): any other call made with a console session
        // is recorded for who made it, and what it asked is left to `subjects`, hashed.
        criteria: kind === 'audit' && operation.auditRecord ? (locals.criteria ?? criteriaOf(req, res, operation)) : null,
        request: requestText,
        response: responseText,
      };
      const bodies = reached && deps.bodies?.operations.has(operation.operationId) ? deps.bodies.vault : undefined;
      const durable = bodies ? bodies.seal(id, new Date(exchange!.startedAt), requestText, responseText ?? '').then((sealed) => exchanges.record(exchangeRecord, sealed)) : exchanges.record(exchangeRecord);
      // The officer the leaf names (userHash) is made resolvable by the inspectorate before the answer, like the leaf.
      return userId && deps.officers ? Promise.all([durable, deps.officers.remember(userId, client.agency)]).then(() => undefined) : durable;
    };

    if (audited) {
      (res.locals as RecordLocals).commitRecord = async () => {
        if (recorded) return;
        recorded = true;
        await record('audit', undefined, null);
      };
    }

    // The object a handler answers with res.json, read as it is rather than parsed back from its text.
    let jsonAnswer: unknown;
    if (answerCarriesIdentifiers(operation.subjects)) {
      const json = res.json.bind(res);
      res.json = ((body?: unknown) => {
        jsonAnswer = body;
        return json(body);
      }) as typeof res.json;
    }

    res.send = ((body?: unknown) => {
      const kind = recorded ? undefined : kindOf();
      if (!kind) return send(body);
      recorded = true;
      const responseText = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
      record(kind, body, responseText ?? '').then(
        () => send(body),
        (err: unknown) => {
          const exchange = res.locals.exchange as ExchangeState | undefined;
          req.log.error({ err, exchangeId: exchange?.id }, 'exchange could not be logged; answer withheld');
          res.removeHeader('x-exchange-id');
          res.status(500).type('application/problem+json');
          send(JSON.stringify({ type: 'https://lienthong.sonla.gov.vn/problems/internal-error', title: 'Internal error', status: 500, detail: 'the exchange could not be recorded; nothing was answered', code: 'INTERNAL_ERROR', requestId: String(res.getHeader('x-request-id') ?? '') }));
        },
      );
      return res;
    }) as typeof res.send;
    next();
  };
}
