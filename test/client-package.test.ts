import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadContract } from '../src/http/contract.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, simulatorDossier } from './helpers/dossiers.ts';
import { KEYS, startTestGateway, type TestGateway } from './helpers/gateway.ts';

/*
 * The client as a portal developer meets it: the workspace package built from a clean copy and
 * packed with `npm pack`, the tarball installed into a scratch project from the registry cache,
 * and its example run by plain `node` (no TypeScript, no loader) against a real gateway and
 * sandbox. Then the other route: a client generated from the contract by @hey-api/openapi-ts,
 * typechecked strictly and called against the same gateway.
 */

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const PACKAGE = join(ROOT, 'clients/typescript');
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');
const work = mkdtempSync(join(tmpdir(), 'lienthong-client-'));
let gw: TestGateway;

/**
 * The environment of a child process: no npm_* variables of the running script (but the npm
 * configuration it was given, such as a registry mirror or cache), no loader.
 */
function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  const keep = (k: string) => (!k.startsWith('npm_') || /^npm_config_(registry|cache|userconfig|globalconfig|strict_ssl|cafile|ca|proxy|https_proxy|noproxy)$/i.test(k)) && k !== 'NODE_OPTIONS' && !k.startsWith('VITEST');
  for (const [k, v] of Object.entries(process.env)) if (keep(k)) env[k] = v;
  return { ...env, ...extra };
}

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], cwd: string, env: Record<string, string> = {}, timeoutMs = 120_000): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd, env: childEnv(env), timeout: timeoutMs, maxBuffer: 32 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

async function ok(command: string, args: string[], cwd: string, env: Record<string, string> = {}): Promise<string> {
  const ran = await run(command, args, cwd, env);
  expect(ran.code, `${command} ${args.join(' ')}\n${ran.stdout}\n${ran.stderr}`).toBe(0);
  return ran.stdout;
}

/** A strict tsconfig for a consumer's project. */
function strictTsconfig(dir: string, include: string[], extra: Record<string, unknown> = {}): void {
  const compilerOptions = {
    target: 'ES2022',
    lib: ['ES2022', 'DOM', 'DOM.Iterable'],
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    types: [],
    strict: true,
    noUncheckedIndexedAccess: true,
    noImplicitOverride: true,
    noImplicitReturns: true,
    noFallthroughCasesInSwitch: true,
    noUnusedLocals: true,
    noUnusedParameters: true,
    // Only .d.ts files are skipped (the standard library's, and ours beyond what the code uses);
    // a generated client is .ts source and is checked in full.
    skipLibCheck: true,
    ...extra,
  };
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, include }, null, 2));
}

beforeAll(async () => {
  gw = await startTestGateway();
});

afterAll(async () => {
  await gw?.close();
  rmSync(work, { recursive: true, force: true });
});

describe('the packed client in a scratch project', () => {
  const source = join(work, 'package');
  const app = join(work, 'app');
  let packed: { name: string; version: string; filename: string; files: { path: string }[] };

  beforeAll(async () => {
    // A clean copy of the workspace (no dist/): `npm pack` must build it with the package's own
    // scripts. Its tools (tsc, openapi-fetch's types) come from the repository's node_modules.
    mkdirSync(source);
    for (const entry of ['package.json', 'tsconfig.json', 'README.md', 'src']) cpSync(join(PACKAGE, entry), join(source, entry), { recursive: true });
    symlinkSync(join(ROOT, 'node_modules'), join(source, 'node_modules'), 'dir');
    const out = await ok('npm', ['pack', '--json', '--pack-destination', work], source);
    packed = (JSON.parse(out.slice(out.indexOf('['))) as (typeof packed)[])[0]!;

    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'scratch-portal', version: '1.0.0', private: true, type: 'module' }, null, 2));
    await ok('npm', ['install', join(work, packed.filename), '--no-audit', '--no-fund', '--prefer-offline'], app);
    cpSync(join(PACKAGE, 'examples/verify-link-dossier.mjs'), join(app, 'verify-link-dossier.mjs'));
  }, 180_000);

  it('holds compiled ESM and declarations only, with openapi-fetch its one dependency', () => {
    expect(packed).toMatchObject({ name: '@lienthong/client', version: '0.1.0' });
    const files = packed.files.map((f) => f.path).sort();
    expect(files).toEqual(expect.arrayContaining(['package.json', 'README.md', 'dist/index.js', 'dist/index.d.ts', 'dist/generated/gateway.d.ts']));
    // Nothing but JavaScript and declarations under dist/: no TypeScript source to load.
    expect(files.filter((f) => f !== 'package.json' && f !== 'README.md' && !/^dist\/.+(\.js|\.d\.ts)$/.test(f))).toEqual([]);

    const installed = JSON.parse(readFileSync(join(app, 'node_modules/@lienthong/client/package.json'), 'utf8')) as Record<string, unknown>;
    expect(installed.type).toBe('module');
    expect(Object.keys(installed.dependencies as object)).toEqual(['openapi-fetch']);
    expect(existsSync(join(app, 'node_modules/typescript')), 'a consumer installs no TypeScript').toBe(false);
  });

  it('installs three packages in all (the gateway itself needs hundreds)', async () => {
    const tree = JSON.parse(await ok('npm', ['ls', '--all', '--json'], app)) as { dependencies?: Record<string, { dependencies?: object }> };
    const names = new Set<string>();
    const walk = (deps: Record<string, { dependencies?: object }> | undefined) => {
      for (const [name, dep] of Object.entries(deps ?? {})) {
        names.add(name);
        walk(dep.dependencies as Record<string, { dependencies?: object }> | undefined);
      }
    };
    walk(tree.dependencies);
    expect([...names].sort()).toEqual(['@lienthong/client', 'openapi-fetch', 'openapi-typescript-helpers']);
  });

  it('runs verify → account link → dossier → delivered in plain node', async () => {
    const ran = await run(process.execPath, ['verify-link-dossier.mjs'], app, { GATEWAY_URL: gw.url, GATEWAY_KEY: KEYS.agency }, 60_000);
    expect(ran.code, ran.stderr).toBe(0);
    const out = JSON.parse(ran.stdout) as Record<string, Record<string, unknown>>;

    expect(out.verify).toEqual({ result: 'match', attested: true, exchangeId: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    expect(out.mismatch).toEqual({ result: 'mismatch', fields: expect.objectContaining({ fullName: 'match', dateOfBirth: 'mismatch' }) });
    expect(out.invalid).toEqual({
      status: 400,
      contentType: expect.stringContaining('application/problem+json'),
      code: 'INVALID_IDENTIFIER',
      fields: ['path.enterpriseCode'],
    });
    expect(out.link).toMatchObject({ status: 201, state: 'active', maskedIdentifier: '014*******34' });
    expect(out.dossier).toMatchObject({ status: 202 });
    expect(out.delivered).toMatchObject({ deliveryState: 'delivered', history: [{ kind: 'created', deliveryState: 'delivered', deliveredAt: expect.stringMatching(/\+07:00$/) }] });

    // The national portal's simulator holds the dossier, delivered once.
    const code = String(out.dossier!.code);
    const held = await simulatorDossier(gw.gateway.sandbox!.urls.dvcqg!, code);
    expect(held).toMatchObject({ code, sequences: [1], duplicates: 0 });

    // Accountability reached the gateway (the exchange log records the calls that reached a
    // national system): the client's user on every call, its purpose by default, and the purpose
    // a call overrode (the link was made for LIEN_KET_TAI_KHOAN).
    type Entry = { operation: string; purpose: string | null; userHash: string | null; status: number };
    const logged = await eventually(async () => {
      const res = await gw.fetch('/v1/audit/entries?limit=1000', { key: KEYS.auditor });
      expect(res.status).toBe(200);
      const { items } = (await res.json()) as { items: Entry[] };
      return items.some((e) => e.operation === 'createAccountLink') ? items : undefined;
    }, 10_000, 'the exchange-log entries of the flow');
    const byOperation = (operation: string) => logged.filter((e) => e.operation === operation);
    expect(byOperation('verifyCitizen').map((e) => e.purpose)).toEqual(['XAC_MINH_DANH_TINH', 'XAC_MINH_DANH_TINH']);
    expect(byOperation('createAccountLink')).toEqual([expect.objectContaining({ purpose: 'LIEN_KET_TAI_KHOAN', status: 201 })]);
    const users = new Set(['verifyCitizen', 'createAccountLink'].flatMap((op) => byOperation(op).map((e) => e.userHash)));
    expect(users.size, 'one acting user, sent by the client on every call').toBe(1);
    expect([...users][0]).toBeTruthy();

    // Run again: the same account link is a safe retry (200), and a new dossier is delivered.
    const again = await run(process.execPath, ['verify-link-dossier.mjs'], app, { GATEWAY_URL: gw.url, GATEWAY_KEY: KEYS.agency }, 60_000);
    expect(again.code, again.stderr).toBe(0);
    expect((JSON.parse(again.stdout) as Record<string, Record<string, unknown>>).link).toMatchObject({ status: 200, id: out.link!.id });
  }, 120_000);

  it('type-checks a strict TypeScript consumer against the published declarations', async () => {
    const dir = join(app, 'ts');
    mkdirSync(dir);
    writeFileSync(
      join(dir, 'consumer.ts'),
      `import { accountabilityHeaders, createGatewayClient, type Problem } from '@lienthong/client';

export async function portal(): Promise<string | undefined> {
  const desk = createGatewayClient({ baseUrl: 'http://localhost:8080', apiKey: 'k', userId: 'officer-17', purpose: 'XAC_MINH_DANH_TINH' });
  const taxpayer = await desk.GET('/v1/taxpayers/{taxCode}', { params: { path: { taxCode: '5500123457' } } });
  const problem: Problem | undefined = taxpayer.error;

  const shared = createGatewayClient({ baseUrl: 'http://localhost:8080', apiKey: 'k' });
  // @ts-expect-error without accountability on the client, each personal-data call names it
  await shared.GET('/v1/taxpayers/{taxCode}', { params: { path: { taxCode: '5500123457' } } });
  const named = await shared.GET('/v1/taxpayers/{taxCode}', {
    params: { path: { taxCode: '5500123457' }, header: accountabilityHeaders({ userId: 'officer-17', purpose: 'XAC_MINH_DANH_TINH' }) },
  });
  return problem?.code ?? named.data?.name;
}
`,
    );
    strictTsconfig(join(app), ['ts'], { noEmit: true });
    const ran = await run(process.execPath, [TSC, '-p', join(app, 'tsconfig.json')], app);
    expect(ran.code, ran.stdout + ran.stderr).toBe(0);
  }, 60_000);
});

describe('a client generated from the contract by @hey-api/openapi-ts', () => {
  const dir = join(work, 'hey-api');
  const contract = join(ROOT, 'openapi/gateway.yaml');

  beforeAll(async () => {
    mkdirSync(dir);
    // The input must be a path (./… or absolute): a bare "a/b" is read as a registry shorthand.
    await ok(process.execPath, [join(ROOT, 'node_modules/@hey-api/openapi-ts/bin/run.js'), '-i', contract, '-o', join(dir, 'client')], dir);
  }, 60_000);

  it('generates a function for every operation of the contract', () => {
    const ids = loadContract(contract).operations.map((o) => o.operationId);
    expect(ids.length).toBeGreaterThan(30);
    const sdk = readFileSync(join(dir, 'client/sdk.gen.ts'), 'utf8');
    expect(ids.filter((id) => !sdk.includes(`export const ${id} =`))).toEqual([]);
  });

  it('passes a strict typecheck, keeps the contract required headers, and calls the gateway', async () => {
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module', private: true }));
    writeFileSync(
      join(dir, 'verify.ts'),
      `import { client } from './client/client.gen.js';
import { verifyCitizen } from './client/sdk.gen.js';

declare const process: { argv: string[] };
const person = { idNumber: '014089001234', fullName: 'Lò Văn Thắng', dateOfBirth: '1989-04-17' };

export function withoutAccountability() {
  // @ts-expect-error the contract requires X-User-Id and X-Purpose on this operation
  return verifyCitizen({ body: person });
}

const [baseUrl = '', apiKey = ''] = process.argv.slice(2);
client.setConfig({ baseUrl, auth: () => apiKey });
const { data, error, response } = await verifyCitizen({
  headers: { 'X-User-Id': 'officer-17', 'X-Purpose': 'XAC_MINH_DANH_TINH' },
  body: person,
});
console.log(JSON.stringify({ status: response?.status, result: data?.result, code: error?.code }));
`,
    );
    // Strict, the generator's own runtime code (client/, core/) included.
    strictTsconfig(dir, ['client', 'verify.ts'], { outDir: 'out', noEmitOnError: true });
    const ran = await run(process.execPath, [TSC, '-p', join(dir, 'tsconfig.json')], dir);
    expect(ran.code, ran.stdout + ran.stderr).toBe(0);

    const called = await run(process.execPath, [join(dir, 'out/verify.js'), gw.url, KEYS.agency], dir);
    expect(called.code, called.stderr).toBe(0);
    expect(JSON.parse(called.stdout)).toEqual({ status: 200, result: 'match' });
  }, 60_000);
});
