import type { z } from 'zod';
import type { CallContext, Health } from '../../src/core/ports.ts';
import { GatewayError } from '../../src/errors/gateway-error.ts';
import type { UpstreamPolicy } from '../../src/resilience/policy.ts';
import { probeHealth, type UpstreamHttp, type UpstreamResponse } from '../../src/resilience/upstream-http.ts';
import type { UpstreamSignatures } from '../../src/signing/http-signatures.ts';
import { isSuccessCode } from '../result-codes.ts';

/*
 * What the national systems that answer signed REST/JSON (RFC 9421 both ways) share: the request
 * headers that name the calling agency and the exchange, and how an answer in the `{ MaLoi, MoTa,
 * DuLieu }` envelope becomes its record or one of our errors. The paths, header names and codes are
 * each system's (its inferred.ts).
 */

/** The headers of a lookup: JSON, the calling agency's code and the exchange's id under the system's names. */
export function lookupHeaders(ctx: CallContext, names: { agency: string; requestId: string }): Record<string, string> {
  return { accept: 'application/json', [names.agency]: ctx.agency, [names.requestId]: ctx.exchangeId, 'x-request-id': ctx.requestId };
}

/** Signed lookups and the signed health probe of one such system. */
export interface SignedLookups {
  /** A signed GET through the upstream policy (idempotent: retried in transit); `read` gets the verified answer. */
  get<T>(ctx: CallContext, path: string, read: (response: UpstreamResponse) => T): Promise<T>;
  health(ctx: CallContext): Promise<Health>;
}

export function createSignedLookups(
  deps: { http: UpstreamHttp; policy: UpstreamPolicy; signatures: UpstreamSignatures },
  system: { healthPath: string; headers: { agency: string; requestId: string } },
): SignedLookups {
  const { http, policy, signatures } = deps;
  const headers = (ctx: CallContext) => lookupHeaders(ctx, system.headers);
  return {
    get: (ctx, path, read) =>
      policy.execute(ctx, async (signal) => {
        // Signed, and given back only once the system's signature over it verified.
        const response = await signatures.send(http, { method: 'GET', path, headers: headers(ctx), signal });
        return read(response);
      }, { idempotent: true }),
    // The probe is signed too; its answer carries nothing the gateway uses, so only its status counts.
    health: (ctx) => probeHealth(http, ctx, system.healthPath, signatures.headers(http, { method: 'GET', path: system.healthPath, headers: headers(ctx) })),
  };
}

/** The `{ MaLoi, MoTa, DuLieu }` envelope, and how a system names itself and its subjects in errors. */
export interface EnvelopeOptions<Record> {
  /** The system, in error details ("business registry"). */
  system: string;
  /** The envelope's schema, with the record's. */
  answer: z.ZodType<{ MaLoi: string; DuLieu?: Record | null | undefined }>;
  /** The error code the system answers with HTTP 404 when it holds no such subject, and our detail for it. */
  notFound: { code: string; detail: string };
  retryAfterSeconds: number;
}

export function badResponse(system: string, detail: string, cause?: unknown): GatewayError {
  return new GatewayError('UPSTREAM_BAD_RESPONSE', { detail: `${system}: ${detail}`, upstreamFailure: true, cause });
}


/**
 * Turns a system's answer into its record or into one of our errors. The system's own messages
 * never reach the caller: they go to the log through `cause`.
 */
export function interpretEnvelope<Record>(response: UpstreamResponse, options: EnvelopeOptions<Record>): Record {
  const { system } = options;
  if (response.status >= 500 || response.status === 429) {
    throw new GatewayError('UPSTREAM_UNAVAILABLE', {
      detail: `the ${system} is failing`,
      retryAfter: options.retryAfterSeconds,
      upstreamFailure: true,
      cause: new Error(`HTTP ${response.status}: ${response.body.subarray(0, 200).toString('utf8')}`),
    });
  }
  if (response.status === 401 || response.status === 403) {
    // The system refused the gateway itself (its signature or certificate): a misconfiguration, not an answer about a subject.
    throw new GatewayError('UPSTREAM_AUTH', {
      detail: `the ${system} refused the gateway's signature or certificate`,
      upstreamFailure: true,
      cause: new Error(`HTTP ${response.status}: ${response.body.subarray(0, 200).toString('utf8')}`),
    });
  }
  const contentType = String(response.headers['content-type'] ?? '');
  if (!/^application\/json\b/i.test(contentType)) throw badResponse(system, `unexpected content type "${contentType.slice(0, 60)}"`);
  let json: unknown;
  try {
    json = JSON.parse(response.body.toString('utf8'));
  } catch (err) {
    throw badResponse(system, 'the answer is not JSON', err);
  }
  const parsed = options.answer.safeParse(json);
  if (!parsed.success) throw badResponse(system, 'the answer does not have the documented shape', parsed.error);
  const answer = parsed.data;
  if (response.status === 404 && answer.MaLoi === options.notFound.code) {
    throw new GatewayError('SUBJECT_NOT_FOUND', { detail: options.notFound.detail });
  }
  if (response.status !== 200 || !isSuccessCode(answer.MaLoi) || !answer.DuLieu) {
    throw badResponse(system, `refused the request (HTTP ${response.status}, code ${answer.MaLoi})`);
  }
  return answer.DuLieu;
}

/** A system's reading of its answers: `read` gives the record asked for by `key`, or one of our errors. */
export interface EnvelopeReader<Record> {
  badResponse(detail: string, cause?: unknown): GatewayError;
  read(response: UpstreamResponse, key: string, retryAfterSeconds: number): Record;
}

/**
 * The reader of one system's envelope. An answer about another subject than the one asked for
 * (`keyOf` its record differs from the key) is refused: the system mixed up requests.
 */
export function envelopeReader<Record>(options: Omit<EnvelopeOptions<Record>, 'retryAfterSeconds'> & { keyOf(record: Record): string; subject: string }): EnvelopeReader<Record> {
  const reader: EnvelopeReader<Record> = {
    badResponse: (detail, cause) => badResponse(options.system, detail, cause),
    read: (response, key, retryAfterSeconds) => {
      const record = interpretEnvelope(response, { ...options, retryAfterSeconds });
      if (options.keyOf(record) !== key) throw reader.badResponse(`answered about another ${options.subject} than the one asked for`);
      return record;
    },
  };
  return reader;
}
