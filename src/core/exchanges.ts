/**
 * What the exchange log records of an exchange, as the use cases and the request path describe it.
 * The leaf that holds it (its format, keyed digests, canonical bytes) is the audit log's business:
 * one function there builds every leaf from an ExchangeRecord.
 */

/**
 * How an exchange ended. `denied`: the gateway refused the authenticated caller before any national
 * system was asked (a request that is not valid, missing accountability, a role, operation or
 * purpose the client is not allowed): recorded for operations on personal data (format 3).
 */
export type Outcome = 'success' | 'business_error' | 'refused' | 'failed' | 'rejected' | 'denied';

/**
 * The business result of an exchange (format 3): an identity verification that matched or did not,
 * or a person, enterprise or record that the national system (or the gateway's own store) does
 * not know. Null when the operation has no such result or did not get one.
 */
export type BusinessResult = 'match' | 'mismatch' | 'not_found';

/** One call to a national system made for an exchange, as the exchange's leaf records it. */
export interface UpstreamCall {
  upstream: string;
  /**
   * The message security profile the call was made under (`upstreams.<id>.messageSecurity`).
   * Optional in format 2: absent from leaves written before it was recorded, and for systems
   * whose protocol secures its own messages (national sign-on).
   */
  messageSecurity?: string;
  outcome: Outcome;
  /** The error code when it did not succeed. */
  code: string | null;
  latencyMs: number;
}

/** What the log says of every exchange (every leaf format holds it). */
export interface ExchangeFields {
  id: string;
  client: string;
  agency: string;
  operation: string;
  /** The national system the exchange reached; null when none was. */
  upstream: string | null;
  purpose: string | null;
  /** Keyed hash of the acting user. */
  userHash: string;
  /** Keyed hash of the exchange's primary subject, when it has one. */
  subjectHash: string | null;
  status: number;
  latencyMs: number;
  /** Every call made to national systems for this exchange, including refused and rejected ones. */
  upstreamCalls: UpstreamCall[];
}

/** What format 3 adds to format 2: the error code, every subject, the business result, the case and, for audit operations, what was asked. */
export interface RecordFields {
  /** The error code of the answer (its problem `code`), null when it succeeded. */
  code: string | null;
  /**
   * Keyed hashes (the same HMAC as `subjectHash`) of every identifier of a person or enterprise
   * the exchange touched, in the request and in the answer (ID number, old card number, social
   * insurance code, tax code, enterprise code), sorted and without repeats. `subjectHash`, when
   * not null, is one of them.
   */
  subjects: string[];
  result: BusinessResult | null;
  /** The case or dossier the exchange was made for (`X-Case-Id`, or the dossier code of a delivery). */
  caseId: string | null;
  /** For an audit operation: how many entries it answered (a search's page) or exported. */
  resultCount: number | null;
  /**
   * For an audit operation: its path parameters and its query parameters other than personal-data
   * ones (the subject searched for is in `subjects`, hashed), e.g. the range of an export or the
   * officer resolved. Null otherwise.
   */
  criteria: Record<string, string> | null;
}

/** One exchange to record: who asked what of whom, how it ended, and the bytes asked and answered. */
export interface ExchangeRecord extends ExchangeFields, RecordFields {
  /** When the exchange began. */
  startedAt: Date;
  /** Only where the status and code alone do not tell it (a refusal before any national system). */
  outcome?: Outcome | undefined;
  /** The request and the answer as their digests cover them (the answer null when there was none). */
  request: string | Uint8Array;
  response: string | Uint8Array | null;
}

/** Port: the exchange log, as far as writing to it goes. Resolves once the record is durable. */
export interface ExchangeRecorder {
  record(exchange: ExchangeRecord): Promise<void>;
}

/** A keyed digest (HMAC) of bytes, hex: what the gateway alone can compute over personal data. */
export type KeyedDigest = (data: string | Uint8Array) => string;
