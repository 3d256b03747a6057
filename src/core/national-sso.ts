import { createHash, randomBytes } from 'node:crypto';
import { GatewayError } from '../errors/gateway-error.ts';
import type { AccountLinkService, Actor } from './account-links.ts';
import type { Attester } from './citizens.ts';
import { maskIdentifier } from './identifiers/id-number.ts';
import type { NationalSignOn } from './national-sign-on-port.ts';
import type { CallContext } from './ports.ts';
import { toVietnamIso } from './time.ts';

/** A national sign-on in progress, as the callback needs it back. */
export interface SsoFlow {
  nonce: string;
  codeVerifier: string;
  clientId: string;
  agency: string;
  userId: string;
  purpose: string;
  portalAccountId: string | null;
  returnTo: string;
  expiresAt: Date;
}

export interface SsoFlowStore {
  save(state: string, flow: SsoFlow, now: Date): Promise<void>;
  /** The flow for this state, marked used in the same statement: a second take, by any process, finds nothing. */
  take(state: string, now: Date): Promise<SsoFlow | undefined>;
}

export interface SsoOptions {
  /** The gateway's callback as the national service redirects to it (registered there). */
  redirectUri: () => string;
  /** Where the result may be sent: a returnTo's origin and path must equal one of these (no open redirect). */
  returnToAllowList: readonly string[];
  /** The levels of assurance asked for and accepted (sso.acrValues): the ID token's `acr` must be one. */
  acrValues: readonly string[];
  flowTtlMs: number;
  resultTtlSeconds: number;
}

const base64url = (bytes: Buffer) => bytes.toString('base64url');

/** A returnTo is allowed when its origin and path are exactly those of an allow-list entry; a query is kept, a fragment refused. */
export function returnToAllowed(returnTo: string, allowList: readonly string[]): boolean {
  let url: URL;
  try {
    url = new URL(returnTo);
  } catch {
    return false;
  }
  if (url.hash || url.username || url.password || (url.protocol !== 'https:' && url.protocol !== 'http:')) return false;
  return allowList.some((entry) => {
    const allowed = new URL(entry);
    return allowed.origin === url.origin && allowed.pathname === url.pathname;
  });
}

export interface SsoService {
  /** Records the flow and gives the national authorization URL to send the browser to. */
  start(ctx: CallContext, request: { portalAccountId?: string | undefined; returnTo: string; userId: string; purpose: string }): Promise<{ authorizationUrl: string; expiresAt: string }>;
  /** The flow a callback's state names, used up; VERIFICATION_MISMATCH when unknown, used or expired. */
  take(state: string): Promise<SsoFlow>;
  /** Completes the sign-on and gives where to send the browser: returnTo with a signed `result`. */
  complete(ctx: CallContext, flow: SsoFlow, state: string, callbackUrl: URL): Promise<{ returnTo: string; subject: string }>;
  /** The browser came back without a code (the person cancelled, or the service refused): returnTo with that result. */
  cancelled(ctx: CallContext, flow: SsoFlow, error: string): Promise<string>;
}

export function createSsoService(
  deps: { signOn: NationalSignOn; flows: SsoFlowStore; links: AccountLinkService; attester: Attester; now?: () => Date },
  options: SsoOptions,
): SsoService {
  const now = deps.now ?? (() => new Date());

  /** The result for the portal: a JWS by the gateway's attestation key, for the starting client only, short-lived. */
  const redirectWith = async (ctx: CallContext, flow: SsoFlow, result: Record<string, unknown>) => {
    const issuedAt = Math.floor(now().getTime() / 1000);
    const token = await deps.attester.attest({
      aud: flow.clientId,
      jti: ctx.exchangeId,
      exp: issuedAt + options.resultTtlSeconds,
      typ: 'national-sign-on-result',
      // The exact address the portal gave at the start, its own session value included: the portal
      // checks that signed value against the browser's session, never the query it arrived with.
      returnTo: flow.returnTo,
      portalAccountId: flow.portalAccountId,
      ...result,
    });
    const url = new URL(flow.returnTo);
    url.searchParams.set('result', token);
    return url.toString();
  };

  return {
    async start(ctx, request) {
      if (!returnToAllowed(request.returnTo, options.returnToAllowList)) {
        throw new GatewayError('VALIDATION_FAILED', {
          detail: 'returnTo is not on the sign-on allow-list (sso.returnToAllowList)',
          errors: [{ field: 'query.returnTo', message: 'must be an allowed return address' }],
        });
      }
      const state = base64url(randomBytes(32));
      const nonce = base64url(randomBytes(32));
      const codeVerifier = base64url(randomBytes(32));
      const codeChallenge = base64url(createHash('sha256').update(codeVerifier).digest());
      const url = await deps.signOn.authorizationUrl(ctx, { redirectUri: options.redirectUri(), state, nonce, codeChallenge, acrValues: options.acrValues });
      const expiresAt = new Date(now().getTime() + options.flowTtlMs);
      await deps.flows.save(
        state,
        {
          nonce,
          codeVerifier,
          clientId: ctx.clientId,
          agency: ctx.agency,
          userId: request.userId,
          purpose: request.purpose,
          portalAccountId: request.portalAccountId ?? null,
          returnTo: request.returnTo,
          expiresAt,
        },
        now(),
      );
      return { authorizationUrl: url, expiresAt: toVietnamIso(expiresAt) };
    },

    async take(state) {
      const flow = await deps.flows.take(state, now());
      if (!flow) {
        throw new GatewayError('VERIFICATION_MISMATCH', {
          detail: 'this sign-on is unknown, expired or already completed; start again',
          errors: [{ field: 'query.state', message: 'does not name a sign-on in progress' }],
        });
      }
      return flow;
    },

    async complete(ctx, flow, state, callbackUrl) {
      // A level of assurance not in acrValues is refused by the port before userinfo is read.
      const { account: national, acr } = await deps.signOn.complete(ctx, { callbackUrl, redirectUri: options.redirectUri(), state, nonce: flow.nonce, codeVerifier: flow.codeVerifier, acrValues: options.acrValues });
      const actor: Actor = { clientId: flow.clientId, roles: [], userId: flow.userId };
      const resolved = await deps.links.resolveSignOn(actor, national, flow.portalAccountId, ctx.exchangeId, acr);
      const identifier = national.accountType === 'person' ? national.idNumber! : national.enterpriseCode!;
      const returnTo = await redirectWith(ctx, flow, {
        outcome: resolved.outcome,
        link: resolved.link,
        ...(resolved.outcome === 'conflict' ? { detail: resolved.detail } : {}),
        // The token travels in a URL (browser history, access logs): no name and no national account id in it.
        national: { accountType: national.accountType, maskedIdentifier: maskIdentifier(identifier), acr },
      });
      return { returnTo, subject: identifier };
    },

    cancelled: (ctx, flow, error) => redirectWith(ctx, flow, { outcome: 'cancelled', error, link: null, national: null }),
  };
}
