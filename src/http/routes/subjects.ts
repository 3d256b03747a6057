import { subjectAccesses, type AccessTerms } from '../../audit/accesses.ts';
import { MAX_STORED_INDEX, type AuditStore } from '../../audit/store.ts';
import type { AccountLinkService } from '../../core/account-links.ts';
import { maskIdentifier } from '../../core/identifiers/id-number.ts';
import { GatewayError } from '../../errors/gateway-error.ts';
import type { components } from '../../generated/gateway.ts';
import { scopeOf, type AuthenticatedClient } from '../auth.ts';
import type { RecordLocals } from '../exchange-recorder.ts';
import type { Handlers } from '../handlers.ts';

export interface SubjectHandlerDeps {
  /** The exchange log's read side. */
  store: Pick<AuditStore, 'entriesAbout'>;
  links: Pick<AccountLinkService, 'linkedSubject'>;
  /** The keyed hash the exchange log applies to subject identifiers (HMAC-SHA-256, hex). */
  hashIdentifier(value: string): string;
  terms: AccessTerms;
}

function invalid(field: string, message: string): GatewayError {
  return new GatewayError('VALIDATION_FAILED', { detail: `${field} ${message}`, errors: [{ field, message }] });
}

const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);

/** Query values arrive as strings, or already coerced by the validator. */
function integer(value: unknown): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
}

/** Who the list is about: its keyed hash, and how the answer names it. */
interface Subject {
  hash: string;
  shown: components['schemas']['SubjectAccessPage']['subject'];
}

/**
 * A portal or an agency names an account, never a person: it can list only someone who linked an
 * account with it (or with a client of an agency it acts for). An auditor names the identifier.
 * Which of the two a call is follows from what it gives and the client's roles.
 */
async function subjectOf(deps: SubjectHandlerDeps, client: AuthenticatedClient, query: Record<string, unknown>): Promise<Subject> {
  const account = text(query.portalAccountId);
  const identifier = text(query.subject);
  const auditor = client.roles.includes('auditor');
  const linker = client.roles.includes('portal') || client.roles.includes('agency');
  if (account !== undefined && identifier !== undefined) throw invalid('query.subject', 'may not be given with portalAccountId; give one of them');
  if (identifier !== undefined) {
    if (!auditor) throw invalid('query.subject', 'is for auditors; a portal or agency client names the account (portalAccountId)');
    return { hash: deps.hashIdentifier(identifier), shown: { type: null, maskedIdentifier: maskIdentifier(identifier) } };
  }
  if (account === undefined) {
    throw linker ? invalid('query.portalAccountId', 'is required: the account whose linked person or organisation is asked about') : invalid('query.subject', 'is required: the identifier asked about');
  }
  if (!linker) throw invalid('query.portalAccountId', 'is for portal and agency clients; an auditor names the identifier (subject)');
  const linked = await deps.links.linkedSubject(account, scopeOf(client));
  if (!linked) {
    // Another portal's link, a pending offer and no link at all are answered alike.
    throw new GatewayError('LINK_NOT_FOUND', {
      detail: `no active account link for portal account ${account}`,
      errors: [{ field: 'query.portalAccountId', message: 'is linked to no one by a link this client may see' }],
    });
  }
  return { hash: linked.hash, shown: { type: linked.type, maskedIdentifier: linked.masked } };
}

/** getSubjectAccesses: "who looked at my data". */
export function subjectHandlers(deps: SubjectHandlerDeps): Handlers {
  return {
    getSubjectAccesses: async (req, res) => {
      const client = res.locals.client as AuthenticatedClient;
      const q = req.query as Record<string, unknown>;
      const locals = res.locals as RecordLocals;
      const limit = integer(q.limit) ?? 20;
      const before = integer(q.before);
      const since = text(q.since);
      // What the log's entry of this call says was asked, in clear: never the account or the
      // identifier (the subject is in `subjects`, hashed), refused calls included.
      locals.criteria = {
        limit: String(limit),
        ...(before !== undefined ? { before: String(before) } : {}),
        ...(since !== undefined ? { since } : {}),
      };
      const sinceInstant = since === undefined ? undefined : Date.parse(since);
      if (sinceInstant !== undefined && Number.isNaN(sinceInstant)) throw invalid('query.since', 'must be a date-time');
      const subject = await subjectOf(deps, client, q);
      // This call is itself an entry about the subject (x-audit-record), so the person sees their
      // list was read. An auditor's identifier is hashed from the query (x-subjects); an account's
      // subject is known only by its hash.
      if (q.subject === undefined) locals.subjectHashes = [subject.hash];
      const page = await subjectAccesses(
        deps.store,
        {
          subjectHash: subject.hash,
          // Every stored index is below a `before` past the largest one PostgreSQL holds.
          before: before !== undefined && before <= MAX_STORED_INDEX ? before : undefined,
          since: sinceInstant === undefined ? undefined : new Date(sinceInstant).toISOString(),
          limit,
        },
        deps.terms,
      );
      locals.resultCount = page.items.length;
      res.json({ subject: subject.shown, items: page.items, nextBefore: page.nextBefore } satisfies components['schemas']['SubjectAccessPage']);
    },
  };
}
