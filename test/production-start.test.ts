import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adapterModules } from '../adapters/index.ts';
import { hashApiKey } from '../src/config/load.ts';
import { sample } from '../src/signing/material.ts';
import { LOG_SIGNING_POLICY_OID } from '../src/signing/log-signer.ts';
import { createOpensslCa } from './helpers/openssl-pki.ts';
import { freePort } from './helpers/processes.ts';
import { ROOT, buildImageCopy, readImageRecipe, runImageCommand, type ImageRecipe, type Run } from './helpers/production-image.ts';

/*
 * The image's install path, end to end: the Dockerfile's file layout and `npm ci --omit=dev` in a
 * scratch directory, a PKI made here with openssl (nothing from certs-sample/), and
 * `node bin/lienthong.js serve` with NODE_ENV=production. Slow (a fresh install compiles
 * better-sqlite3): it is the check that the production image starts at all.
 */

const work = mkdtempSync(join(tmpdir(), 'lienthong-image-'));
const app = join(work, 'app');
const pkiDir = join(work, 'pki');
let recipe: ImageRecipe;
let settings: Record<string, unknown>;
let env: Record<string, string>;
let apiKey: string;

/** An upstream URL where nothing listens: start-up must not need the national systems. */
let unreachable: string;

function writeConfig(name: string, change: (config: Record<string, unknown>) => void = () => {}): string {
  const config = structuredClone(settings);
  change(config);
  const file = join(work, `${name}.yaml`);
  writeFileSync(file, stringify(config));
  return file;
}

const upstream = (config: Record<string, unknown>, id: string) => (config.upstreams as Record<string, Record<string, unknown>>)[id]!;

async function serve(configFile: string, extraEnv: Record<string, string> = {}, whileRunning?: (url: string) => Promise<unknown>): Promise<Run & { url: string }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const run = await runImageCommand(app, recipe, { ...env, ...extraEnv, LIENTHONG_CONFIG: configFile, PORT: String(port), HOST: '127.0.0.1' }, {
    readyUrl: `${url}/healthz`,
    whileRunning: whileRunning ? () => whileRunning(url) : undefined,
  });
  return { ...run, url };
}

/** A start that must be refused: the process stops on its own. */
const refused = (configFile: string, extraEnv: Record<string, string> = {}) => runImageCommand(app, recipe, { ...env, ...extraEnv, LIENTHONG_CONFIG: configFile, PORT: '0', HOST: '127.0.0.1' });

const SANDBOX_ONLY = [/\/src\/sandbox\//, /\/adapters\/[^/]+\/simulator\//, /personas/, /certs-sample/, /\/node_modules\/oidc-provider\//];

beforeAll(async () => {
  recipe = readImageRecipe();
  buildImageCopy(app, recipe);

  const ca = createOpensslCa(pkiDir, 'Test national root CA');
  const gateway = ca.issue('gateway', 'lienthong.test.sonla.gov.vn');
  const crl = ca.crl(join(pkiDir, 'national-ca.crl.pem'));
  execFileSync('openssl', ['pkcs12', '-export', '-in', gateway.certificateFile, '-inkey', gateway.keyFile, '-certfile', ca.certificateFile, '-out', join(pkiDir, 'gateway.p12'), '-passout', 'pass:test-p12-password']);
  // The exchange log's own signer: an EC key, a signing profile (no TLS usage), under the same root.
  const logSigner = { certificateFile: join(pkiDir, 'log-signer.pem'), keyFile: join(pkiDir, 'log-signer.key.pem') };
  writeFileSync(join(pkiDir, 'log-signer.ext'), `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,nonRepudiation\ncertificatePolicies=${LOG_SIGNING_POLICY_OID}\n`);
  execFileSync('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', logSigner.keyFile, '-out', join(pkiDir, 'log-signer.csr'), '-subj', '/CN=exchange-log signer'], { stdio: 'pipe' });
  execFileSync('openssl', ['x509', '-req', '-in', join(pkiDir, 'log-signer.csr'), '-CA', ca.certificateFile, '-CAkey', ca.keyFile, '-CAcreateserial', '-days', '365', '-sha256', '-extfile', join(pkiDir, 'log-signer.ext'), '-out', logSigner.certificateFile], { stdio: 'pipe' });
  // The inspectorate's key pair: the gateway gets the public half only.
  const inspectorate = { publicKeyFile: join(pkiDir, 'inspectorate.pub.pem') };
  execFileSync('openssl', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', join(pkiDir, 'inspectorate.key.pem')], { stdio: 'pipe' });
  execFileSync('openssl', ['pkey', '-in', join(pkiDir, 'inspectorate.key.pem'), '-pubout', '-out', inspectorate.publicKeyFile], { stdio: 'pipe' });
  // The agency seal deposited results are signed with.
  const documentSeal = ca.issue('document-seal', 'UBND tinh Son La (document seal)');
  // The format compose.yaml asks for: 32 random bytes, hex-encoded.
  writeFileSync(join(pkiDir, 'hash-key'), execFileSync('openssl', ['rand', '-hex', '32']));

  unreachable = `https://127.0.0.1:${await freePort()}`;
  apiKey = randomBytes(24).toString('base64url');
  const upstreams: Record<string, unknown> = {};
  for (const m of adapterModules) {
    upstreams[m.id] = {
      url: `${unreachable}/${m.id}`,
      ...(m.messageSecurity && m.messageSecurity.default !== 'none' ? { certificateName: `${m.id}.test.gov.vn` } : {}),
      ...(m.sandboxAccount ? { credentials: { username: 'lienthong-h52-test', password: randomBytes(12).toString('hex') } } : {}),
    };
  }
  // The population database through the provincial platform, with the operator's codes and keys.
  upstreams.population = {
    ...(upstreams.population as object),
    integrationCode: '037',
    serviceCode: '037',
    transport: {
      mode: 'lgsp',
      platformKeys: { accessKey: 'test-access', secretKey: randomBytes(12).toString('hex'), appName: 'LIENTHONG', partnerCode: 'H52', partnerCodeCus: 'H52' },
      account: { username: 'lienthong-h52-test', password: randomBytes(12).toString('hex') },
    },
  };
  settings = {
    upstreams,
    trust: { roots: [ca.certificateFile], crls: [crl] },
    audit: { signer: logSigner, inspectorate },
    documents: { seal: { certificateFile: documentSeal.certificateFile, keyFile: documentSeal.keyFile }, tsaUrl: `${unreachable}/tsa`, publicBaseUrl: 'https://lienthong.sonla.gov.vn' },
    clients: [{ id: 'provincial-portal', agency: 'H52', roles: ['portal'], keyHash: hashApiKey(apiKey) }],
  };
  env = {
    HASH_KEY_FILE: join(pkiDir, 'hash-key'),
    SIGNING_CERT_FILE: gateway.certificateFile,
    SIGNING_KEY_FILE: gateway.keyFile,
    LOG_LEVEL: 'info',
  };
}, 1_200_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

// Each start runs a real process through tsx on a loaded machine.
describe('the production image', { timeout: 180_000 }, () => {
  it('runs on a Node.js LTS line the dependencies support (22 or later), the same in both stages', () => {
    // Both stages on one image: better-sqlite3 is compiled for the node that runs it.
    expect(new Set(recipe.images).size, recipe.images.join(', ')).toBe(1);
    const major = Number(/^node:(\d+)(?:[.-]|$)/.exec(recipe.images[0]!)?.[1]);
    // Node 20 is past its end of life and oidc-provider warns on anything before 22 (Jod).
    expect(major).toBeGreaterThanOrEqual(22);
    // Even-numbered lines are the ones that become LTS.
    expect(major % 2).toBe(0);
  });

  it('holds exactly what the Dockerfile copies, installed without dev dependencies', () => {
    expect(recipe.install).toEqual(['npm', 'ci', '--omit=dev']);
    expect(recipe.env.NODE_ENV).toBe('production');
    for (const dev of ['vitest', 'typescript', 'eslint', '@types/node-forge']) expect(existsSync(join(app, 'node_modules', dev)), dev).toBe(false);
    expect(existsSync(join(app, 'certs-sample'))).toBe(false);
    expect(existsSync(join(app, 'config'))).toBe(false);
  });

  it('starts with a non-sample PKI and answers /healthz while every national system is unreachable', async () => {
    const run = await serve(writeConfig('production'), {}, async (url) => ({
      healthz: (await fetch(`${url}/healthz`)).status,
      metrics: await (await fetch(`${url}/metrics`)).text(),
      // The console and the chart library it loads come from the image (console/ and a production dependency).
      console: (await fetch(`${url}/console`)).status,
      chart: (await fetch(`${url}/console/vendor/chart.umd.min.js`)).status,
    }));
    const seen = run.result as { healthz: number; metrics: string; console: number; chart: number } | undefined;
    expect(seen?.healthz, run.stderr + run.stdout).toBe(200);
    expect(seen).toMatchObject({ console: 200, chart: 200 });
    expect(seen!.metrics).toMatch(/lienthong_crl_next_update_timestamp_seconds\{issuer="Test national root CA"\} \d+/);
    expect(run.code, run.stderr).toBe(0);

    // Everything it ran came from the image's copy: nothing from this repository's node_modules.
    const files = run.modules.filter((m) => m.startsWith('file:'));
    expect(files.length).toBeGreaterThan(100);
    expect(files.filter((m) => !m.startsWith(`file://${app}/`) && !m.startsWith(`file://${ROOT}test/helpers/record-modules`))).toEqual([]);
    // Nor any of the sandbox: simulators, synthetic people, sample PKI, the OpenID provider.
    expect(files.filter((m) => SANDBOX_ONLY.some((p) => p.test(m)))).toEqual([]);
    // node-forge only serves PKCS#12 files, and none is configured here.
    expect(files.filter((m) => m.includes('/node_modules/node-forge/'))).toEqual([]);
  });

  it('loads a PKCS#12 signing file with its production dependencies', async () => {
    const file = writeConfig('production-p12', (c) => {
      c.signing = { pkcs12File: join(pkiDir, 'gateway.p12'), pkcs12Password: 'test-p12-password' };
    });
    const run = await serve(file, { SIGNING_CERT_FILE: '', SIGNING_KEY_FILE: '' }, async (url) => (await fetch(`${url}/healthz`)).status);
    expect(run.result, run.stderr + run.stdout).toBe(200);
    expect(run.modules.some((m) => m.startsWith(`file://${app}/node_modules/node-forge/`))).toBe(true);
  });

  it('runs without an optional system, whose operations answer 503 naming the missing setting', async () => {
    const optional = adapterModules.filter((m) => m.optional);
    expect(optional.length).toBeGreaterThan(0);
    const file = writeConfig('production-optional', (c) => {
      for (const m of optional) delete (c.upstreams as Record<string, unknown>)[m.id];
      c.purposes = [{ code: 'KIEM_TRA_HO_TICH', description: 'Kiểm tra đăng ký khai sinh' }];
      (c.clients as Record<string, unknown>[])[0]!.purposes = ['KIEM_TRA_HO_TICH'];
    });
    const run = await serve(file, {}, async (url) => {
      const res = await fetch(`${url}/v1/civil-status/births/014089001234`, {
        headers: { authorization: `Bearer ${apiKey}`, 'x-user-id': 'officer-1', 'x-purpose': 'KIEM_TRA_HO_TICH' },
      });
      return { status: res.status, body: (await res.json()) as { code: string; detail: string } };
    });
    const seen = run.result as { status: number; body: { code: string; detail: string } } | undefined;
    expect(seen?.status, run.stderr + run.stdout).toBe(503);
    expect(seen!.body.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(seen!.body.detail).toMatch(/not connected to this gateway \(upstreams\.civil-status\.url is not set\)/);
    expect(run.stdout).toMatch(/is not connected \(no upstreams\.civil-status\.url\)/);
  });

  it.each([
    ['a system without a pinned certificate name', (c: Record<string, unknown>) => delete upstream(c, 'tax').certificateName, /upstreams\.tax\.certificateName: required when NODE_ENV=production/],
    ['the population platform without its keys', (c: Record<string, unknown>) => delete (upstream(c, 'population').transport as Record<string, unknown>).platformKeys, /upstreams\.population\.transport\.platformKeys: required when NODE_ENV=production with transport lgsp/],
    ['no CRL', (c: Record<string, unknown>) => delete (c.trust as Record<string, unknown>).crls, /trust\.crls: at least one CRL is required when NODE_ENV=production/],
    ['no national portal account', (c: Record<string, unknown>) => delete upstream(c, 'dvcqg').credentials, /upstreams\.dvcqg\.credentials: required when NODE_ENV=production/],
    ['an upstream without TLS', (c: Record<string, unknown>) => (upstream(c, 'dvcqg').url = String(upstream(c, 'dvcqg').url).replace('https:', 'http:')), /upstreams\.dvcqg\.url: an https:\/\/ URL is required when NODE_ENV=production/],
    ['a message security profile the adapter does not speak', (c: Record<string, unknown>) => (upstream(c, 'tax').messageSecurity = 'jws'), /upstreams\.tax\.messageSecurity: "jws" is not spoken by the tax adapter/],
  ])('refuses to start with %s (exit 2, naming the setting)', async (_what, change, message) => {
    const run = await refused(writeConfig(`refused-${Math.random().toString(36).slice(2)}`, change));
    expect(run.code, run.stderr + run.stdout).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(run.stderr.match(/^ {2}- /gm)).toHaveLength(1);
  });

  it('refuses the sample root without reading certs-sample/, which the image does not hold', async () => {
    const copied = join(pkiDir, 'some-root.pem');
    copyFileSync(sample('root-ca.pem'), copied);
    const run = await refused(writeConfig('sample-root', (c) => ((c.trust as Record<string, unknown>).roots = [copied])));
    expect(run.code, run.stderr + run.stdout).toBe(2);
    expect(run.stderr).toMatch(/trust\.roots: ".*" is from the sample PKI \(certs-sample\/root-ca\.pem\), refused when NODE_ENV=production/);
    expect(run.stderr).not.toContain('ENOENT');
  });
});
