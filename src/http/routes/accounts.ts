import type { Request, Response } from 'express';
import type { AccountLinkService, Actor, LinkRequest } from '../../core/account-links.ts';
import type { SsoService } from '../../core/national-sso.ts';
import { scopeOf, type AuthenticatedClient } from '../auth.ts';
import { exchangeContext } from '../context.ts';
import type { Handlers } from '../handlers.ts';

const actorOf = (res: Response): Actor => {
  const client = res.locals.client as AuthenticatedClient;
  return { clientId: client.id, roles: client.roles, userId: res.locals.userId as string | undefined };
};

/** A caller that asks for JSON (and not for a page) gets the redirect as data instead of a 302. */
const wantsJson = (req: Request) => {
  const accept = req.get('accept') ?? '';
  return accept.includes('application/json') && !accept.includes('text/html');
};

/**
 * A browser gets a 302; a caller asking for JSON gets `json` with 200. Either way through
 * res.send, so that the exchange recorder holds the answer until its leaf is durable.
 */
function redirect(req: Request, res: Response, location: string, json: Record<string, unknown>): void {
  res.setHeader('cache-control', 'no-store');
  if (wantsJson(req)) res.status(200).json(json);
  else res.status(302).location(location).type('text/plain').send(`Found. Redirecting to ${new URL(location).origin}`);
}

/** The callback URL exactly as the provider sent the browser to it (query included), for openid-client's checks. */
function callbackUrl(req: Request, redirectUri: string): URL {
  const url = new URL(redirectUri);
  url.search = new URL(req.originalUrl, 'http://callback').search;
  return url;
}

export function accountHandlers(deps: { links: AccountLinkService; sso: { service: SsoService; redirectUri: () => string } }): Handlers {
  return {
    createAccountLink: async (req, res) => {
      const ctx = exchangeContext(req, res);
      const { link, created } = await deps.links.link(ctx, actorOf(res), req.body as LinkRequest);
      res.status(created ? 201 : 200).location(`/v1/accounts/links/${link.id}`).json(link);
    },

    listAccountLinks: async (req, res) => {
      const query = req.query as { portalAccountId?: string; idNumber?: string };
      // Only the links this client (or a client of an agency it acts for) made; operators see all.
      res.json({ items: await deps.links.list(query, scopeOf(res.locals.client as AuthenticatedClient)) });
    },

    deleteAccountLink: async (req, res) => {
      await deps.links.remove(actorOf(res), String(req.params.linkId), (req.body as { reason: string }).reason);
      res.status(204).end();
    },

    confirmSsoLink: async (req, res) => {
      res.json(await deps.links.confirm(actorOf(res), String(req.params.linkId)));
    },

    startSso: async (req, res) => {
      const ctx = exchangeContext(req, res);
      const query = req.query as { portalAccountId?: string; returnTo: string };
      const { authorizationUrl, expiresAt } = await deps.sso.service.start(ctx, { ...query, userId: String(res.locals.userId), purpose: String(res.locals.purpose) });
      redirect(req, res, authorizationUrl, { authorizationUrl, expiresAt });
    },

    /**
     * Reached by the person's browser, not by an API client: the flow its state names says which
     * client started it, who acted and why, and that is what the exchange log records.
     */
    completeSso: async (req, res) => {
      const query = req.query as { state: string; code?: string; error?: string };
      const flow = await deps.sso.service.take(query.state);
      const starter: AuthenticatedClient = { id: flow.clientId, agency: flow.agency, roles: [], operations: [], rateLimit: { points: 0, durationSeconds: 1 } };
      res.locals.client = starter;
      res.locals.userId = flow.userId;
      res.locals.purpose = flow.purpose;
      const ctx = exchangeContext(req, res);
      let returnTo: string;
      if (query.code === undefined) returnTo = await deps.sso.service.cancelled(ctx, flow, query.error ?? 'no_code');
      else {
        const completed = await deps.sso.service.complete(ctx, flow, query.state, callbackUrl(req, deps.sso.redirectUri()));
        returnTo = completed.returnTo;
        // The exchange log keeps its keyed hash, so auditors find this sign-on by the person's number.
        res.locals.subject = completed.subject;
      }
      redirect(req, res, returnTo, { returnTo, result: new URL(returnTo).searchParams.get('result') });
    },

    /** Server to server: the starting portal, in the session of the browser that arrived, makes the sign-on count. */
    confirmSso: async (req, res) => {
      res.setHeader('cache-control', 'no-store');
      res.json(await deps.sso.service.confirm(actorOf(res), req.body as { signOn: string; returnTo: string }));
    },
  };
}
