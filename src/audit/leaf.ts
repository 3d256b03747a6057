import { createHash } from 'node:crypto';
import { canonicalize } from 'json-canonicalize';
import type { MessageSecurity } from '../config/schema.ts';
import type { KeyedDigest } from '../signing/attestation.ts';

export type Outcome = 'success' | 'business_error' | 'refused' | 'failed' | 'rejected';

/** One call to a national system made for an exchange, as the exchange's leaf records it. */
export interface UpstreamCall {
  upstream: string;
  /**
   * The message security profile the call was made under (`upstreams.<id>.messageSecurity`).
   * Optional in format 2: absent from leaves written before it was recorded, and for systems
   * whose protocol secures its own messages (national sign-on).
   */
  messageSecurity?: MessageSecurity;
  outcome: Outcome;
  /** The error code when it did not succeed. */
  code: string | null;
  latencyMs: number;
}

/** What every leaf format holds. */
interface LeafFields {
  id: string;
  time: string;
  client: string;
  agency: string;
  operation: string;
  upstream: string | null;
  purpose: string | null;
  userHash: string;
  subjectHash: string | null;
  /** SHA-256 over id and the request and response digests: this answer belongs to this request. */
  bindingHash: string;
  outcome: Outcome;
  status: number;
  latencyMs: number;
  /** Every call made to national systems for this exchange, including refused and rejected ones. */
  upstreamCalls: UpstreamCall[];
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

/**
 * What an exchange-log leaf holds. No personal data in clear: the acting user and the data
 * subject appear only as keyed hashes (HMAC-SHA-256), bodies only as digests (see the formats).
 */
export type ExchangeLeaf = ExchangeLeafV1 | ExchangeLeafV2;

/** The format written now. */
export const LEAF_FORMAT = 2;

export const sha256Hex = (data: string | Uint8Array): string => createHash('sha256').update(data).digest('hex');

export function bindingHash(id: string, requestDigest: string, responseDigest: string | null): string {
  return sha256Hex(`${id}\n${requestDigest}\n${responseDigest ?? ''}`);
}

/** The leaf's exact bytes: RFC 8785 canonical JSON, so anyone can recompute its hash. */
export function leafText(leaf: ExchangeLeaf): string {
  return canonicalize(leaf);
}

/** A leaf of the current format, its digests keyed with `digest` (the exchange log's). */
export function keyedLeaf(fields: Omit<LeafFields, 'bindingHash'>, digest: KeyedDigest, request: string | Uint8Array, response: string | Uint8Array | null): ExchangeLeafV2 {
  const requestMac = digest(request);
  const responseMac = response === null ? null : digest(response);
  return { v: 2, ...fields, requestMac, responseMac, bindingHash: bindingHash(fields.id, requestMac, responseMac) };
}

const HEX_DIGEST = /^[0-9a-f]{64}$/;
const isDigest = (v: unknown): v is string => typeof v === 'string' && HEX_DIGEST.test(v);

/** A leaf's format and its request and response digests, as read from any leaf in the log. */
export interface LeafDigests {
  format: 1 | 2;
  request: string;
  response: string | null;
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
  } else if (leaf.v === 2) {
    if ('requestHash' in leaf || 'responseHash' in leaf) throw new TypeError('a format 2 leaf holds requestHash or responseHash');
    digests = { format: 2, request: leaf.requestMac as string, response: leaf.responseMac as string | null };
    if (!isDigest(digests.request) || !(digests.response === null || isDigest(digests.response))) throw new TypeError('a format 2 leaf needs requestMac and responseMac (hex HMAC-SHA-256, responseMac may be null)');
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
 * the keyed digest for format 2 (so only a holder of the key, the gateway, can confirm them).
 */
export function bodiesMatchLeaf(leaf: ExchangeLeaf | Record<string, unknown>, request: string | Uint8Array, response: string | Uint8Array, digest: KeyedDigest): boolean {
  const recorded = leafDigests(leaf as Record<string, unknown>);
  const of = recorded.format === 1 ? sha256Hex : digest;
  return of(request) === recorded.request && recorded.response !== null && of(response) === recorded.response;
}

/** The outcome an answer status stands for, with the error code when there is one. */
export function outcomeOf(status: number, code: string | undefined): Outcome {
  if (status < 400) return 'success';
  if (code === 'UPSTREAM_CIRCUIT_OPEN' || code === 'UPSTREAM_BUSY') return 'rejected';
  if (status === 502) return 'refused';
  if (status >= 500) return 'failed';
  return 'business_error';
}
