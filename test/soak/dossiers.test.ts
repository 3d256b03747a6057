import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { afterEach, describe, expect, it } from 'vitest';
import { KEYS, clearFaults, setFault } from '../helpers/gateway.ts';
import { eventually, fixtureAt, fixtureCodeDay, progressEvent, sampleDossier, simulatorReport, statusEvent, type SimulatorReport } from '../helpers/dossiers.ts';
import { freePort, startLienthong, type Started } from '../helpers/processes.ts';

/**
 * Soak test of dossier synchronisation with real processes: the sandbox in its own process, the
 * gateway in its own (two on PostgreSQL), the dvcqg simulator failing 30% of calls and down for
 * a stretch in the middle, gateways killed with SIGKILL twice and restarted. At the end the
 * simulator must hold every change exactly once, in order per dossier.
 *
 * Size: SOAK_DOSSIERS (default 20) dossiers and SOAK_EVENTS (default 200) changes after them;
 * the full size is SOAK_DOSSIERS=100 SOAK_EVENTS=1000. SOAK_OUTAGE_MS: how long the
 * simulator is down (default 3000). SOAK_CHAOS=0: the baseline only (see below); SOAK_TIMELINE=1:
 * changes held per second; SOAK_PG_GATEWAYS: processes on PostgreSQL (default 2);
 * SOAK_SUBMIT_MS: the least time the hand-over is spread over; SOAK_NODE_ARGS: extra node
 * options for the gateway processes (e.g. --cpu-prof).
 */

const DOSSIERS = Number(process.env.SOAK_DOSSIERS ?? 20);
const EVENTS = Number(process.env.SOAK_EVENTS ?? 200);
const OUTAGE_MS = Number(process.env.SOAK_OUTAGE_MS ?? 3000);
const FAILURE_RATE = 0.3;
/**
 * SOAK_CHAOS=0: no kills and no random failures, for a baseline of delivery throughput: the portal
 * refuses every call while the changes are handed over, then comes back, and the whole backlog is
 * timed from that moment to the last change held.
 */
const CHAOS = process.env.SOAK_CHAOS !== '0';
const SUBMITTERS = 8;
/** Gateway processes sharing the PostgreSQL outbox (default 2). */
const PG_GATEWAYS = Number(process.env.SOAK_PG_GATEWAYS ?? 2);
/** Hand-over is spread over at least this long, so that the outage and the kills meet live traffic. */
const SUBMIT_MS = Number(process.env.SOAK_SUBMIT_MS ?? 8000);
const pgUrl = process.env.TEST_DATABASE_URL;
if (!pgUrl) console.log('dossier soak on PostgreSQL (two gateways) skipped: TEST_DATABASE_URL is not set (CI sets it; see README)');

/** The changes of one dossier after its creation: accept, process, steps, a supplement round, finish, return. */
function lifecycle(count: number, day: number): unknown[] {
  const start = Date.parse(fixtureAt(-day, '09:00'));
  const at = (minute: number) => new Date(start + minute * 60_000).toISOString().replace('.000Z', 'Z');
  const statuses: (number | 'p')[] = [];
  if (count >= 1) statuses.push(2);
  if (count >= 2) statuses.push(4);
  const rest = count - statuses.length;
  const tail = rest >= 2 ? [9, 10] : [];
  const middle: (number | 'p')[] = Array.from({ length: rest - tail.length }, () => 'p');
  if (middle.length >= 4) middle.splice(Math.floor(middle.length / 2), 2, 5, 4);
  statuses.push(...middle, ...tail);
  return statuses.map((s, i) => (s === 'p' ? progressEvent(at(i + 1), `Bước xử lý ${i + 1}`) : statusEvent(s, at(i + 1))));
}

interface Plan {
  code: string;
  dossier: Record<string, unknown>;
  events: unknown[];
}

function plan(day: number): Plan[] {
  // Each run its own day before the fixtures' day 0, so runs never share a code; every date in the past.
  const yymmdd = fixtureCodeDay(-day);
  return Array.from({ length: DOSSIERS }, (_, i) => {
    const count = Math.floor(EVENTS / DOSSIERS) + (i < EVENTS % DOSSIERS ? 1 : 0);
    const dossier = sampleDossier(i + 1, { receivedAt: fixtureAt(-day, '08:00'), dueAt: fixtureAt(-day + 5, '17:00') }, yymmdd);
    return { code: String(dossier.code), dossier, events: lifecycle(count, day) };
  });
}

interface Gateway {
  name: string;
  port: number;
  url: string;
  process?: Started;
}

interface Rig {
  dir: string;
  sandbox: Started;
  controlUrl: string;
  dvcqgUrl: string;
  gateways: Gateway[];
  env: Record<string, string>;
  configFile: string;
  start(g: Gateway): Promise<void>;
  close(): Promise<void>;
}

async function startRig(label: string, count: number, store: Record<string, string>): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), `lienthong-soak-${label}-`));
  const sandbox = await startLienthong(['sandbox', '--config', 'config/sandbox.yaml'], { SANDBOX_PORT: '0', SANDBOX_HOST: '127.0.0.1' }, /"control":"(http:[^"]+)"/);
  const controlUrl = sandbox.match[1]!;
  const control = (await (await fetch(controlUrl)).json()) as { systems: { id: string; url: string }[]; tsa: string };
  const upstreamEnv = Object.fromEntries(control.systems.map((s) => [`UPSTREAM_${s.id.toUpperCase().replaceAll('-', '_')}_URL`, s.url]));
  const base = parseYaml(readFileSync('config/sandbox.yaml', 'utf8')) as Record<string, unknown>;
  const configFile = join(dir, 'gateway.yaml');
  writeFileSync(
    configFile,
    stringifyYaml({
      ...base,
      rateLimit: { default: { points: 100_000, durationSeconds: 1 } },
      outbox: { pollIntervalMs: 100, concurrency: 8, batchSize: 50, backoffBaseMs: 50, backoffMaxMs: 1000, leaseSeconds: 10, maxAgeSeconds: 3600 },
      upstreams: { dvcqg: { timeoutMs: 1000, breaker: { resetTimeoutMs: 1000 } } },
    }),
  );
  const env = { ...upstreamEnv, ...store, TSA_URL: control.tsa, HASH_KEY_FILE: join(dir, 'hash-key'), HOST: '127.0.0.1', TLS_ENABLED: 'false', LOG_LEVEL: 'warn' };
  const gateways: Gateway[] = [];
  for (let i = 0; i < count; i++) {
    const port = await freePort();
    gateways.push({ name: `gateway ${String.fromCharCode(65 + i)}`, port, url: `http://127.0.0.1:${port}` });
  }
  const rig: Rig = {
    dir,
    sandbox,
    controlUrl,
    dvcqgUrl: control.systems.find((s) => s.id === 'dvcqg')!.url,
    gateways,
    env,
    configFile,
    async start(g) {
      g.process = await startLienthong(['serve', '--config', configFile], { ...env, PORT: String(g.port) }, { url: `${g.url}/healthz` }, 60_000, process.env.SOAK_NODE_ARGS?.split(' ').filter(Boolean) ?? []);
    },
    async close() {
      for (const g of gateways) await g.process?.stop(5000);
      await sandbox.stop(5000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  // The first process creates the hash key (and migrates); the others find both.
  for (const g of gateways) await rig.start(g);
  return rig;
}

/**
 * Hands every dossier and change to the gateways as a portal would: each write with its own
 * Idempotency-Key, repeated with that key until it is answered 202 (whatever was killed or down
 * in between), round robin over the gateways that are up.
 */
async function submit(rig: Rig, plans: Plan[], onProgress: (done: number) => Promise<void>): Promise<void> {
  let done = 0;
  let slots = 0;
  const total = plans.reduce((n, p) => n + 1 + p.events.length, 0);
  const began = Date.now();
  let turn = 0;
  const send = async (path: string, body: unknown, headers: Record<string, string>) => {
    const key = randomUUID();
    const due = began + (slots++ * SUBMIT_MS) / total;
    if (due > Date.now()) await new Promise((resolve) => setTimeout(resolve, due - Date.now()));
    for (let attempt = 0; ; attempt++) {
      const gateway = rig.gateways[turn++ % rig.gateways.length]!;
      try {
        const res = await fetch(gateway.url + path, {
          method: 'POST',
          headers: { authorization: `Bearer ${KEYS.portal}`, 'content-type': 'application/json', 'idempotency-key': key, ...headers },
          body: JSON.stringify(body),
        });
        const text = await res.text();
        if (res.status === 202) break;
        if (res.status < 500 && res.status !== 429) throw new Error(`${path} answered ${res.status}: ${text}`);
      } catch (err) {
        if (err instanceof Error && /answered 4/.test(err.message)) throw err;
      }
      if (attempt > 600) throw new Error(`${path} was never accepted`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    done += 1;
    await onProgress(done);
  };
  const queue = [...plans];
  await Promise.all(
    Array.from({ length: SUBMITTERS }, async () => {
      for (let p = queue.shift(); p; p = queue.shift()) {
        await send('/v1/dossiers', p.dossier, { 'x-user-id': 'canbo-soak', 'x-purpose': 'TIEP_NHAN_HO_SO' });
        for (const event of p.events) await send(`/v1/dossiers/${p.code}/events`, event, {});
      }
    }),
  );
}

interface Figures {
  held: number;
  duplicates: number;
  throughput: number;
  recoveryMs: number;
  seconds: number;
  submittedSeconds: number;
  chaotic?: boolean;
}

/** Runs the whole soak against a rig; `kills` names the gateway killed at each kill point. */
async function soak(rig: Rig, day: number, kills: [Gateway, Gateway], chaotic = CHAOS): Promise<Figures> {
  const plans = plan(day);
  const total = plans.reduce((n, p) => n + 1 + p.events.length, 0);
  const failing = { system: 'dvcqg', mode: 'error', rate: FAILURE_RATE };
  await fetch(`${rig.dvcqgUrl}/sandbox/dossiers`, { method: 'DELETE' });
  await setFault(rig.controlUrl, chaotic ? failing : { system: 'dvcqg', mode: 'error' });
  const began = Date.now();
  let outageEnd = 0;
  let submittedAt = 0;
  // One step after the other, each once submission has reached its point.
  let chaos = Promise.resolve();
  // The outage comes first, so that no restart delays it; each kill waits for the recovery before it.
  const steps = [
    {
      at: 0.3,
      run: async () => {
        await setFault(rig.controlUrl, { system: 'dvcqg', mode: 'down' });
        await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS));
        await setFault(rig.controlUrl, failing);
        outageEnd = Date.now();
        heldAtOutageEnd = (await simulatorReport(rig.dvcqgUrl)).totals.held;
        await eventually(async () => ((await simulatorReport(rig.dvcqgUrl)).totals.held > heldAtOutageEnd ? true : undefined), 30_000, 'a delivery after the outage').catch(() => undefined);
      },
    },
    { at: 0.55, run: async () => kill(kills[0]) },
    { at: 0.8, run: async () => kill(kills[1]) },
  ];
  const heldAtKills: number[] = [];
  let heldAtOutageEnd = 0;
  // A killed gateway restarts in the background: the next kill (of another gateway) does not wait
  // for it, so that it still meets work in flight; a gateway is killed again only once it is back.
  const restarting = new Map<Gateway, Promise<unknown>>();
  async function kill(g: Gateway) {
    await restarting.get(g);
    heldAtKills.push((await simulatorReport(rig.dvcqgUrl)).totals.held);
    g.process!.child.kill('SIGKILL');
    await new Promise<void>((resolve) => (g.process!.child.exitCode !== null || g.process!.child.signalCode !== null ? resolve() : g.process!.child.once('exit', () => resolve())));
    restarting.set(g, rig.start(g));
  }
  await submit(rig, plans, async (done) => {
    while (chaotic && steps.length > 0 && done >= steps[0]!.at * total) {
      const step = steps.shift()!;
      chaos = chaos.then(step.run);
    }
  });
  submittedAt = Date.now();
  await chaos;
  await Promise.all(restarting.values());
  let releasedAt = 0;
  if (!chaotic) {
    await clearFaults(rig.controlUrl);
    releasedAt = Date.now();
  }
  const report = await eventually(
    async () => {
      const r = await simulatorReport(rig.dvcqgUrl);
      return r.totals.held >= total ? r : undefined;
    },
    120_000 + total * 100,
    `${total} changes held by the simulator`,
  ).catch(async (err: unknown) => {
    const r = await simulatorReport(rig.dvcqgUrl);
    throw new Error(`${(err as Error).message}: holds ${r.totals.held}\n${rig.gateways.map((g) => g.process?.output().slice(-3000)).join('\n')}`);
  });
  await clearFaults(rig.controlUrl);

  if (chaotic) {
    // The outage and both kills met work still to deliver (else they proved nothing).
    expect(heldAtOutageEnd, 'changes held when the portal came back').toBeLessThan(total);
    expect(heldAtKills, 'changes held at each kill').toHaveLength(2);
    for (const held of heldAtKills) expect(held, 'changes held at a kill').toBeLessThan(total);
  }
  // Every change exactly once, in order, per dossier.
  const byCode = new Map(report.dossiers.map((d) => [d.code, d]));
  for (const p of plans) {
    const held = byCode.get(p.code);
    expect(held?.sequences, p.code).toEqual(Array.from({ length: p.events.length + 1 }, (_, i) => i + 1));
    expect(held?.outOfOrder, p.code).toBe(0);
  }
  expect(report.totals).toMatchObject({ dossiers: DOSSIERS, held: total, outOfOrder: 0 });
  // Without kills or timeouts nothing may reach the portal twice: no two workers ever hold one job.
  if (!chaotic) expect(report.totals.duplicates).toBe(0);
  // The gateways agree, once the last answers are recorded: nothing pending, nothing dead.
  const count = async (state: string) => {
    const res = await fetch(`${rig.gateways[0]!.url}/v1/dossiers?deliveryState=${state}`, { headers: { authorization: `Bearer ${KEYS.operator}` } });
    return ((await res.json()) as { total: number }).total;
  };
  await eventually(async () => ((await count('pending')) === 0 ? true : undefined), 30_000, 'no pending delivery in the gateway');
  expect(await count('dead')).toBe(0);
  return { ...figures(report, began, outageEnd, submittedAt, releasedAt), chaotic };
}

function figures(report: SimulatorReport, began: number, outageEnd: number, submittedAt: number, releasedAt: number): Figures {
  const times = report.dossiers.flatMap((d) => d.receivedAt).sort((a, b) => a - b);
  // With chaos: from the first change held to the last, faults and kills included; baseline: the backlog from its release.
  const first = releasedAt || times[0]!;
  const last = times.at(-1)!;
  const afterOutage = times.find((t) => t >= outageEnd);
  if (process.env.SOAK_TIMELINE === '1') {
    // Changes held per second since the start, with the outage's end marked.
    const perSecond = new Map<number, number>();
    for (const t of times) perSecond.set(Math.floor((t - began) / 1000), (perSecond.get(Math.floor((t - began) / 1000)) ?? 0) + 1);
    const last = Math.max(...perSecond.keys());
    console.log(`held per second (portal back at ${Math.floor((outageEnd - began) / 1000)} s, hand-over done at ${Math.floor((submittedAt - began) / 1000)} s): ${Array.from({ length: last + 1 }, (_, i) => perSecond.get(i) ?? 0).join(' ')}`);
  }
  return {
    held: report.totals.held,
    duplicates: report.totals.duplicates,
    throughput: Math.round((times.length / Math.max(0.001, (last - first) / 1000)) * 10) / 10,
    recoveryMs: afterOutage === undefined ? -1 : afterOutage - outageEnd,
    seconds: Math.round((last - began) / 100) / 10,
    submittedSeconds: Math.round((submittedAt - began) / 100) / 10,
  };
}

const print = (label: string, f: Figures) =>
  console.log(
    `dossier soak (${label}${f.chaotic ? '' : ', baseline: backlog released at once, no faults or kills'}): ${DOSSIERS} dossiers, ${EVENTS} changes, all handed over in ${f.submittedSeconds} s, ` +
      `${f.held} held once each in order ${f.seconds} s after the start; delivery throughput ${f.throughput} changes/s to the simulator ` +
      `(${f.chaotic ? 'first to last held, faults and kills included' : 'from the release of the backlog to the last held'}); ` +
      (f.chaotic ? `first delivery ${f.recoveryMs} ms after the simulator came back (${OUTAGE_MS} ms outage); ` : '') +
      `${f.duplicates} repeated deliveries recognised by the simulator`,
  );

const TIMEOUT = 240_000 + (DOSSIERS + EVENTS) * 200;

describe('dossier delivery soak, with real processes', () => {
  let rig: Rig | undefined;
  afterEach(async () => {
    await rig?.close();
    rig = undefined;
  });

  it(
    'on SQLite: one gateway killed twice, the simulator failing and down: every change held once, in order',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'lienthong-soak-db-'));
      try {
        rig = await startRig('sqlite', 1, { SQLITE_PATH: join(dir, 'gateway.db') });
        const g = rig.gateways[0]!;
        print('SQLite, one gateway', await soak(rig, 27, [g, g]));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    TIMEOUT,
  );

  it.skipIf(!pgUrl)(
    'on PostgreSQL: two gateways draining one outbox, each killed once, then racing for one backlog: every change held once, in order',
    async () => {
      const schema = `soak_${randomBytes(6).toString('hex')}`;
      const client = new pg.Client({ connectionString: pgUrl });
      await client.connect();
      await client.query(`create schema ${schema}`);
      try {
        rig = await startRig('pg', PG_GATEWAYS, { DATABASE_URL: pgUrl!, DATABASE_SCHEMA: schema });
        const label = `PostgreSQL, ${PG_GATEWAYS} gateways`;
        const kills: [Gateway, Gateway] = [rig.gateways[0]!, rig.gateways[1 % PG_GATEWAYS]!];
        print(label, await soak(rig, 28, kills));
        // Then the processes race for one backlog released at once: each change must reach the portal once.
        print(label, await soak(rig, 29, kills, false));
      } finally {
        await rig?.close();
        rig = undefined;
        await client.query(`drop schema if exists ${schema} cascade`);
        await client.end();
      }
    },
    TIMEOUT,
  );
});
