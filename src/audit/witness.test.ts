import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Listening } from '../http/listen.ts';
import { checkpointText } from './integrator.ts';
import { consistencyProofFromLeaves, leafHash, rootHash } from './merkle.ts';
import { logNoteSigner, parseCheckpointText, parseWitnessKey, splitNote, verifyCosignature } from './note.ts';
import { MAX_REQUEST_BYTES, TLOG_SIZE_TYPE, startWitness, witnessStateFile, type Witness } from './witness.ts';

const ORIGIN = 'lienthong.test.gov.vn/exchange-log';
const WITNESS = 'thanhtra.test.gov.vn/witness';
const roots: string[] = [];
afterAll(() => roots.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A log history: leaves named by a prefix, signed as notes by `key`. */
class TestLog {
  readonly leaves: Buffer[] = [];
  constructor(
    private readonly key: KeyObject,
    private readonly prefix = 'entry',
    readonly origin = ORIGIN,
  ) {}
  grow(to: number): this {
    while (this.leaves.length < to) this.leaves.push(leafHash(Buffer.from(`${this.prefix} ${this.leaves.length}`)));
    return this;
  }
  text(size: number): string {
    return checkpointText(this.origin, size, rootHash(this.leaves.slice(0, size)));
  }
  note(size: number, key = this.key): string {
    const text = this.text(size);
    return `${text}\n${logNoteSigner(this.origin, key).sign(text)}`;
  }
  request(old: number, size: number, proof = old === 0 ? [] : consistencyProofFromLeaves(old, size, this.leaves)): string {
    return `old ${old}\n${proof.map((p) => `${p.toString('base64')}\n`).join('')}\n${this.note(size)}`;
  }
}

describe('witness add-checkpoint (tlog-witness) over HTTP', () => {
  const logKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const witnessKey = generateKeyPairSync('ed25519');
  let stateDir: string;
  let server: Listening;
  let witness: Witness;
  let now = Date.now();

  async function start(): Promise<void> {
    ({ server, witness } = await startWitness({
      name: WITNESS,
      privateKey: witnessKey.privateKey,
      logs: [{ origin: ORIGIN, key: logKey.publicKey }],
      stateDir,
      now: () => now,
      host: '127.0.0.1',
      port: 0,
    }));
  }

  beforeEach(async () => {
    stateDir = mkdtempSync(join(tmpdir(), 'witness-'));
    roots.push(stateDir);
    now = Date.now();
    await start();
  });
  afterEach(() => server.close());

  async function post(body: string | Buffer): Promise<{ status: number; type: string; text: string }> {
    const res = await fetch(`${server.url}/add-checkpoint`, { method: 'POST', body: typeof body === 'string' ? body : new Uint8Array(body) });
    return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() };
  }

  it('cosigns a first checkpoint and then consistent growth, persisting each before answering', async () => {
    const log = new TestLog(logKey.privateKey).grow(20);
    const key = parseWitnessKey(witness.vkey);

    const note = log.note(5);
    const first = await post(`old 0\n\n${note}`);
    expect(first.status).toBe(200);
    const sig = splitNote(`${log.text(5)}\n${first.text}`).signatures[0]!;
    expect(verifyCosignature(log.text(5), sig, key)).toEqual({ time: Math.floor(now / 1000) });
    const saved = readFileSync(witnessStateFile(stateDir, ORIGIN), 'utf8');
    expect(saved).toBe(`${note}${first.text}`);

    now += 60_000;
    const second = await post(log.request(5, 20));
    expect(second.status).toBe(200);
    const saved2 = splitNote(readFileSync(witnessStateFile(stateDir, ORIGIN), 'utf8'));
    expect(parseCheckpointText(saved2.text).treeSize).toBe(20);
    expect(saved2.signatures.map((s) => s.name)).toEqual([ORIGIN, WITNESS]);
    expect(verifyCosignature(saved2.text, saved2.signatures[1]!, key)).toEqual({ time: Math.floor(now / 1000) });
    // No temporary file is left beside the state.
    expect(readdirSync(stateDir)).toEqual([`${encodeURIComponent(ORIGIN)}.checkpoint`]);

    // The same checkpoint again (old = size, same root): cosigned again.
    expect((await post(log.request(20, 20, []))).status).toBe(200);
  });

  it('answers 409 with the latest size as text/x.tlog.size when the old size is not its latest', async () => {
    const log = new TestLog(logKey.privateKey).grow(12);
    expect((await post(log.request(0, 4))).status).toBe(200);
    const conflict = await post(log.request(0, 12));
    expect(conflict).toMatchObject({ status: 409, text: '4\n' });
    expect(conflict.type).toBe(TLOG_SIZE_TYPE);
    expect((await post(log.request(3, 12))).status).toBe(409);
    expect((await post(log.request(4, 12))).status).toBe(200);
  });

  it('keeps its state across restarts', async () => {
    const log = new TestLog(logKey.privateKey).grow(9);
    expect((await post(log.request(0, 7))).status).toBe(200);
    await server.close();
    await start();
    expect(await post(log.request(0, 9))).toMatchObject({ status: 409, text: '7\n' });
    expect((await post(log.request(7, 9))).status).toBe(200);
  });

  it('refuses a forked history signed by the same key (409 same size, 422 growth)', async () => {
    const honest = new TestLog(logKey.privateKey, 'honest').grow(10);
    const fork = new TestLog(logKey.privateKey, 'forged').grow(10);
    expect((await post(honest.request(0, 8))).status).toBe(200);
    // The same size with another root.
    expect((await post(fork.request(8, 8, [])))).toMatchObject({ status: 409 });
    // Growth whose proof is from the forked history.
    expect((await post(fork.request(8, 10))).status).toBe(422);
    // A forged proof of the right length.
    const bogus = honest.request(8, 10, consistencyProofFromLeaves(8, 10, honest.leaves).map((p) => Buffer.alloc(p.length, 7)));
    expect((await post(bogus)).status).toBe(422);
    // The honest log still goes on.
    expect((await post(honest.request(8, 10))).status).toBe(200);
  });

  it('refuses a history cut back below what it cosigned', async () => {
    const log = new TestLog(logKey.privateKey).grow(10);
    expect((await post(log.request(0, 10))).status).toBe(200);
    // A log that "restarts" at a smaller size: old 10 > size 6 is a bad request; old 0 is stale.
    expect((await post(log.request(10, 6, []))).status).toBe(400);
    expect(await post(log.request(0, 6))).toMatchObject({ status: 409, text: '10\n' });
    // Nothing changed.
    expect(parseCheckpointText(splitNote(readFileSync(witnessStateFile(stateDir, ORIGIN), 'utf8')).text).treeSize).toBe(10);
  });

  it('answers 404 for an unknown origin and 403 without a valid log signature', async () => {
    const stranger = new TestLog(logKey.privateKey, 'x', 'other.example/log').grow(3);
    expect((await post(stranger.request(0, 3))).status).toBe(404);

    const log = new TestLog(logKey.privateKey).grow(3);
    const otherKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    // Signed by an unknown key only: ignored, so no valid signature.
    expect((await post(`old 0\n\n${log.note(3, otherKey)}`)).status).toBe(403);
    // The log's key ID with a wrong signature.
    const tampered = log.note(3).replace('\n3\n', '\n2\n');
    expect((await post(`old 0\n\n${tampered}`)).status).toBe(403);
    // An unknown key's signature beside the log's valid one is ignored.
    const extra = `${log.note(3)}${logNoteSigner('someone.else/key', otherKey).sign(log.text(3))}`;
    expect((await post(`old 0\n\n${extra}`)).status).toBe(200);
  });

  it('answers 400 for malformed requests and never crashes on junk', async () => {
    const log = new TestLog(logKey.privateKey).grow(70);
    const note = log.note(70);
    for (const body of [
      '',
      'junk',
      `old\n\n${note}`,
      `old 01\n\n${note}`,
      `old -1\n\n${note}`,
      `old 0\n${note}`,
      `old 0\nnot-base64!\n\n${note}`,
      `old 0\n${Buffer.alloc(31).toString('base64')}\n\n${note}`,
      `old 1\n${`${Buffer.alloc(32).toString('base64')}\n`.repeat(64)}\n${note}`,
      'old 0\n\nno checkpoint\n',
      `old 0\n\n${log.text(70)}`,
      `old 0\n\n${note.replace('\n70\n', '\n070\n')}`,
      Buffer.from([0x6f, 0x6c, 0x64, 0x20, 0x30, 0x0a, 0x0a, 0xff, 0xfe, 0x0a]),
    ]) {
      expect((await post(body)).status, String(body).slice(0, 40)).toBe(400);
    }
    // After all that, the witness works.
    expect((await post(log.request(0, 70))).status).toBe(200);
  });

  it('answers 422 for a non-empty proof from size 0', async () => {
    const log = new TestLog(logKey.privateKey).grow(4);
    expect((await post(log.request(0, 4, [Buffer.alloc(32)]))).status).toBe(422);
  });

  it('refuses oversized bodies, other paths and methods', async () => {
    expect((await post('x'.repeat(MAX_REQUEST_BYTES + 1))).status).toBe(413);
    expect((await fetch(`${server.url}/add-checkpoint`)).status).toBe(405);
    expect((await fetch(`${server.url}/other`, { method: 'POST', body: 'x' })).status).toBe(404);
  });

  it('serialises concurrent submissions of one log: only one growth from the same old size wins', async () => {
    const log = new TestLog(logKey.privateKey).grow(40);
    expect((await post(log.request(0, 10))).status).toBe(200);
    const answers = await Promise.all([post(log.request(10, 20)), post(log.request(10, 40)), post(log.request(10, 30))]);
    expect(answers.filter((a) => a.status === 200)).toHaveLength(1);
    expect(answers.filter((a) => a.status === 409)).toHaveLength(2);
    const won = [20, 40, 30][answers.findIndex((a) => a.status === 200)];
    expect((await witness.latest(ORIGIN))?.treeSize).toBe(won);
  });
});
