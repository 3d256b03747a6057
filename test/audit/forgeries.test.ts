import { spawnSync } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { README_PLACEHOLDERS, exportBundle, planExport, readBundleArchive, stripFolder, type Manifest } from '../../src/audit/bundle.ts';
import { checkpointText } from '../../src/audit/integrator.ts';
import { rootHash, leafHash } from '../../src/audit/merkle.ts';
import { parseWitnessKey } from '../../src/audit/note.ts';
import { LOG_SIGNING_POLICY_OID } from '../../src/signing/log-signer.ts';
import { sample } from '../../src/signing/material.ts';
import { loadPemCredentials, readCertificates, withChain, type Credentials } from '../../src/signing/trust-store.ts';
import { LOG_SIGNER_PEM, ORIGIN, ROOT_PEM, certificates, createTestLog, logSignerCredentials, tsaCredentials, type TestLog } from '../helpers/audit-log.ts';
import { BIN, run } from '../helpers/cli.ts';
import { forgeBundle, lookAlikePki, signedNote, writeBundle } from '../helpers/forge-bundle.ts';

/**
 * What an inspectorate does with a bundle, against forgeries: the bundle README's commands run
 * verbatim (only the auditor's root and the expected signer fingerprint filled in, as the README
 * says), and `lienthong audit verify`. Each refusal is printed: it is the evidence.
 */

const work = mkdtempSync(join(tmpdir(), 'lienthong-forgeries-'));
const LOG_SIGNER = new X509Certificate(readFileSync(LOG_SIGNER_PEM));
const issuing = readCertificates(sample('issuing-ca.pem'));
const portal = withChain(loadPemCredentials(sample('portal-client.pem'), sample('portal-client.key.pem')), issuing);
const witnessVkeyFile = sample('witness.vkey');
const witness = { name: parseWitnessKey(readFileSync(witnessVkeyFile, 'utf8')).name, key: createPrivateKey(readFileSync(sample('witness.key.pem'))) };
const logKey = logSignerCredentials.key;

// Checkpoints at 5, 12, 21, 27; timestamped: 12 and 27.
const BATCHES: [number, boolean][] = [
  [5, false],
  [7, true],
  [9, false],
  [6, true],
];

let log: TestLog;
let good: Map<string, Buffer>;
let blocks: { verify: string; openssl: string; witness: string };
let pathWithCli: string;

/** The ```sh blocks of the README with the two placeholders an auditor fills in, filled in. */
function auditorCommands(readme: string): { verify: string; openssl: string; witness: string } {
  const sh = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
  const fill = (block: string) => block.replaceAll(README_PLACEHOLDERS.root, ROOT_PEM).replaceAll(README_PLACEHOLDERS.fingerprint, LOG_SIGNER.fingerprint256);
  const verify = sh.find((b) => b.includes('lienthong audit verify'));
  const openssl = sh.find((b) => b.includes('openssl cms -verify'));
  const witness = sh.find((b) => b.includes('cosignature/v1'));
  if (!verify || !openssl || !witness) throw new Error('the README lacks the verify, the openssl or the witness block');
  return { verify: fill(verify), openssl: fill(openssl), witness };
}

interface Outcome {
  status: number | null;
  output: string;
}

/** Runs one README block with bash in the bundle folder, `lienthong` on the PATH. */
function runBlock(block: string, dir: string): Outcome {
  const result = spawnSync('bash', ['-c', block], { cwd: dir, encoding: 'utf8', env: { PATH: pathWithCli, HOME: process.env.HOME ?? '', LOG_LEVEL: 'warn' }, timeout: 60_000 });
  return { status: result.status, output: (result.stdout + result.stderr).trim() };
}

/** Both README procedures against the bundle in `dir`; prints what each said. */
function audit(label: string, dir: string): { verify: Outcome; openssl: Outcome } {
  const verify = runBlock(blocks.verify, dir);
  const openssl = runBlock(blocks.openssl, dir);
  console.log(`--- ${label}\n$ lienthong audit verify . --root <root> --signer-fingerprint <log signer>   (exit ${verify.status})\n${verify.output}\n$ <the README's openssl procedure>   (exit ${openssl.status})\n${openssl.output}\n`);
  return { verify, openssl };
}

const leavesOf = (files: Map<string, Buffer>) =>
  files
    .get('entries.jsonl')!
    .toString('utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as { leaf: string }).leaf);
const certsOf = (files: Map<string, Buffer>) => new Map([...files].filter(([name]) => name.startsWith('certs/') || name === 'README.md'));
const pem = (...certs: X509Certificate[]) => Buffer.from(certs.map((c) => c.toString().trim() + '\n').join(''));

beforeAll(async () => {
  const bin = join(work, 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'lienthong'), `#!/bin/sh\nexec "${process.execPath}" "${BIN}" "$@"\n`);
  chmodSync(join(bin, 'lienthong'), 0o755);
  pathWithCli = `${bin}:${process.env.PATH ?? ''}`;

  log = await createTestLog();
  for (const [n, timestamp] of BATCHES) await log.append(n, { timestamp });
  const plan = await planExport(log.audit, {}, { timestampedAnchor: true });
  const chunks: Buffer[] = [];
  for await (const chunk of await exportBundle(log.audit, plan, certificates)) chunks.push(chunk);
  good = stripFolder(await readBundleArchive(Buffer.concat(chunks)));
  blocks = auditorCommands(good.get('README.md')!.toString('utf8'));
});
afterAll(async () => {
  await log.close();
  rmSync(work, { recursive: true, force: true });
});

/** The genuine history with entry 8 removed, the tree rebuilt, re-signed by `signer` and re-timestamped by `tsa`. */
function withEntryRemoved(signer: Credentials, tsa: Credentials, extra: Map<string, Buffer>) {
  const leaves = leavesOf(good);
  leaves.splice(8, 1);
  return forgeBundle({ origin: ORIGIN, leaves, sizes: [5, 11, 20, 26], signer, tsa: { credentials: tsa, sizes: [11, 26] }, extra });
}

describe('the bundle README procedures and `lienthong audit verify` against forgeries', () => {
  it('(a) accept the bundle the gateway exported', () => {
    const { verify, openssl } = audit('(a) the genuine bundle', writeBundle(join(work, 'a'), good));
    expect(verify.status, verify.output).toBe(0);
    expect(verify.output).toMatch(/^bundle OK: entries 0\.\.26 \(27\) .* in checkpoint 27 .*4 checkpoint\(s\) signed by .*exchange-log signer.*2 timestamped/);
    expect(openssl.status, openssl.output).toBe(0);
    expect(openssl.output).toBe('OK: every checkpoint is signed by the expected log signer under your root, the newest is timestamped');
  });

  it('(b) refuse a history with an entry removed, the tree rebuilt and every checkpoint re-signed by the portal client (same national root)', async () => {
    // Even re-timestamped by the real TSA.
    const forged = await withEntryRemoved(portal, tsaCredentials, new Map([...certsOf(good), ['certs/log-signer.pem', pem(portal.certificate, ...portal.chain)]]));
    const { verify, openssl } = audit('(b) entry removed, re-signed by the portal client certificate', writeBundle(join(work, 'b'), forged));
    expect(verify.status).toBe(1);
    expect(verify.output).toMatch(/audit verify FAILED: checkpoint 5: signed by ".*CN=sandbox-portal" \(SHA-256 [0-9A-F]{64}\), not by the pinned log signer \(SHA-256 [0-9A-F]{64}\)/);
    expect(openssl.status).not.toBe(0);
    expect(openssl.output).toMatch(/WRONG SIGNER: checkpoints\/5\.txt is signed by/);
    expect(openssl.output).toMatch(/NOT A LOG-SIGNING CERTIFICATE: checkpoints\/5\.txt/);
    expect(openssl.output).not.toMatch(/^OK/m);
  });

  it('(c) refuse a bundle with its own root, a look-alike log signer and its own TSA', async () => {
    const fake = lookAlikePki(join(work, 'c-pki'), '/C=VN/O=Liên thông sandbox (NOT FOR PRODUCTION)/CN=Liên thông exchange-log signer (sandbox)', LOG_SIGNING_POLICY_OID);
    const signer = new X509Certificate(readFileSync(fake.files.signer));
    expect(signer.subject).toBe(LOG_SIGNER.subject);
    const root = new X509Certificate(readFileSync(fake.root));
    const tsa = new X509Certificate(readFileSync(fake.files.tsa));
    const forged = await withEntryRemoved(
      { ...fake.signer, chain: [root] },
      { ...fake.tsa, chain: [root] },
      new Map([
        ['README.md', good.get('README.md')!],
        ['certs/log-signer.pem', pem(signer, root)],
        ['certs/intermediates.pem', pem(root)],
        ['certs/tsa.pem', pem(tsa, root)],
      ]),
    );
    const { verify, openssl } = audit('(c) own root, look-alike log signer, own TSA', writeBundle(join(work, 'c'), forged));
    expect(verify.status).toBe(1);
    expect(verify.output).toMatch(/audit verify FAILED: checkpoint 5: signature \(5\.p7s\) does not verify/);
    expect(openssl.status).not.toBe(0);
    expect(openssl.output).toMatch(/BAD SIGNATURE \(not under your root\): checkpoints\/5\.txt/);
    expect(openssl.output).toMatch(/BAD SIGNATURE \(not under your root\): checkpoints\/26\.txt/);
    expect(openssl.output).not.toMatch(/^OK/m);
  });

  it('(d) refuse a bundle whose newest checkpoint is not timestamped, unless told to accept it', async () => {
    const files = new Map(good);
    files.delete('checkpoints/27.tsr');
    const manifest = JSON.parse(files.get('manifest.json')!.toString()) as Manifest;
    manifest.checkpoints = manifest.checkpoints.map((c) => (c.treeSize === 27 ? { ...c, timestamped: false } : c));
    files.set('manifest.json', Buffer.from(JSON.stringify(manifest, null, 2) + '\n'));
    const dir = writeBundle(join(work, 'd'), files);
    const { verify, openssl } = audit('(d) newest checkpoint untimestamped', dir);
    expect(verify.status).toBe(1);
    expect(verify.output).toMatch(/audit verify FAILED: checkpoint 27: the bundle's newest checkpoint is not timestamped/);
    expect(openssl.status).not.toBe(0);
    expect(openssl.output).toBe('NOT TIMESTAMPED: the newest checkpoint 27');
    const allowed = await run(['audit', 'verify', dir, '--root', ROOT_PEM, '--signer', LOG_SIGNER_PEM, '--allow-untimestamped']);
    console.log(`--- (d) with --allow-untimestamped (exit ${allowed.code})\n${allowed.stdout}${allowed.stderr}`);
    expect(allowed.code, allowed.stderr).toBe(0);
    expect(allowed.stdout).toMatch(/1 timestamped \(the newest NOT timestamped: accepted by --allow-untimestamped\)/);
  });

  describe('(e) against a witness', () => {
    // The log's genuine history of 27 entries, its checkpoints signed as notes by the log signer's
    // key; the witness cosigned 27 and saved it.
    let saved: string;
    const sizes = [5, 12, 21, 27];

    beforeAll(() => {
      const hashes = leavesOf(good).map((leaf) => leafHash(Buffer.from(leaf)));
      saved = join(work, 'witness-saved.note');
      writeFileSync(saved, signedNote(ORIGIN, checkpointText(ORIGIN, 27, rootHash(hashes)), logKey, [witness]));
    });

    /** Signed by the log's own keys; the witness cosigned its newest checkpoint only if `cosigned`. */
    const genuine = (leaves: string[], upTo: number[], cosigned = true) =>
      forgeBundle({
        origin: ORIGIN,
        leaves,
        sizes: upTo,
        signer: logSignerCredentials,
        tsa: { credentials: tsaCredentials, sizes: upTo.filter((s) => s !== 5) },
        notes: { key: logKey, witnesses: cosigned ? [witness] : [] },
        extra: certsOf(good),
      });
    /** The README's witness block, its two values filled in with the saved checkpoint and the witness's vkey. */
    const witnessBlock = (label: string, dir: string, checkpoint = saved): Outcome => {
      const block = blocks.witness.replaceAll(README_PLACEHOLDERS.witnessCheckpoint, checkpoint).replaceAll(README_PLACEHOLDERS.witnessVkey, readFileSync(witnessVkeyFile, 'utf8').trim());
      const outcome = runBlock(block, dir);
      console.log(`--- ${label}\n$ <the README's witness procedure with the witness's saved checkpoint>   (exit ${outcome.status})\n${outcome.output}\n`);
      return outcome;
    };
    const withWitness = (dir: string) => ['audit', 'verify', dir, '--root', ROOT_PEM, '--signer', LOG_SIGNER_PEM, '--witness', witnessVkeyFile, '--witness-checkpoint', saved];

    it('accept the history the witness saw', async () => {
      const dir = writeBundle(join(work, 'e-full'), await genuine(leavesOf(good), sizes));
      const result = await run(withWitness(dir));
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toMatch(/cosigned by 1 of 1 witness\(es\) \(quorum 1: thanhtra\.sonla\.gov\.vn\/witness-sandbox\); consistent with 1 witness checkpoint/);
      const readme = witnessBlock('(e) the genuine history, against the witness', dir);
      expect(readme.status, readme.output).toBe(0);
      expect(readme.output).toBe('OK: the witness cosigned tree size 27 and this bundle holds that checkpoint unchanged');
      // A saved checkpoint whose cosignature does not hold is refused by the same block.
      const altered = join(work, 'witness-altered.note');
      writeFileSync(altered, readFileSync(saved, 'utf8').replace(/^27$/m, '26'));
      const bad = witnessBlock('(e) a saved checkpoint altered after the witness cosigned it', dir, altered);
      expect(bad.status).not.toBe(0);
      expect(bad.output).toMatch(/^BAD COSIGNATURE: .* is not cosigned by thanhtra\.sonla\.gov\.vn\/witness-sandbox$/m);
    });

    it('refuse a history cut back to an earlier checkpoint, though its signatures and timestamps hold', async () => {
      const dir = writeBundle(join(work, 'e-cut'), await genuine(leavesOf(good), [5, 12, 21]));
      const result = await run(withWitness(dir));
      const readme = audit('(e) cut back to checkpoint 21 (signatures and timestamps genuine)', dir);
      console.log(`$ lienthong audit verify . --root <root> --signer <log signer> --witness witness.vkey --witness-checkpoint saved.note   (exit ${result.code})\n${result.stderr}`);
      // Signed and timestamped by the genuine keys: only the witness's checkpoint shows it.
      expect(readme.openssl.status).toBe(0);
      const witnessed = witnessBlock('(e) cut back to checkpoint 21, against the witness', dir);
      expect(witnessed.status).not.toBe(0);
      expect(witnessed.output).toMatch(/^CUT BACK: the bundle ends at 21, the witness has seen tree size 27$/m);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/audit verify FAILED: checkpoint 21: the bundle ends at 21 but witness thanhtra\.sonla\.gov\.vn\/witness-sandbox has seen size 27: the history was cut back \(or export a newer bundle\)/);
    });

    it('refuse a forked history the log signed, against the witness', async () => {
      const leaves = leavesOf(good);
      leaves[24] = leaves[24]!.replace('"outcome":"', '"outcome":"x');
      // The witness never cosigned the forked checkpoint 27.
      const dir = writeBundle(join(work, 'e-fork'), await genuine(leaves, sizes, false));
      const result = await run(withWitness(dir));
      console.log(`--- (e) forked after 21, re-signed by the log's own key\n$ lienthong audit verify ... --witness witness.vkey --witness-checkpoint saved.note   (exit ${result.code})\n${result.stderr}`);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/checkpoint 27: cosigned by 0 of the 1 witness\(es\) given, 1 required: none from thanhtra\.sonla\.gov\.vn\/witness-sandbox/);
      const withoutWitnessKey = await run(['audit', 'verify', dir, '--root', ROOT_PEM, '--signer', LOG_SIGNER_PEM, '--witness-checkpoint', saved]);
      console.log(`$ lienthong audit verify ... (no --witness) --witness-checkpoint saved.note   (exit ${withoutWitnessKey.code})\n${withoutWitnessKey.stderr}`);
      expect(withoutWitnessKey.code).toBe(1);
      expect(withoutWitnessKey.stderr).toMatch(/checkpoint 27: fork: witness thanhtra\.sonla\.gov\.vn\/witness-sandbox saw tree size 27 with root/);
      const witnessed = witnessBlock('(e) forked after 21, against the witness', dir);
      expect(witnessed.status).not.toBe(0);
      expect(witnessed.output).toMatch(/^FORK: the bundle's checkpoint 27 has another root than the witness saw$/m);
    });
  });
});

describe('`lienthong audit verify` usage', () => {
  it('refuses to run without the auditor’s root and the expected signer', async () => {
    const dir = writeBundle(join(work, 'usage'), good);
    const noRoot = await run(['audit', 'verify', dir, '--signer', LOG_SIGNER_PEM]);
    expect(noRoot.code).toBe(2);
    expect(noRoot.stderr).toMatch(/audit verify needs --root: YOUR copy of the root certificate/);
    const noSigner = await run(['audit', 'verify', dir, '--root', ROOT_PEM]);
    expect(noSigner.code).toBe(2);
    expect(noSigner.stderr).toMatch(/audit verify needs the log signer you expect: --signer CERT\.pem or --signer-fingerprint SHA256/);
    const badPrint = await run(['audit', 'verify', dir, '--root', ROOT_PEM, '--signer-fingerprint', 'AB:CD']);
    expect(badPrint.code).toBe(2);
    expect(badPrint.stderr).toMatch(/--signer-fingerprint AB:CD: not a SHA-256 fingerprint/);
    const both = await run(['audit', 'verify', dir, '--root', ROOT_PEM, '--signer', LOG_SIGNER_PEM, '--signer-fingerprint', LOG_SIGNER.fingerprint256]);
    expect(both.code).toBe(2);
    const quorum = await run(['audit', 'verify', dir, '--root', ROOT_PEM, '--signer', LOG_SIGNER_PEM, '--witness', witnessVkeyFile, '--quorum', '2']);
    expect(quorum.code).toBe(2);
    expect(quorum.stderr).toMatch(/--quorum must be a whole number from 1 to the number of --witness given \(1\)/);
    // The sample gateway certificate pinned: the right root, the wrong signer.
    const gateway = await run(['audit', 'verify', dir, '--root', ROOT_PEM, '--signer', sample('gateway.pem')]);
    expect(gateway.code).toBe(1);
    expect(gateway.stderr).toMatch(/not by the pinned log signer ".*lienthong-gateway/);
  });
});
