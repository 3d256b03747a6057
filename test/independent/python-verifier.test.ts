import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enterprises } from '../../src/sandbox/personas.ts';
import { KEYS, startTestGateway, type TestGateway } from '../helpers/gateway.ts';

/**
 * The exchange log checked by a second implementation: tools/verify_bundle.py, written from
 * RFC 9162 in Python with the standard library only, run on bundles the real gateway exported.
 */

const SCRIPT = fileURLToPath(new URL('../../tools/verify_bundle.py', import.meta.url));
const probe = spawnSync('python3', ['--version'], { encoding: 'utf8' });
const skipReason = probe.error || probe.status !== 0 ? 'python3 is not installed (.ci/run installs it from Debian)' : undefined;
if (skipReason) console.warn(`skipping the independent Python verifier: ${skipReason}`);

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function python(...args: string[]): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn('python3', [SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const dir = mkdtempSync(join(tmpdir(), 'lienthong-python-verifier-'));
const lines = (text: string) => text.split('\n').slice(0, -1);
const jsonl = (rows: unknown[]) => rows.map((r) => JSON.stringify(r) + '\n').join('');
type Row = Record<string, unknown>;

/** The leaf with one byte changed (a status 200 made 201). */
function changed(leaf: unknown): string {
  const text = String(leaf);
  expect(text).toContain('"status":200');
  return text.replace('"status":200', '"status":201');
}

/** Reads, changes and writes back one JSON Lines file of an unpacked bundle. */
function editJsonl(folder: string, file: string, change: (rows: Row[]) => Row[] | void): void {
  const path = join(folder, file);
  const rows = lines(readFileSync(path, 'utf8')).map((l) => JSON.parse(l) as Row);
  writeFileSync(path, jsonl(change(rows) ?? rows));
}

describe.skipIf(skipReason !== undefined)('the independent Python verifier (RFC 9162)', () => {
  let gw: TestGateway;
  /** The full bundle, unpacked, and the checkpoint sizes it holds. */
  let full: string;
  let sizes: number[];

  async function treeSize(): Promise<number> {
    const res = await gw.fetch('/v1/audit/checkpoint', { key: KEYS.auditor });
    if (res.status === 404) return 0;
    expect(res.status).toBe(200);
    return ((await res.json()) as { treeSize: number }).treeSize;
  }

  async function exportBundle(query: string, name: string): Promise<string> {
    const res = await gw.fetch(`/v1/audit/export${query}`, { key: KEYS.auditor });
    if (res.status !== 200) throw new Error(`export${query} answered ${res.status}: ${await res.text()}`);
    const path = join(dir, `${name}.tar.gz`);
    writeFileSync(path, Buffer.from(await res.arrayBuffer()));
    return path;
  }

  function unpack(bundle: string, name: string): string {
    const out = join(dir, name);
    mkdirSync(out);
    execFileSync('tar', ['-xzf', bundle, '-C', out]);
    const top = readdirSync(out);
    expect(top).toHaveLength(1);
    return join(out, top[0]!);
  }

  beforeAll(async () => {
    // Exports end at the newest timestamped checkpoint: stamp often so the last round's is.
    gw = await startTestGateway({ 'audit.integrateIntervalMs': 50, 'audit.timestampEverySeconds': 1, 'log.level': 'warn' });
    // Rounds of real exchanges through the sandbox, each sealed by its own checkpoint.
    for (const round of [3, 4, 5, 6]) {
      const before = await treeSize();
      for (let i = 0; i < round; i++) {
        const res = await gw.fetch(`/v1/enterprises/${enterprises[(before + i) % enterprises.length]!.enterpriseCode}`);
        expect(res.headers.get('x-exchange-id'), `exchange ${i} of round ${round}`).toBeTruthy();
      }
      let size = before;
      for (let wait = 0; size < before + round && wait < 200; wait++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        size = await treeSize();
      }
      expect(size).toBeGreaterThanOrEqual(before + round);
    }
    const last = await treeSize();
    let stamped = false;
    for (let wait = 0; !stamped && wait < 100; wait++) {
      const res = await gw.fetch('/v1/audit/checkpoint', { key: KEYS.auditor });
      const checkpoint = (await res.json()) as { treeSize: number; timestamp: string | null };
      stamped = checkpoint.treeSize >= last && checkpoint.timestamp !== null;
      if (!stamped) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(stamped, 'the last round is covered by a timestamped checkpoint').toBe(true);
    full = unpack(await exportBundle('', 'full'), 'full');
    sizes = (JSON.parse(readFileSync(join(full, 'manifest.json'), 'utf8')) as { checkpoints: { treeSize: number }[] }).checkpoints.map((c) => c.treeSize);
  }, 60_000);
  afterAll(async () => {
    await gw?.close();
  });

  it('passes its known-answer self-test (empty tree and the RFC 6962 reference vectors)', async () => {
    const result = await python('--self-test');
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^self-test OK: empty tree e3b0c442.*8 reference roots/);
  });

  it('recomputes the published reference roots from a bundle of the reference leaves', async () => {
    // The eight RFC 6962 reference leaves (all bytes below 0x80, so their UTF-8 text is the same bytes).
    const leaves = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map((h) => Buffer.from(h, 'hex'));
    const root6 = Buffer.from('76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef', 'hex').toString('base64');
    const root8 = Buffer.from('5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328', 'hex').toString('base64');
    const consistency = ['0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a', 'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0', 'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7'];
    const sha = (...parts: Buffer[]) => createHash('sha256').update(Buffer.concat(parts)).digest();
    // Levels of the complete 8-leaf tree; an audit path is the sibling at each level.
    const levels = [leaves.map((l) => sha(Buffer.from([0]), l))];
    while (levels.at(-1)!.length > 1) {
      const below = levels.at(-1)!;
      levels.push(Array.from({ length: below.length / 2 }, (_, i) => sha(Buffer.from([1]), below[2 * i]!, below[2 * i + 1]!)));
    }
    const folder = join(dir, 'reference');
    mkdirSync(join(folder, 'checkpoints'), { recursive: true });
    mkdirSync(join(folder, 'proofs'));
    const origin = 'example.test/reference';
    writeFileSync(join(folder, 'manifest.json'), JSON.stringify({ format: 'lienthong-audit-bundle/1', origin, from: 0, to: 8, treeSize: 8, rootHash: root8, checkpoints: [{ treeSize: 6 }, { treeSize: 8 }] }));
    writeFileSync(join(folder, 'checkpoints/6.txt'), `${origin}\n6\n${root6}\n`);
    writeFileSync(join(folder, 'checkpoints/8.txt'), `${origin}\n8\n${root8}\n`);
    writeFileSync(join(folder, 'entries.jsonl'), jsonl(leaves.map((l, index) => ({ index, leafHash: levels[0]![index]!.toString('base64'), leaf: l.toString('latin1') }))));
    const auditPath = (index: number) => levels.slice(0, 3).map((level, height) => level[(index >> height) ^ 1]!.toString('base64'));
    writeFileSync(join(folder, 'proofs/inclusion.jsonl'), jsonl(leaves.map((_, index) => ({ index, treeSize: 8, leafHash: levels[0]![index]!.toString('base64'), auditPath: auditPath(index), rootHash: root8 }))));
    writeFileSync(join(folder, 'proofs/consistency.jsonl'), jsonl([{ first: 6, second: 8, proof: consistency.map((h) => Buffer.from(h, 'hex').toString('base64')) }]));

    const result = await python(folder);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`in checkpoint 8 (root ${root8}, recomputed from the entries); 2 checkpoint(s), 2 recomputed from the entries`);
    // The root of 6 leaves is the reference one too: with another, the bundle fails.
    writeFileSync(join(folder, 'checkpoints/6.txt'), `${origin}\n6\n${root8}\n`);
    const wrong = await python(folder);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/checkpoint 8: the consistency proof from checkpoint 6 does not verify/);
  });

  it('verifies a bundle the gateway exported, from index 0, with its roots recomputed from the entries', async () => {
    expect(sizes.length).toBeGreaterThanOrEqual(4);
    const anchor = sizes.at(-1)!;
    const root = lines(readFileSync(join(full, `checkpoints/${anchor}.txt`), 'utf8'))[2];
    const result = await python(join(dir, 'full.tar.gz'));
    expect(result.code, result.stderr).toBe(0);
    const [summary, note] = lines(result.stdout);
    expect(summary).toMatch(new RegExp(`^bundle OK \\(Merkle checks, RFC 9162\\): entries 0\\.\\.${anchor - 1} \\(${anchor}\\) of lienthong\\.sonla\\.gov\\.vn/exchange-log in checkpoint ${anchor} `));
    expect(summary).toContain(`(root ${root}, recomputed from the entries); ${sizes.length} checkpoint(s), ${sizes.length} recomputed from the entries, ${sizes.length - 1} consistency proof(s)`);
    expect(note).toMatch(/signatures \(\.p7s\) and timestamps \(\.tsr\) are NOT checked here/);
    // The unpacked folder is read the same way.
    expect((await python(full)).stdout).toBe(result.stdout);
  });

  it('verifies a bundle of a middle range (from > 0) through the inclusion proofs', async () => {
    const anchor = sizes.at(-1)!;
    // The log may have grown since: the bundle checkpoint is then a later one.
    const bundle = await exportBundle(`?from=2&to=${anchor - 1}`, 'middle');
    const result = await python(bundle);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^bundle OK .*: entries 2\\.\\.${anchor - 2} \\(${anchor - 3}\\) .* in checkpoint \\d+ \\(root .*, reached by the inclusion proofs\\); \\d+ checkpoint\\(s\\), 0 recomputed from the entries`));
  });

  const cases: [string, (folder: string) => void, (sizes: number[]) => RegExp][] = [
    [
      'one byte of a leaf changed',
      (f) =>
        editJsonl(f, 'entries.jsonl', (rows) => {
          rows[3]!.leaf = changed(rows[3]!.leaf);
        }),
      () => /^FAILED: entry 3: the leaf hash does not match SHA-256\(0x00 \|\| leaf\): the leaf was changed\n$/,
    ],
    [
      'a leaf changed with its leaf hashes recomputed',
      (f) => {
        let hash = '';
        editJsonl(f, 'entries.jsonl', (rows) => {
          rows[7]!.leaf = changed(rows[7]!.leaf);
          hash = createHash('sha256').update(Buffer.concat([Buffer.from([0]), Buffer.from(String(rows[7]!.leaf))])).digest('base64');
          rows[7]!.leafHash = hash;
        });
        editJsonl(f, 'proofs/inclusion.jsonl', (rows) => {
          rows[7]!.leafHash = hash;
        });
      },
      (s) => new RegExp(`^FAILED: entry 7: the inclusion proof does not lead to the root of checkpoint ${s.at(-1)}\\n$`),
    ],
    ['an entry dropped', (f) => editJsonl(f, 'entries.jsonl', (rows) => rows.filter((_, i) => i !== 4)), () => /^FAILED: entry 4: missing \(line 5 holds entry 5\)\n$/],
    ['the last entry dropped', (f) => editJsonl(f, 'entries.jsonl', (rows) => rows.slice(0, -1)), (s) => new RegExp(`^FAILED: entry ${s.at(-1)! - 1}: missing \\(entries.jsonl ends there`)],
    [
      'two entries swapped',
      (f) => editJsonl(f, 'entries.jsonl', (rows) => [...rows.slice(0, 5), rows[6]!, rows[5]!, ...rows.slice(7)]),
      () => /^FAILED: entry 5: out of order \(line 6 holds entry 6\)\n$/,
    ],
    [
      'two leaves swapped and renumbered, their proofs too',
      (f) => {
        for (const file of ['entries.jsonl', 'proofs/inclusion.jsonl']) {
          editJsonl(f, file, (rows) => {
            const [a, b] = [rows[5]!, rows[6]!];
            return [...rows.slice(0, 5), { ...b, index: 5 }, { ...a, index: 6 }, ...rows.slice(7)];
          });
        }
        // The swapped audit paths belong to the other position: keep the original paths.
        const original = lines(readFileSync(join(full, 'proofs/inclusion.jsonl'), 'utf8')).map((l) => JSON.parse(l) as Row);
        editJsonl(f, 'proofs/inclusion.jsonl', (rows) => rows.map((r, i) => ({ ...r, auditPath: original[i]!.auditPath })));
      },
      (s) => new RegExp(`^FAILED: entry 5: the inclusion proof does not lead to the root of checkpoint ${s.at(-1)}\\n$`),
    ],
    [
      'one hash of a consistency proof altered',
      (f) =>
        editJsonl(f, 'proofs/consistency.jsonl', (rows) => {
          const hash = Buffer.from(String((rows[1]!.proof as string[])[0]), 'base64');
          hash[0] = hash[0]! ^ 0x01;
          (rows[1]!.proof as string[])[0] = hash.toString('base64');
        }),
      (s) => new RegExp(`^FAILED: checkpoint ${s[2]}: the consistency proof from checkpoint ${s[1]} does not verify against the two checkpoint texts\\n$`),
    ],
    [
      'a checkpoint root truncated',
      (f) => {
        const path = join(f, `checkpoints/${sizes[1]}.txt`);
        const [origin, size, root] = lines(readFileSync(path, 'utf8'));
        writeFileSync(path, `${origin}\n${size}\n${root!.slice(0, -4)}\n`);
      },
      (s) => new RegExp(`^FAILED: checkpoint ${s[1]}: the root hash is not base64 of a 32-byte SHA-256 hash\\n$`),
    ],
    [
      "a checkpoint text given another well-formed root (the proofs' claimed roots untouched)",
      (f) => {
        const path = join(f, `checkpoints/${sizes[1]}.txt`);
        const [origin, size] = lines(readFileSync(path, 'utf8'));
        const other = lines(readFileSync(join(f, `checkpoints/${sizes[0]}.txt`), 'utf8'))[2];
        writeFileSync(path, `${origin}\n${size}\n${other}\n`);
      },
      (s) => new RegExp(`^FAILED: checkpoint ${s[1]}: the consistency proof from checkpoint ${s[0]} does not verify`),
    ],
    [
      'a checkpoint text without its final newline',
      (f) => {
        const path = join(f, `checkpoints/${sizes[0]}.txt`);
        writeFileSync(path, readFileSync(path, 'utf8').slice(0, -1));
      },
      (s) => new RegExp(`^FAILED: checkpoint ${s[0]}: the text is not origin, size and root hash on lines of their own ending in a newline\\n$`),
    ],
    [
      'the manifest naming another tree size',
      (f) => {
        const path = join(f, 'manifest.json');
        const manifest = JSON.parse(readFileSync(path, 'utf8')) as Row;
        writeFileSync(path, JSON.stringify({ ...manifest, treeSize: sizes.at(-2) }));
      },
      () => /^FAILED: bundle: manifest.json has an impossible range\n$/,
    ],
  ];

  for (const [name, change, message] of cases) {
    it(`fails a tampered bundle: ${name}`, async () => {
      const folder = join(dir, `tampered-${name.replace(/[^a-z0-9]+/gi, '-')}`);
      cpSync(full, folder, { recursive: true });
      change(folder);
      const result = await python(folder);
      expect(result.code, result.stdout).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr).toMatch(message(sizes));
    });
  }
});
