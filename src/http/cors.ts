import cors from 'cors';
import type { RequestHandler } from 'express';
import type { Config } from '../config/schema.ts';

/** Headers a browser caller may send, and those it may read from an answer. */
const ALLOWED_HEADERS = ['authorization', 'content-type', 'x-request-id', 'x-user-id', 'x-purpose', 'idempotency-key'];
const EXPOSED_HEADERS = ['x-request-id', 'x-exchange-id', 'retry-after', 'ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset', 'location'];

/**
 * CORS for the configured browser origins (`server.cors`), or nothing when none is configured: a
 * preflight from an origin not listed gets no Access-Control-* headers, so the browser refuses.
 */
export function corsPolicy(config: Config['server']['cors']): RequestHandler | undefined {
  if (config.origins.length === 0) return undefined;
  const any = config.origins.includes('*');
  const allowed = new Set(config.origins);
  return cors({
    origin: any ? '*' : (origin, done) => done(null, origin !== undefined && allowed.has(origin)),
    credentials: config.credentials,
    methods: ['GET', 'POST', 'PATCH', 'DELETE'],
    allowedHeaders: ALLOWED_HEADERS,
    exposedHeaders: EXPOSED_HEADERS,
    maxAge: config.maxAgeSeconds,
    optionsSuccessStatus: 204,
  });
}
