import { randomUUID } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { createClientAsync, type Client, type ISecurity, type SoapMethodAsync } from 'soap';
import type { IdentityQuery, PopulationRegistry } from '../../src/core/citizens-port.ts';
import type { CallContext, Health } from '../../src/core/ports.ts';
import { GatewayError, isGatewayError } from '../../src/errors/gateway-error.ts';
import type { UpstreamPolicy } from '../../src/resilience/policy.ts';
import { badResponse, checkRawAnswer, fromCallError, readLookup, readVerification } from './errors.ts';
import { OPERATIONS, toLookupRequest, toVerificationRequest, type Operation, type RequestHeader } from './mapping.ts';
import { CALL_STATE, GuardedHttpClient, type AnswerInspector, type CallState } from './transport.ts';

/** Where the service lives under the configured base URL; its WSDL is at `?wsdl`. */
export const SERVICE_PATH = '/CongDanService';

export interface PopulationClientOptions {
  /** Base URL of the database's exchange service (the simulator's URL in the sandbox). */
  url: string;
  maxResponseBytes: number;
  retryAfterSeconds: number;
  /** MaTichHop: the gateway's integration code, constant per deployment. */
  integrationCode: string;
  /** axios's own timeout, a backstop behind the policy's signal (default 30 s). */
  requestTimeoutMs?: number;
  /** Time allowed to fetch and read the WSDL (default 10 s). */
  wsdlTimeoutMs?: number;
  /** WS-Security for requests, set on the client when it is built (see `populationMessageSecurity`). */
  security: ISecurity;
  /** WS-Security for answers: sees each raw answer before parsing; throws a GatewayError to refuse it. */
  verifyAnswer: AnswerInspector;
  /** MaYeuCau generator (tests). */
  newRequestId?: () => string;
}

export interface PopulationClient extends PopulationRegistry {
  health(ctx: CallContext): Promise<Health>;
  close(): Promise<void>;
}

/**
 * `xs:boolean` allows true, false, 1 and 0. `soap` reads anything else as false, which would turn
 * a garbled XacThuc answer into "no such person"; left as text, the answer schema refuses it.
 */
export const STRICT_BOOLEANS = {
  boolean: (text: string): boolean | string => (text === 'true' || text === '1' ? true : text === 'false' || text === '0' ? false : text),
};

/** Resolves with the promise, or rejects as soon as this caller's signal aborts. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;
const ID_NUMBER = /^\d{12}$/;

function checkIdNumber(idNumber: string): void {
  if (!ID_NUMBER.test(idNumber)) {
    throw new GatewayError('INVALID_IDENTIFIER', { detail: 'idNumber must be 12 digits', errors: [{ field: 'body.idNumber', message: 'must be 12 digits' }] });
  }
}

/**
 * The population database's client: `soap` over a WSDL fetched from the service, built once and
 * kept (rebuilt after a failed attempt), every call through the upstream policy.
 */
export function createPopulationClient(deps: { policy: UpstreamPolicy }, options: PopulationClientOptions): PopulationClient {
  const { policy } = deps;
  const { retryAfterSeconds } = options;
  const endpoint = options.url.replace(/\/+$/, '') + SERVICE_PATH;
  const wsdlUrl = `${endpoint}?wsdl`;
  const newRequestId = options.newRequestId ?? randomUUID;
  const requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
  const wsdlTimeoutMs = options.wsdlTimeoutMs ?? 10_000;

  const httpAgent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 64 });
  // Options every request hands to axios (soap copies them into the axios config).
  const axiosOptions = { httpAgent, httpsAgent, maxContentLength: options.maxResponseBytes, maxRedirects: 0 };
  const closing = new AbortController();

  const transport = new GuardedHttpClient((answer) => {
    checkRawAnswer(answer, retryAfterSeconds);
    options.verifyAnswer(answer);
  }, retryAfterSeconds);

  async function build(): Promise<Client> {
    let client: Client;
    try {
      client = await createClientAsync(wsdlUrl, {
        // We keep the client ourselves; soap's process-wide cache would never forget a WSDL.
        disableCache: true,
        httpClient: transport,
        customDeserializer: STRICT_BOOLEANS,
        wsdl_options: { ...axiosOptions, timeout: wsdlTimeoutMs, signal: closing.signal },
      });
    } catch (err) {
      throw isGatewayError(err) ? err : badResponse('the service description (WSDL) could not be read', err);
    }
    for (const operation of Object.values(OPERATIONS)) {
      if (typeof client[`${operation}Async`] !== 'function') throw badResponse(`the service description lacks ${operation}`);
    }
    // The WSDL's soap:address names the production host; calls go where we were configured to.
    client.setEndpoint(endpoint);
    client.setSecurity(options.security);
    return client;
  }

  let building: Promise<Client> | undefined;
  function soapClient(signal: AbortSignal): Promise<Client> {
    if (!building) {
      const attempt = build();
      building = attempt;
      attempt.catch(() => {
        if (building === attempt) building = undefined;
      });
    }
    // One caller giving up must not cancel the build others are waiting for.
    return untilAborted(building, signal);
  }

  async function call(operation: Operation, args: object, signal: AbortSignal): Promise<unknown> {
    const client = await soapClient(signal);
    const method = client[`${operation}Async`] as SoapMethodAsync;
    const state: CallState = {};
    let result: unknown;
    try {
      [result] = await method(args, { ...axiosOptions, timeout: requestTimeoutMs, signal, [CALL_STATE]: state });
    } catch (err) {
      throw fromCallError(err, retryAfterSeconds);
    }
    if (state.status !== 200) throw badResponse(`answered HTTP ${state.status} without a SOAP fault`);
    return result;
  }

  function header(ctx: CallContext): RequestHeader {
    // The database refuses requests without agency, officer and purpose; the HTTP layer already
    // requires them, so their absence here is a wiring fault, reported before any exchange.
    if (!ctx.purpose || !ctx.userId || !ctx.agency) {
      throw new GatewayError('ACCOUNTABILITY_REQUIRED', { detail: 'the population database needs the acting officer, the purpose and the agency' });
    }
    return { MaYeuCau: newRequestId(), MaDVC: ctx.purpose, MaTichHop: options.integrationCode, MaDonVi: ctx.agency, MaCanBo: ctx.userId };
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

    /** Up when the service description can be fetched (it is what every client needs first). */
    async health(ctx) {
      const started = performance.now();
      const signal = AbortSignal.any([ctx.signal, closing.signal, AbortSignal.timeout(2000)]);
      const latency = () => Math.round(performance.now() - started);
      try {
        await new Promise<void>((resolve, reject) => {
          void transport.request(wsdlUrl, null, (err: unknown) => (err ? reject(err) : resolve()), undefined, { ...axiosOptions, timeout: 2000, signal });
        });
        return { status: 'up', latencyMs: latency() };
      } catch (err) {
        return { status: 'down', latencyMs: latency(), detail: err instanceof Error ? err.message : 'unreachable' };
      }
    },

    async close() {
      closing.abort(new Error('population client closed'));
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  };
}
