import { X509Certificate, createPrivateKey, generateKeyPairSync, randomUUID } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { KEYS, startTestGateway, type TestGateway } from '../../test/helpers/gateway.ts';
import { listen, type Listening } from '../http/listen.ts';
import { createLogger } from '../logging.ts';
import { enterprises } from '../sandbox/personas.ts';
import { sample } from '../signing/material.ts';
import type { DatabaseOptions } from '../store/database.ts';
import { openStore, type Store } from '../store/store.ts';
import { storeBackends } from '../../test/helpers/backends.ts';
import { checkpointText, createIntegrator, type Integrator } from './integrator.ts';
import { cosign, logNoteSigner, logNoteVerifier, parseWitnessKey, splitNote, verifyCosignature, witnessVkey, type WitnessKey } from './note.ts';
import { createAuditStore, type AuditStore } from './store.ts';
import { README_PLACEHOLDERS } from './bundle.ts';
import { startWitness, witnessStateFile, type Witness } from './witness.ts';
import { createWitnessing, loadWitnessKey, type WitnessOutcome, type WitnessTarget } from './witnessing.ts';

const ORIGIN = 'test.lienthong.sonla.gov.vn/exchange-log';
/** audit.origin of config/sandbox.yaml (the default). */
const ORIGIN_SANDBOX = 'lienthong.sonla.gov.vn/exchange-log';
const silent = createLogger({ level: 'silent' });
const logKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const witnessKey = generateKeyPairSync('ed25519');
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A gateway-side exchange log: a fresh SQLite store written by the real integrator, its checkpoints signed as notes. */
class GatewayLog {
  store!: Store;
  audit!: AuditStore;
  integrator!: Integrator;
  private count = 0;
  constructor(private readonly variant = 'a') {}
  async open(database: DatabaseOptions = { sqlitePath: ':memory:' }): Promise<this> {
    this.store = await openStore(database);
    this.audit = createAuditStore({ db: this.store.db });
    const signer = logNoteSigner(ORIGIN, logKey.privateKey);
    this.integrator = createIntegrator(
      { db: this.store.db, dialect: this.store.dialect, log: silent, signCheckpoint: async () => Buffer.from('cms'), signNote: (body) => signer.sign(body) },
      { origin: ORIGIN, intervalMs: 60_000, batchSize: 100_000, timestampEveryMs: 0 },
    );
    return this;
  }
  async append(n: number): Promise<number> {
    for (let i = 0; i < n; i++, this.count++) {
      const leaf = { time: new Date().toISOString(), client: 'c', operation: 'op', upstream: null, outcome: 'success', subjectHash: null, n: this.count, variant: this.variant };
      await this.store.db.insertInto('exchange_queue').values({ exchange_id: randomUUID(), leaf: JSON.stringify(leaf), enqueued_at: new Date().toISOString() }).execute();
    }
    await this.integrator.runOnce();
    return this.count;
  }
  async close(): Promise<void> {
    await this.store.close();
  }
}

describe('the gateway submits checkpoints to a witness', () => {
  let stateDir: string;
  let witness: Witness;
  let server: Listening;
  let key: WitnessKey;
  let target: WitnessTarget;
  const logs: GatewayLog[] = [];
  let outcomes: [string, WitnessOutcome][];
  let lags: Map<string, number>;

  beforeEach(async () => {
    stateDir = mkdtempSync(join(tmpdir(), 'witnessing-'));
    dirs.push(stateDir);
    ({ witness, server } = await startWitness({ name: 'thanhtra.test/witness', privateKey: witnessKey.privateKey, logs: [{ origin: ORIGIN, key: logKey.publicKey }], stateDir, host: '127.0.0.1', port: 0 }));
    key = parseWitnessKey(witness.vkey);
    target = { url: server.url, key, timeoutMs: 2000 };
    outcomes = [];
    lags = new Map();
  });
  afterEach(async () => {
    await server.close();
    for (const log of logs.splice(0)) await log.close();
  });

  const openLog = async (variant?: string, database?: DatabaseOptions) => {
    const log = await new GatewayLog(variant).open(database);
    logs.push(log);
    return log;
  };
  const witnessingOf = (log: GatewayLog, targets: WitnessTarget[] = [target]) =>
    createWitnessing(
      { db: log.store.db, store: log.audit, log: silent, onOutcome: (w, o) => outcomes.push([w, o]), onLag: (w, n) => lags.set(w, n) },
      targets,
    );

  const { backends, cleanup } = storeBackends('witnessing');
  afterAll(cleanup);
  it.each(backends)('stores the verified cosignature with the checkpoint, then follows the log as it grows ($name)', async (backend) => {
    if (backend.skip) return;
    const log = await openLog(undefined, await backend.options());
    const witnessing = witnessingOf(log);
    await log.append(5);
    await witnessing.runOnce();
    expect(outcomes).toEqual([['thanhtra.test/witness', 'cosigned']]);
    expect(lags.get('thanhtra.test/witness')).toBe(0);

    const checkpoint = (await log.audit.latestCheckpoint())!;
    const { text, signatures } = splitNote(checkpoint.note!);
    expect(text).toBe(checkpoint.body);
    expect(logNoteVerifier(ORIGIN, logKey.publicKey).verify(text, signatures[0]!)).toBe(true);
    const cosigned = verifyCosignature(text, signatures[1]!, key);
    expect(cosigned?.time).toBeGreaterThan(Date.now() / 1000 - 60);
    expect(await log.audit.cosignatures(5)).toEqual([{ treeSize: 5, witness: 'thanhtra.test/witness', time: cosigned!.time, line: signatures[1]!.line }]);
    expect(await log.audit.latestCosignedSizes(100)).toEqual([5]);
    expect(await log.audit.latestCosignedSizes(4)).toEqual([]);

    // Growth goes with a consistency proof from 5.
    await log.append(12);
    await witnessing.runOnce();
    expect(outcomes.at(-1)).toEqual(['thanhtra.test/witness', 'cosigned']);
    expect((await witness.latest(ORIGIN))?.treeSize).toBe(17);
    expect(await log.audit.latestCosignedSizes(100)).toEqual([17]);
    expect(await log.audit.latestCosignedSizes(16)).toEqual([5]);
    // Nothing new: nothing is sent.
    await witnessing.runOnce();
    expect(outcomes).toHaveLength(2);
  });

  it('with timestamps taken, submits only timestamped checkpoints: those an export can end at', async () => {
    const log = await openLog();
    const witnessing = createWitnessing({ db: log.store.db, store: log.audit, log: silent, onOutcome: (w, o) => outcomes.push([w, o]) }, [target], { timestampedOnly: true });
    const stamp = (size: number) => log.store.db.updateTable('checkpoints').set({ timestamp_reply: Buffer.from('tsr').toString('base64'), timestamped_at: new Date().toISOString() }).where('tree_size', '=', size).execute();
    await log.append(5);
    await witnessing.runOnce();
    expect(outcomes).toEqual([]);
    expect(await witness.latest(ORIGIN)).toBeUndefined();
    await stamp(5);
    await witnessing.runOnce();
    expect(outcomes).toEqual([['thanhtra.test/witness', 'cosigned']]);
    expect((await witness.latest(ORIGIN))?.treeSize).toBe(5);
    // A newer checkpoint not yet timestamped waits; once stamped it is cosigned with a proof from 5.
    await log.append(3);
    await witnessing.runOnce();
    expect((await witness.latest(ORIGIN))?.treeSize).toBe(5);
    await stamp(8);
    await witnessing.runOnce();
    expect((await witness.latest(ORIGIN))?.treeSize).toBe(8);
    expect(await log.audit.latestCosignedSizes(100)).toEqual([8]);
  });

  it('catches up from the size a witness answers with 409 (after the gateway lost track)', async () => {
    const log = await openLog();
    await log.append(7);
    await witnessingOf(log).runOnce();
    await log.append(4);
    await log.store.db.deleteFrom('checkpoint_cosignatures').execute();
    // A new process that knows nothing of what the witness cosigned submits "old 0".
    await witnessingOf(log).runOnce();
    expect(outcomes.map((o) => o[1])).toEqual(['cosigned', 'cosigned']);
    expect((await witness.latest(ORIGIN))?.treeSize).toBe(11);
    expect((await log.audit.cosignatures(11)).map((c) => c.witness)).toEqual(['thanhtra.test/witness']);
  });

  it('is refused by the witness when the log shows another history or cuts it back', async () => {
    const honest = await openLog('honest');
    await honest.append(10);
    await witnessingOf(honest).runOnce();

    // Another history under the same key and origin, at the same size and beyond.
    const forked = await openLog('forked');
    await forked.append(10);
    await witnessingOf(forked).runOnce();
    expect(outcomes.at(-1)).toEqual(['thanhtra.test/witness', 'conflict']);
    await forked.append(5);
    await witnessingOf(forked).runOnce();
    expect(outcomes.at(-1)?.[1]).not.toBe('cosigned');
    expect(await forked.audit.cosignatures(15)).toEqual([]);

    // A history cut back to fewer entries than the witness saw.
    const cut = await openLog('honest');
    await cut.append(6);
    await witnessingOf(cut).runOnce();
    expect(outcomes.at(-1)).toEqual(['thanhtra.test/witness', 'conflict']);
    expect(await cut.audit.cosignatures(6)).toEqual([]);
    // The witness still holds the honest checkpoint.
    expect((await witness.latest(ORIGIN))?.treeSize).toBe(10);
  });

  it('ignores cosignatures by keys it was not told about', async () => {
    const log = await openLog();
    await log.append(3);
    // The witness's name with another key: its answer carries no cosignature by the key configured.
    const stranger = parseWitnessKey(witnessVkey(key.name, generateKeyPairSync('ed25519').publicKey));
    await witnessingOf(log, [{ ...target, key: stranger }]).runOnce();
    expect(outcomes).toEqual([['thanhtra.test/witness', 'invalid']]);
    expect(await log.audit.cosignatures(3)).toEqual([]);
  });

  it('never holds up the integrator: a witness that does not answer times out', async () => {
    const hanging = await listen(() => undefined, '127.0.0.1', 0);
    try {
      const log = await openLog();
      const witnessing = witnessingOf(log, [{ url: hanging.url, key, timeoutMs: 300 }]);
      await log.append(2);
      const started = Date.now();
      witnessing.notify();
      // The log goes on meanwhile.
      expect(await log.append(3)).toBe(5);
      expect(Date.now() - started).toBeLessThan(300);
      await witnessing.stop();
      expect(outcomes.map((o) => o[1])).toContain('unreachable');
    } finally {
      await hanging.close(0);
    }
  });

  it('reports an unreachable witness', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as { port: number }).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const log = await openLog();
    await log.append(1);
    await witnessingOf(log, [{ url: `http://127.0.0.1:${port}`, key, timeoutMs: 1000 }]).runOnce();
    expect(outcomes).toEqual([['thanhtra.test/witness', 'unreachable']]);
  });

  it('loads a witness key from a vkey or a file', () => {
    expect(loadWitnessKey(sample('witness.vkey')).name).toBe('thanhtra.sonla.gov.vn/witness-sandbox');
    expect(loadWitnessKey(readFileSync(sample('witness.vkey'), 'utf8').trim()).keyId.toString('hex')).toBe('23627473');
  });
});

describe('the sandbox gateway and its witness, end to end', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ 'audit.integrateIntervalMs': 50, 'audit.timestampEverySeconds': 1 });
    for (let i = 0; i < 3; i++) expect((await gw.fetch(`/v1/enterprises/${enterprises[i]!.enterpriseCode}`)).status).toBeLessThan(500);
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('cosigns the gateway checkpoints and serves the cosignatures in /v1/audit/checkpoint', async () => {
    const vkey = parseWitnessKey(readFileSync(sample('witness.vkey'), 'utf8'));
    const logSigner = new X509Certificate(readFileSync(sample('log-signer.pem')));
    let body: { treeSize: number; checkpoint: string; note: string | null; cosignatures: { witness: string; time: string }[] } | undefined;
    for (let i = 0; i < 100; i++) {
      const res = await gw.fetch('/v1/audit/checkpoint', { key: KEYS.auditor });
      if (res.status === 200) {
        body = (await res.json()) as typeof body;
        if (body!.treeSize >= 3 && body!.cosignatures.length > 0) break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(body?.cosignatures.map((c) => c.witness)).toEqual(['thanhtra.sonla.gov.vn/witness-sandbox']);
    expect(body!.cosignatures[0]!.time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?\+07:00$/);
    const { text, signatures } = splitNote(body!.note!);
    expect(text).toBe(body!.checkpoint);
    const origin = text.split('\n')[0]!;
    expect(logNoteVerifier(origin, logSigner).verify(text, signatures.find((s) => s.name === origin)!)).toBe(true);
    expect(signatures.some((s) => verifyCosignature(text, s, vkey) !== undefined)).toBe(true);

    // The witness's saved checkpoint, beside the gateway's database.
    const saved = witnessStateFile(join(dirname(gw.dbPath), 'witness'), origin);
    expect(existsSync(saved)).toBe(true);
    const state = splitNote(readFileSync(saved, 'utf8'));
    expect(state.signatures.some((s) => verifyCosignature(state.text, s, vkey) !== undefined)).toBe(true);
  });

  it("exports a bundle that `audit verify` accepts with the witness's key and the checkpoint file it saved", async () => {
    // Wait until the newest checkpoint is both timestamped and cosigned, then keep the witness's file.
    let size = 0;
    for (let i = 0; i < 100; i++) {
      const res = await gw.fetch('/v1/audit/checkpoint', { key: KEYS.auditor });
      const body = res.status === 200 ? ((await res.json()) as { treeSize: number; timestamp: string | null; cosignatures: unknown[]; checkpoint: string }) : undefined;
      const file = witnessStateFile(join(dirname(gw.dbPath), 'witness'), ORIGIN_SANDBOX);
      const witnessed = existsSync(file) ? splitNote(readFileSync(file, 'utf8')).text : undefined;
      if (body?.timestamp && body.cosignatures.length > 0 && witnessed === body.checkpoint) {
        size = body.treeSize;
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(size).toBeGreaterThan(0);
    const work = mkdtempSync(join(tmpdir(), 'witness-verify-'));
    dirs.push(work);
    const savedCopy = join(work, 'saved.checkpoint');
    const vkeyName = loadWitnessKey(sample('witness.vkey')).name;
    writeFileSync(savedCopy, readFileSync(witnessStateFile(join(dirname(gw.dbPath), 'witness'), ORIGIN_SANDBOX)));

    const res = await gw.fetch(`/v1/audit/export?from=0&to=${size}`, { key: KEYS.auditor, headers: { 'x-user-id': 'thanhtra-0044', 'x-purpose': 'THANH_TRA_KIEM_TRA' } });
    expect(res.status, await res.clone().text()).toBe(200);
    const bundle = join(work, 'bundle.tar.gz');
    writeFileSync(bundle, Buffer.from(await res.arrayBuffer()));
    const verify = (extra: string[]) =>
      spawnSync(process.execPath, ['bin/lienthong.js', 'audit', 'verify', bundle, '--root', sample('root-ca.pem'), '--signer', sample('log-signer.pem'), ...extra], { encoding: 'utf8' });
    const ok = verify(['--witness', sample('witness.vkey'), '--witness-checkpoint', savedCopy]);
    expect(ok.status, ok.stderr + ok.stdout).toBe(0);
    expect(ok.stdout).toMatch(/cosigned by 1 of 1 witness.*consistent with 1 witness checkpoint/);
    // The bundle README's witness procedure (openssl and a shell), verbatim, on the witness's own file.
    spawnSync('tar', ['-xzf', bundle, '-C', work]);
    const folder = join(work, `lienthong-audit-0-${size}`);
    const block = [...readFileSync(join(folder, 'README.md'), 'utf8').matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!).find((b) => b.includes('cosignature/v1'))!;
    const filled = block.replaceAll(README_PLACEHOLDERS.witnessCheckpoint, savedCopy).replaceAll(README_PLACEHOLDERS.witnessVkey, readFileSync(sample('witness.vkey'), 'utf8').trim());
    const readme = spawnSync('bash', ['-c', filled], { cwd: folder, encoding: 'utf8' });
    expect(readme.status, readme.stdout + readme.stderr).toBe(0);
    expect(readme.stdout.trim()).toBe(`OK: the witness cosigned tree size ${size} and this bundle holds that checkpoint unchanged`);

    // What a split view looks like to the inspector: the witness saved, for the same size, a
    // checkpoint with another root (signed by the log key, cosigned by the witness key).
    const forged = checkpointText(ORIGIN_SANDBOX, size, Buffer.alloc(32, 1));
    const forgedNote = `${forged}\n${logNoteSigner(ORIGIN_SANDBOX, createPrivateKey(readFileSync(sample('log-signer.key.pem')))).sign(forged)}${cosign(forged, vkeyName, createPrivateKey(readFileSync(sample('witness.key.pem'))), Math.floor(Date.now() / 1000))}`;
    writeFileSync(savedCopy, forgedNote);
    const split = verify(['--witness', sample('witness.vkey'), '--witness-checkpoint', savedCopy]);
    expect(split.status, split.stdout).toBe(1);

    // A witness key the bundle's checkpoint is not cosigned by fails it.
    const stranger = join(work, 'stranger.vkey');
    writeFileSync(stranger, witnessVkey('thanhtra.sonla.gov.vn/witness-other', generateKeyPairSync('ed25519').publicKey));
    expect(verify(['--witness', stranger]).status).toBe(1);
  }, 30_000);
});
