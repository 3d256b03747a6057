// Fails when src/generated/gateway.ts is not what `npm run generate` makes of openapi/gateway.yaml.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dir = mkdtempSync(join(tmpdir(), 'lienthong-gen-'));
const out = join(dir, 'gateway.ts');
try {
  execFileSync('npx', ['openapi-typescript', 'openapi/gateway.yaml', '-o', out], { stdio: ['ignore', 'ignore', 'inherit'] });
  execFileSync('node', ['scripts/stamp-generated.js', out]);
  if (readFileSync(out, 'utf8') !== readFileSync('src/generated/gateway.ts', 'utf8')) {
    console.error('src/generated/gateway.ts is out of date: run `npm run generate` and commit the result.');
    process.exit(1);
  }
  console.log('generated types are up to date');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
