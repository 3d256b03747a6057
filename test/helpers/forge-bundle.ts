import type { KeyObject } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { BUNDLE_FORMAT, type Manifest } from '../../src/audit/bundle.ts';
import { checkpointText } from '../../src/audit/integrator.ts';
import { consistencyProofFromLeaves, inclusionProofFromLeaves, leafHash, rootHash } from '../../src/audit/merkle.ts';
import { cosign, logNoteSigner } from '../../src/audit/note.ts';
import { signDetached } from '../../src/signing/cms.ts';
import { loadPemCredentials, type Credentials } from '../../src/signing/trust-store.ts';
import { timestampReply } from './audit-log.ts';

/**
 * Bundles an attacker could assemble, built with the gateway's own primitives (CMS signing, the
 * Merkle tree, the sandbox TSA code): a history rewritten and re-signed, with its own proofs,
 * timestamps and certificates. The files are those of an export bundle, by path in its folder.
 */

export interface ForgeOptions {
  origin: string;
  /** Leaves (canonical JSON text) in log order: the whole history from index 0. */
  leaves: string[];
  /** Checkpoint sizes, ascending; the last is the bundle's checkpoint. */
  sizes: number[];
  /** Signs every checkpoint (CMS, detached). */
  signer: Credentials;
  /** Timestamps these checkpoint sizes with this TSA (default: none). */
  tsa?: { credentials: Credentials; sizes: number[] };
  /** Signed notes: the log's note key, and witnesses cosigning the bundle's checkpoint. */
  notes?: { key: KeyObject; witnesses?: { name: string; key: KeyObject }[] };
  /** Files under certs/ (and anything else, e.g. README.md) copied as they are. */
  extra: Map<string, Buffer>;
}

const b64 = (b: Buffer) => b.toString('base64');
const jsonl = (rows: unknown[]) => Buffer.from(rows.map((r) => JSON.stringify(r) + '\n').join(''));

/** The signed note of a checkpoint text: the log's signature line, then witness cosignatures. */
export function signedNote(origin: string, text: string, key: KeyObject, witnesses: { name: string; key: KeyObject }[] = [], time = Math.floor(Date.now() / 1000)): string {
  return `${text}\n${logNoteSigner(origin, key).sign(text)}${witnesses.map((w) => cosign(text, w.name, w.key, time)).join('')}`;
}

/** A complete bundle of entries 0..last size - 1 over `leaves`, every proof recomputed. */
export async function forgeBundle(options: ForgeOptions): Promise<Map<string, Buffer>> {
  const { origin, sizes } = options;
  const anchor = sizes[sizes.length - 1]!;
  const hashes = options.leaves.slice(0, anchor).map((leaf) => leafHash(Buffer.from(leaf, 'utf8')));
  const files = new Map(options.extra);
  const stamped = new Set(options.tsa?.sizes ?? []);
  for (const size of sizes) {
    const text = checkpointText(origin, size, rootHash(hashes.slice(0, size)));
    files.set(`checkpoints/${size}.txt`, Buffer.from(text));
    files.set(`checkpoints/${size}.p7s`, await signDetached(Buffer.from(text), options.signer));
    if (options.tsa && stamped.has(size)) files.set(`checkpoints/${size}.tsr`, await timestampReply(Buffer.from(text), options.tsa.credentials));
    if (options.notes) files.set(`checkpoints/${size}.note`, Buffer.from(signedNote(origin, text, options.notes.key, size === anchor ? options.notes.witnesses : [])));
  }
  const root = rootHash(hashes);
  files.set('entries.jsonl', jsonl(hashes.map((hash, index) => ({ index, leafHash: b64(hash), leaf: options.leaves[index] }))));
  files.set(
    'proofs/inclusion.jsonl',
    jsonl(hashes.map((hash, index) => ({ index, treeSize: anchor, leafHash: b64(hash), auditPath: inclusionProofFromLeaves(index, hashes).map(b64), rootHash: b64(root) }))),
  );
  files.set(
    'proofs/consistency.jsonl',
    jsonl(
      sizes.slice(1).map((second, i) => {
        const first = sizes[i]!;
        return { first, second, proof: consistencyProofFromLeaves(first, second, hashes).map(b64), firstRoot: b64(rootHash(hashes.slice(0, first))), secondRoot: b64(rootHash(hashes.slice(0, second))) };
      }),
    ),
  );
  const manifest: Manifest = {
    format: BUNDLE_FORMAT,
    origin,
    from: 0,
    to: anchor,
    treeSize: anchor,
    rootHash: b64(root),
    checkpoints: sizes.map((treeSize) => ({ treeSize, timestamped: stamped.has(treeSize) })),
    createdAt: new Date().toISOString(),
  };
  files.set('manifest.json', Buffer.from(JSON.stringify(manifest, null, 2) + '\n'));
  return files;
}

/** Writes the bundle's files into `dir` (created), as an unpacked bundle folder. */
export function writeBundle(dir: string, files: Map<string, Buffer>): string {
  for (const [name, content] of files) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), content);
  }
  return dir;
}

/**
 * A PKI of the attacker's own, made with openssl in `dir`: a root, a look-alike log signer (the
 * sample log signer's subject and policy, EC P-256) and a TSA (critical timeStamping).
 */
export function lookAlikePki(dir: string, subject: string, policy: string): { root: string; signer: Credentials; tsa: Credentials; files: Record<'root' | 'signer' | 'tsa', string> } {
  mkdirSync(dir, { recursive: true });
  const openssl = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'root.key.pem', '-out', 'root.pem', '-days', '3650', '-utf8', '-subj', '/C=VN/O=Liên thông sandbox (NOT FOR PRODUCTION)/CN=Liên thông Sample National Root CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  const leaf = (name: string, keyArgs: string[], subj: string, extensions: string[]) => {
    writeFileSync(join(dir, `${name}.ext`), extensions.join('\n') + '\n');
    openssl(['req', '-new', '-newkey', ...keyArgs, '-nodes', '-keyout', `${name}.key.pem`, '-out', `${name}.csr`, '-utf8', '-subj', subj]);
    openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'root.pem', '-CAkey', 'root.key.pem', '-CAcreateserial', '-days', '365', '-sha256', '-extfile', `${name}.ext`, '-out', `${name}.pem`]);
  };
  leaf('signer', ['ec', '-pkeyopt', 'ec_paramgen_curve:P-256'], subject, ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature,nonRepudiation', `certificatePolicies=${policy}`]);
  leaf('tsa', ['rsa:2048'], '/C=VN/O=Liên thông sandbox (NOT FOR PRODUCTION)/CN=Liên thông Sample Time-Stamping Authority', ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature,nonRepudiation', 'extendedKeyUsage=critical,timeStamping']);
  const files = { root: join(dir, 'root.pem'), signer: join(dir, 'signer.pem'), tsa: join(dir, 'tsa.pem') };
  return { root: files.root, signer: credentialsOf(dir, 'signer'), tsa: credentialsOf(dir, 'tsa'), files };
}

function credentialsOf(dir: string, name: string): Credentials {
  return loadPemCredentials(join(dir, `${name}.pem`), join(dir, `${name}.key.pem`));
}
