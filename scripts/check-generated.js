// Fails when a generated file is not what `npm run generate` makes of openapi/gateway.yaml: the
// gateway's types and the copy the client package (clients/typescript) is built from.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const targets = ['src/generated/gateway.ts', 'clients/typescript/src/generated/gateway.ts'];
const dir = mkdtempSync(join(tmpdir(), 'lienthong-gen-'));
const out = join(dir, 'gateway.ts');
try {
  execFileSync('npx', ['openapi-typescript', 'openapi/gateway.yaml', '-o', out], { stdio: ['ignore', 'ignore', 'inherit'] });
  execFileSync('node', ['scripts/stamp-generated.js', out]);
  const expected = readFileSync(out, 'utf8');
  const stale = targets.filter((target) => !existsSync(target) || readFileSync(target, 'utf8') !== expected);
  if (stale.length > 0) {
    console.error(`${stale.join(', ')} out of date: run \`npm run generate\` and commit the result.`);
    process.exit(1);
  }
  console.log('generated types are up to date');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
