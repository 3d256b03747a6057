import { createHash } from 'node:crypto';
import { canonicalize } from 'json-canonicalize';

export type Outcome = 'success' | 'business_error' | 'refused' | 'failed' | 'rejected';

/** One call to a national system made for an exchange, as the exchange's leaf records it. */
export interface UpstreamCall {
  upstream: string;
  outcome: Outcome;
  /** The error code when it did not succeed. */
  code: string | null;
  latencyMs: number;
}

/**
 * What an exchange-log leaf holds. No personal data in clear: the acting user and the data
 * subject appear only as keyed hashes (HMAC-SHA-256), bodies only as SHA-256.
 */
export interface ExchangeLeaf {
  id: string;
  time: string;
  client: string;
  agency: string;
  operation: string;
  upstream: string | null;
  purpose: string | null;
  userHash: string;
  subjectHash: string | null;
  requestHash: string;
  responseHash: string | null;
  /** SHA-256 over id, requestHash and responseHash: this answer belongs to this request. */
  bindingHash: string;
  outcome: Outcome;
  status: number;
  latencyMs: number;
  /** Every call made to national systems for this exchange, including refused and rejected ones. */
  upstreamCalls: UpstreamCall[];
}

export const sha256Hex = (data: string | Uint8Array): string => createHash('sha256').update(data).digest('hex');

export function bindingHash(id: string, requestHash: string, responseHash: string | null): string {
  return sha256Hex(`${id}\n${requestHash}\n${responseHash ?? ''}`);
}

/** The leaf's exact bytes: RFC 8785 canonical JSON, so anyone can recompute its hash. */
export function leafText(leaf: ExchangeLeaf): string {
  return canonicalize(leaf);
}

/** The outcome an answer status stands for, with the error code when there is one. */
export function outcomeOf(status: number, code: string | undefined): Outcome {
  if (status < 400) return 'success';
  if (code === 'UPSTREAM_CIRCUIT_OPEN' || code === 'UPSTREAM_BUSY') return 'rejected';
  if (status === 502) return 'refused';
  if (status >= 500) return 'failed';
  return 'business_error';
}
