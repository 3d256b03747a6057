import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type RequestHandler, type Response, type Router } from 'express';
import type { Logger } from '../logging.ts';

/**
 * The console's files: its page at /console (and /console/), its scripts and styles at
 * /console/assets/<file> from the console/ directory, and the few third-party files it uses at
 * /console/vendor/<file>, each mapped by name to a file of an installed package (nothing else
 * of node_modules is reachable). Everything the page loads comes from here: the policy below
 * allows no other origin, no inline script or style, and no framing.
 */

/** The console's Content-Security-Policy, on every answer under /console (it replaces the gateway-wide one). */
export const CONSOLE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/** The console's directory: console/ at the root of the project. */
export const CONSOLE_DIR = fileURLToPath(new URL('../../console/', import.meta.url));

function vendorFiles(): Map<string, string> {
  const require = createRequire(import.meta.url);
  const chartDist = dirname(require.resolve('chart.js'));
  const files = new Map([
    ['chart.umd.min.js', join(chartDist, 'chart.umd.min.js')],
    ['chart.umd.min.js.map', join(chartDist, 'chart.umd.min.js.map')],
  ]);
  for (const [name, file] of files) if (!existsSync(file)) files.delete(name);
  return files;
}

/**
 * The page refers to its files relative to /console/ (`assets/…`, `vendor/…`): served at
 * /console, without the slash, the same references are made to start with `console/`, as the
 * API reference's page does. So the page works at both addresses and under any path prefix a
 * reverse proxy publishes the gateway at (the policy forbids a <base> element).
 */
function bare(html: string): string {
  return html.replace(/\b(src|href)="(assets|vendor)\//g, '$1="console/$2/');
}

/** An asset's path under /console/assets: plain names (no dot segments, no hidden files) of the types a page loads. */
const ASSET = /^(?:\/[A-Za-z0-9_-][A-Za-z0-9._-]*)+\.(?:js|mjs|css|svg|png|webp|ico|woff2?)$/;

function consoleHeaders(res: Response): void {
  res.setHeader('content-security-policy', CONSOLE_CSP);
  res.setHeader('x-content-type-options', 'nosniff');
}

export function consoleRouter(deps: { enabled: boolean; log: Logger; directory?: string }): Router {
  const router = express.Router({ strict: true });
  if (!deps.enabled) return router;
  const directory = deps.directory ?? CONSOLE_DIR;
  const index = join(directory, 'index.html');
  if (!existsSync(index)) deps.log.warn({ file: index }, 'the console is enabled but its page is missing: /console answers 404');
  const vendor = vendorFiles();

  const page =
    (slash: boolean): RequestHandler =>
    async (_req, res, next) => {
      let html: string;
      try {
        html = await readFile(index, 'utf8');
      } catch {
        return next();
      }
      const body = slash ? html : bare(html);
      consoleHeaders(res);
      // Always asked again (a changed console is seen at once); an unchanged page answers 304.
      res.setHeader('cache-control', 'no-cache');
      res.setHeader('etag', `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`);
      res.type('text/html').send(body);
    };
  router.get('/console', page(false));
  router.get('/console/', page(true));

  // Revalidated on each use (ETag, Last-Modified): the page and its scripts change together.
  const assets = express.static(directory, { index: false, redirect: false, dotfiles: 'ignore', fallthrough: true, cacheControl: false, setHeaders: (res) => res.setHeader('cache-control', 'no-cache') });
  router.use('/console/assets', (req, res, next) => {
    // Only what a page loads: the directory's other files (its type-checking setup) are not served.
    if (!ASSET.test(req.path)) return next();
    consoleHeaders(res);
    assets(req, res, next);
  });

  router.get('/console/vendor/:file', (req, res, next) => {
    const file = vendor.get(req.params.file!);
    if (!file) return next();
    consoleHeaders(res);
    // Changes only with the installed package.
    res.sendFile(file, { maxAge: '1h', dotfiles: 'deny' }, (err?: Error) => {
      if (err && !res.headersSent) next();
    });
  });

  // Last: whatever under /console none of the above served (a missing file, a refused path, a
  // method other than GET) is answered 404 further on under the console's policy all the same.
  router.use('/console', (_req, res, next) => {
    consoleHeaders(res);
    next();
  });
  return router;
}
