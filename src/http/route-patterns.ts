import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

type Compile = ((path: unknown, options?: Record<string, unknown>) => unknown) & { memoized?: true };

/**
 * express-openapi-validator (5.6) finds the route of each request by compiling every documented
 * path into a regular expression with path-to-regexp, all of them, on every request (lookupRoute
 * in middlewares/openapi.metadata.js): some 60 µs per request for this contract. The paths never
 * change, so each compiled pattern is kept and handed out again. The result is only read (its
 * non-global RegExp and its keys), so sharing it is safe.
 */
export function memoizeRoutePatterns(): void {
  const validatorEntry = require.resolve('express-openapi-validator');
  const patterns = require(require.resolve('path-to-regexp', { paths: [validatorEntry] })) as { pathToRegexp: Compile };
  if (patterns.pathToRegexp.memoized) return;
  const compile = patterns.pathToRegexp;
  const cache = new Map<string, unknown>();
  // The validator asks with { sensitive, strict } only: a cheap key for that, JSON for anything else.
  const keyOf = (path: string, options: Record<string, unknown> | undefined): string | undefined => {
    if (options === undefined) return path;
    const names = Object.keys(options);
    if (names.length === 2 && typeof options.sensitive === 'boolean' && typeof options.strict === 'boolean') return `${path}\u0000${+options.sensitive}${+options.strict}`;
    const plain = Object.values(options).every((v) => v === undefined || ['string', 'boolean', 'number'].includes(typeof v));
    return plain ? `${path}\u0000${JSON.stringify(options)}` : undefined;
  };
  const memoized: Compile = (path, options) => {
    const key = typeof path === 'string' ? keyOf(path, options) : undefined;
    if (key === undefined) return compile(path, options);
    let compiled = cache.get(key);
    if (compiled === undefined) {
      compiled = compile(path, options);
      if (cache.size < 10_000) cache.set(key, compiled);
    }
    return compiled;
  };
  memoized.memoized = true;
  patterns.pathToRegexp = memoized;
}
