import createClient from 'openapi-fetch';
import type { Client, Middleware } from 'openapi-fetch';
import type { AccountabilityHeader, PathsSupplying, SuppliedHeaders } from './accountability.js';
import type { components, operations, paths } from './generated/gateway.js';

export { accountabilityHeaders, type Accountability, type AccountabilityHeader, type PathsSupplying, type SuppliedHeaders } from './accountability.js';
export type { components, operations, paths };

/** Every error answer: `application/problem+json` (RFC 9457). */
export type Problem = components['schemas']['Problem'];
/** The stable error codes carried in `Problem.code`. */
export type ErrorCode = components['schemas']['ErrorCode'];
export type Schemas = components['schemas'];

export interface GatewayClientOptions {
  /** Where the gateway listens, e.g. `http://localhost:8080`. */
  baseUrl: string;
  /** The client's API key, sent as `Authorization: Bearer …` on every call. */
  apiKey: string;
  /**
   * Sent as `X-User-Id` on every call that does not set it itself: the officer or citizen acting.
   * Given together with `purpose`, personal-data operations type-check without per-call headers.
   */
  userId?: string;
  /** Sent as `X-Purpose` on every call that does not set it itself. */
  purpose?: string;
  /** A fetch implementation to use instead of the global one. */
  fetch?: typeof globalThis.fetch;
}

/**
 * The gateway's API with paths, parameters, bodies and answers checked by the compiler.
 * `Supplied` names the accountability headers the client sends itself (see `createGatewayClient`).
 */
export type GatewayClient<Supplied extends AccountabilityHeader = never> = Client<PathsSupplying<paths, Supplied>>;

function checked(name: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.trim() === '') throw new TypeError(`${name} must be a non-empty string when given`);
  return value;
}

/**
 * A typed client for the gateway's public API, generated from openapi/gateway.yaml.
 *
 * With `userId` and `purpose`, every call carries `X-User-Id` and `X-Purpose`, and the types no
 * longer ask for them on personal-data operations; a call may still set either in
 * `params.header` (it wins). Without them, those operations require both headers per call.
 */
export function createGatewayClient<const O extends GatewayClientOptions>(options: O): GatewayClient<SuppliedHeaders<O>> {
  const apiKey = checked('apiKey', options.apiKey);
  if (!apiKey) throw new TypeError('apiKey is required');
  const userId = checked('userId', options.userId);
  const purpose = checked('purpose', options.purpose);
  const client = createClient<paths>({ baseUrl: options.baseUrl, ...(options.fetch ? { fetch: options.fetch } : {}) });
  const headers: Middleware = {
    onRequest({ request }) {
      request.headers.set('authorization', `Bearer ${apiKey}`);
      if (userId !== undefined && !request.headers.has('x-user-id')) request.headers.set('x-user-id', userId);
      if (purpose !== undefined && !request.headers.has('x-purpose')) request.headers.set('x-purpose', purpose);
      return request;
    },
  };
  client.use(headers);
  // The same object; only its static type differs, by the headers the middleware adds.
  return client as unknown as GatewayClient<SuppliedHeaders<O>>;
}
