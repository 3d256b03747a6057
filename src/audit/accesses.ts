import { DELIVERY_OPERATION } from '../core/dossiers/outbox.ts';
import { answeredInstant } from '../core/time.ts';
import type { components } from '../generated/gateway.ts';
import type { AuditStore, EntryRecord, SubjectEntryFilter } from './store.ts';

/**
 * "Who looked at my data": the exchange log's entries about one person or organisation, as the
 * person is shown them (getSubjectAccesses). Only what a leaf holds is shown, and not all of it:
 * never the request or response digests, the other subjects, the status or the upstream calls;
 * the acting officer only as the log's keyed pseudonym, and only where configured.
 */

export type SubjectAccess = components['schemas']['SubjectAccess'];

/** How the officer of an access is shown: never, or as the log's keyed hash (`userHash`). */
export type OfficerDisclosure = 'hidden' | 'pseudonym';

/** What turns a leaf into words a person reads. */
export interface AccessTerms {
  /** What each operation does (the contract's summaries), by operationId. */
  summaries: ReadonlyMap<string, string>;
  /** The configured purposes' descriptions, by purpose code. */
  purposes: ReadonlyMap<string, string>;
  officer: OfficerDisclosure;
}

/**
 * Operations the gateway performs by itself, which no client calls and the contract has no
 * summary for: a person still reads what happened rather than an internal name.
 */
const OWN_OPERATIONS: ReadonlyMap<string, string> = new Map([[DELIVERY_OPERATION, 'Deliver a dossier or its change to the National Public Service Portal']]);

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'];

/** Each operation's summary in the contract (openapi/gateway.yaml), by operationId, with the gateway's own operations. */
export function operationSummaries(document: Record<string, unknown>): Map<string, string> {
  const summaries = new Map(OWN_OPERATIONS);
  const paths = (document.paths ?? {}) as Record<string, Record<string, { operationId?: unknown; summary?: unknown } | undefined>>;
  for (const item of Object.values(paths)) {
    for (const method of METHODS) {
      const operation = item[method];
      if (typeof operation?.operationId === 'string' && typeof operation.summary === 'string') summaries.set(operation.operationId, operation.summary);
    }
  }
  return summaries;
}

const textOrNull = (value: unknown): string | null => (typeof value === 'string' ? value : null);

/**
 * One entry as the person sees it. Leaves of every format hold time, client, agency, operation,
 * upstream, purpose, userHash and outcome; `caseId` only from format 3 (null before). An operation
 * the contract does not name (a national system's service name) is its own summary.
 */
export function subjectAccess(entry: EntryRecord, terms: AccessTerms): SubjectAccess {
  const leaf = JSON.parse(entry.leaf) as Record<string, unknown>;
  const operation = String(leaf.operation);
  const purpose = textOrNull(leaf.purpose);
  return {
    index: entry.index,
    // Written in UTC; the API answers in Vietnam's offset.
    time: answeredInstant(String(leaf.time)),
    agency: String(leaf.agency),
    client: String(leaf.client),
    operation,
    summary: terms.summaries.get(operation) ?? operation,
    upstream: textOrNull(leaf.upstream),
    purpose,
    // A procedure code (MaTTHC) is no configured purpose: its name is the catalogue's, not ours.
    purposeDescription: purpose === null ? null : (terms.purposes.get(purpose) ?? null),
    caseId: textOrNull(leaf.caseId),
    outcome: leaf.outcome as SubjectAccess['outcome'],
    officer: terms.officer === 'pseudonym' ? textOrNull(leaf.userHash) : null,
  };
}

/** A page of a subject's accesses, newest first, and where the next (older) page starts. */
export async function subjectAccesses(store: Pick<AuditStore, 'entriesAbout'>, query: SubjectEntryFilter, terms: AccessTerms): Promise<{ items: SubjectAccess[]; nextBefore: number | null }> {
  const page = await store.entriesAbout(query);
  return { items: page.items.map((entry) => subjectAccess(entry, terms)), nextBefore: page.nextBefore };
}
