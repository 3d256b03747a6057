// Preloaded with `node --import <this file>?out=<file>`: writes to <file> every module the
// process loads, ES modules as they load and CommonJS ones (require.cache) when it exits, so a
// test can tell what a start-up needed.
import { appendFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';
import { pathToFileURL } from 'node:url';

const out = new URL(import.meta.url).searchParams.get('out');
if (!out) throw new Error('record-modules.mjs needs ?out=<file>');
register('./record-modules-hooks.mjs', import.meta.url, { data: { out } });
const required = createRequire(import.meta.url).cache;
process.on('exit', () => {
  appendFileSync(out, Object.keys(required).map((path) => `${pathToFileURL(path).href}\n`).join(''));
});
