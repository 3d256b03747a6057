import { createHash } from 'node:crypto';
import { z } from 'zod';
import { GatewayError } from '../../src/errors/gateway-error.ts';
import { createUpstreamHttp, type UpstreamHttp, type UpstreamResponse } from '../../src/resilience/upstream-http.ts';
import { badResponse } from './errors.ts';

/**
 * How a request envelope reaches the population database (DOMAIN.md, "Population database, as
 * provinces reach it"): `direct` to its SOAP service; `lgsp` through the provincial integration
 * platform, the envelope inside a JSON wrapper with the platform's access tokens (as OpenCPS's
 * `QLCDIntegrationActionImpl` sends it); `ndxp` through the national data-sharing platform with
 * X-Road-style client headers. Which details no public source shows is listed, once, in README.md
 * ("Inferred").
 */
export type TransportMode = 'direct' | 'lgsp' | 'ndxp';

/** LGSP's application keys, sent base64-encoded as `lgspAccessToken` and to the token endpoint. */
export interface PlatformKeys {
  accessKey: string;
  secretKey: string;
  appName: string;
  partnerCode: string;
  partnerCodeCus: string;
}

export interface TransportOptions {
  mode: TransportMode;
  servicePath?: string | undefined;
  tokenUrl?: string | undefined;
  platformKeys?: PlatformKeys | undefined;
  /** The database account: LGSP's `AuthHash`, NDXP's basic auth. */
  account?: { username: string; password: string } | undefined;
  /** NDXP: `X-Road-Client`. */
  client?: string | undefined;
  apiKey?: string | undefined;
}

export { SANDBOX_TRANSPORT } from './config.ts';

/** Where each transport's service and token endpoint live under the configured URL, unless configured. */
export const DEFAULT_PATHS = {
  direct: '/CongDanService',
  lgsp: '/lgsp/CongDanService',
  ndxp: '/ndxp/CongDanService',
  token: '/lgsp/token',
} as const;

/** The HTTP headers of a SOAP 1.1 request for `soapAction` (unquoted, as the service description gives it). */
export const soapHeaders = (soapAction: string) => ({ 'content-type': 'text/xml; charset=utf-8', soapaction: `"${soapAction}"`, accept: 'text/xml' });

/** Headers of the X-Road-style NDXP exchange. */
export const NDXP_HEADERS = { client: 'x-road-client', timestamp: 'x-road-timestamp', apiKey: 'x-api-key' } as const;

/** LGSP `lgspAccessToken`: the platform keys as JSON, base64-encoded. */
export function lgspAccessToken(keys: PlatformKeys): string {
  const json = JSON.stringify({ AccessKey: keys.accessKey, SecretKey: keys.secretKey, AppName: keys.appName, PartnerCode: keys.partnerCode, PartnerCodeCus: keys.partnerCodeCus });
  return Buffer.from(json, 'utf8').toString('base64');
}

/** LGSP `AuthHash`: the database account as `name:password`, base64-encoded. */
export const authHash = (account: { username: string; password: string }): string => Buffer.from(`${account.username}:${account.password}`, 'utf8').toString('base64');

/** NDXP basic auth: the password travels as its SHA-256 (hex), never in clear. */
export function ndxpAuthorization(account: { username: string; password: string }): string {
  const hashed = createHash('sha256').update(account.password, 'utf8').digest('hex');
  return `Basic ${Buffer.from(`${account.username}:${hashed}`, 'utf8').toString('base64')}`;
}

const tokenAnswer = z.object({ access_token: z.string().min(1), expires_in: z.coerce.number().int().positive().optional() });

/** Tokens are renewed this long before the platform says they expire. */
const RENEW_MARGIN_MS = 30_000;
/** Lifetime assumed when the token endpoint does not say. */
const DEFAULT_LIFETIME_S = 300;

export interface Transport {
  readonly mode: TransportMode;
  readonly servicePath: string;
  /** Sends one request envelope (already signed when WS-Security is spoken) and returns the raw answer. */
  send(operation: string, soapAction: string, envelope: string, signal: AbortSignal): Promise<UpstreamResponse>;
  close(): Promise<void>;
}

function required<T>(value: T | undefined, setting: string): T {
  if (value === undefined) throw new Error(`population transport: ${setting} is required`);
  return value;
}

/**
 * The transport for `options.mode` over `http` (the configured base URL). LGSP's access token is
 * fetched on first use, kept until shortly before it expires, and renewed once when the platform
 * refuses it (HTTP 401), so a token revoked early costs one extra round trip, not a failure.
 */
export function createTransport(http: UpstreamHttp, options: TransportOptions, deps: { now?: () => number; maxResponseBytes: number; retryAfterSeconds: number }): Transport {
  const now = deps.now ?? Date.now;
  const { retryAfterSeconds } = deps;
  const servicePath = options.servicePath ?? DEFAULT_PATHS[options.mode];

  if (options.mode === 'direct') {
    return {
      mode: 'direct',
      servicePath,
      send: (_operation, soapAction, envelope, signal) => http.send({ method: 'POST', path: servicePath, headers: soapHeaders(soapAction), body: envelope, signal }),
      close: async () => {},
    };
  }

  if (options.mode === 'ndxp') {
    const account = required(options.account, 'account');
    const client = required(options.client, 'client');
    const apiKey = required(options.apiKey, 'apiKey');
    const authorization = ndxpAuthorization(account);
    return {
      mode: 'ndxp',
      servicePath,
      send: (_operation, soapAction, envelope, signal) =>
        http.send({
          method: 'POST',
          path: servicePath,
          headers: { ...soapHeaders(soapAction), authorization, [NDXP_HEADERS.client]: client, [NDXP_HEADERS.timestamp]: new Date(now()).toISOString(), [NDXP_HEADERS.apiKey]: apiKey },
          body: envelope,
          signal,
        }),
      close: async () => {},
    };
  }

  const keys = required(options.platformKeys, 'platformKeys');
  const account = required(options.account, 'account');
  const platformToken = lgspAccessToken(keys);
  const hash = authHash(account);
  const tokenUrl = new URL(options.tokenUrl ?? http.baseUrl + DEFAULT_PATHS.token);
  const tokenHttp = tokenUrl.origin === new URL(http.baseUrl).origin ? undefined : createUpstreamHttp({ baseUrl: tokenUrl.origin, maxResponseBytes: deps.maxResponseBytes });
  let cached: { token: string; renewAt: number } | undefined;
  let pending: Promise<string> | undefined;

  async function fetchToken(signal: AbortSignal): Promise<string> {
    const response = await (tokenHttp ?? http).send({
      method: 'POST',
      path: tokenUrl.pathname + tokenUrl.search,
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', lgspaccesstoken: platformToken },
      body: 'grant_type=client_credentials',
      signal,
    });
    if (response.status === 401 || response.status === 403) {
      throw new GatewayError('UPSTREAM_AUTH', { detail: `population database: the integration platform refused the gateway's keys (HTTP ${response.status})`, upstreamFailure: true });
    }
    if (response.status >= 500 || response.status === 429) {
      throw new GatewayError('UPSTREAM_UNAVAILABLE', { detail: `population database: the platform's token endpoint answered HTTP ${response.status}`, retryAfter: retryAfterSeconds, upstreamFailure: true });
    }
    if (response.status !== 200) throw badResponse(`the platform's token endpoint answered HTTP ${response.status}`);
    let parsed;
    try {
      parsed = tokenAnswer.safeParse(JSON.parse(response.body.toString('utf8')));
    } catch (err) {
      throw badResponse("the platform's token answer is not JSON", err);
    }
    if (!parsed.success) throw badResponse("the platform's token answer has no access_token", parsed.error);
    const lifetimeMs = (parsed.data.expires_in ?? DEFAULT_LIFETIME_S) * 1000;
    cached = { token: parsed.data.access_token, renewAt: now() + Math.max(0, lifetimeMs - RENEW_MARGIN_MS) };
    return cached.token;
  }

  function token(signal: AbortSignal): Promise<string> {
    if (cached && now() < cached.renewAt) return Promise.resolve(cached.token);
    // One token request at a time: callers arriving meanwhile wait for the same answer.
    pending ??= fetchToken(signal).finally(() => {
      pending = undefined;
    });
    return pending;
  }

  const wrapped = (accessToken: string, envelope: string) => JSON.stringify({ accessToken: `Bearer ${accessToken}`, lgspAccessToken: platformToken, AuthHash: hash, data: envelope });
  const post = (accessToken: string, envelope: string, signal: AbortSignal) =>
    http.send({ method: 'POST', path: servicePath, headers: { 'content-type': 'application/json; charset=utf-8', accept: 'text/xml' }, body: wrapped(accessToken, envelope), signal });

  return {
    mode: 'lgsp',
    servicePath,
    async send(_operation, _soapAction, envelope, signal) {
      const first = await token(signal);
      const response = await post(first, envelope, signal);
      if (response.status !== 401) return response;
      if (cached?.token === first) cached = undefined;
      return post(await token(signal), envelope, signal);
    },
    close: async () => {
      await tokenHttp?.close();
    },
  };
}
