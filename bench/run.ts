/**
 * npm run bench: the gateway and the direct call side by side, in one run, on this machine.
 * Writes bench/RESULTS.md. Quote ratios, not absolute figures: machines are shared and noisy.
 *
 * HTTP load comes from autocannon, the same client for both sides of a comparison. "Direct"
 * means autocannon calling the simulator itself and doing the message security the gateway's
 * adapter does for that call (signing each request, verifying each answer's signature and
 * certificate), so both sides do the same protocol work; "through the gateway" means autocannon
 * calling the gateway, which adds authentication, validation, rate limits, the upstream policy,
 * mapping and the exchange log.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { request, WebSocket } from 'undici';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { ENTERPRISE_PATH } from '../adapters/business-registry/client.ts';
import { LOGIN_PATH as DVCQG_LOGIN_PATH, SERVICE_PATH as DVCQG_SERVICE_PATH } from '../adapters/dvcqg/client.ts';
import { toWireDossier, toWireProgress } from '../adapters/dvcqg/mapping.ts';
import { SANDBOX_ACCOUNT } from '../adapters/dvcqg/sandbox-account.ts';
import { PORTAL_SERVICES, type DossierProgressEvent, type DossierSnapshot } from '../src/core/dossiers/port.ts';
import { fixtureAt, fixtureCodeDay, progressEvent as progressStep, sampleDossier as benchDossier } from '../test/helpers/dossiers.ts';
import { SERVICE_PATH } from '../adapters/population/client.ts';
import { checkRawAnswer, readVerification, readVerifiedBody } from '../adapters/population/errors.ts';
import { SANDBOX_CODES } from '../adapters/population/index.ts';
import { OPERATIONS, requestEnvelope, toVerificationRequest, type VerificationRequest } from '../adapters/population/mapping.ts';
import { populationMessageSecurity } from '../adapters/population/security.ts';
import { SERVICE_DESCRIPTION } from '../adapters/population/service-description.ts';
import { soapHeaders } from '../adapters/population/transport.ts';
import { createExchangeLog } from '../src/audit/exchange-log.ts';
import { createIntegrator } from '../src/audit/integrator.ts';
import { bindingHash, sha256Hex, type ExchangeLeaf } from '../src/audit/leaf.ts';
import { loadConfig } from '../src/config/load.ts';
import type { CallContext } from '../src/core/ports.ts';
import { GatewayError } from '../src/errors/gateway-error.ts';
import { createLogger } from '../src/logging.ts';
import { createMetrics } from '../src/metrics.ts';
import { createPolicy } from '../src/resilience/policy.ts';
import { enterprises, people } from '../src/sandbox/personas.ts';
import { signRequest, verifyResponse, type RequestMessage } from '../src/signing/http-signatures.ts';
import { loadSigningMaterial } from '../src/signing/material.ts';
import { openStore } from '../src/store/store.ts';
import { freePort, startLienthong, startSandboxProcess, type Started } from '../test/helpers/processes.ts';
import { documentsBench, documentsSection } from './documents.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
/** Direct and gateway measurements alternate this many times per scenario; medians are reported. */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? process.env.BENCH_CONCURRENCY ?? 16);
/** Extra arguments for the gateway's node process, e.g. BENCH_GATEWAY_NODE_ARGS=--cpu-prof to profile it. */
const GATEWAY_NODE_ARGS = (process.env.BENCH_GATEWAY_NODE_ARGS ?? '').split(' ').filter(Boolean);
/** Where to write the gateway's CPU profiles of the per-stage table, if anywhere. */
const PROFILE_DIR = process.env.BENCH_PROFILE_DIR;
const log = createLogger({ level: 'silent' });
const dir = mkdtempSync(join(tmpdir(), 'lienthong-bench-'));
const children: Started[] = [];

interface Load {
  rate: number;
  p50: number;
  p99: number;
  requests: number;
  /** Non-2xx answers, transport errors and answers the client refused. */
  errors: number;
  /** CPU time per request of the process doing the work under test (see `cpuOf`), in ms. */
  cpuMs: number;
}

/** CPU time (user + system) a process has used so far, in ms: this process, or another by pid (Linux). */
function cpuOf(pid?: number): number {
  if (pid === undefined) {
    const { user, system } = process.cpuUsage();
    return (user + system) / 1000;
  }
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

/** What one connection sends and checks; `context` is that connection's own. */
interface BenchRequest {
  method: 'GET' | 'POST';
  setupRequest(req: autocannon.Request, context: Record<string, unknown>): autocannon.Request;
  /** Throws when the answer is not what the caller needs (counted as an error). */
  onResponse?(status: number, body: string, context: Record<string, unknown>, headers: Record<string, string>): void;
}

/** One autocannon run: CONNECTIONS connections for SECONDS against one URL, each request built by `request`. */
async function cannon(url: string, request: BenchRequest, options: { expectStatus?: number; cpuPid?: number; connections?: number } = {}): Promise<Load> {
  let refused = 0;
  const cpuBefore = cpuOf(options.cpuPid);
  const result = await autocannon({
    url,
    connections: options.connections ?? CONNECTIONS,
    duration: SECONDS,
    requests: [
      {
        method: request.method,
        setupRequest: request.setupRequest as autocannon.Request['setupRequest'],
        onResponse: ((status: number, body: string, context: Record<string, unknown>, headers: Record<string, string> | undefined) => {
          try {
            if (status !== (options.expectStatus ?? 200)) throw new Error(`HTTP ${status}`);
            request.onResponse?.(status, body, context, headers ?? {});
          } catch (err) {
            if (refused++ === 0) console.error(`first refused answer from ${url}: ${(err as Error).message}: ${body.slice(0, 300)}`);
          }
        }) as autocannon.Request['onResponse'],
      },
    ],
  });
  return {
    rate: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests: result.requests.total,
    errors: result.errors + result.timeouts + refused,
    cpuMs: (cpuOf(options.cpuPid) - cpuBefore) / Math.max(1, result.requests.total),
  };
}

interface Comparison {
  direct: Load;
  gateway: Load;
  /** Median over the rounds of gateway calls/s ÷ direct calls/s measured back to back. */
  ratio: number;
  /** Highest peak resident memory of the gateway over its measurements, MiB. */
  memory: number;
  ratios: number[];
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/**
 * Direct and through-the-gateway measurements back to back, ROUNDS times, so that whatever else
 * the machine is doing weighs on both sides alike.
 */
async function compare(gatewayPid: number, direct: () => Promise<Load>, gateway: () => Promise<Load>): Promise<Comparison> {
  const rounds: { direct: Load; gateway: Load; memory: number }[] = [];
  // A first round warms both sides up (JIT, connection pools, caches) and is not counted.
  await direct();
  await gateway();
  for (let r = 0; r < ROUNDS; r++) {
    const d = await direct();
    resetPeak(gatewayPid);
    const g = await gateway();
    rounds.push({ direct: d, gateway: g, memory: peakMiB(gatewayPid) });
  }
  const of = (side: 'direct' | 'gateway'): Load => {
    const loads = rounds.map((x) => x[side]);
    return {
      rate: median(loads.map((l) => l.rate)),
      p50: median(loads.map((l) => l.p50)),
      p99: median(loads.map((l) => l.p99)),
      requests: loads.reduce((n, l) => n + l.requests, 0),
      errors: loads.reduce((n, l) => n + l.errors, 0),
      cpuMs: median(loads.map((l) => l.cpuMs)),
    };
  };
  const ratios = rounds.map((x) => x.gateway.rate / x.direct.rate);
  return { direct: of('direct'), gateway: of('gateway'), ratio: median(ratios), memory: Math.max(...rounds.map((x) => x.memory)), ratios };
}

/** Peak resident memory of a process since its counter was last reset (Linux), in MiB. */
function peakMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? NaN) / 1024;
}

/** Starts a new peak-memory window for the process (Linux clear_refs 5). */
function resetPeak(pid: number): void {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
  } catch {
    // Not permitted here: the figure is then the peak since start.
  }
}

/** A V8 CPU profile as the inspector's Profiler.stop returns it. */
interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string }; children?: number[] }[];
  samples: number[];
  startTime: number;
  endTime: number;
}

/**
 * Records a CPU profile of the gateway process while `during` runs, through its inspector (the
 * gateway is started with --inspect on a local port), sampling every 100 µs.
 */
async function profiled<T>(inspectorPort: number, during: () => Promise<T>): Promise<{ result: T; profile: CpuProfile }> {
  const targets = (await (await fetch(`http://127.0.0.1:${inspectorPort}/json/list`)).json()) as { webSocketDebuggerUrl: string }[];
  const socket = new WebSocket(targets[0]!.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    socket.addEventListener('open', resolve, { once: true });
    socket.addEventListener('error', reject, { once: true });
  });
  let next = 0;
  const pending = new Map<number, (result: unknown) => void>();
  socket.addEventListener('message', (event) => {
    const message = JSON.parse(String(event.data)) as { id?: number; result?: unknown };
    if (message.id !== undefined) pending.get(message.id)?.(message.result);
  });
  const send = (method: string, params: object = {}) =>
    new Promise<unknown>((resolve) => {
      const id = ++next;
      pending.set(id, resolve);
      socket.send(JSON.stringify({ id, method, params }));
    });
  await send('Profiler.enable');
  await send('Profiler.setSamplingInterval', { interval: 100 });
  await send('Profiler.start');
  const result = await during();
  const { profile } = (await send('Profiler.stop')) as { profile: CpuProfile };
  await send('Profiler.disable');
  socket.close();
  return { result, profile };
}

/**
 * Stages of the gateway's request path, by where a function's source lives: the innermost frame
 * of a sample that belongs to one of them names the stage (a hash computed for authentication is
 * authentication's, not node:crypto's). Shared libraries (XML parsers, node:crypto) name none and
 * count for their caller's stage. Frames of the gateway's own app.ts are told apart by name.
 */
const STAGES: [string, RegExp][] = [
  ['routing (contract match)', /\/src\/http\/contract\.ts|\/src\/app\.ts#routeOnce/],
  ['request validation', /\/src\/http\/validation\.ts|\/node_modules\/ajv(-formats)?\/|\/src\/app\.ts#dispatchOperation|\/src\/app\.ts#checkedJson/],
  ['authentication, authorization, rate limit, accountability', /\/src\/http\/(auth|rate-limit)\.ts|\/node_modules\/rate-limiter-flexible\/|\/src\/config\/load\.ts/],
  ['exchange log (recorder, leaf, SQLite)', /\/src\/http\/exchange-recorder\.ts|\/src\/audit\/|\/src\/store\/|\/node_modules\/(better-sqlite3|kysely|json-canonicalize)\//],
  ['upstream policy (bulkhead, breaker, timeout)', /\/src\/resilience\/|\/node_modules\/opossum\//],
  ['request signing and answer verification', /\/src\/signing\/|\/node_modules\/(structured-headers|pkijs|asn1js|@peculiar|xml-crypto|node-forge|jose|pvtsutils|pvutils)\//],
  ['adapter, use case and mapping', /\/adapters\/|\/src\/core\/|\/src\/gateway\/|\/src\/http\/(routes\/|context\.ts|handlers\.ts)/],
  ['upstream HTTP client (undici)', /\/node_modules\/undici\/|node:internal\/deps\/undici/],
  ['logging and metrics', /\/src\/(logging|metrics)\.ts|\/node_modules\/(pino|pino-std-serializers|fast-redact|sonic-boom|prom-client|tdigest|bintrees)\/|\/src\/app\.ts#(lifecycle|answered)/],
  ['express and middleware (helmet, body parser, problem answers)', /\/node_modules\/(express|router|body-parser|raw-body|helmet|cors|finalhandler|send|content-type|type-is|mime-types|qs|on-finished|parseurl|media-typer|iconv-lite|http-errors|depd|vary|accepts|negotiator|statuses)\/|\/src\/http\/(problem|cors)\.ts|\/src\/app\.ts#/],
];
/** Frames of none of the stages: Node's own HTTP server and sockets, or the runtime. */
const NODE_HTTP = /^node:(_http_|net|internal\/(http|streams|stream_base_commons|js_stream_socket))/;

/** µs of gateway CPU per request by stage, from a profile of `requests` requests. */
function stagesOf(profile: CpuProfile, requests: number): Map<string, number> {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const stageOfNode = new Map<number, string | null>();
  const classify = (id: number): string | null => {
    if (stageOfNode.has(id)) return stageOfNode.get(id)!;
    const { functionName, url } = byId.get(id)!.callFrame;
    let stage: string | null = null;
    if (functionName === '(idle)') stage = 'idle';
    else if (functionName === '(garbage collector)') stage = 'garbage collection';
    else if (functionName === '(program)') stage = 'V8 and native code, unattributed';
    else {
      const where = url.includes('/src/app.ts') ? `${url}#${functionName}` : url;
      stage = STAGES.find(([, pattern]) => pattern.test(where))?.[0] ?? null;
      const up = parent.get(id);
      if (stage === null && up !== undefined) stage = classify(up);
      if (stage === null && NODE_HTTP.test(url)) stage = 'Node HTTP server and sockets';
    }
    stageOfNode.set(id, stage);
    return stage;
  };
  const counts = new Map<string, number>();
  for (const id of profile.samples) {
    const stage = classify(id) ?? 'other (Node runtime, timers, promises)';
    counts.set(stage, (counts.get(stage) ?? 0) + 1);
  }
  const microsPerSample = (profile.endTime - profile.startTime) / Math.max(1, profile.samples.length);
  const out = new Map<string, number>();
  for (const [stage, count] of counts) if (stage !== 'idle') out.set(stage, (count * microsPerSample) / Math.max(1, requests));
  return out;
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

/** Lower-cased header names, as the signature check reads them. */
const lower = (headers: Record<string, string>) => Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));

/**
 * Dossier event accepted. Through the gateway: POST /v1/dossiers/{code}/events with a progress
 * step, answered 202 once the change and its delivery job are written in one transaction (the
 * outbox worker delivers them to the portal meanwhile, in the same process). Direct: the same step
 * sent to the national portal's simulator (CapNhatTienDoHoSoMC), signed with RFC 9421 and its
 * signed answer verified, as the dvcqg adapter does.
 */
async function dossierEventScenario(urls: { gateway: string; gatewayPid: number; upstreams: Record<string, string> }, signing: ReturnType<typeof loadSigningMaterial>): Promise<Comparison> {
  const DOSSIERS = 64;
  const portal = signing.forUpstream('dvcqg');
  const portalBase = urls.upstreams.dvcqg!;
  const send = async (path: string, body: unknown) => {
    const text = JSON.stringify(body);
    const { headers, message } = signRequest(portal.credentials, { method: 'POST', url: portalBase + path, headers: { accept: 'application/json', 'content-type': 'application/json; charset=utf-8', dstcode: 'H52' }, body: text });
    const res = await request(portalBase + path, { method: 'POST', headers, body: text });
    const answer = Buffer.from(await res.body.arrayBuffer());
    verifyResponse({ status: res.statusCode, headers: lower(res.headers as Record<string, string>), body: answer }, message, { verifyCertificate: (c, chain) => portal.verifyPeer(c, chain) });
    return JSON.parse(answer.toString('utf8')) as { error_code: string; session?: string };
  };
  const session = (await send(DVCQG_LOGIN_PATH, SANDBOX_ACCOUNT)).session!;
  const step = progressStep(fixtureAt(0, '10:00')) as DossierProgressEvent;
  // Direct: dossiers the portal knows (one DongBoHoSoMC each), then progress steps on them.
  const directDossiers = Array.from({ length: DOSSIERS }, (_, n) => benchDossier(n + 1, {}, fixtureCodeDay(-1)) as unknown as DossierSnapshot['dossier']);
  const directCodes = directDossiers.map((dossier) => dossier.code);
  for (const dossier of directDossiers) {
    const code = dossier.code;
    const item = toWireDossier({ dossier, status: 1, processingEndedAt: null, returnedAt: null }, { id: randomUUID(), sequence: 1 });
    const answer = await send(DVCQG_SERVICE_PATH, { session, madonvi: 'H52', service: PORTAL_SERVICES.sync, isUpdating: 'False', data: [item] });
    if (answer.error_code !== '0') throw new Error(`the portal did not take dossier ${code}: ${JSON.stringify(answer)}`);
  }
  const sequences = new Map(directCodes.map((c) => [c, 1]));
  // Through the gateway: the same number of dossiers handed over first.
  const gatewayCodes: string[] = [];
  const headers = { authorization: 'Bearer sandbox-agency-key', 'content-type': 'application/json', 'x-user-id': 'officer-1', 'x-purpose': 'TIEP_NHAN_HO_SO' };
  for (let n = 1; n <= DOSSIERS; n++) {
    const dossier = benchDossier(n, {}, fixtureCodeDay());
    const res = await fetch(`${urls.gateway}/v1/dossiers`, { method: 'POST', headers, body: JSON.stringify(dossier) });
    if (res.status !== 202) throw new Error(`dossier not accepted: ${res.status} ${await res.text()}`);
    gatewayCodes.push(dossier.code as string);
  }
  let d = 0;
  let g = 0;
  return compare(urls.gatewayPid, () => cannon(portalBase, {
    method: 'POST',
    setupRequest: (req, context) => {
      const code = directCodes[d++ % DOSSIERS]!;
      const sequence = sequences.get(code)! + 1;
      sequences.set(code, sequence);
      const body = JSON.stringify({ session, madonvi: 'H52', service: PORTAL_SERVICES.progress, data: [toWireProgress({ code, status: 1, event: step }, { id: randomUUID(), sequence })] });
      const signed = signRequest(portal.credentials, { method: 'POST', url: portalBase + DVCQG_SERVICE_PATH, headers: { accept: 'application/json', 'content-type': 'application/json; charset=utf-8' }, body });
      (context as { message?: RequestMessage }).message = signed.message;
      return { ...req, path: DVCQG_SERVICE_PATH, headers: signed.headers, body };
    },
    onResponse: (status, body, context, responseHeaders) => {
      verifyResponse({ status, headers: lower(responseHeaders), body: Buffer.from(body) }, (context as { message: RequestMessage }).message, { verifyCertificate: (c, chain) => portal.verifyPeer(c, chain) });
      if ((JSON.parse(body) as { error_code?: string }).error_code !== '0') throw new Error('not taken');
    },
  }), () => cannon(urls.gateway, {
    method: 'POST',
    setupRequest: (req) => ({ ...req, path: `/v1/dossiers/${gatewayCodes[g++ % DOSSIERS]}/events`, headers, body: JSON.stringify(step) }),
    onResponse: (_status, body) => JSON.parse(body),
  }, { expectStatus: 202, cpuPid: urls.gatewayPid }));
}

/**
 * Where the gateway's CPU goes, per request and stage, from a profile of one more measurement of
 * each scenario (taken with the inspector's sampling profiler; its own overhead is in the total).
 */
function stageTable(profiles: Record<'rest' | 'soap', { result: Load; profile: CpuProfile }>): string[] {
  const rest = stagesOf(profiles.rest.profile, profiles.rest.result.requests);
  const soap = stagesOf(profiles.soap.profile, profiles.soap.result.requests);
  const total = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
  const [restTotal, soapTotal] = [total(rest), total(soap)];
  const stages = [...new Set([...rest.keys(), ...soap.keys()])].sort((a, b) => (rest.get(b) ?? 0) - (rest.get(a) ?? 0));
  const cell = (m: Map<string, number>, all: number, stage: string) => `${(m.get(stage) ?? 0).toFixed(0)} | ${(((m.get(stage) ?? 0) / all) * 100).toFixed(1)}%`;
  return [
    `Gateway CPU per request by stage, from a sampling CPU profile (every 100 µs, through the inspector) of one more gateway measurement of each scenario (REST: ${profiles.rest.result.requests} requests; SOAP: ${profiles.soap.result.requests}). A sample counts for the stage of its innermost frame that belongs to one (by source file or package); main thread only, so the totals are below the process CPU per call above, which includes the profiler's own cost and other threads (libuv, GC helpers).`,
    ``,
    `| stage | REST lookup µs per request | share | SOAP identity check µs per request | share |`,
    `|---|---|---|---|---|`,
    ...stages.map((stage) => `| ${stage} | ${cell(rest, restTotal, stage)} | ${cell(soap, soapTotal, stage)} |`),
    `| total (main thread, not idle) | ${restTotal.toFixed(0)} | 100% | ${soapTotal.toFixed(0)} | 100% |`,
  ];
}

async function main(): Promise<string> {
  // The sandbox configuration with rate limits out of the way: the bench measures throughput.
  // Response validation stays off, as in production (server.validateResponses defaults to false).
  // The population database reached directly, WS-Security both ways (the sandbox's default is the
  // LGSP platform without it), as the SOAP scenario's direct side does.
  const benchConfig = join(dir, 'bench.yaml');
  const sandboxConfig = parseYaml(readFileSync('config/sandbox.yaml', 'utf8')) as Record<string, unknown>;
  const upstreamSettings = { ...(sandboxConfig.upstreams as Record<string, unknown> | undefined), population: { transport: { mode: 'direct' }, messageSecurity: 'ws-security' } };
  writeFileSync(benchConfig, stringifyYaml({ ...sandboxConfig, upstreams: upstreamSettings, rateLimit: { default: { points: 10_000_000, durationSeconds: 1 } } }));

  // The national systems in one process, the gateway in another, the load from this one.
  const sandbox = await startSandboxProcess();
  children.push(sandbox);
  const control = sandbox.controlUrl;
  const upstreams = sandbox.urls;
  // Request logs off (warn): a log line per request would measure the terminal, not the gateway.
  const port = await freePort();
  const gatewayUrl = `http://127.0.0.1:${port}`;
  // The inspector, on a local port, for the per-stage CPU profile (only attached while profiling).
  const inspectorPort = await freePort();
  const gatewayProcess = await startLienthong(
    ['serve', '--config', benchConfig],
    { ...sandbox.upstreamEnv, PORT: String(port), HOST: '127.0.0.1', TLS_ENABLED: 'false', TSA_URL: sandbox.tsaUrl, SQLITE_PATH: join(dir, 'gateway.db'), HASH_KEY_FILE: join(dir, 'hash-key'), VALIDATE_RESPONSES: 'false', LOG_LEVEL: 'warn' },
    { url: `${gatewayUrl}/healthz` },
    60_000,
    [...GATEWAY_NODE_ARGS, `--inspect=127.0.0.1:${inspectorPort}`],
  );
  children.push(gatewayProcess);
  const gatewayPid = gatewayProcess.child.pid!;

  const config = loadConfig({}, { file: 'config/sandbox.yaml' });
  const signing = loadSigningMaterial(config);
  const codes = enterprises.filter((e) => !e.enterpriseCode.includes('-')).map((e) => e.enterpriseCode);
  const living = people.filter((p) => !p.dateOfDeath);
  let i = 0;

  // 1. REST enterprise lookup. Direct: each request signed (HTTP Message Signatures), each answer's
  // signature, certificate and digest verified, as the business-registry adapter does.
  const registry = signing.forUpstream('business-registry');
  const registryBase = upstreams['business-registry']!;
  const restThroughGateway: BenchRequest = {
    method: 'GET',
    setupRequest: (req) => ({ ...req, path: `/v1/enterprises/${codes[i++ % codes.length]}`, headers: { authorization: 'Bearer sandbox-portal-key' } }),
    onResponse: (_status, body) => JSON.parse(body),
  };
  const rest = await compare(gatewayPid, () => cannon(registryBase, {
    method: 'GET',
    setupRequest: (req, context) => {
      const path = ENTERPRISE_PATH + encodeURIComponent(codes[i++ % codes.length]!);
      const id = randomUUID();
      const { headers, message } = signRequest(registry.credentials, { method: 'GET', url: registryBase + path, headers: { accept: 'application/json', 'x-ma-don-vi': 'H52', 'x-ma-yeu-cau': id, 'x-request-id': id } });
      (context as { message?: RequestMessage }).message = message;
      return { ...req, path, headers };
    },
    onResponse: (status, body, context, headers) => {
      verifyResponse({ status, headers: lower(headers), body: Buffer.from(body) }, (context as { message: RequestMessage }).message, { verifyCertificate: (c, chain) => registry.verifyPeer(c, chain) });
      JSON.parse(body);
    },
  }), () => cannon(gatewayUrl, restThroughGateway, { cpuPid: gatewayPid }));
  // Once more, profiled, for the per-stage table (not counted above: the profiler costs CPU too).
  const restProfile = await profiled(inspectorPort, () => cannon(gatewayUrl, restThroughGateway, { cpuPid: gatewayPid }));

  // 2. SOAP identity check (XacThucThongTinCongDan, WS-Security both ways). Direct: what the
  // adapter's client does for each call (`createPopulationClient`, direct transport): the request
  // envelope built for the person with a fresh MaYeuCau, signed (Timestamp, Body signature,
  // certificate chain), posted with the SOAPAction and headers of the shipped service description;
  // each answer's status and type checked, its signature and certificate verified, and the signed
  // Body read (result code, MaYeuCau echoed, TonTai).
  const population = signing.forUpstream('population');
  const security = populationMessageSecurity(population);
  const verification = SERVICE_DESCRIPTION[OPERATIONS.verify];
  const populationUrl = upstreams.population! + SERVICE_PATH;
  const officer = ctx();
  const soapThroughGateway: BenchRequest = {
    method: 'POST',
    setupRequest: (req) => {
      const p = living[i++ % 50]!;
      return {
        ...req,
        path: '/v1/citizens/verify',
        headers: { authorization: 'Bearer sandbox-agency-key', 'content-type': 'application/json', 'x-user-id': 'officer-1', 'x-purpose': 'XAC_MINH_DANH_TINH' },
        body: JSON.stringify({ idNumber: p.idNumber, fullName: p.fullName, dateOfBirth: p.dateOfBirth }),
      };
    },
    onResponse: (_status, body) => {
      if ((JSON.parse(body) as { result?: string }).result !== 'match') throw new Error('no match');
    },
  };
  const soap = await compare(gatewayPid, () => cannon(upstreams.population!, {
    method: 'POST',
    setupRequest: (req, context) => {
      const p = living[i++ % 50]!;
      const header = { MaYeuCau: randomUUID(), MaDVC: SANDBOX_CODES.serviceCode, MaTichHop: SANDBOX_CODES.integrationCode, MaDonVi: officer.agency!, MaCanBo: officer.userId! };
      const asked = toVerificationRequest(header, { idNumber: p.idNumber, fullName: p.fullName, dateOfBirth: p.dateOfBirth });
      (context as { asked?: VerificationRequest }).asked = asked;
      return { ...req, path: SERVICE_PATH, headers: soapHeaders(verification.soapAction), body: security.signRequest(requestEnvelope(OPERATIONS.verify, asked, verification.requestFields)) };
    },
    onResponse: (status, body, context, headers) => {
      const answer = { url: populationUrl, status, contentType: lower(headers)['content-type'] ?? '', body };
      checkRawAnswer(answer, 5);
      const result = readVerifiedBody(security.verifyAnswer(answer), OPERATIONS.verify, status, 5);
      if (!readVerification(result, (context as { asked: VerificationRequest }).asked)) throw new Error('no match');
    },
  }), () => cannon(gatewayUrl, soapThroughGateway, { cpuPid: gatewayPid }));
  const soapProfile = await profiled(inspectorPort, () => cannon(gatewayUrl, soapThroughGateway, { cpuPid: gatewayPid }));
  // Kept for a closer look (Chrome DevTools, or any .cpuprofile viewer) when asked for.
  if (PROFILE_DIR) {
    writeFileSync(join(PROFILE_DIR, 'gateway-rest.cpuprofile'), JSON.stringify(restProfile.profile));
    writeFileSync(join(PROFILE_DIR, 'gateway-soap.cpuprofile'), JSON.stringify(soapProfile.profile));
  }



  // Calls while the breaker is open, through HTTP.
  await fetch(`${control}/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ system: 'business-registry', mode: 'down' }) });
  // Failures must outweigh the successes still in the breaker's rolling window before it opens.
  for (let k = 0; ; k++) {
    const res = await fetch(`${gatewayUrl}/v1/enterprises/${codes[0]}`, { headers: { authorization: 'Bearer sandbox-portal-key' } });
    if (((await res.json()) as { code?: string }).code === 'UPSTREAM_CIRCUIT_OPEN') break;
    if (k > 100_000) throw new Error('the breaker did not open');
  }
  const rejectedRequest: BenchRequest = {
    method: 'GET',
    setupRequest: (req) => ({ ...req, path: `/v1/enterprises/${codes[i++ % codes.length]}`, headers: { authorization: 'Bearer sandbox-portal-key' } }),
    onResponse: (_status, body) => {
      if ((JSON.parse(body) as { code?: string }).code !== 'UPSTREAM_CIRCUIT_OPEN') throw new Error('not rejected by the breaker');
    },
  };
  // One caller at a time: the rejection's own latency. Then CONNECTIONS at once: under load.
  const rejectedAlone = await cannon(gatewayUrl, rejectedRequest, { expectStatus: 503, cpuPid: gatewayPid, connections: 1 });
  const rejected = await cannon(gatewayUrl, rejectedRequest, { expectStatus: 503, cpuPid: gatewayPid });
  await fetch(`${control}/faults`, { method: 'DELETE' });
  // 3. Dossier event accepted: last of the HTTP scenarios, because the outbox goes on delivering
  // the accepted changes afterwards and would weigh on anything measured after it.
  const dossier = await dossierEventScenario({ gateway: gatewayUrl, gatewayPid, upstreams }, signing);
  const load = loadavg().map((l) => l.toFixed(1)).join(', ');

  // The rejection itself, without HTTP: the policy of an upstream whose breaker is open.
  const metrics = createMetrics({ defaultMetrics: false });
  const openPolicy = createPolicy({ log, metrics }, 'tax', config.upstreams.tax);
  const fail = async () => {
    throw new GatewayError('UPSTREAM_UNAVAILABLE', { upstreamFailure: true });
  };
  for (let k = 0; k < 20; k++) await openPolicy.execute(ctx(), fail).catch(() => undefined);
  if (openPolicy.state() !== 'open') throw new Error('the breaker did not open');
  const rejectTimes: number[] = [];
  for (let k = 0; k < 20_000; k++) {
    const t0 = performance.now();
    await openPolicy.execute(ctx(), fail).catch(() => undefined);
    rejectTimes.push(performance.now() - t0);
  }
  rejectTimes.sort((a, b) => a - b);
  const rejectP50 = rejectTimes[Math.floor(rejectTimes.length * 0.5)]!;
  const rejectP99 = rejectTimes[Math.floor(rejectTimes.length * 0.99)]!;
  openPolicy.shutdown();

  // 5. Exchange-log appends on SQLite, and 6. verifying a 1,000,000-entry log.
  const store = await openStore({ sqlitePath: join(dir, 'log.db') });
  const exchangeLog = createExchangeLog({ db: store.db, masterKey: randomBytes(32) });
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
  await Promise.all(children.map((c) => c.stop()));
  const verifySeconds = Number(execFileSync(process.execPath, ['--import', 'tsx', 'bench/verify-million.ts', '1000000'], { maxBuffer: 1 << 20 }).toString().split(' ')[0]);
  // Document deposits: a sandbox and a gateway of their own (bench/documents.ts).
  const documents = documentsSection(await documentsBench());

  const pct = (a: number, b: number) => `${((a / b) * 100).toFixed(0)}%`;
  // autocannon's percentiles are whole milliseconds.
  const ms = (v: number) => (v === 0 ? '< 1' : v < 10 ? v.toFixed(1) : v.toFixed(0));
  const row = (name: string, c: Comparison, target: string) =>
    `| ${name} | ${c.direct.rate.toFixed(0)} | ${c.gateway.rate.toFixed(0)} | ${pct(c.ratio, 1)} (rounds: ${c.ratios.map((r) => pct(r, 1)).join(', ')}) | ${ms(c.direct.p50)} / ${ms(c.direct.p99)} | ${ms(c.gateway.p50)} / ${ms(c.gateway.p99)} | ${c.direct.cpuMs.toFixed(2)} / ${c.gateway.cpuMs.toFixed(2)} (${(c.gateway.cpuMs / c.direct.cpuMs).toFixed(1)}×) | ${c.memory.toFixed(0)} MiB | ${target} |`;
  const lines = [
    `# Benchmark results`,
    ``,
    `Run: ${new Date().toISOString()}; Node ${process.version}; ${cpus().length} × ${cpus()[0]?.model.trim() ?? 'CPU'} (shared), ${(totalmem() / 2 ** 30).toFixed(1)} GiB; autocannon, ${CONNECTIONS} connections, ${SECONDS} s per measurement; direct and gateway measured back to back ${ROUNDS} times per scenario after a warm-up round that is not counted, medians reported.`,
    ``,
    `The sandbox (simulators), the gateway and the load (autocannon) are three processes on the same machine. "Direct" is autocannon calling the simulator itself with the message security the adapter does for that call (request signed, answer's signature and certificate verified), so both sides do the same protocol work. "Through the gateway" adds API-key authentication, request validation (responses are not validated, as in production), rate limiting, the upstream policy (bulkhead, breaker, timeout), mapping, and the exchange log (each answer waits until its leaf is durable in SQLite). Peak memory is the gateway process's peak resident set (VmHWM) during its measurements of that scenario.`,
    ``,
    `| scenario | direct calls/s | through the gateway calls/s | ratio | direct p50 / p99 ms | gateway p50 / p99 ms | CPU ms per call: direct client / gateway | gateway peak memory | target (DESIGN.md) |`,
    `|---|---|---|---|---|---|---|---|---|`,
    row('REST enterprise lookup', rest, 'ratio ≥ 50%'),
    row('SOAP identity check (WS-Security both ways)', soap, 'ratio ≥ 60%; gateway CPU ≤ 1.5× the client\'s'),
    row('dossier event accepted (202, written with its delivery job)', dossier, 'ratio ≥ 60%'),
    ``,
    `"CPU ms per call" is the CPU time (user + system) per call of the direct client (this process: autocannon, signing and verifying) and of the gateway process. Load average of the machine at the end of the HTTP measurements: ${load} (other work was running beside the benchmark; throughput figures move with it, CPU per call much less).`,
    ``,
    ...stageTable({ rest: restProfile, soap: soapProfile }),
    ``,
    `| exchange log and resilience | measured | target (DESIGN.md) |`,
    `|---|---|---|`,
    `| breaker open: rejection inside the gateway (policy), p50 / p99 | ${(rejectP50 * 1000).toFixed(0)} / ${(rejectP99 * 1000).toFixed(0)} µs | p99 < 2 ms |`,
    `| breaker open: rejected calls end to end through HTTP (503 UPSTREAM_CIRCUIT_OPEN, exchange logged), one caller at a time, p50 / p99 | ${ms(rejectedAlone.p50)} / ${ms(rejectedAlone.p99)} ms (whole ms); ${rejectedAlone.rate.toFixed(0)} calls/s, so ${(1000 / rejectedAlone.rate).toFixed(2)} ms per round trip on average, client included | p99 < 2 ms |`,
    `| the same with ${CONNECTIONS} connections at once, p50 / p99 | ${ms(rejected.p50)} / ${ms(rejected.p99)} ms at ${rejected.rate.toFixed(0)} calls/s | |`,
    `| leaves made durable on the request path (enqueue, one at a time, SQLite) | ${enqueueRate.toFixed(0)}/s | |`,
    `| latency the log adds to a request (making its leaf durable), p50 / p99 | ${(enqueueP50 * 1000).toFixed(0)} / ${(enqueueP99 * 1000).toFixed(0)} µs | |`,
    `| appends by the integrator (SQLite, batches of 5000) | ${appendRate.toFixed(0)}/s | ≥ 20,000/s |`,
    `| full verification of a 1,000,000-entry log from its stored leaf bytes (hash every leaf, recompute the root; own process) | ${verifySeconds.toFixed(1)} s | < 10 s |`,
    ``,
    ...documents,
    ``,
    `Requests refused or failed during load (any other status, a signature that did not verify, a wrong answer): REST direct ${rest.direct.errors} of ${rest.direct.requests}, gateway ${rest.gateway.errors} of ${rest.gateway.requests}; SOAP direct ${soap.direct.errors} of ${soap.direct.requests}, gateway ${soap.gateway.errors} of ${soap.gateway.requests}; dossier events direct ${dossier.direct.errors} of ${dossier.direct.requests}, gateway ${dossier.gateway.errors} of ${dossier.gateway.requests}; open breaker ${rejectedAlone.errors + rejected.errors} of ${rejectedAlone.requests + rejected.requests}.`,
    ``,
  ];
  return lines.join('\n');
}

try {
  // `npm run bench -- documents`: that scenario alone, printed (bench/RESULTS.md is left as it is).
  const only = process.argv[2];
  if (only !== undefined && only !== 'documents') throw new Error(`unknown scenario "${only}": run all, or "documents"`);
  const text = only === 'documents' ? documentsSection(await documentsBench()).join('\n') : await main();
  if (only === undefined) writeFileSync(process.env.BENCH_OUTPUT ?? 'bench/RESULTS.md', text);
  console.log(text);
} finally {
  // Stop what we started, and make sure it is gone before this process leaves.
  await Promise.all(children.map((c) => c.stop()));
}
process.exit(0);
