import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import express, { type Router } from 'express';
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

const DOCS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Liên thông gateway API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
<div id="api-reference"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
`;

// validatorUrl null: the page must not call any outside service.
const DOCS_INIT = `window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#api-reference', deepLinking: true, validatorUrl: null, tryItOutEnabled: true, persistAuthorization: false });\n`;

/** /healthz, /readyz, /metrics, /openapi.json and the API reference at /docs (served offline). */
export function operationsRouter(deps: OperationsDeps): Router {
  const router = express.Router();
  const documentJson = JSON.stringify(deps.document);
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

  router.get('/openapi.json', (_req, res) => {
    res.type('application/json').send(documentJson);
  });

  router.get('/docs', (_req, res) => {
    res.type('text/html').send(DOCS_PAGE);
  });
  router.get('/docs/init.js', (_req, res) => {
    res.type('text/javascript').send(DOCS_INIT);
  });
  router.use('/docs/assets', express.static(swaggerDir, { index: false, maxAge: '1h', fallthrough: false }));
  return router;
}
