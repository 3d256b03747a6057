import createClient, { type Client, type Middleware } from 'openapi-fetch';
import type { components, paths } from '../generated/gateway.ts';

export type { components, paths };
export type Problem = components['schemas']['Problem'];
export type Enterprise = components['schemas']['Enterprise'];

export interface GatewayClientOptions {
  /** e.g. http://localhost:8080 */
  baseUrl: string;
  apiKey: string;
  /** Sent as X-User-Id and X-Purpose on every call (needed by operations on personal data). */
  userId?: string;
  purpose?: string;
  fetch?: typeof globalThis.fetch;
}

export type GatewayClient = Client<paths>;

/**
 * A typed client for the gateway's public API, generated from openapi/gateway.yaml: paths,
 * parameters, bodies and answers are checked by the compiler.
 */
export function createGatewayClient(options: GatewayClientOptions): GatewayClient {
  const client = createClient<paths>({ baseUrl: options.baseUrl, ...(options.fetch ? { fetch: options.fetch } : {}) });
  const headers: Middleware = {
    onRequest({ request }) {
      request.headers.set('authorization', `Bearer ${options.apiKey}`);
      if (options.userId && !request.headers.has('x-user-id')) request.headers.set('x-user-id', options.userId);
      if (options.purpose && !request.headers.has('x-purpose')) request.headers.set('x-purpose', options.purpose);
      return request;
    },
  };
  client.use(headers);
  return client;
}
