import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import express, { type Request, type Router } from 'express';
import type { Metrics } from '../../metrics.ts';

export interface ReadinessCheck {
  name: string;
  check(): Promise<void>;
}

export interface OperationsDeps {
  metrics: Metrics;
  document: Record<string, unknown>;
  checks: ReadinessCheck[];
  /** True once shutdown has begun: load balancers should stop sending traffic. */
  isShuttingDown(): boolean;
  jwks(): { keys: object[] };
}

const CHECK_TIMEOUT_MS = 2_000;

async function timed(check: ReadinessCheck) {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check.check(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
      }),
    ]);
    return { status: 'ok' as const, latencyMs: Math.round(performance.now() - started) };
  } catch (err) {
    return { status: 'fail' as const, latencyMs: Math.round(performance.now() - started), detail: (err as Error).message };
  } finally {
    clearTimeout(timer);
  }
}

/** The reference page; `base` leads from the page's address to /docs/ (`./docs/` from /docs, `./` from /docs/). */
const docsPage = (base: string) => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Liên thông gateway API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="${base}assets/swagger-ui.css">
</head>
<body>
<div id="api-reference"></div>
<script src="${base}assets/swagger-ui-bundle.js"></script>
<script src="${base}init.js"></script>
</body>
</html>
`;
const DOCS_PAGES = { bare: docsPage('./docs/'), slash: docsPage('./') };

// validatorUrl null: the page must not call any outside service. The document's address is taken
// relative to this script's (<base>/docs/init.js), so the reference works under whatever path a
// reverse proxy publishes the gateway.
const DOCS_INIT = `window.ui = SwaggerUIBundle({ url: new URL('../openapi.json', document.currentScript.src).href, dom_id: '#api-reference', deepLinking: true, validatorUrl: null, tryItOutEnabled: true, persistAuthorization: false });\n`;

// A Host (or X-Forwarded-Host) value: a DNS name or IPv4 address, or a bracketed IPv6 address, and an optional port.
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$/;
// An X-Forwarded-Prefix value: absolute path segments of unreserved characters (no dot segments).
const PREFIX = /^(?:\/(?!\.\.?(?:\/|$))[A-Za-z0-9._~-]+)+\/?$/;

/**
 * The address the caller reached the gateway at, for the document's `servers`: the scheme and
 * host of the request, as express reads them (X-Forwarded-Proto and X-Forwarded-Host are taken
 * only from a proxy trusted by `server.trustProxy`), and the path a trusted proxy publishes the
 * gateway under (X-Forwarded-Prefix). `/` (the host the document was fetched from) when the
 * host cannot be told.
 */
export function serverUrl(req: Request): string {
  const host = req.host;
  if (!host || !HOST.test(host)) return '/';
  const trusted = (req.app.get('trust proxy fn') as ((address: string | undefined, hop: number) => boolean) | undefined)?.(req.socket.remoteAddress, 0) === true;
  const forwardedPrefix = trusted ? req.get('x-forwarded-prefix')?.split(',')[0]?.trim() : undefined;
  const prefix = forwardedPrefix && PREFIX.test(forwardedPrefix) ? forwardedPrefix.replace(/\/$/, '') : '';
  // X-Forwarded-Proto is the proxy's word: only a scheme the document can name is taken.
  const scheme = req.protocol;
  if (scheme !== 'http' && scheme !== 'https') return '/';
  return `${scheme}://${host}${prefix}`;
}

/** /healthz, /readyz, /metrics, /openapi.json and the API reference at /docs (served offline). */
export function operationsRouter(deps: OperationsDeps): Router {
  const router = express.Router();
  // The document as written but for `servers`, filled in per request (see serverUrl).
  const SERVERS = '"__servers__"';
  const documentJson = JSON.stringify({ ...deps.document, servers: '__servers__' });
  const at = documentJson.indexOf(SERVERS);
  const [before, after] = [documentJson.slice(0, at), documentJson.slice(at + SERVERS.length)];
  const require = createRequire(import.meta.url);
  const swaggerDir = dirname(require.resolve('swagger-ui-dist/package.json'));
  // Read once: a missing asset should stop start-up, not break the page later.
  readFileSync(`${swaggerDir}/swagger-ui-bundle.js`);

  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  router.get('/readyz', async (_req, res) => {
    const results = Object.fromEntries(await Promise.all(deps.checks.map(async (c) => [c.name, await timed(c)] as const)));
    if (deps.isShuttingDown()) results.shutdown = { status: 'fail', latencyMs: 0, detail: 'the gateway is shutting down' };
    const ready = Object.values(results).every((r) => r.status === 'ok');
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not_ready', checks: results });
  });

  router.get('/metrics', async (_req, res) => {
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });

  router.get('/.well-known/jwks.json', (_req, res) => {
    res.setHeader('cache-control', 'public, max-age=3600');
    res.json(deps.jwks());
  });

  router.get('/openapi.json', (req, res) => {
    const servers = [{ url: serverUrl(req), description: 'This gateway, at the address this document was fetched from' }];
    // The answer depends on the address asked: no shared cache may give it for another.
    res.setHeader('vary', 'host, x-forwarded-host, x-forwarded-proto, x-forwarded-prefix');
    res.setHeader('cache-control', 'no-cache');
    res.type('application/json').send(before + JSON.stringify(servers) + after);
  });

  router.get('/docs', (req, res) => {
    res.type('text/html').send(req.path.endsWith('/') ? DOCS_PAGES.slash : DOCS_PAGES.bare);
  });
  router.get('/docs/init.js', (_req, res) => {
    res.type('text/javascript').send(DOCS_INIT);
  });
  router.use('/docs/assets', express.static(swaggerDir, { index: false, maxAge: '1h', fallthrough: false }));
  return router;
}
