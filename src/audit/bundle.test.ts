import { execFileSync, spawnSync } from 'node:child_process';
import { createPrivateKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ORIGIN, certificates, createTestLog, otherCredentials, roots, type TestLog } from '../../test/helpers/audit-log.ts';
import { GatewayError } from '../errors/gateway-error.ts';
import { signDetached } from '../signing/cms.ts';
import { readCertificates } from '../signing/trust-store.ts';
import { sample } from '../signing/material.ts';
import { BundleError, MAX_BUNDLE_ENTRIES, README_PLACEHOLDERS, exportBundle, planExport, readBundleArchive, stripFolder, summaryLine, verifyBundle, type Manifest, type VerifyBundleOptions } from './bundle.ts';
import { cosign, logNoteSigner, parseWitnessKey, witnessVkey } from './note.ts';
import type { ExchangeLeaf } from './leaf.ts';
import type { AuditStore } from './store.ts';

let log: TestLog;
// Checkpoints at 4, 11, 30, 45, 64, 90 (timestamped: 11, 45, 90). The first 30 leaves are of
// format 1 (plain SHA-256 body digests, as written before keyed digests), the other 60 of format 2.
const BATCHES: [number, boolean, 1 | 2][] = [
  [4, false, 1],
  [7, true, 1],
  [19, false, 1],
  [15, true, 2],
  [19, false, 2],
  [26, true, 2],
];

beforeAll(async () => {
  log = await createTestLog();
  for (const [n, timestamp, format] of BATCHES) await log.append(n, { timestamp, format });
});
afterAll(() => log.close());

async function exported(range: { from?: number; to?: number } = {}, store: AuditStore = log.audit): Promise<Map<string, Buffer>> {
  const plan = await planExport(store, range);
  const chunks: Buffer[] = [];
  for await (const chunk of await exportBundle(store, plan, certificates)) chunks.push(chunk);
  const files = await readBundleArchive(Buffer.concat(chunks));
  expect([...files.keys()].every((p) => p.startsWith(`${plan.name}/`))).toBe(true);
  return stripFolder(files);
}

const logSigner = certificates.signer[0]!;
const verify = (files: Map<string, Buffer>, options: Partial<VerifyBundleOptions> = {}) => verifyBundle(files, { roots, signer: logSigner, ...options });

async function rejects(files: Map<string, Buffer>, subject: string, message: RegExp, options: Partial<VerifyBundleOptions> = {}): Promise<void> {
  const err = await verify(files, options).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `expected ${subject} to be refused`).toBeInstanceOf(BundleError);
  expect((err as BundleError).subject).toBe(subject);
  expect((err as BundleError).message).toMatch(message);
}

const lines = (files: Map<string, Buffer>, name: string) => files.get(name)!.toString('utf8').split('\n').slice(0, -1);
const withLines = (files: Map<string, Buffer>, name: string, edited: string[]) => new Map(files).set(name, Buffer.from(edited.map((l) => l + '\n').join('')));

describe('the export bundle', () => {
  let full: Map<string, Buffer>;
  beforeAll(async () => {
    full = await exported();
  });

  it('holds the entries, checkpoints, certificates, proofs and a README', () => {
    const manifest = JSON.parse(full.get('manifest.json')!.toString()) as Manifest;
    expect(manifest).toMatchObject({ format: 'lienthong-audit-bundle/1', from: 0, to: 90, treeSize: 90 });
    expect(manifest.checkpoints.map((c) => c.treeSize)).toEqual([4, 11, 30, 45, 64, 90]);
    expect([...full.keys()].sort()).toEqual(
      [
        'README.md',
        'manifest.json',
        'entries.jsonl',
        'certs/log-signer.pem',
        'certs/intermediates.pem',
        'certs/tsa.pem',
        'proofs/inclusion.jsonl',
        'proofs/consistency.jsonl',
        ...[4, 11, 30, 45, 64, 90].flatMap((n) => [`checkpoints/${n}.txt`, `checkpoints/${n}.p7s`]),
        ...[11, 45, 90].map((n) => `checkpoints/${n}.tsr`),
      ].sort(),
    );
    expect(lines(full, 'entries.jsonl')).toHaveLength(90);
    expect(lines(full, 'proofs/inclusion.jsonl')).toHaveLength(90);
    expect(lines(full, 'proofs/consistency.jsonl')).toHaveLength(5);
    const readme = full.get('README.md')!.toString();
    expect(readme).toContain('lienthong audit verify . --root /path/to/your-root-ca.pem --signer-fingerprint EXPECTED_LOG_SIGNER_SHA256');
    expect(readme).toContain('-CAfile "$ROOT" -no-CApath -no-CAstore');
    expect(readme).toContain('openssl ts -verify -data $t -in $n.tsr -CAfile "$ROOT" -untrusted certs/tsa.pem');
    expect(readme).not.toMatch(/ca-bundle|certs\/root-ca|-CAfile certs/);
    const tsa = readCertificates(sample('tsa.pem'))[0]!;
    expect(full.get('certs/tsa.pem')!.toString()).toContain(tsa.toString().trim());
    // No root travels in a bundle: the auditor brings their own.
    const root = roots[0]!.toString().trim();
    for (const [name, content] of full) if (name.startsWith('certs/')) expect(content.toString(), name).not.toContain(root);
    expect(full.get('certs/log-signer.pem')!.toString()).toContain(logSigner.toString().trim());
  });

  it('verifies, recomputing the root from the entries when it starts at 0', async () => {
    const summary = await verify(full);
    expect(summary).toMatchObject({ from: 0, to: 90, entries: 90, treeSize: 90, checkpoints: 6, timestamped: 3, consistencyProofs: 5, rootFromEntries: true });
    // Old and new leaves in one log, one tree, one bundle: both verify.
    expect(summary.leafFormats).toEqual({ 1: 30, 2: 60, 3: 0 });
    expect(summary.untimestampedAllowed).toBe(false);
    expect(summaryLine(summary)).toMatch(/^bundle OK: entries 0\.\.89 \(90\).*leaf format 1: 30, format 2 \(keyed body digests\): 60, format 3 .*: 0$/);
    // Pinned by fingerprint, with or without colons, the same.
    expect(await verify(full, { signer: logSigner.fingerprint256 })).toMatchObject({ treeSize: 90 });
    expect(await verify(full, { signer: logSigner.fingerprint256.replaceAll(':', '').toLowerCase() })).toMatchObject({ treeSize: 90 });
    const leaves = lines(full, 'entries.jsonl').map((l) => JSON.parse((JSON.parse(l) as { leaf: string }).leaf) as Record<string, unknown>);
    expect(leaves.slice(0, 30).every((l) => l.v === undefined && typeof l.requestHash === 'string' && !('requestMac' in l))).toBe(true);
    expect(leaves.slice(30).every((l) => l.v === 2 && typeof l.requestMac === 'string' && !('requestHash' in l))).toBe(true);
  });

  it('verifies a middle range from the inclusion proofs, with the checkpoints in range and the latest', async () => {
    const files = await exported({ from: 20, to: 50 });
    const manifest = JSON.parse(files.get('manifest.json')!.toString()) as Manifest;
    expect(manifest.checkpoints.map((c) => c.treeSize)).toEqual([30, 45, 90]);
    expect(await verify(files)).toMatchObject({ from: 20, to: 50, entries: 30, treeSize: 90, rootFromEntries: false });
  });

  it('adds the first timestamped checkpoint covering the range, to date its entries', async () => {
    const files = await exported({ from: 1, to: 5 });
    const manifest = JSON.parse(files.get('manifest.json')!.toString()) as Manifest;
    expect(manifest.checkpoints).toEqual([
      { treeSize: 4, timestamped: false },
      { treeSize: 11, timestamped: true },
      { treeSize: 90, timestamped: true },
    ]);
    expect(await verify(files)).toMatchObject({ from: 1, to: 5, entries: 4, checkpoints: 3, timestamped: 2, consistencyProofs: 2 });
  });

  it('refuses impossible ranges and oversized exports before anything is sent', async () => {
    const field = async (range: { from?: number; to?: number }, store: AuditStore = log.audit) => {
      const err = await planExport(store, range).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(GatewayError);
      expect((err as GatewayError).code).toBe('VALIDATION_FAILED');
      return (err as GatewayError).errors?.[0]?.field;
    };
    expect(await field({ to: 91 })).toBe('query.to');
    expect(await field({ from: 50, to: 50 })).toBe('query.from');
    expect(await field({ from: 90 })).toBe('query.from');
    const huge = { ...log.audit, latestCheckpoint: async () => ({ ...(await log.audit.latestCheckpoint())!, treeSize: MAX_BUNDLE_ENTRIES + 5 }) };
    expect(await field({ from: 0 }, huge)).toBe('query.to');
    const empty = await createTestLog();
    const err = await planExport(empty.audit, {}).catch((e: unknown) => e);
    await empty.close();
    expect((err as GatewayError).code).toBe('CHECKPOINT_NOT_FOUND');
  });

  it('keeps at most 1,000 checkpoints, every timestamped one among them', async () => {
    const latest = (await log.audit.latestCheckpoint())!;
    const record = (treeSize: number) => ({ ...latest, treeSize, timestampReply: treeSize % 10 === 0 ? Buffer.from('x') : null });
    const busy: AuditStore = {
      ...log.audit,
      latestCheckpoint: async () => record(5_001),
      checkpointSizes: async (min, max) => Array.from({ length: max - min + 1 }, (_, i) => ({ treeSize: min + i, timestamped: (min + i) % 10 === 0 })),
      checkpoints: async (sizes) => [...sizes].sort((a, b) => a - b).map(record),
      firstTimestampedCheckpoint: async () => record(5_000),
    };
    const plan = await planExport(busy, { from: 0, to: 4_000 });
    const sizes = plan.checkpoints.map((c) => c.treeSize);
    expect(sizes.length).toBe(1_000);
    expect(sizes).toEqual([...sizes].sort((a, b) => a - b));
    expect(new Set(sizes).size).toBe(sizes.length);
    for (let n = 10; n <= 4_000; n += 10) expect(sizes).toContain(n);
    expect(sizes.slice(-2)).toEqual([5_000, 5_001]);
  });

  describe('detects tampering', () => {
    it('a changed byte in an entry', async () => {
      const edited = lines(full, 'entries.jsonl');
      edited[5] = edited[5]!.replace('status\\":', 'status\\":9');
      expect(edited[5]).not.toBe(lines(full, 'entries.jsonl')[5]);
      await rejects(withLines(full, 'entries.jsonl', edited), 'entry 5', /leaf hash does not match the leaf/);
      const raw = Buffer.from(full.get('entries.jsonl')!);
      const at = raw.indexOf('"leaf":', raw.indexOf('"index":17,')) + 9;
      raw[at] = raw[at]! ^ 0x20;
      await rejects(new Map(full).set('entries.jsonl', raw), 'entry 17', /./);
    });

    it('a changed leaf with its hashes recomputed', async () => {
      const { leafHash } = await import('./merkle.ts');
      const entries = lines(full, 'entries.jsonl');
      const proofs = lines(full, 'proofs/inclusion.jsonl');
      const entry = JSON.parse(entries[12]!) as { index: number; leaf: string; leafHash: string };
      entry.leaf = entry.leaf.replace('"outcome":"', '"outcome":"x');
      entry.leafHash = leafHash(Buffer.from(entry.leaf)).toString('base64');
      entries[12] = JSON.stringify(entry);
      const proof = JSON.parse(proofs[12]!) as { leafHash: string };
      proof.leafHash = entry.leafHash;
      proofs[12] = JSON.stringify(proof);
      await rejects(withLines(withLines(full, 'entries.jsonl', entries), 'proofs/inclusion.jsonl', proofs), 'entry 12', /inclusion proof does not lead to the root/);
    });

    it('a leaf of unknown format, or whose binding hash does not bind its digests, even when the log holds it', async () => {
      const { createExchangeLog } = await import('./exchange-log.ts');
      const { bindingHash } = await import('./leaf.ts');
      const { testLeaf } = await import('../../test/helpers/audit-log.ts');
      const bad = await createTestLog();
      try {
        await bad.append(2, { format: 1 });
        await bad.append(2);
        const exchangeLog = createExchangeLog({ db: bad.store.db, masterKey: randomBytes(32) });
        const good = testLeaf(4, bad.hashIdentifier, 'bad-', bad.digest);
        await exchangeLog.enqueue({ ...good, v: 99 } as unknown as ExchangeLeaf);
        await exchangeLog.enqueue({ ...testLeaf(5, bad.hashIdentifier, 'bad-', bad.digest), bindingHash: bindingHash('another id', 'a'.repeat(64), null) });
        // A format 2 leaf that also carries a plain SHA-256 of its request.
        await exchangeLog.enqueue({ ...testLeaf(6, bad.hashIdentifier, 'bad-', bad.digest), requestHash: 'b'.repeat(64) } as unknown as ExchangeLeaf);
        await bad.append(1, { timestamp: true });
        const plan = await planExport(bad.audit, {});
        const chunks: Buffer[] = [];
        for await (const chunk of await exportBundle(bad.audit, plan, certificates)) chunks.push(chunk);
        const files = stripFolder(await readBundleArchive(Buffer.concat(chunks)));
        await rejects(files, 'entry 4', /unknown leaf format v=99/);
        // Entries 5 and 6 on their own, in bundles of one entry each.
        const middle = async (i: number) => {
          const range = await planExport(bad.audit, { from: i, to: i + 1 });
          const parts: Buffer[] = [];
          for await (const chunk of await exportBundle(bad.audit, range, certificates)) parts.push(chunk);
          return stripFolder(await readBundleArchive(Buffer.concat(parts)));
        };
        await rejects(await middle(5), 'entry 5', /bindingHash does not bind/);
        await rejects(await middle(6), 'entry 6', /format 2 leaf holds requestHash/);
        expect(await verify(await middle(7))).toMatchObject({ leafFormats: { 1: 0, 2: 1 } });
      } finally {
        await bad.close();
      }
    });

    it('a dropped entry', async () => {
      const edited = lines(full, 'entries.jsonl');
      edited.splice(7, 1);
      await rejects(withLines(full, 'entries.jsonl', edited), 'entry 7', /missing/);
    });

    it('two swapped entries, by line or by content', async () => {
      const edited = lines(full, 'entries.jsonl');
      [edited[3], edited[9]] = [edited[9]!, edited[3]!];
      await rejects(withLines(full, 'entries.jsonl', edited), 'entry 3', /out of order|missing/);
      const renumbered = lines(full, 'entries.jsonl').map((l) => JSON.parse(l) as { index: number });
      [renumbered[3]!.index, renumbered[9]!.index] = [9, 3];
      const swapped = [...renumbered];
      [swapped[3], swapped[9]] = [renumbered[9]!, renumbered[3]!];
      await rejects(withLines(full, 'entries.jsonl', swapped.map((e) => JSON.stringify(e))), 'entry 3', /inclusion proof/);
    });

    it('a truncated tail', async () => {
      const edited = lines(full, 'entries.jsonl').slice(0, 85);
      await rejects(withLines(full, 'entries.jsonl', edited), 'entry 85', /missing: entries.jsonl ends there/);
      const cut = full.get('entries.jsonl')!.subarray(0, full.get('entries.jsonl')!.length - 40);
      await rejects(new Map(full).set('entries.jsonl', cut), 'entry 89', /not an entry/);
    });

    it('a checkpoint signed by another key', async () => {
      const body = full.get('checkpoints/45.txt')!;
      const forged = await signDetached(body, otherCredentials);
      await rejects(new Map(full).set('checkpoints/45.p7s', forged), 'checkpoint 45', /signed by .*tax\.sandbox.*not by the pinned log signer/);
    });

    it('checkpoints by another signer than the pinned one, or by a certificate without the log-signing policy', async () => {
      const gateway = readCertificates(sample('gateway.pem'))[0]!;
      await rejects(full, 'checkpoint 4', /signed by .*exchange-log signer.*not by the pinned log signer "C=VN.*lienthong-gateway/, { signer: gateway });
      await rejects(full, 'checkpoint 4', /not by the pinned log signer \(SHA-256 0{64}\)/, { signer: '0'.repeat(64) });
      // The right fingerprint pinned, but a TLS certificate signed: refused for want of the policy.
      const tlsSigned = new Map(full);
      for (const size of [4, 11, 30, 45, 64, 90]) tlsSigned.set(`checkpoints/${size}.p7s`, await signDetached(full.get(`checkpoints/${size}.txt`)!, otherCredentials));
      await rejects(tlsSigned, 'checkpoint 4', /which is not a log-signing certificate \(no certificate policy 2\.25\.\d+\.1\)/, { signer: otherCredentials.certificate });
    });

    it('a changed timestamp byte', async () => {
      const tsr = Buffer.from(full.get('checkpoints/11.tsr')!);
      tsr[tsr.length - 5] = tsr[tsr.length - 5]! ^ 0x01;
      await rejects(new Map(full).set('checkpoints/11.tsr', tsr), 'checkpoint 11', /timestamp \(11\.tsr\) does not verify/);
    });

    it('a changed checkpoint text, a missing checkpoint, a broken consistency proof, a foreign root', async () => {
      const [origin, size, root] = full.get('checkpoints/30.txt')!.toString().split('\n');
      const text = `${origin}\n${size}\n${root!.startsWith('A') ? 'B' : 'A'}${root!.slice(1)}\n`;
      await rejects(new Map(full).set('checkpoints/30.txt', Buffer.from(text)), 'checkpoint 30', /does not verify/);
      const missing = new Map(full);
      missing.delete('checkpoints/64.txt');
      await rejects(missing, 'checkpoint 64', /listed in manifest.json but/);
      const unstamped = new Map(full);
      unstamped.delete('checkpoints/45.tsr');
      await rejects(unstamped, 'checkpoint 45', /45\.tsr is missing/);
      const consistency = lines(full, 'proofs/consistency.jsonl');
      const proof = JSON.parse(consistency[2]!) as { proof: string[] };
      proof.proof.reverse();
      consistency[2] = JSON.stringify(proof);
      await rejects(withLines(full, 'proofs/consistency.jsonl', consistency), 'checkpoint 45', /consistency proof from checkpoint 30 does not verify/);
      const err = await verifyBundle(full, { roots: readCertificates(sample('tax.pem')), signer: logSigner }).catch((e: unknown) => e);
      expect((err as BundleError).subject).toBe('checkpoint 4');
    });
  });

  it("passes the README's openssl procedure with the auditor's root and fingerprint, which fails on a changed checkpoint", () => {
    const dir = mkdtempSync(join(tmpdir(), 'lienthong-bundle-'));
    for (const [name, content] of full) {
      mkdirSync(dirname(join(dir, name)), { recursive: true });
      writeFileSync(join(dir, name), content);
    }
    const readme = full.get('README.md')!.toString();
    const blocks = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
    const procedure = blocks.find((b) => b.includes('openssl cms -verify'))!;
    const script = procedure.replace(README_PLACEHOLDERS.root, sample('root-ca.pem')).replace(README_PLACEHOLDERS.fingerprint, logSigner.fingerprint256);
    const good = spawnSync('bash', ['-c', script], { cwd: dir, encoding: 'utf8' });
    expect(good.status, good.stdout + good.stderr).toBe(0);
    expect(good.stdout).toMatch(/^OK: every checkpoint/);
    const leafLine = readme.split('\n').find((l) => l.startsWith('head -n 1 entries.jsonl'))!;
    const first = JSON.parse(lines(full, 'entries.jsonl')[0]!) as { leafHash: string };
    expect(execFileSync('sh', ['-c', leafLine], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim()).toBe(first.leafHash);

    writeFileSync(join(dir, 'checkpoints/90.txt'), full.get('checkpoints/90.txt')!.toString().replace('\n90\n', '\n91\n'));
    const changed = spawnSync('bash', ['-c', script], { cwd: dir, encoding: 'utf8' });
    expect(changed.status).not.toBe(0);
    expect(changed.stdout).toMatch(/BAD SIGNATURE \(not under your root\): checkpoints\/90\.txt/);
  });

  describe('timestamps', () => {
    const at = async (size: number) => (await log.audit.checkpoints([size]))[0]!;

    it('ends the bundle at the newest timestamped checkpoint when the gateway takes timestamps', async () => {
      // A newer checkpoint (95) without a timestamp yet.
      const later: AuditStore = { ...log.audit, latestCheckpoint: async () => ({ ...(await at(90)), treeSize: 95, timestampReply: null }) };
      const plan = await planExport(later, {}, { timestampedAnchor: true });
      expect(plan.anchor.treeSize).toBe(90);
      expect(plan.to).toBe(90);
      const err = (await planExport(later, { to: 93 }, { timestampedAnchor: true }).catch((e: unknown) => e)) as GatewayError;
      expect(err.errors).toEqual([{ field: 'query.to', message: 'must not exceed 90: entries after the newest timestamped checkpoint 90 are exported once the next timestamp is taken' }]);
      expect((await planExport(later, { to: 93 })).anchor.treeSize).toBe(95);
      const none = await createTestLog();
      await none.append(3);
      const nothing = (await planExport(none.audit, {}, { timestampedAnchor: true }).catch((e: unknown) => e)) as GatewayError;
      await none.close();
      expect(nothing.code).toBe('CHECKPOINT_NOT_FOUND');
    });

    it('refuses a bundle whose newest checkpoint, or every checkpoint, is untimestamped unless allowed', async () => {
      const at64: AuditStore = { ...log.audit, latestCheckpoint: () => at(64) };
      const files = await exported({ from: 40, to: 64 }, at64);
      expect((JSON.parse(files.get('manifest.json')!.toString()) as Manifest).checkpoints).toEqual([
        { treeSize: 45, timestamped: true },
        { treeSize: 64, timestamped: false },
      ]);
      await rejects(files, 'checkpoint 64', /the bundle's newest checkpoint is not timestamped/);
      const allowed = await verify(files, { allowUntimestamped: true });
      expect(allowed.untimestampedAllowed).toBe(true);
      expect(summaryLine(allowed)).toMatch(/the newest NOT timestamped: accepted by --allow-untimestamped/);

      const at4: AuditStore = { ...log.audit, latestCheckpoint: () => at(4), firstTimestampedCheckpoint: async () => undefined };
      const unstamped = await exported({}, at4);
      await rejects(unstamped, 'checkpoint 4', /no checkpoint of the bundle is timestamped/);
      expect(await verify(unstamped, { allowUntimestamped: true })).toMatchObject({ treeSize: 4, timestamped: 0 });
    });
  });

  describe('witnesses', () => {
    const origin = ORIGIN;
    const logKey = createPrivateKey(readFileSync(sample('log-signer.key.pem')));
    const witnessA = generateKeyPairSync('ed25519');
    const witnessB = generateKeyPairSync('ed25519');
    const keyA = parseWitnessKey(witnessVkey('thanhtra.example/a', witnessA.publicKey));
    const keyB = parseWitnessKey(witnessVkey('thanhtra.example/b', witnessB.publicKey));
    const time = Math.floor(Date.now() / 1000);
    const note = (text: string, cosigners: { name: string; key: ReturnType<typeof generateKeyPairSync>['privateKey'] }[]) =>
      text + '\n' + logNoteSigner(origin, logKey).sign(text) + cosigners.map((c) => cosign(text, c.name, c.key, time)).join('');
    const A = { name: 'thanhtra.example/a', key: witnessA.privateKey };
    const B = { name: 'thanhtra.example/b', key: witnessB.privateKey };
    /** The full bundle with signed notes: the newest cosigned by `cosigners`, the others by none. */
    const withNotes = (cosigners: (typeof A)[]) => {
      const files = new Map(full);
      for (const size of [4, 11, 30, 45, 64, 90]) files.set(`checkpoints/${size}.note`, Buffer.from(note(full.get(`checkpoints/${size}.txt`)!.toString(), size === 90 ? cosigners : [])));
      return files;
    };

    it("includes each witness's newest cosigned checkpoint up to the bundle's", async () => {
      const cosigned: AuditStore = { ...log.audit, latestCosignedSizes: async (max) => [4, 30, 90].filter((n) => n <= max) };
      const plan = await planExport(cosigned, { from: 50, to: 60 });
      expect(plan.checkpoints.map((c) => c.treeSize)).toEqual([4, 30, 90]);
      const files = await exported({ from: 50, to: 60 }, cosigned);
      expect(await verify(files)).toMatchObject({ checkpoints: 3, consistencyProofs: 2 });
    });

    it('checks the log signature of each note with the pinned signer, and a quorum of cosignatures', async () => {
      const both = withNotes([A, B]);
      const summary = await verify(both, { witnesses: [keyA, keyB] });
      expect(summary.witnesses).toEqual({ cosigned: ['thanhtra.example/a', 'thanhtra.example/b'], given: 2, quorum: 2 });
      expect(summaryLine(summary)).toMatch(/cosigned by 2 of 2 witness\(es\) \(quorum 2: thanhtra\.example\/a, thanhtra\.example\/b\)/);
      const onlyA = withNotes([A]);
      await rejects(onlyA, 'checkpoint 90', /cosigned by 1 of the 2 witness\(es\) given, 2 required: none from thanhtra\.example\/b/, { witnesses: [keyA, keyB] });
      expect((await verify(onlyA, { witnesses: [keyA, keyB], quorum: 1 })).witnesses.cosigned).toEqual(['thanhtra.example/a']);
      await rejects(full, 'checkpoint 90', /carries no signed note/, { witnesses: [keyA] });
      // A note whose log signature is by another key than the pinned signer's.
      const other = withNotes([]);
      const text = full.get('checkpoints/30.txt')!.toString();
      const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
      other.set('checkpoints/30.note', Buffer.from(text + '\n' + logNoteSigner(origin, stranger).sign(text)));
      await rejects(other, 'checkpoint 30', /the log's signature in 30\.note does not verify with the pinned log signer/);
      // A cosignature line changed.
      const changed = withNotes([A]);
      const lines90 = changed.get('checkpoints/90.note')!.toString().split('\n');
      const last = lines90[lines90.length - 2]!;
      lines90[lines90.length - 2] = last.slice(0, -6) + (last.slice(-6, -5) === 'A' ? 'B' : 'A') + last.slice(-5);
      changed.set('checkpoints/90.note', Buffer.from(lines90.join('\n')));
      await rejects(changed, 'checkpoint 90', /the cosignature of witness thanhtra\.example\/a does not verify/, { witnesses: [keyA] });
    });

    it("refuses a bundle cut back behind, or forked from, a witness's saved checkpoint", async () => {
      const files = withNotes([A]);
      const savedAt = (size: number, root?: string) => {
        const text = `${origin}\n${size}\n${root ?? full.get(`checkpoints/${size}.txt`)!.toString().split('\n')[2]}\n`;
        return { source: `witness-a-${size}.note`, note: note(text, [A]) };
      };
      expect(await verify(files, { witnesses: [keyA], witnessCheckpoints: [savedAt(90), savedAt(45)] })).toMatchObject({ witnessCheckpoints: 2 });
      // Sizes that are no checkpoint of the bundle: recomputed from the entries.
      const { MerkleAccumulator } = await import('./merkle.ts');
      const acc = new MerkleAccumulator();
      for (const l of lines(full, 'entries.jsonl').slice(0, 50)) acc.append(Buffer.from((JSON.parse(l) as { leafHash: string }).leafHash, 'base64'));
      expect(await verify(files, { witnessCheckpoints: [savedAt(50, acc.root().toString('base64'))] })).toMatchObject({ witnessCheckpoints: 1 });
      await rejects(files, 'tree size 50', /fork: witness thanhtra\.example\/a saw another root/, { witnessCheckpoints: [savedAt(50, full.get('checkpoints/45.txt')!.toString().split('\n')[2])] });

      const at64: AuditStore = { ...log.audit, latestCheckpoint: async () => (await log.audit.checkpoints([64]))[0]! };
      const cutBack = await exported({}, at64);
      await rejects(cutBack, 'checkpoint 64', /the bundle ends at 64 but witness thanhtra\.example\/a has seen size 90: the history was cut back/, {
        allowUntimestamped: true,
        witnessCheckpoints: [savedAt(90)],
      });
      await rejects(files, 'checkpoint 45', /fork: witness thanhtra\.example\/a saw tree size 45 with root/, { witnessCheckpoints: [savedAt(45, full.get('checkpoints/30.txt')!.toString().split('\n')[2])] });
      const middle = await exported({ from: 20, to: 50 });
      await rejects(middle, 'witness-a-11.note', /witness thanhtra\.example\/a saw tree size 11, which this bundle neither holds as a checkpoint nor covers from entry 0/, { witnessCheckpoints: [savedAt(11)] });
      // A saved checkpoint the log never signed.
      const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
      const text = full.get('checkpoints/90.txt')!.toString();
      await rejects(files, 'unsigned.note', /not signed by the pinned log signer/, { witnessCheckpoints: [{ source: 'unsigned.note', note: text + '\n' + logNoteSigner(origin, stranger).sign(text) }] });
    });
  });
});
