import { createHash } from 'node:crypto';
import { canonicalize } from 'json-canonicalize';
import type { BusinessResult, ExchangeFields, ExchangeRecord, Outcome, RecordFields, UpstreamCall } from '../core/exchanges.ts';
import type { KeyedDigest } from '../signing/attestation.ts';

export type { BusinessResult, Outcome, RecordFields, UpstreamCall };

/** What every leaf format holds. */
interface LeafFields extends ExchangeFields {
  time: string;
  /** SHA-256 over id and the request and response digests: this answer belongs to this request. */
  bindingHash: string;
  outcome: Outcome;
}

/**
 * Format 1 (no `v` field): request and response as plain SHA-256. A lookup whose body is only an
 * ID number is reversed from it by trying every number, so this format is no longer written; the
 * leaves already in the log stay as they are (the tree holds their exact bytes) and still verify.
 */
export interface ExchangeLeafV1 extends LeafFields {
  requestHash: string;
  responseHash: string | null;
}

/**
 * Format 2: request and response as keyed digests (HMAC-SHA-256 under the exchange-bodies key
 * derived from the privacy key). Only the gateway can compute or confirm them.
 */
export interface ExchangeLeafV2 extends LeafFields {
  v: 2;
  requestMac: string;
  responseMac: string | null;
}

/** Format 3: format 2 with every subject touched, the business result, the case and, for audit operations, what was asked. */
export interface ExchangeLeafV3 extends LeafFields, RecordFields {
  v: 3;
  requestMac: string;
  responseMac: string | null;
}

/**
 * What an exchange-log leaf holds. No personal data in clear: the acting user and the data
 * subjects appear only as keyed hashes (HMAC-SHA-256), bodies only as digests (see the formats).
 */
export type ExchangeLeaf = ExchangeLeafV1 | ExchangeLeafV2 | ExchangeLeafV3;

/** The format written now. */
export const LEAF_FORMAT = 3;

export const sha256Hex = (data: string | Uint8Array): string => createHash('sha256').update(data).digest('hex');

export function bindingHash(id: string, requestDigest: string, responseDigest: string | null): string {
  return sha256Hex(`${id}\n${requestDigest}\n${responseDigest ?? ''}`);
}

/** The leaf's exact bytes: RFC 8785 canonical JSON, so anyone can recompute its hash. */
export function leafText(leaf: ExchangeLeaf): string {
  return canonicalize(leaf);
}

/** Subject hashes as a leaf holds them: sorted, without repeats, the primary subject included. */
export function subjectList(hashes: Iterable<string>, primary: string | null): string[] {
  const all = new Set(hashes);
  if (primary !== null) all.add(primary);
  return [...all].sort();
}

/**
 * Every subject of a parsed leaf of any format: its `subjects` (format 3), else its one
 * `subjectHash` (formats 1 and 2, none when null). What a search by subject matches.
 */
export function leafSubjects(leaf: Record<string, unknown>): string[] {
  const hashes: unknown[] = Array.isArray(leaf.subjects) ? leaf.subjects : [leaf.subjectHash];
  return [...new Set(hashes.filter((h): h is string => typeof h === 'string' && h.length > 0))];
}

/**
 * The leaf of an exchange, whoever records it (the request path, the outbox's deliveries): the
 * current format, its time and outcome decided here.
 */
export function exchangeLeaf(exchange: ExchangeRecord, digest: KeyedDigest): ExchangeLeafV3 {
  const { startedAt, outcome, request, response, ...fields } = exchange;
  return keyedLeaf({ ...fields, time: startedAt.toISOString(), outcome: outcome ?? outcomeOf(fields.status, fields.code ?? undefined) }, digest, request, response);
}

/** A leaf of the current format (3), its digests keyed with `digest` (the exchange log's). */
export function keyedLeaf(
  fields: Omit<LeafFields, 'bindingHash'> & RecordFields,
  digest: KeyedDigest,
  request: string | Uint8Array,
  response: string | Uint8Array | null,
): ExchangeLeafV3 {
  const requestMac = digest(request);
  const responseMac = response === null ? null : digest(response);
  const subjects = subjectList(fields.subjects, fields.subjectHash);
  return { v: 3, ...fields, subjects, requestMac, responseMac, bindingHash: bindingHash(fields.id, requestMac, responseMac) };
}

const HEX_DIGEST = /^[0-9a-f]{64}$/;
const isDigest = (v: unknown): v is string => typeof v === 'string' && HEX_DIGEST.test(v);

/** A leaf's format and its request and response digests, as read from any leaf in the log. */
export interface LeafDigests {
  format: 1 | 2 | 3;
  request: string;
  response: string | null;
}

const RESULTS: ReadonlySet<unknown> = new Set(['match', 'mismatch', 'not_found', null]);

/** Format 3's own fields: where they are and what they may hold. */
function checkRecordFields(leaf: Record<string, unknown>): void {
  const subjects: unknown = leaf.subjects;
  if (!Array.isArray(subjects) || !subjects.every(isDigest)) throw new TypeError('a format 3 leaf needs subjects (hex keyed hashes)');
  if ((subjects as string[]).some((s, i, all) => i > 0 && all[i - 1]! >= s)) throw new TypeError('a format 3 leaf lists its subjects sorted, without repeats');
  if (leaf.subjectHash !== null && !(subjects as string[]).includes(leaf.subjectHash as string)) throw new TypeError('a format 3 leaf lists its subjectHash among its subjects');
  if (!(leaf.code === null || typeof leaf.code === 'string')) throw new TypeError('a format 3 leaf needs code (an error code or null)');
  if (!RESULTS.has(leaf.result)) throw new TypeError('a format 3 leaf needs result: match, mismatch, not_found or null');
  if (!(leaf.caseId === null || typeof leaf.caseId === 'string')) throw new TypeError('a format 3 leaf needs caseId (a string or null)');
  if (!(leaf.resultCount === null || (Number.isSafeInteger(leaf.resultCount) && (leaf.resultCount as number) >= 0))) throw new TypeError('a format 3 leaf needs resultCount (a count or null)');
  const criteria = leaf.criteria;
  if (!(criteria === null || (typeof criteria === 'object' && !Array.isArray(criteria) && Object.values(criteria).every((v) => typeof v === 'string')))) {
    throw new TypeError('a format 3 leaf needs criteria (an object of strings, or null)');
  }
}

/**
 * Reads the format and the digests of a parsed leaf, checking that they are where the format
 * puts them and that `bindingHash` ties them to the leaf's id. Throws a TypeError naming what is
 * wrong: an unknown format, a missing or misplaced digest, or a binding that does not hold.
 */
export function leafDigests(leaf: Record<string, unknown>): LeafDigests {
  let digests: LeafDigests;
  if (leaf.v === undefined) {
    if ('requestMac' in leaf || 'responseMac' in leaf) throw new TypeError('a format 1 leaf (no "v") holds requestMac or responseMac');
    digests = { format: 1, request: leaf.requestHash as string, response: leaf.responseHash as string | null };
    if (!isDigest(digests.request) || !(digests.response === null || isDigest(digests.response))) throw new TypeError('a format 1 leaf needs requestHash and responseHash (hex SHA-256, responseHash may be null)');
  } else if (leaf.v === 2 || leaf.v === 3) {
    const format = leaf.v;
    if ('requestHash' in leaf || 'responseHash' in leaf) throw new TypeError(`a format ${format} leaf holds requestHash or responseHash`);
    digests = { format, request: leaf.requestMac as string, response: leaf.responseMac as string | null };
    if (!isDigest(digests.request) || !(digests.response === null || isDigest(digests.response))) throw new TypeError(`a format ${format} leaf needs requestMac and responseMac (hex HMAC-SHA-256, responseMac may be null)`);
    if (format === 3) checkRecordFields(leaf);
  } else {
    throw new TypeError(`unknown leaf format v=${JSON.stringify(leaf.v)}`);
  }
  if (typeof leaf.id !== 'string' || leaf.bindingHash !== bindingHash(leaf.id, digests.request, digests.response)) {
    throw new TypeError('the bindingHash does not bind the request and response digests to the leaf id');
  }
  return digests;
}

/**
 * Whether `request` and `response` are the bodies the leaf recorded: plain SHA-256 for format 1,
 * the keyed digest for formats 2 and 3 (so only a holder of the key, the gateway, can confirm them).
 */
export function bodiesMatchLeaf(leaf: ExchangeLeaf | Record<string, unknown>, request: string | Uint8Array, response: string | Uint8Array, digest: KeyedDigest): boolean {
  const recorded = leafDigests(leaf as Record<string, unknown>);
  const of = recorded.format === 1 ? sha256Hex : digest;
  return of(request) === recorded.request && recorded.response !== null && of(response) === recorded.response;
}

/**
 * Statuses of a refusal by the gateway itself, before any national system: the request is not
 * valid (400, 422) or the caller may not make it (403). With no national system reached, they are
 * recorded as `denied` (for operations on personal data).
 */
export const DENIED_STATUSES: ReadonlySet<number> = new Set([400, 403, 422]);

/** The outcome an answer status stands for, with the error code when there is one. */
export function outcomeOf(status: number, code: string | undefined): Outcome {
  if (status < 400) return 'success';
  if (code === 'UPSTREAM_CIRCUIT_OPEN' || code === 'UPSTREAM_BUSY') return 'rejected';
  if (status === 502) return 'refused';
  if (status >= 500) return 'failed';
  return 'business_error';
}
