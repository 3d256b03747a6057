import { randomUUID } from 'node:crypto';
import type { IdentityQuery, PopulationRegistry } from '../../src/core/citizens-port.ts';
import type { CallContext, Health } from '../../src/core/ports.ts';
import { GatewayError } from '../../src/errors/gateway-error.ts';
import type { UpstreamPolicy } from '../../src/resilience/policy.ts';
import { createUpstreamHttp, probeHealth } from '../../src/resilience/upstream-http.ts';
import { badResponse, checkRawAnswer, readLookup, readVerification, readVerifiedBody, type RawAnswer } from './errors.ts';
import { OPERATIONS, requestEnvelope, toLookupRequest, toVerificationRequest, type Operation, type RequestHeader } from './mapping.ts';
import type { AnswerVerifier, RequestSigner } from './security.ts';
import { SERVICE_DESCRIPTION } from './service-description.ts';
import { createTransport, DEFAULT_PATHS, type TransportOptions } from './transport.ts';

/** Where the service lives under the configured base URL, when reached directly. */
export const SERVICE_PATH = DEFAULT_PATHS.direct;

export interface PopulationClientOptions {
  /** Base URL of the database's exchange service (the simulator's URL in the sandbox). */
  url: string;
  maxResponseBytes: number;
  retryAfterSeconds: number;
  /** MaTichHop: the integration code the database's operator assigned to this deployment. */
  integrationCode: string;
  /** MaDVC: the service code the operator assigned (not derived from the caller). */
  serviceCode: string;
  /** WS-Security for requests (see `populationMessageSecurity`). */
  signRequest: RequestSigner;
  /** WS-Security for answers: returns the signed Body, the only part of an answer that is read. */
  verifyAnswer: AnswerVerifier;
  /** How requests reach the database; unset: directly. */
  transport?: TransportOptions;
  /** MaYeuCau generator (tests). */
  newRequestId?: () => string;
  /** Clock for platform token expiry (tests). */
  now?: () => number;
}

export interface PopulationClient extends PopulationRegistry {
  health(ctx: CallContext): Promise<Health>;
  close(): Promise<void>;
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;
// The 12-digit ID number or the 9-digit old card number (CMND).
const ID_NUMBER = /^(?:\d{12}|\d{9})$/;
const UTF8 = new TextDecoder('utf-8', { fatal: true });

function checkIdNumber(idNumber: string): void {
  if (!ID_NUMBER.test(idNumber)) {
    const message = 'must be a 12-digit ID number or a 9-digit old card number';
    throw new GatewayError('INVALID_IDENTIFIER', { detail: `idNumber ${message}`, errors: [{ field: 'body.idNumber', message }] });
  }
}

/**
 * The population database's client: SOAP 1.1 as the shipped service description
 * (`congdan-service.wsdl`) describes it, every call through the upstream policy. Each answer is
 * parsed once, its signature verified, and only the Body the signature covers is read.
 */
export function createPopulationClient(deps: { policy: UpstreamPolicy }, options: PopulationClientOptions): PopulationClient {
  const { policy } = deps;
  const { retryAfterSeconds } = options;
  const http = createUpstreamHttp({ baseUrl: options.url, maxResponseBytes: options.maxResponseBytes });
  const transport = createTransport(http, options.transport ?? { mode: 'direct' }, { maxResponseBytes: options.maxResponseBytes, retryAfterSeconds, ...(options.now ? { now: options.now } : {}) });
  const endpoint = http.baseUrl + transport.servicePath;
  const newRequestId = options.newRequestId ?? randomUUID;

  async function call(operation: Operation, request: object, signal: AbortSignal): Promise<Record<string, unknown>> {
    const { soapAction, requestFields } = SERVICE_DESCRIPTION[operation];
    const response = await transport.send(operation, soapAction, options.signRequest(requestEnvelope(operation, request, requestFields)), signal);
    let text: string;
    try {
      text = UTF8.decode(response.body);
    } catch (err) {
      throw badResponse('the answer is not UTF-8 text', err);
    }
    const contentType = response.headers['content-type'];
    const answer: RawAnswer = { url: endpoint, status: response.status, contentType: Array.isArray(contentType) ? contentType.join(', ') : (contentType ?? ''), body: text };
    checkRawAnswer(answer, retryAfterSeconds);
    return readVerifiedBody(options.verifyAnswer(answer), operation, answer.status, retryAfterSeconds);
  }

  function header(ctx: CallContext): RequestHeader {
    // Every exchange names the agency and officer (MaDonVi, MaCanBo) and is logged with its purpose;
    // the HTTP layer already requires them, so their absence here is a wiring fault.
    if (!ctx.purpose || !ctx.userId || !ctx.agency) {
      throw new GatewayError('ACCOUNTABILITY_REQUIRED', { detail: 'the population database needs the acting officer, the purpose and the agency' });
    }
    return { MaYeuCau: newRequestId(), MaDVC: options.serviceCode, MaTichHop: options.integrationCode, MaDonVi: ctx.agency, MaCanBo: ctx.userId };
  }

  return {
    async exists(ctx: CallContext, query: IdentityQuery): Promise<boolean> {
      checkIdNumber(query.idNumber);
      if (query.dateOfBirth !== undefined && !ISO_DATE.test(query.dateOfBirth)) {
        throw new GatewayError('VALIDATION_FAILED', { detail: 'dateOfBirth must be yyyy-MM-dd', errors: [{ field: 'body.dateOfBirth', message: 'must be yyyy-MM-dd' }] });
      }
      const request = toVerificationRequest(header(ctx), query);
      return policy.execute(ctx, async (signal) => readVerification(await call(OPERATIONS.verify, request, signal), request), { idempotent: true });
    },

    async lookup(ctx, idNumber) {
      checkIdNumber(idNumber);
      const request = toLookupRequest(header(ctx), idNumber);
      return policy.execute(ctx, async (signal) => readLookup(await call(OPERATIONS.lookup, request, signal), request), { idempotent: true });
    },

    /**
     * Up when the service answers its description's address with 200. The description itself is
     * not read: the client works from the one shipped with it.
     */
    health: (ctx) => probeHealth(http, ctx, `${transport.servicePath}?wsdl`, { accept: 'text/xml' }),

    close: async () => {
      await transport.close();
      await http.close();
    },
  };
}
