import { randomBytes } from 'node:crypto';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type AppDeps } from '../../src/app.ts';
import { leafText } from '../../src/audit/leaf.ts';
import { leafHash, verifyConsistency, verifyInclusion } from '../../src/audit/merkle.ts';
import { readBundleArchive } from '../../src/audit/bundle.ts';
import { tarBuffer } from '../../src/audit/tar.ts';
import { loadConfig } from '../../src/config/load.ts';
import { loadContract } from '../../src/http/contract.ts';
import { listen, type Listening } from '../../src/http/listen.ts';
import { createRateLimiter } from '../../src/http/rate-limit.ts';
import { createLogger } from '../../src/logging.ts';
import { createMetrics } from '../../src/metrics.ts';
import { createKeyedDigest } from '../../src/signing/attestation.ts';
import { signDetached, verifyDetached } from '../../src/signing/cms.ts';
import { sample } from '../../src/signing/material.ts';
import { verifyTimestamp } from '../../src/signing/tsa.ts';
import { createTrustStore, readCertificates } from '../../src/signing/trust-store.ts';
import { LOG_SIGNER_PEM, ROOT_PEM, SUBJECTS, certificates, createTestLog, otherCredentials, roots, type TestLog } from '../helpers/audit-log.ts';
import { run } from '../helpers/cli.ts';
import { KEYS } from '../helpers/gateway.ts';

const ACCOUNTABLE = { 'x-user-id': 'thanhtra-0007', 'x-purpose': 'THANH_TRA_KIEM_TRA' };

/**
 * The audit API over real HTTP (auth, roles, contract validation of requests and responses,
 * problem+json), backed by a log the real integrator wrote; the CLI is spawned as users run it.
 */

const dir = mkdtempSync(join(tmpdir(), 'lienthong-audit-e2e-'));
const config = loadConfig(
  {},
  {
    file: 'config/sandbox.yaml',
    overrides: { 'server.host': '127.0.0.1', 'server.port': 0, 'privacy.hashKeyFile': join(dir, 'hash-key'), 'database.sqlitePath': join(dir, 'unused.db'), 'log.level': 'silent' },
  },
);
const trust = createTrustStore({ roots, intermediates: readCertificates(sample('issuing-ca.pem')) });

interface Gateway {
  log: TestLog;
  server: Listening;
  get(path: string, key?: string | null): Promise<Response>;
}

async function startAuditGateway(log: TestLog): Promise<Gateway> {
  const deps: AppDeps = {
    config,
    log: createLogger({ level: 'silent' }),
    metrics: createMetrics({ defaultMetrics: false }),
    contract: loadContract(),
    limiter: createRateLimiter(),
    // The auditors' own searches and exports are leaves too (x-audit-record): kept apart, in
    // memory, so the log under test holds only the fixture's entries.
    exchangeLog: { digest: createKeyedDigest(randomBytes(32), 'exchange-bodies'), enqueue: async () => {} },
    hashIdentifier: log.hashIdentifier,
    services: {} as AppDeps['services'],
    jwks: () => ({ keys: [] }),
    upstreams: () => [],
    readiness: [],
    isShuttingDown: () => false,
    audit: { store: log.audit, certificates },
  };
  const server = await listen(createApp(deps), '127.0.0.1', 0);
  return {
    log,
    server,
    get: (path, key = KEYS.auditor) => fetch(server.url + path, { headers: key ? { authorization: `Bearer ${key}` } : {} }),
  };
}

async function problem(res: Response): Promise<{ code: string; status: number; detail?: string; errors?: { field: string; message: string }[] }> {
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  return (await res.json()) as never;
}

async function fieldError(res: Response): Promise<string | undefined> {
  expect(res.status).toBe(400);
  const body = await problem(res);
  expect(body.code).toBe('VALIDATION_FAILED');
  return body.errors?.[0]?.field;
}

const b64 = (value: unknown) => Buffer.from(String(value), 'base64');

let gw: Gateway;
const closers: (() => Promise<void>)[] = [];

beforeAll(async () => {
  gw = await startAuditGateway(await createTestLog());
  closers.push(() => gw.server.close(), () => gw.log.close());
});
afterAll(async () => {
  for (const close of closers.reverse()) await close();
});

describe('the audit API on an empty log', () => {
  it('answers 404 for the checkpoint, proofs and export, and an empty page', async () => {
    for (const path of ['/v1/audit/checkpoint', '/v1/audit/entries/0/proof', '/v1/audit/export']) {
      const res = await gw.get(path);
      expect(res.status, path).toBe(404);
      expect((await problem(res)).detail).toMatch(/no signed checkpoint yet/);
    }
    const page = await gw.get('/v1/audit/entries');
    expect(page.status).toBe(200);
    expect(await page.json()).toEqual({ items: [], nextFrom: null });
    expect(await fieldError(await gw.get('/v1/audit/consistency?first=1&second=1'))).toBe('query.second');
  });
});

describe('the audit API', () => {
  // Checkpoints at 3, 20, 41, 64, 100, 123 (the last two timestamped). The first 41 leaves are of
  // format 1 (plain SHA-256 body digests, written before keyed digests), the other 82 of format 2.
  beforeAll(async () => {
    for (const [n, timestamp, format] of [
      [3, false, 1],
      [17, false, 1],
      [21, true, 1],
      [23, false, 2],
      [36, true, 2],
      [23, true, 2],
    ] as const) {
      await gw.log.append(n, { timestamp, format });
    }
  });

  it('serves the latest checkpoint, signed and timestamped, as the contract says', async () => {
    const res = await gw.get('/v1/audit/checkpoint');
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ origin: 'test.lienthong.sonla.gov.vn/exchange-log', treeSize: 123 });
    expect(body.checkpoint).toBe(`${String(body.origin)}\n123\n${String(body.rootHash)}\n`);
    expect(body.signedAt).toMatch(/\+07:00$/);
    const text = Buffer.from(String(body.checkpoint));
    const { signer } = await verifyDetached(b64(body.signature), text, trust);
    expect(signer.fingerprint256).toBe(certificates.signer[0]!.fingerprint256);
    const stamp = await verifyTimestamp(b64(body.timestamp), text, trust);
    expect(stamp.genTime.getTime()).toBeLessThanOrEqual(Date.now());
  });

  it("passes the README's openssl commands for the served checkpoint, signature and timestamp token", async () => {
    const readme = readFileSync('README.md', 'utf8');
    const block = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!).find((b) => b.includes('-token_in'));
    expect(block).toBeDefined();
    const work = mkdtempSync(join(dir, 'readme-checkpoint-'));
    symlinkSync(join(process.cwd(), 'certs-sample'), join(work, 'certs-sample'));
    // GW is set once at the top of the README's examples: here, the gateway under test.
    const script = `set -e\nGW=${gw.server.url}\n${block!}`;
    // Not spawnSync: the gateway answering curl lives in this process.
    const run = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn('bash', ['-c', script], { cwd: work });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (status) => resolve({ status, stdout, stderr }));
    });
    expect(run.status, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toContain(`sha256 Fingerprint=${certificates.signer[0]!.fingerprint256}`);
    expect(run.stdout).toMatch(/Verification: OK\n$/);
  });

  it('lists entries page by page, with filters, the subject matched by its keyed hash', async () => {
    const indexes: number[] = [];
    let from: number | null = 0;
    while (from !== null) {
      const res = await gw.get(`/v1/audit/entries?from=${from}&limit=50`);
      expect(res.status).toBe(200);
      const page = (await res.json()) as { items: { index: number; leafHash: string; id: string }[]; nextFrom: number | null };
      for (const item of page.items) {
        expect(item.id).toBe(gw.log.leaves[item.index]!.id);
        expect(b64(item.leafHash).equals(leafHash(Buffer.from(leafText(gw.log.leaves[item.index]!))))).toBe(true);
      }
      indexes.push(...page.items.map((i) => i.index));
      from = page.nextFrom;
    }
    expect(indexes).toEqual(Array.from({ length: 123 }, (_, i) => i));

    const filtered = async (query: string) => {
      const res = await fetch(`${gw.server.url}/v1/audit/entries?limit=1000&${query}`, { headers: { authorization: `Bearer ${KEYS.auditor}`, ...ACCOUNTABLE } });
      const body = (await res.json()) as { items: { index: number }[] };
      expect(res.status, JSON.stringify(body)).toBe(200);
      return body.items.map((i) => i.index);
    };
    const expected = (keep: (i: number) => boolean) => gw.log.leaves.map((_, i) => i).filter(keep);
    const subjectHash = gw.log.hashIdentifier(SUBJECTS[0]);
    expect(await filtered(`subject=${SUBJECTS[0]}`)).toEqual(expected((i) => gw.log.leaves[i]!.subjectHash === subjectHash));
    // A search by a person's identifier is itself a use of personal data: who and why are required.
    const unaccountable = await gw.get(`/v1/audit/entries?subject=${SUBJECTS[0]}`);
    expect(unaccountable.status).toBe(400);
    expect(((await unaccountable.json()) as { code: string }).code).toBe('ACCOUNTABILITY_REQUIRED');
    expect(await filtered('client=sandbox-agency&outcome=success')).toEqual(expected((i) => gw.log.leaves[i]!.client === 'sandbox-agency' && gw.log.leaves[i]!.outcome === 'success'));
    expect(await filtered('upstream=tax&operation=getTaxpayer')).toEqual(expected((i) => gw.log.leaves[i]!.upstream === 'tax'));
    const window = new URLSearchParams({ since: '2026-11-27T08:00:10+07:00', until: '2026-11-27T08:00:20+07:00' });
    expect(await filtered(window.toString())).toEqual(expected((i) => i >= 10 && i < 20));
  });

  it('serves one entry with the exact leaf that was hashed', async () => {
    const res = await gw.get('/v1/audit/entries/42');
    expect(res.status).toBe(200);
    const entry = (await res.json()) as { leaf: string; leafHash: string; index: number; upstreamCalls: unknown[] };
    expect(entry.index).toBe(42);
    expect(entry.leaf).toBe(leafText(gw.log.leaves[42]!));
    expect(b64(entry.leafHash).equals(leafHash(Buffer.from(entry.leaf)))).toBe(true);
    expect(entry.upstreamCalls).toEqual(gw.log.leaves[42]!.upstreamCalls);
    for (const index of ['123', '99999999999']) {
      const missing = await gw.get(`/v1/audit/entries/${index}`);
      expect(missing.status).toBe(404);
      expect((await problem(missing)).code).toBe('AUDIT_ENTRY_NOT_FOUND');
    }
  });

  it('proves random entries against the latest and older checkpoints', async () => {
    const checkpoint = (await (await gw.get('/v1/audit/checkpoint')).json()) as { rootHash: string };
    for (const [index, treeSize] of [
      [0, undefined],
      [122, undefined],
      [57, undefined],
      [13, 20],
      [40, 41],
      [63, 64],
      [99, 100],
    ] as const) {
      const res = await gw.get(`/v1/audit/entries/${index}/proof${treeSize ? `?treeSize=${treeSize}` : ''}`);
      expect(res.status).toBe(200);
      const proof = (await res.json()) as { index: number; treeSize: number; leafHash: string; auditPath: string[]; rootHash: string };
      expect(proof.treeSize).toBe(treeSize ?? 123);
      if (!treeSize) expect(proof.rootHash).toBe(checkpoint.rootHash);
      expect(verifyInclusion(b64(proof.leafHash), index, proof.treeSize, proof.auditPath.map(b64), b64(proof.rootHash))).toBe(true);
    }
  });

  it('proves that the log was only appended to', async () => {
    const roots = new Map<number, Buffer>();
    for (const row of await gw.log.store.db.selectFrom('checkpoints').select(['tree_size', 'root_hash']).execute()) roots.set(row.tree_size, Buffer.from(row.root_hash, 'hex'));
    for (const [first, second] of [
      [3, 20],
      [20, 123],
      [41, 64],
      [64, 64],
      [1, 123],
    ]) {
      const res = await gw.get(`/v1/audit/consistency?first=${first}&second=${second}`);
      expect(res.status).toBe(200);
      const proof = (await res.json()) as { proof: string[]; firstRoot: string; secondRoot: string };
      if (roots.has(first!)) expect(b64(proof.firstRoot).equals(roots.get(first!)!)).toBe(true);
      expect(b64(proof.secondRoot).equals(roots.get(second!)!)).toBe(true);
      expect(verifyConsistency(first!, second!, b64(proof.firstRoot), b64(proof.secondRoot), proof.proof.map(b64))).toBe(true);
    }
  });

  it('answers bad inputs with 400 problem+json naming the field', async () => {
    expect(await fieldError(await gw.get('/v1/audit/entries/5/proof?treeSize=124'))).toBe('query.treeSize');
    expect(await fieldError(await gw.get('/v1/audit/entries/20/proof?treeSize=20'))).toBe('path.index');
    expect(await fieldError(await gw.get('/v1/audit/entries/123/proof'))).toBe('path.index');
    expect(await fieldError(await gw.get('/v1/audit/entries/900000000000000000000/proof'))).toBe('path.index');
    expect(await fieldError(await gw.get('/v1/audit/entries/5/proof?treeSize=0'))).toBe('query.treeSize');
    expect(await fieldError(await gw.get('/v1/audit/entries/-1/proof'))).toBe('path.index');
    expect(await fieldError(await gw.get('/v1/audit/consistency?first=64&second=41'))).toBe('query.first');
    expect(await fieldError(await gw.get('/v1/audit/consistency?first=41&second=124'))).toBe('query.second');
    expect(await fieldError(await gw.get('/v1/audit/consistency?second=41'))).toBe('query.first');
    expect(await fieldError(await gw.get('/v1/audit/entries?from=abc'))).toBe('query.from');
    expect(await fieldError(await gw.get('/v1/audit/entries?from=-3'))).toBe('query.from');
    expect(await fieldError(await gw.get('/v1/audit/entries?limit=0'))).toBe('query.limit');
    expect(await fieldError(await gw.get('/v1/audit/entries?outcome=maybe'))).toBe('query.outcome');
    expect(await fieldError(await fetch(`${gw.server.url}/v1/audit/entries?subject=%3Cscript%3E`, { headers: { authorization: `Bearer ${KEYS.auditor}`, ...ACCOUNTABLE } }))).toBe('query.subject');
    expect(await fieldError(await gw.get('/v1/audit/entries?since=yesterday'))).toBe('query.since');
    expect(await fieldError(await gw.get('/v1/audit/export?to=124'))).toBe('query.to');
    expect(await fieldError(await gw.get('/v1/audit/export?from=50&to=50'))).toBe('query.from');
    const far = await gw.get('/v1/audit/entries?from=99999999999999');
    expect(await far.json()).toEqual({ items: [], nextFrom: null });
  });

  it('is for auditors only', async () => {
    const paths = ['/v1/audit/checkpoint', '/v1/audit/entries', '/v1/audit/entries/1', '/v1/audit/entries/1/proof', '/v1/audit/consistency?first=1&second=2', '/v1/audit/export'];
    for (const path of paths) {
      for (const key of [KEYS.portal, KEYS.agency, KEYS.operator]) {
        const res = await gw.get(path, key);
        expect(res.status, `${path} with ${key}`).toBe(403);
        expect((await problem(res)).code).toBe('FORBIDDEN');
      }
      expect((await gw.get(path, null)).status).toBe(401);
    }
  });
});

describe('the export bundle and `lienthong audit verify`', () => {
  let bundle: string;
  let files: Map<string, Buffer>;
  const prefix = 'lienthong-audit-0-123/';

  beforeAll(async () => {
    const res = await gw.get('/v1/audit/export');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/gzip');
    expect(res.headers.get('content-disposition')).toBe('attachment; filename="lienthong-audit-0-123.tar.gz"');
    const body = Buffer.from(await res.arrayBuffer());
    bundle = join(dir, 'lienthong-audit-0-123.tar.gz');
    writeFileSync(bundle, body);
    files = await readBundleArchive(body);
  });

  /** Writes a changed copy of the bundle and returns its path. */
  async function tampered(name: string, change: (files: Map<string, Buffer>) => void): Promise<string> {
    const copy = new Map(files);
    change(copy);
    const path = join(dir, `${name}.tar.gz`);
    writeFileSync(path, gzipSync(await tarBuffer(copy)));
    return path;
  }
  const entryLines = (f: Map<string, Buffer>) => f.get(`${prefix}entries.jsonl`)!.toString().split('\n').slice(0, -1);
  const setEntries = (f: Map<string, Buffer>, lines: string[]) => f.set(`${prefix}entries.jsonl`, Buffer.from(lines.map((l) => l + '\n').join('')));

  it('verifies an untouched bundle: exit 0 and a one-line summary', async () => {
    const result = await run(['audit', 'verify', bundle, '--root', ROOT_PEM, '--signer', LOG_SIGNER_PEM]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.trim().split('\n')).toHaveLength(1);
    expect(result.stdout).toMatch(/^bundle OK: entries 0\.\.122 \(123\) of test\.lienthong\.sonla\.gov\.vn\/exchange-log in checkpoint 123 .*recomputed from the entries.*6 checkpoint\(s\).*3 timestamped/);
    // Leaves of both formats in one log: every proof and signature still holds.
    expect(result.stdout).toMatch(/leaf format 1: 41, format 2 \(keyed body digests\): 82, format 3 \(keyed body digests, every subject\): 0\n$/);
  });

  it('verifies an unpacked folder, and pins the signer with --signer or --signer-fingerprint', async () => {
    const out = mkdtempSync(join(dir, 'unpacked-'));
    execFileSync('tar', ['-xzf', bundle, '-C', out]);
    const folder = await run(['audit', 'verify', join(out, 'lienthong-audit-0-123'), '--root', ROOT_PEM, '--signer-fingerprint', certificates.signer[0]!.fingerprint256]);
    expect(folder.code, folder.stderr).toBe(0);
    const other = await run(['audit', 'verify', bundle, '--root', ROOT_PEM, '--signer', sample('tax.pem')]);
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/checkpoint 3: signed by .*exchange-log signer.*not by the pinned log signer .*tax\.sandbox/);
  });

  it('verifies a middle range exported over HTTP', async () => {
    const res = await gw.get('/v1/audit/export?from=30&to=70');
    const path = join(dir, 'middle.tar.gz');
    writeFileSync(path, Buffer.from(await res.arrayBuffer()));
    const result = await run(['audit', 'verify', path, '--root', ROOT_PEM, '--signer', LOG_SIGNER_PEM]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/entries 30\.\.69 \(40\).*in checkpoint 123.*from the inclusion proofs/);
  });

  const cases: [string, (f: Map<string, Buffer>) => void | Promise<void>, RegExp][] = [
    [
      'changed-byte',
      (f) => {
        const lines = entryLines(f);
        lines[10] = lines[10]!.replace('latencyMs\\":', 'latencyMs\\":1');
        setEntries(f, lines);
      },
      /entry 10: the leaf hash does not match/,
    ],
    [
      'dropped',
      (f) => {
        const lines = entryLines(f);
        lines.splice(40, 1);
        setEntries(f, lines);
      },
      /entry 40: missing/,
    ],
    [
      'swapped',
      (f) => {
        const lines = entryLines(f);
        [lines[5], lines[6]] = [lines[6]!, lines[5]!];
        setEntries(f, lines);
      },
      /entry 5: /,
    ],
    ['truncated', (f) => setEntries(f, entryLines(f).slice(0, 120)), /entry 120: missing/],
    [
      'foreign-signature',
      async (f) => {
        f.set(`${prefix}checkpoints/64.p7s`, await signDetached(f.get(`${prefix}checkpoints/64.txt`)!, otherCredentials));
      },
      /checkpoint 64: signed by .*tax\.sandbox.*not by the pinned log signer/,
    ],
    [
      'timestamp-byte',
      (f) => {
        const tsr = Buffer.from(f.get(`${prefix}checkpoints/100.tsr`)!);
        const at = Math.floor(tsr.length / 2);
        tsr[at] = tsr[at]! ^ 0x04;
        f.set(`${prefix}checkpoints/100.tsr`, tsr);
      },
      /checkpoint 100: timestamp \(100\.tsr\) does not verify/,
    ],
  ];

  for (const [name, change, message] of cases) {
    it(`detects a tampered bundle: ${name}`, async () => {
      const copy = new Map(files);
      await change(copy);
      const path = join(dir, `${name}.tar.gz`);
      writeFileSync(path, gzipSync(await tarBuffer(copy)));
      const result = await run(['audit', 'verify', path, '--root', ROOT_PEM, '--signer', LOG_SIGNER_PEM]);
      expect(result.code, result.stdout).toBe(1);
      expect(result.stderr).toMatch(message);
      expect(result.stdout).toBe('');
    });
  }

  it('refuses a bundle checked against another root, and bad usage', async () => {
    const foreign = await run(['audit', 'verify', bundle, '--root', sample('tax.pem'), '--signer', LOG_SIGNER_PEM]);
    expect(foreign.code).toBe(1);
    expect(foreign.stderr).toMatch(/checkpoint 3: .*does not verify/);
    expect((await run(['audit', 'verify', bundle])).code).toBe(2);
    expect((await run(['audit', 'verify', bundle, '--root', ROOT_PEM])).code).toBe(2);
    expect((await run(['audit', 'verify', join(dir, 'nope.tar.gz'), '--root', ROOT_PEM, '--signer', LOG_SIGNER_PEM])).code).toBe(1);
    const garbage = await tampered('garbage', () => undefined);
    writeFileSync(garbage, readFileSync(garbage).subarray(0, 200));
    const cut = await run(['audit', 'verify', garbage, '--root', ROOT_PEM, '--signer', LOG_SIGNER_PEM]);
    expect(cut.code).toBe(1);
    expect(cut.stderr).toMatch(/bundle: /);
  });
});

describe('`lienthong audit verify --url`: the served log against a saved checkpoint', () => {
  const saved = join(dir, 'saved-checkpoint.txt');

  it('saves the checkpoint, then proves the grown log extends it', async () => {
    const save = await run(['audit', 'verify', '--url', gw.server.url, '--key', KEYS.auditor, '--root', ROOT_PEM, '--signer', LOG_SIGNER_PEM, '--save', saved]);
    expect(save.code, save.stderr).toBe(0);
    expect(save.stdout).toMatch(/^checkpoint OK: .* tree size 123 .*signed by Liên thông exchange-log signer \(sandbox\).*timestamped/);
    expect(readFileSync(saved, 'utf8')).toMatch(/\n123\n/);
    expect(existsSync(`${saved}.p7s`)).toBe(true);

    await gw.log.append(30, { timestamp: true });
    const check = await run(['audit', 'verify', '--url', gw.server.url, '--key', KEYS.auditor, '--root', ROOT_PEM, '--signer', LOG_SIGNER_PEM, '--saved', saved]);
    expect(check.code, check.stderr).toBe(0);
    expect(check.stdout).toMatch(/tree size 153 .*consistent with the saved checkpoint of tree size 123/);
  });

  it('requires the pinned log signer and a timestamp on the served checkpoint', async () => {
    const fresh = await startAuditGateway(await createTestLog());
    closers.push(() => fresh.server.close(), () => fresh.log.close());
    await fresh.log.append(4);
    const args = ['audit', 'verify', '--url', fresh.server.url, '--key', KEYS.auditor, '--root', ROOT_PEM];
    const unstamped = await run([...args, '--signer', LOG_SIGNER_PEM]);
    expect(unstamped.code).toBe(1);
    expect(unstamped.stderr).toMatch(/timestamped=true answered 404: the exchange log has no timestamped checkpoint yet/);
    const allowed = await run([...args, '--signer', LOG_SIGNER_PEM, '--allow-untimestamped']);
    expect(allowed.code, allowed.stderr).toBe(0);
    expect(allowed.stdout).toMatch(/tree size 4 .*NOT timestamped \(accepted by --allow-untimestamped\)/);
    const wrongSigner = await run([...args, '--signer', sample('gateway.pem'), '--allow-untimestamped']);
    expect(wrongSigner.code).toBe(1);
    expect(wrongSigner.stderr).toMatch(/checkpoint 4: signed by ".*exchange-log signer.*not by the pinned log signer ".*lienthong-gateway/);
    expect((await run(args)).code).toBe(2);
    // Once one is timestamped, the newest timestamped checkpoint is checked, not a newer one still waiting.
    await fresh.log.append(3, { timestamp: true });
    await fresh.log.append(5);
    const stamped = await run([...args, '--signer', LOG_SIGNER_PEM]);
    expect(stamped.code, stamped.stderr).toBe(0);
    expect(stamped.stdout).toMatch(/^checkpoint OK: .* tree size 7 .*timestamped/);
  });

  it('detects a rewritten or shrunk history', async () => {
    // Another log under the same certificate: same size range, different first entries.
    const rewritten = await startAuditGateway(await createTestLog());
    closers.push(() => rewritten.server.close(), () => rewritten.log.close());
    await rewritten.log.append(130, { variant: 'forged-', timestamp: true });
    const check = await run(['audit', 'verify', '--url', rewritten.server.url, '--key', KEYS.auditor, '--root', ROOT_PEM, '--signer', LOG_SIGNER_PEM, '--saved', saved]);
    expect(check.code).toBe(1);
    expect(check.stderr).toMatch(/consistency proof from the saved checkpoint \(123\) to the served one \(130\) does not verify: the log's history was rewritten/);

    const shrunk = await startAuditGateway(await createTestLog());
    closers.push(() => shrunk.server.close(), () => shrunk.log.close());
    await shrunk.log.append(100, { timestamp: true });
    const smaller = await run(['audit', 'verify', '--url', shrunk.server.url, '--key', KEYS.auditor, '--root', ROOT_PEM, '--signer', LOG_SIGNER_PEM, '--saved', saved]);
    expect(smaller.code).toBe(1);
    expect(smaller.stderr).toMatch(/the log shrank/);

    const refused = await run(['audit', 'verify', '--url', gw.server.url, '--key', KEYS.portal, '--root', ROOT_PEM, '--signer', LOG_SIGNER_PEM]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/answered 403/);
  });
});
