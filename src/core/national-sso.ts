import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { GatewayError } from '../errors/gateway-error.ts';
import type { AccountLinkService, Actor, SignedOnAccount, SsoOutcome } from './account-links.ts';
import type { Attester } from './citizens.ts';
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

/**
 * A completed sign-on that waits for the portal that started it: the gateway cannot see the
 * portal's browser session, so nothing is linked or signed in until the portal, back in the
 * session of the browser that arrived, confirms it with the returnTo value it kept from start.
 */
export interface PendingSignOn {
  clientId: string;
  portalAccountId: string | null;
  /** Exactly as given to start. */
  returnTo: string;
  account: SignedOnAccount;
  expiresAt: Date;
}

/** Why a confirmation found nothing to confirm. */
export type PendingSignOnRefusal = 'unknown' | 'lapsed' | 'used';

export interface SsoFlowStore {
  save(state: string, flow: SsoFlow, now: Date): Promise<void>;
  /** The flow for this state, marked used in the same statement: a second take, by any process, finds nothing. */
  take(state: string, now: Date): Promise<SsoFlow | undefined>;
  savePending(id: string, pending: PendingSignOn, now: Date): Promise<void>;
  /**
   * The pending sign-on this id names, if `clientId` started it, marked used in the same statement:
   * one caller gets it, by any process, and none after it lapses. Another client's is `unknown`.
   */
  claimPending(id: string, clientId: string, now: Date): Promise<{ pending: PendingSignOn } | { refused: PendingSignOnRefusal }>;
}

export interface SsoOptions {
  /** The gateway's callback as the national service redirects to it (registered there). */
  redirectUri: () => string;
  /** Where the result may be sent: a returnTo's origin and path must equal one of these (no open redirect). */
  returnToAllowList: readonly string[];
  /** The levels of assurance asked for and accepted (sso.acrValues): the ID token's `acr` must be one. */
  acrValues: readonly string[];
  flowTtlMs: number;
  /** Lifetime of the signed result, and how long the sign-on it names waits for the portal's confirmation. */
  resultTtlSeconds: number;
}

/** What a confirmed sign-on gives the portal. */
export type SsoConfirmation = SsoOutcome & {
  portalAccountId: string | null;
  national: { accountType: 'person' | 'organization'; maskedIdentifier: string; acr: string };
};

const base64url = (bytes: Buffer) => bytes.toString('base64url');

/** Equal strings, compared in time that does not depend on where they differ. */
function sameValue(a: string, b: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();
  return timingSafeEqual(digest(a), digest(b));
}

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
  /**
   * Verifies the sign-on and records it, pending, for the starting portal to confirm; gives where to
   * send the browser: returnTo with a signed `result` naming the pending sign-on. Links nothing.
   */
  complete(ctx: CallContext, flow: SsoFlow, state: string, callbackUrl: URL): Promise<{ returnTo: string; subject: string }>;
  /**
   * The starting portal confirms a pending sign-on with the returnTo value it kept in the session of
   * the browser that arrived; only then is the link made, the offer made or the sign-in answered.
   */
  confirm(actor: Actor, request: { signOn: string; returnTo: string }): Promise<SsoConfirmation>;
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
      // checks that signed value against the browser's session, never the query it arrived with,
      // and the confirmation must carry the session's value for the gateway to compare.
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
      const account = deps.links.signedOn(national, acr, ctx.exchangeId);
      // The browser that arrives may not be the one whose portal session started the flow (a
      // forwarded invitation): record the outcome only, for the portal to confirm.
      const signOn = base64url(randomBytes(32));
      const at = now();
      await deps.flows.savePending(
        signOn,
        { clientId: flow.clientId, portalAccountId: flow.portalAccountId, returnTo: flow.returnTo, account, expiresAt: new Date(at.getTime() + options.resultTtlSeconds * 1000) },
        at,
      );
      const preview = await deps.links.previewSignOn(account, flow.portalAccountId);
      const returnTo = await redirectWith(ctx, flow, {
        outcome: preview.outcome,
        signOn,
        ...(preview.detail ? { detail: preview.detail } : {}),
        // The token travels in a URL (browser history, access logs): no name and no national account id in it.
        national: { accountType: account.subjectType, maskedIdentifier: account.subjectMasked, acr },
      });
      const identifier = national.accountType === 'person' ? national.idNumber! : national.enterpriseCode!;
      return { returnTo, subject: identifier };
    },

    async confirm(actor, request) {
      const claimed = await deps.flows.claimPending(request.signOn, actor.clientId, now());
      if ('refused' in claimed) {
        if (claimed.refused === 'unknown') {
          throw new GatewayError('SIGN_ON_NOT_FOUND', { detail: 'no sign-on of this client awaits confirmation under this id', errors: [{ field: 'body.signOn', message: 'does not name a sign-on awaiting confirmation' }] });
        }
        throw new GatewayError('VERIFICATION_MISMATCH', {
          detail: claimed.refused === 'lapsed' ? 'the sign-on was not confirmed in time (sso.resultTtlSeconds); sign in again' : 'this sign-on was confirmed or refused already; sign in again',
          errors: [{ field: 'body.signOn', message: claimed.refused === 'lapsed' ? 'has lapsed' : 'was used already' }],
        });
      }
      const { pending } = claimed;
      // Used up before the comparison: a wrong value ends the sign-on, so values cannot be tried in turn.
      if (!sameValue(pending.returnTo, request.returnTo)) {
        throw new GatewayError('VERIFICATION_MISMATCH', {
          detail: 'returnTo is not the value this sign-on was started with: the browser that signed in is not the session that started it; nothing was linked, sign in again',
          errors: [{ field: 'body.returnTo', message: 'must equal the returnTo given to start, as kept in the portal session' }],
        });
      }
      const resolved = await deps.links.resolveSignOn(actor, pending.account, pending.portalAccountId);
      return {
        ...resolved,
        portalAccountId: pending.portalAccountId,
        national: { accountType: pending.account.subjectType, maskedIdentifier: pending.account.subjectMasked, acr: pending.account.acr },
      };
    },

    cancelled: (ctx, flow, error) => redirectWith(ctx, flow, { outcome: 'cancelled', error, signOn: null, national: null }),
  };
}
