import cors from 'cors';
import type { RequestHandler, Response } from 'express';
import type { Config } from '../config/schema.ts';

/** Headers a browser caller may send, and those it may read from an answer. */
const ALLOWED_HEADERS = ['authorization', 'content-type', 'x-request-id', 'x-user-id', 'x-purpose', 'idempotency-key'];
const EXPOSED_HEADERS = ['x-request-id', 'x-exchange-id', 'retry-after', 'ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset', 'location'];

/**
 * CORS for the configured browser origins (`server.cors`), or nothing when none is configured: a
 * preflight from an origin not listed gets no Access-Control-* headers, so the browser refuses.
 * It runs before authentication, so it cannot tell how a request authenticates: a call made
 * with the console's cookie has Access-Control-Allow-Credentials taken off again by
 * authenticate (withoutCredentials), and `credentials` is only ever for keys and certificates.
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

/**
 * Takes Access-Control-Allow-Credentials off an answer: a browser then hands another origin
 * nothing of an answer to a request it sent with cookies. For calls made with the console's
 * cookie, which only the console's own page may read.
 */
export function withoutCredentials(res: Response): void {
  res.removeHeader('access-control-allow-credentials');
}
