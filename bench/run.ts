/**
 * npm run bench: the gateway and the direct call side by side, in one run, on this machine.
 * Writes bench/RESULTS.md. Quote ratios, not absolute figures: machines are shared and noisy.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { adapterModules, type Adapters } from '../adapters/index.ts';
import type { CallContext } from '../src/core/ports.ts';
import { parseEnterpriseCode } from '../src/core/identifiers/tax-code.ts';
import { createExchangeLog } from '../src/audit/exchange-log.ts';
import { createIntegrator } from '../src/audit/integrator.ts';
import { bindingHash, sha256Hex, type ExchangeLeaf } from '../src/audit/leaf.ts';
import { loadConfig } from '../src/config/load.ts';
import { createLogger } from '../src/logging.ts';
import { createMetrics } from '../src/metrics.ts';
import { createPolicy } from '../src/resilience/policy.ts';
import { GatewayError } from '../src/errors/gateway-error.ts';
import { enterprises, people } from '../src/sandbox/personas.ts';
import { loadSigningMaterial } from '../src/signing/material.ts';
import { openStore } from '../src/store/store.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const log = createLogger({ level: 'silent' });
const dir = mkdtempSync(join(tmpdir(), 'lienthong-bench-'));
const results: string[] = [];
const children: ChildProcess[] = [];

function start(args: string[], env: Record<string, string>, ready: RegExp): Promise<string> {
  const child = spawn(process.execPath, ['bin/lienthong.js', ...args], { env: { ...process.env, LOG_LEVEL: 'info', ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = ready.exec(out);
      if (m) resolve(m[1]!);
    });
    child.on('exit', (code) => reject(new Error(`lienthong ${args[0]} exited ${code}`)));
  });
}

/** Runs `call` from CONCURRENCY loops for SECONDS; returns calls/s and latency percentiles. */
async function load(call: () => Promise<void>): Promise<{ rate: number; p50: number; p99: number; errors: number }> {
  const latencies: number[] = [];
  let errors = 0;
  const until = performance.now() + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < until) {
        const t = performance.now();
        try {
          await call();
          latencies.push(performance.now() - t);
        } catch {
          errors++;
        }
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN;
  return { rate: latencies.length / SECONDS, p50: q(0.5), p99: q(0.99), errors };
}

const ctx = (): CallContext => ({
  requestId: randomUUID(),
  exchangeId: randomUUID(),
  signal: new AbortController().signal,
  log,
  clientId: 'bench',
  agency: 'H52.101.114',
  purpose: 'XAC_MINH_DANH_TINH',
  userId: 'officer-1',
});

async function main(): Promise<void> {
  // The sandbox configuration with rate limits out of the way: the bench measures throughput.
  const benchConfig = join(dir, 'bench.yaml');
  const sandboxConfig = parseYaml(readFileSync('config/sandbox.yaml', 'utf8')) as Record<string, unknown>;
  writeFileSync(benchConfig, stringifyYaml({ ...sandboxConfig, rateLimit: { default: { points: 10_000_000, durationSeconds: 1 } } }));

  // The national systems in one process, the gateway in another, the load from this one.
  const control = await start(['sandbox', '--config', 'config/sandbox.yaml'], { SANDBOX_PORT: '18190' }, /"control":"(http:[^"]+)"/);
  const urls = (await (await fetch(control)).json()) as { systems: { id: string; url: string }[] };
  const upstreamEnv = Object.fromEntries(urls.systems.map((s) => [`UPSTREAM_${s.id.toUpperCase().replaceAll('-', '_')}_URL`, s.url]));
  // Request logs off (warn): a log line per request would measure the terminal, not the gateway.
  void start(
    ['serve', '--config', benchConfig],
    { ...upstreamEnv, PORT: '18180', HOST: '127.0.0.1', TLS_ENABLED: 'false', SQLITE_PATH: join(dir, 'gateway.db'), HASH_KEY_FILE: join(dir, 'hash-key'), VALIDATE_RESPONSES: 'false', LOG_LEVEL: 'warn' },
    /never/,
  ).catch(() => undefined);
  const gatewayUrl = 'http://127.0.0.1:18180';
  for (let k = 0; ; k++) {
    const up = await fetch(`${gatewayUrl}/healthz`).then((r) => r.ok, () => false);
    if (up) break;
    if (k > 100) throw new Error('the gateway did not start');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }

  // The same adapter code the gateway uses, called directly: the baseline.
  const config = loadConfig({}, { file: 'config/sandbox.yaml' });
  const signing = loadSigningMaterial(config);
  const metrics = createMetrics({ defaultMetrics: false });
  const direct = Object.fromEntries(
    adapterModules.map((m) => {
      const url = urls.systems.find((s) => s.id === m.id)!.url;
      const policy = createPolicy({ log, metrics }, m.id, config.upstreams[m.id]);
      return [m.id, m.create({ log, policy, signing: signing.forUpstream(m.id) }, { url, maxResponseBytes: 1_048_576, retryAfterSeconds: 5, gatewayAgency: 'H52' })];
    }),
  ) as unknown as Adapters;

  const agent = new Agent({ connections: CONCURRENCY * 2 });
  const codes = enterprises.filter((e) => !e.enterpriseCode.includes('-')).map((e) => e.enterpriseCode);
  const living = people.filter((p) => !p.dateOfDeath);
  let i = 0;
  const nextCode = () => codes[i++ % codes.length]!;
  const nextPerson = () => living[i++ % living.length]!;

  // 1. REST lookup.
  const restDirect = await load(async () => {
    const parsed = parseEnterpriseCode(nextCode());
    if (!parsed.ok) throw new Error(parsed.reason);
    await direct['business-registry'].ops.getEnterprise(ctx(), parsed.value);
  });
  const restGateway = await load(async () => {
    const res = await request(`${gatewayUrl}/v1/enterprises/${nextCode()}`, { dispatcher: agent, headers: { authorization: 'Bearer sandbox-portal-key' } });
    await res.body.text();
    if (res.statusCode !== 200) throw new Error(String(res.statusCode));
  });

  // 2. SOAP identity check (a matching person: one XacThucThongTinCongDan each way).
  const soapDirect = await load(async () => {
    const p = nextPerson();
    if (!(await direct.population.ops.exists(ctx(), { idNumber: p.idNumber, fullName: p.fullName, dateOfBirth: p.dateOfBirth }))) throw new Error('no match');
  });
  const soapGateway = await load(async () => {
    const p = nextPerson();
    const res = await request(`${gatewayUrl}/v1/citizens/verify`, {
      method: 'POST',
      dispatcher: agent,
      headers: { authorization: 'Bearer sandbox-agency-key', 'content-type': 'application/json', 'x-user-id': 'officer-1', 'x-purpose': 'XAC_MINH_DANH_TINH' },
      body: JSON.stringify({ idNumber: p.idNumber, fullName: p.fullName, dateOfBirth: p.dateOfBirth }),
    });
    const body = (await res.body.json()) as { result?: string };
    if (res.statusCode !== 200 || body.result !== 'match') throw new Error(String(res.statusCode));
  });

  // 3. Calls while the breaker is open.
  await fetch(`${control}/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ system: 'business-registry', mode: 'down' }) });
  for (let k = 0; k < 50; k++) await (await request(`${gatewayUrl}/v1/enterprises/${nextCode()}`, { dispatcher: agent, headers: { authorization: 'Bearer sandbox-portal-key' } })).body.text();
  const rejected = await load(async () => {
    const res = await request(`${gatewayUrl}/v1/enterprises/${nextCode()}`, { dispatcher: agent, headers: { authorization: 'Bearer sandbox-portal-key' } });
    const body = (await res.body.json()) as { code?: string };
    if (body.code !== 'UPSTREAM_CIRCUIT_OPEN') throw new Error(body.code);
  });
  await fetch(`${control}/faults`, { method: 'DELETE' });

  // The rejection itself, without HTTP: the policy of an upstream whose breaker is open.
  const openPolicy = createPolicy({ log, metrics }, 'tax', config.upstreams.tax);
  const fail = async () => {
    throw new GatewayError('UPSTREAM_UNAVAILABLE', { upstreamFailure: true });
  };
  for (let k = 0; k < 20; k++) await openPolicy.execute(ctx(), fail).catch(() => undefined);
  const rejectTimes: number[] = [];
  for (let k = 0; k < 20_000; k++) {
    const t0 = performance.now();
    await openPolicy.execute(ctx(), fail).catch(() => undefined);
    rejectTimes.push(performance.now() - t0);
  }
  rejectTimes.sort((a, b) => a - b);
  const rejectP99 = rejectTimes[Math.floor(rejectTimes.length * 0.99)]!;
  openPolicy.shutdown();

  // 4. Exchange-log appends on SQLite, and 5. verifying a 1,000,000-entry log.
  const store = await openStore({ sqlitePath: join(dir, 'log.db') });
  const exchangeLog = createExchangeLog({ db: store.db });
  const leaves: ExchangeLeaf[] = Array.from({ length: 100_000 }, (_, n) => {
    const id = randomUUID();
    const rq = sha256Hex(`rq${n}`);
    const rs = sha256Hex(`rs${n}`);
    return { id, time: new Date().toISOString(), client: 'bench', agency: 'H52', operation: 'getEnterprise', upstream: 'business-registry', purpose: null, userHash: rq, subjectHash: null, requestHash: rq, responseHash: rs, bindingHash: bindingHash(id, rq, rs), outcome: 'success', status: 200, latencyMs: 1, upstreamCalls: [] };
  });
  let t = performance.now();
  const enqueueTimes: number[] = [];
  for (const l of leaves) {
    const t0 = performance.now();
    await exchangeLog.enqueue(l);
    enqueueTimes.push(performance.now() - t0);
  }
  const enqueueRate = leaves.length / ((performance.now() - t) / 1000);
  enqueueTimes.sort((a, b) => a - b);
  const enqueueP50 = enqueueTimes[Math.floor(enqueueTimes.length * 0.5)]!;
  const enqueueP99 = enqueueTimes[Math.floor(enqueueTimes.length * 0.99)]!;
  const integrator = createIntegrator({ db: store.db, dialect: store.dialect, log, signCheckpoint: async () => Buffer.alloc(0) }, { origin: 'bench', intervalMs: 1000, batchSize: 5000, timestampEveryMs: 3_600_000 });
  t = performance.now();
  await integrator.runOnce();
  const appendRate = leaves.length / ((performance.now() - t) / 1000);
  await store.close();
  // In a process of its own, once the gateway and the sandbox are stopped.
  for (const c of children) c.kill('SIGTERM');
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const verifySeconds = Number(execFileSync(process.execPath, ['--import', 'tsx', 'bench/verify-million.ts', '1000000'], { maxBuffer: 1 << 20 }).toString().split(' ')[0]);

  const ratio = (a: number, b: number) => `${((a / b) * 100).toFixed(0)}%`;
  results.push(
    `# Benchmark results`,
    ``,
    `Run: ${new Date().toISOString()}, Node ${process.version}, ${cpus().length} cores (shared), ${SECONDS} s per scenario, ${CONCURRENCY} concurrent callers.`,
    `Gateway (with auth, validation, rate limits, signatures both ways, exchange log) and sandbox run in separate processes; the load comes from a third. "Direct" calls the same simulator with the same adapter code (signing and verifying) from the load process.`,
    ``,
    `| scenario | direct | through the gateway | ratio | target |`,
    `|---|---|---|---|---|`,
    `| REST enterprise lookup (calls/s) | ${restDirect.rate.toFixed(0)} | ${restGateway.rate.toFixed(0)} | ${ratio(restGateway.rate, restDirect.rate)} | ≥ 50% |`,
    `| SOAP identity check (calls/s) | ${soapDirect.rate.toFixed(0)} | ${soapGateway.rate.toFixed(0)} | ${ratio(soapGateway.rate, soapDirect.rate)} | ≥ 60% |`,
    `| REST lookup latency p50 / p99 (ms) | ${restDirect.p50.toFixed(1)} / ${restDirect.p99.toFixed(1)} | ${restGateway.p50.toFixed(1)} / ${restGateway.p99.toFixed(1)} | | |`,
    `| SOAP check latency p50 / p99 (ms) | ${soapDirect.p50.toFixed(1)} / ${soapDirect.p99.toFixed(1)} | ${soapGateway.p50.toFixed(1)} / ${soapGateway.p99.toFixed(1)} | | |`,
    ``,
    `| exchange log and resilience | measured | target |`,
    `|---|---|---|`,
    `| breaker open: rejection inside the gateway (policy), p99 | ${rejectP99.toFixed(3)} ms | p99 < 2 ms |`,
    `| breaker open: rejected calls end to end through HTTP, p50 / p99 (${CONCURRENCY} concurrent) | ${rejected.p50.toFixed(2)} / ${rejected.p99.toFixed(2)} ms (${rejected.rate.toFixed(0)}/s) | |`,
    `| leaves made durable on the request path (enqueue, one at a time, SQLite) | ${enqueueRate.toFixed(0)}/s | |`,
    `| latency the log adds to a request (making its leaf durable), p50 / p99 | ${(enqueueP50 * 1000).toFixed(0)} / ${(enqueueP99 * 1000).toFixed(0)} µs | |`,
    `| appends by the integrator (SQLite, batches of 5000) | ${appendRate.toFixed(0)}/s | ≥ 20,000/s |`,
    `| full verification of a 1,000,000-entry log from its stored leaf bytes (hash every leaf, recompute the root; own process) | ${verifySeconds.toFixed(1)} s | < 10 s |`,
    ``,
    `Errors during load: REST direct ${restDirect.errors}, gateway ${restGateway.errors}; SOAP direct ${soapDirect.errors}, gateway ${soapGateway.errors}; open-breaker ${rejected.errors}.`,
    ``,
  );
  writeFileSync('bench/RESULTS.md', results.join('\n'));
  console.log(results.join('\n'));
}

try {
  await main();
} finally {
  // Stop what we started, and make sure it is gone before this process leaves.
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve();
          const force = setTimeout(() => c.kill('SIGKILL'), 20_000);
          c.once('exit', () => {
            clearTimeout(force);
            resolve();
          });
          c.kill('SIGTERM');
        }),
    ),
  );
}
process.exit(0);
