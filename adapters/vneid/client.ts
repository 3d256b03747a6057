import { AsyncLocalStorage } from 'node:async_hooks';
import * as oidc from 'openid-client';
import type { CallContext, Health } from '../../src/core/ports.ts';
import { requireAssurance } from '../../src/core/level-of-assurance.ts';
import type { AuthorizationRequest, NationalSignOn } from '../../src/core/national-sign-on-port.ts';
import type { UpstreamPolicy } from '../../src/resilience/policy.ts';
import { mapped } from '../mapping-error.ts';
import { badResponse, toGatewayError } from './errors.ts';
import { HEALTH_PATH } from './index.ts';
import { boundClaims, toNationalAccount } from './mapping.ts';

export { HEALTH_PATH } from './index.ts';

export interface VneidClientOptions {
  /** The issuer: discovery reads `<issuer>/.well-known/openid-configuration`, and every ID token must name it exactly. */
  issuer: string;
  clientId: string;
  clientSecret: string;
  retryAfterSeconds: number;
}

export interface VneidClient extends NationalSignOn {
  health(ctx: CallContext): Promise<Health>;
}

/**
 * The gateway as relying party, with openid-client: authorization code + PKCE (S256), state and
 * nonce, `acr_values`; the ID token's issuer, audience, expiry, nonce and (enableNonRepudiationChecks)
 * its signature against the provider's published keys are checked, then its `acr` against the
 * accepted levels (openid-client does not check it) before anything is read. The account's claims
 * are the verified ID token's; only those it does not carry are taken from userinfo, which must
 * name the same `sub` and contradict none of them. Every request goes through the upstream policy.
 */
export function createVneidClient(deps: { policy: UpstreamPolicy }, options: VneidClientOptions): VneidClient {
  const { policy } = deps;
  // openid-client takes no per-call signal: each call's own (timeout, caller gone) is found here.
  const callSignal = new AsyncLocalStorage<AbortSignal>();
  const fetchWithSignal: oidc.CustomFetch = (url, init) => {
    const signal = callSignal.getStore();
    return fetch(url, { ...init, signal: signal ? AbortSignal.any([signal, ...(init.signal ? [init.signal] : [])]) : init.signal } as RequestInit);
  };
  let configuration: Promise<oidc.Configuration> | undefined;
  /** Set once discovery has succeeded: building an authorization URL is then local work. */
  let discovered: oidc.Configuration | undefined;

  const discover = () => {
    configuration ??= oidc
      .discovery(new URL(options.issuer), options.clientId, undefined, oidc.ClientSecretBasic(options.clientSecret), {
        [oidc.customFetch]: fetchWithSignal,
        // Plain http only for a sandbox on this machine; a real provider is https.
        ...(new URL(options.issuer).protocol === 'http:' ? { execute: [oidc.allowInsecureRequests] } : {}),
      })
      .then((config) => {
        config[oidc.customFetch] = fetchWithSignal;
        oidc.enableNonRepudiationChecks(config);
        discovered = config;
        return config;
      });
    // A failed discovery is tried again on the next call.
    configuration.catch(() => (configuration = undefined));
    return configuration;
  };

  /** One call through the policy; only reads (discovery, userinfo) are `idempotent` and may be retried: a code is used once. */
  const call = <T>(ctx: CallContext, run: (config: oidc.Configuration) => Promise<T>, idempotent = false) =>
    policy.execute(
      ctx,
      (signal) =>
        callSignal.run(signal, async () => {
          try {
            return await run(await discover());
          } catch (err) {
            throw toGatewayError(err, options.retryAfterSeconds);
          }
        }),
      { idempotent },
    );

  const buildUrl = (config: oidc.Configuration, request: AuthorizationRequest) =>
    oidc
      .buildAuthorizationUrl(config, {
        redirect_uri: request.redirectUri,
        scope: 'openid',
        response_type: 'code',
        state: request.state,
        nonce: request.nonce,
        code_challenge: request.codeChallenge,
        code_challenge_method: 'S256',
        acr_values: request.acrValues.join(' '),
      })
      .toString();

  return {
    // Only the first sign-on of a process reaches the service (discovery); later ones are local.
    authorizationUrl: async (ctx, request) => (discovered ? buildUrl(discovered, request) : call(ctx, async (config) => buildUrl(config, request), true)),
    // Two round trips, each its own call through the policy (and its own line in the exchange log).
    complete: async (ctx, request) => {
      const { accessToken, idToken, acr } = await call(ctx, async (config) => {
        const tokens = await oidc.authorizationCodeGrant(
          config,
          request.callbackUrl,
          { pkceCodeVerifier: request.codeVerifier, expectedState: request.state, expectedNonce: request.nonce, idTokenExpected: true },
          { redirect_uri: request.redirectUri },
        );
        const claims = tokens.claims();
        if (!claims) throw badResponse('no ID token');
        // Refused inside the call: the exchange log's line for it says so, and userinfo is never read.
        try {
          return { accessToken: tokens.access_token, idToken: claims, acr: requireAssurance(claims.acr, request.acrValues) };
        } catch (err) {
          ctx.log.warn({ exchangeId: ctx.exchangeId, acr: typeof claims.acr === 'string' ? claims.acr : null, acrValues: request.acrValues }, 'national sign-on refused: level of assurance');
          throw err;
        }
      });
      const info = await call(ctx, async (config) => oidc.fetchUserInfo(config, accessToken, idToken.sub), true);
      return { account: mapped(() => toNationalAccount(boundClaims(idToken, info)), badResponse), acr };
    },

    health: async () => {
      const started = performance.now();
      try {
        const res = await fetch(new URL(HEALTH_PATH.slice(1), options.issuer.endsWith('/') ? options.issuer : `${options.issuer}/`), { signal: AbortSignal.timeout(2000) });
        await res.body?.cancel();
        return res.status === 200 ? { status: 'up', latencyMs: Math.round(performance.now() - started) } : { status: 'down', latencyMs: Math.round(performance.now() - started), detail: `HTTP ${res.status}` };
      } catch (err) {
        return { status: 'down', latencyMs: Math.round(performance.now() - started), detail: (err as Error).message };
      }
    },
  };
}
