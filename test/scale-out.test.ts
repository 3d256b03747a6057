import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readBundleArchive } from '../src/audit/bundle.ts';
import { hashApiKey } from '../src/config/load.ts';
import { UNKNOWN, enterprises, people, procedures, taxpayers } from '../src/sandbox/personas.ts';
import { sample } from '../src/signing/material.ts';
import { openStore } from '../src/store/store.ts';
import { ROOT_PEM } from './helpers/audit-log.ts';
import { run } from './helpers/cli.ts';
import { KEYS } from './helpers/gateway.ts';
import { startLienthong, startSandboxProcess, type Started } from './helpers/processes.ts';
import { eventually, sampleDossier, simulatorDossier } from './helpers/dossiers.ts';

/**
 * Scale-out as deployed: two `lienthong serve` processes on one PostgreSQL and one Redis, in
 * front of one sandbox process. Mixed traffic goes to both; the per-client rate limit must hold
 * across them and the one exchange log must hold every exchange of both, and verify.
 */

const pgUrl = process.env.TEST_DATABASE_URL;
const redisUrl = process.env.TEST_REDIS_URL;
const skipReason = !pgUrl ? 'TEST_DATABASE_URL is not set' : !redisUrl ? 'TEST_REDIS_URL is not set' : undefined;
if (skipReason) console.log(`two-gateway scale-out test skipped: ${skipReason} (CI sets both; see README)`);

const LIMIT = 20;
const limitedKey = `scale-${randomBytes(12).toString('hex')}`;
const limitedClient = { id: `scale-${randomBytes(4).toString('hex')}`, agency: 'H52', roles: ['portal'], keyHash: hashApiKey(limitedKey), rateLimit: { points: LIMIT, durationSeconds: 60 } };

interface Sent {
  kind: string;
  gateway: number;
  status: number;
  exchangeId: string | null;
}

/**
 * The traffic the test drives at every gateway: one entry per kind of call, each sent `count`
 * times per gateway. To cover more of the gateway (dossiers and their outbox, account links...),
 * add an entry here: `send` makes call `i` against `base`, `expect` lists the statuses that count
 * as handled. Every call that reaches a national system must end up in the shared exchange log.
 */
interface TrafficKind {
  name: string;
  count: number;
  expect: number[];
  /** False for calls answered without a national system (e.g. a dossier accepted into the outbox). */
  exchange?: false;
  send(base: string, i: number): Promise<Response>;
}

const accountable = { 'content-type': 'application/json', 'x-user-id': 'officer-17', 'x-purpose': 'XAC_MINH_DANH_TINH' };
const get = (base: string, path: string, key: string, headers: Record<string, string> = {}) => fetch(base + path, { headers: { authorization: `Bearer ${key}`, ...headers } });
const post = (base: string, path: string, key: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(base + path, { method: 'POST', headers: { authorization: `Bearer ${key}`, ...accountable, ...headers }, body: JSON.stringify(body) });
const living = people.filter((p) => !p.dateOfDeath);

export const TRAFFIC: TrafficKind[] = [
  { name: 'enterprise lookup', count: 12, expect: [200], send: (base, i) => get(base, `/v1/enterprises/${enterprises[i % enterprises.length]!.enterpriseCode}`, KEYS.portal) },
  {
    name: 'citizen verify',
    count: 6,
    expect: [200],
    send: (base, i) => {
      const p = living[i % living.length]!;
      return post(base, '/v1/citizens/verify', KEYS.agency, { idNumber: p.idNumber, fullName: p.fullName, dateOfBirth: p.dateOfBirth });
    },
  },
  { name: 'taxpayer lookup', count: 6, expect: [200], send: (base, i) => get(base, `/v1/taxpayers/${taxpayers[i % taxpayers.length]!.taxCode}`, KEYS.portal, accountable) },
  { name: 'procedure', count: 6, expect: [200], send: (base, i) => get(base, `/v1/procedures/${procedures[i % procedures.length]!.code}`, KEYS.portal) },
  { name: 'unknown enterprise', count: 4, expect: [404], send: (base) => get(base, `/v1/enterprises/${UNKNOWN.enterpriseCode}`, KEYS.portal) },
  {
    name: 'account link',
    count: 3,
    expect: [201],
    send: (base, i) => {
      const p = living[100 + i]!;
      return post(base, '/v1/accounts/links', KEYS.portal, { portalAccountId: `scale-${i}`, subject: { type: 'person', idNumber: p.idNumber }, evidence: { fullName: p.fullName, dateOfBirth: p.dateOfBirth } });
    },
  },
  { name: 'dossier handed over', count: 3, expect: [202], exchange: false, send: (base, i) => post(base, '/v1/dossiers', KEYS.agency, sampleDossier(i + 1)) },
];

describe.skipIf(skipReason !== undefined)('two gateway processes on one PostgreSQL and one Redis', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lienthong-scale-'));
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const started: Started[] = [];
  const gateways: string[] = [];
  let dvcqgUrl = '';
  /** Exchanges made by every test so far: the shared log must hold at least this many. */
  let logged = 0;

  beforeAll(async () => {
    const client = new pg.Client({ connectionString: pgUrl });
    await client.connect();
    await client.query(`create schema ${schema}`);
    await client.end();
    // Migrate once before the gateways start, as a deployment's release step would.
    await (await openStore({ url: pgUrl!, searchPath: schema, poolSize: 1 })).close();

    const sandbox = await startSandboxProcess();
    started.push(sandbox);
    dvcqgUrl = sandbox.urls.dvcqg!;

    // The sandbox configuration, one more client with a small budget, a quick integrator.
    const config = parseYaml(readFileSync('config/sandbox.yaml', 'utf8')) as Record<string, unknown>;
    const file = join(dir, 'gateway.yaml');
    writeFileSync(
      file,
      stringifyYaml({
        ...config,
        clients: [...(config.clients as unknown[]), limitedClient],
        audit: { integrateIntervalMs: 100, timestampEverySeconds: 1 },
      }),
    );
    // Everything a replica needs is configuration: the same file, database, Redis and hash key.
    const env = {
      ...sandbox.upstreamEnv,
      DATABASE_URL: pgUrl!,
      DATABASE_SCHEMA: schema,
      REDIS_URL: redisUrl!,
      TSA_URL: sandbox.tsaUrl,
      HASH_KEY_FILE: join(dir, 'hash-key'),
      HOST: '127.0.0.1',
      PORT: '0',
      TLS_ENABLED: 'false',
      VALIDATE_RESPONSES: 'true',
    };
    // The hash key is generated by the first process; the second must find it there.
    const first = await startLienthong(['serve', '--config', file], env, /"url":"(http:[^"]+)"[^\n]*gateway listening/);
    started.push(first);
    const second = await startLienthong(['serve', '--config', file], env, /"url":"(http:[^"]+)"[^\n]*gateway listening/);
    started.push(second);
    gateways.push(first.match[1]!, second.match[1]!);
  }, 120_000);

  afterAll(async () => {
    for (const s of started.reverse()) await s.stop();
    if (!pgUrl) return;
    const client = new pg.Client({ connectionString: pgUrl });
    await client.connect();
    await client.query(`drop schema if exists ${schema} cascade`);
    await client.end();
  });

  it('holds a per-client rate limit across both processes', async () => {
    // Turn about at each; each alone stays under the limit, together they do not.
    const statuses: { gateway: number; status: number }[] = [];
    for (let i = 0; i < LIMIT * 1.5; i++) {
      const res = await get(gateways[i % 2]!, `/v1/enterprises/${enterprises[0]!.enterpriseCode}`, limitedKey);
      await res.arrayBuffer();
      if (res.headers.get('x-exchange-id')) logged++;
      statuses.push({ gateway: i % 2, status: res.status });
    }
    const accepted = statuses.filter((s) => s.status === 200);
    expect(statuses.every((s) => s.status === 200 || s.status === 429)).toBe(true);
    expect(accepted.length).toBeLessThanOrEqual(LIMIT);
    expect(accepted.length).toBe(LIMIT);
    // Each process saw only LIMIT * 0.75 requests, so a refusal at either means the count is shared.
    for (const g of [0, 1]) expect(statuses.some((s) => s.gateway === g && s.status === 429), `gateway ${g} refused none`).toBe(true);
  }, 60_000);

  it('keeps one exchange log for both: every exchange of either process is in it, and it verifies', async () => {
    const sent: Sent[] = [];
    await Promise.all(
      gateways.flatMap((base, gateway) =>
        TRAFFIC.map(async (kind) => {
          for (let i = 0; i < kind.count; i++) {
            const res = await kind.send(base, i + gateway * kind.count);
            await res.arrayBuffer();
            sent.push({ kind: kind.name, gateway, status: res.status, exchangeId: res.headers.get('x-exchange-id') });
            expect(kind.expect, `${kind.name} at gateway ${gateway}`).toContain(res.status);
          }
        }),
      ),
    );
    const exchanges = sent.filter((s) => s.exchangeId !== null);
    logged += exchanges.length;
    const perGateway = TRAFFIC.filter((k) => k.exchange !== false).reduce((n, k) => n + k.count, 0);
    for (const g of [0, 1]) expect(exchanges.filter((s) => s.gateway === g).length).toBe(perGateway);

    // Wait until both processes serve one timestamped checkpoint, then export from the other
    // process. The outbox adds its own delivery entries meanwhile, so a tree of `logged` entries
    // may not hold every exchange yet: then wait for a larger one.
    const auditor = { authorization: `Bearer ${KEYS.auditor}` };
    const bundle = join(dir, 'scale-out.tar.gz');
    let treeSize = 0;
    let missing: Sent[] = exchanges;
    for (let k = 0; k < 150 && missing.length > 0; k++) {
      await new Promise((r) => setTimeout(r, 200));
      const [a, b] = await Promise.all(gateways.map(async (base) => (await (await fetch(`${base}/v1/audit/checkpoint`, { headers: auditor })).json()) as { treeSize?: number; rootHash?: string; timestamp?: string }));
      if (!a?.treeSize || a.treeSize < Math.max(logged, treeSize + 1) || !a.timestamp || b?.treeSize !== a.treeSize || b.rootHash !== a.rootHash) continue;
      treeSize = a.treeSize;
      // The export bundle from one process holds the exchanges made through the other.
      const res = await fetch(`${gateways[1]}/v1/audit/export?to=${treeSize}`, { headers: auditor });
      expect(res.status).toBe(200);
      const body = Buffer.from(await res.arrayBuffer());
      writeFileSync(bundle, body);
      const files = await readBundleArchive(body);
      const entries = [...files.entries()].find(([name]) => name.endsWith('/entries.jsonl'))![1].toString().split('\n').filter(Boolean);
      const ids = new Set(entries.map((line) => (JSON.parse((JSON.parse(line) as { leaf: string }).leaf) as { id: string }).id));
      missing = exchanges.filter((e) => !ids.has(e.exchangeId!));
    }
    expect(treeSize, 'both gateways serve one checkpoint covering every exchange').toBeGreaterThanOrEqual(logged);
    expect(missing.map((e) => `${e.kind} via gateway ${e.gateway}`), 'exchanges missing from the shared log').toEqual([]);

    const offline = await run(['audit', 'verify', bundle, '--root', ROOT_PEM, '--signer', sample('log-signer.pem')]);
    expect(offline.code, offline.stderr).toBe(0);
    expect(offline.stdout).toMatch(/^bundle OK/);
    // And each process serves the same signed, timestamped checkpoint; the timestamp authority's
    // certificate comes from the sample issuing CA, given as an intermediate.
    for (const base of gateways) {
      const live = await run(['audit', 'verify', '--url', base, '--key', KEYS.auditor, '--root', ROOT_PEM, '--intermediates', sample('issuing-ca.pem'), '--signer', sample('log-signer.pem')]);
      expect(live.code, live.stderr).toBe(0);
    }
  }, 120_000);

  it('shares idempotency keys, account links and one outbox between the processes', async () => {
    // The same Idempotency-Key at the other process: the same answer; another body under it: 422.
    const key = `scale-${randomBytes(6).toString('hex')}`;
    const dossier = sampleDossier(500);
    const first = await post(gateways[0]!, '/v1/dossiers', KEYS.agency, dossier, { 'idempotency-key': key });
    expect(first.status).toBe(202);
    const replay = await post(gateways[1]!, '/v1/dossiers', KEYS.agency, dossier, { 'idempotency-key': key });
    expect(replay.status).toBe(202);
    expect(await replay.json()).toEqual(await first.json());
    const reused = await post(gateways[1]!, '/v1/dossiers', KEYS.agency, sampleDossier(501), { 'idempotency-key': key });
    expect(reused.status).toBe(422);
    expect(((await reused.json()) as { code: string }).code).toBe('IDEMPOTENCY_KEY_REUSED');

    // An identity linked through one process cannot be linked to another account through the other.
    const p = living[150]!;
    const link = (base: string, account: string) =>
      post(base, '/v1/accounts/links', KEYS.portal, { portalAccountId: account, subject: { type: 'person', idNumber: p.idNumber }, evidence: { fullName: p.fullName, dateOfBirth: p.dateOfBirth } });
    const linked = await link(gateways[0]!, 'scale-shared-a');
    expect(linked.status).toBe(201);
    if (linked.headers.get('x-exchange-id')) logged++;
    const second = await link(gateways[1]!, 'scale-shared-b');
    expect(second.status).toBe(409);
    if (second.headers.get('x-exchange-id')) logged++;

    // Every dossier handed to either process reaches the national portal once (two workers, one outbox).
    const codes = [...Array.from({ length: 6 }, (_, i) => sampleDossier(i + 1).code as string), dossier.code as string];
    const held = await eventually(async () => {
      const all = await Promise.all(codes.map((code) => simulatorDossier(dvcqgUrl, code)));
      return all.every((d) => d && d.sequences.length === 1) ? all : undefined;
    }, 30_000, 'every dossier delivered');
    for (const d of held) expect(d).toMatchObject({ sequences: [1], duplicates: 0, outOfOrder: 0 });
  }, 60_000);
});
