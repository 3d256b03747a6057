import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { memoizeRoutePatterns } from './route-patterns.ts';

const require = createRequire(import.meta.url);
const patterns = () => require(require.resolve('path-to-regexp', { paths: [require.resolve('express-openapi-validator')] })) as { pathToRegexp: (p: string, o?: object) => { regexp: RegExp; keys: { name: string }[] } };

describe('memoizeRoutePatterns', () => {
  it('compiles each route pattern once, with the same matches as before', () => {
    const before = patterns().pathToRegexp('/v1/enterprises/:enterpriseCode', { sensitive: false, strict: false });
    memoizeRoutePatterns();
    memoizeRoutePatterns(); // twice: still one layer
    const { pathToRegexp } = patterns();
    const first = pathToRegexp('/v1/enterprises/:enterpriseCode', { sensitive: false, strict: false });
    expect(pathToRegexp('/v1/enterprises/:enterpriseCode', { sensitive: false, strict: false })).toBe(first);
    expect(pathToRegexp('/v1/enterprises/:enterpriseCode', { sensitive: true, strict: false })).not.toBe(first);
    expect(first.regexp.source).toBe(before.regexp.source);
    expect(first.keys.map((k) => k.name)).toEqual(['enterpriseCode']);
    expect(first.regexp.exec('/v1/enterprises/0100109106')?.[1]).toBe('0100109106');
    expect(first.regexp.exec('/v1/taxpayers/0100109106')).toBeNull();
  });
});
