import { X509Certificate } from 'node:crypto';
import { createReadStream, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { canonicalize } from 'json-canonicalize';
import * as pkijs from 'pkijs';
import { GatewayError } from '../errors/gateway-error.ts';
import { verifyDetached } from '../signing/cms.ts';
import { parseTimestampResponse, verifyTimestamp } from '../signing/tsa.ts';
import { createTrustStore, parseCertificates, type TrustStore } from '../signing/trust-store.ts';
import { LOG_SIGNING_POLICY_OID, notALogSigner } from '../signing/log-signer.ts';
import { leafDigests } from './leaf.ts';
import { logNoteVerifier, parseCheckpointText as parseCheckpoint, splitNote, verifyCosignature, type NoteSignature, type WitnessKey } from './note.ts';
import { HASH_SIZE, MerkleAccumulator, inclusionProof, inclusionProofNodeIds, leafHash, rangeNodeIds, rangeRoot, verifyConsistency, verifyInclusion, type NodeId } from './merkle.ts';
import type { AuditStore, CheckpointRecord } from './store.ts';
import { readTar, tarStream, type TarLimits, type TarMember } from './tar.ts';

/**
 * The audit export bundle: evidence an auditor checks offline with `lienthong audit verify` or
 * plain `openssl`. Layout (inside one top-level folder `lienthong-audit-<from>-<to>/`):
 *
 *   README.md                      what is inside and the exact commands
 *   manifest.json                  format, origin, range, the bundle's checkpoint, checkpoint list
 *   entries.jsonl                  {"index","leafHash","leaf"} per entry, from..to-1
 *   checkpoints/<size>.txt         C2SP checkpoint text, exactly the bytes signed
 *   checkpoints/<size>.p7s         detached CMS signature (DER) by the log-signing certificate
 *   checkpoints/<size>.tsr         RFC 3161 TimeStampResp (DER) over the .txt, when there is one
 *   checkpoints/<size>.note        the C2SP signed note (log signature, witness cosignatures), when there is one
 *   certs/log-signer.pem           the log-signing certificate and its intermediates
 *   certs/intermediates.pem        issuing CAs only: a pool to build chains, never a trust anchor
 *   certs/tsa.pem                  the time-stamping authority's certificate and intermediates (with timestamps only)
 *   proofs/inclusion.jsonl         one InclusionProof per entry against the bundle's checkpoint
 *   proofs/consistency.jsonl       ConsistencyProofs between consecutive checkpoints of the bundle
 *
 * No root is included: the auditor brings their own, and pins the log signer. The bundle's
 * checkpoint is the latest one when the export starts (with a TSA, the latest timestamped one; it
 * covers `to`); the other checkpoints are those whose size falls in (from, to], each witness's
 * newest cosigned one up to the bundle's, and the first timestamped one covering `to` (which dates
 * every entry of the range). Proof objects have the API's shapes.
 */

export const BUNDLE_FORMAT = 'lienthong-audit-bundle/1';
export const MAX_BUNDLE_ENTRIES = 100_000;
/** Checkpoints in range beyond this are thinned: timestamped ones are kept first. */
export const MAX_BUNDLE_CHECKPOINTS = 1_000;

/** Certificates the gateway was configured with, copied into `certs/`. */
export interface BundleCertificates {
  /** The log-signing certificate, then its intermediates. */
  signer: readonly X509Certificate[];
  /** The trusted root(s): never copied into bundles (auditors bring their own), even when also listed as intermediates. */
  roots: readonly X509Certificate[];
  /** Further intermediates (e.g. the TSA's issuing CA). */
  intermediates?: readonly X509Certificate[];
  /** The TSA certificate; when absent it is taken from the timestamp tokens. */
  tsa?: readonly X509Certificate[];
}

export interface ExportPlan {
  from: number;
  to: number;
  /** The bundle's checkpoint: every inclusion proof is against its tree. */
  anchor: CheckpointRecord;
  /** All checkpoints of the bundle, ascending, the anchor last. */
  checkpoints: CheckpointRecord[];
  /** Top-level folder and file name stem: lienthong-audit-<from>-<to>. */
  name: string;
}

export interface Manifest {
  format: string;
  origin: string;
  from: number;
  to: number;
  treeSize: number;
  rootHash: string;
  checkpoints: { treeSize: number; timestamped: boolean }[];
  createdAt: string;
}

const b64 = (hash: Buffer) => hash.toString('base64');

function invalid(field: string, message: string): GatewayError {
  return new GatewayError('VALIDATION_FAILED', { detail: `${field} ${message}`, errors: [{ field, message }] });
}

/** Keeps every timestamped checkpoint (up to the cap), then spreads the others evenly. */
function thin<T extends { timestamped: boolean }>(list: T[], max: number): T[] {
  if (list.length <= max) return list;
  const stamped = list.filter((c) => c.timestamped);
  if (stamped.length >= max) return stamped.slice(stamped.length - max);
  const others = list.filter((c) => !c.timestamped);
  const room = max - stamped.length;
  const picked = Array.from({ length: room }, (_, i) => others[Math.floor(((i + 1) * others.length) / room) - 1]!);
  return [...stamped, ...picked];
}

export interface PlanOptions {
  /**
   * The gateway takes timestamps (a TSA is configured): the bundle ends at the newest timestamped
   * checkpoint, so that its every entry is dated by a third party.
   */
  timestampedAnchor?: boolean;
}

/** Checks the range and picks the checkpoints; throws 400/404 GatewayErrors before anything is sent. */
export async function planExport(store: AuditStore, query: { from?: number | undefined; to?: number | undefined }, options: PlanOptions = {}): Promise<ExportPlan> {
  const latest = await store.latestCheckpoint();
  if (!latest || latest.treeSize === 0) throw new GatewayError('CHECKPOINT_NOT_FOUND', { detail: 'the exchange log has no signed checkpoint yet: nothing to export' });
  let anchor = latest;
  if (options.timestampedAnchor) {
    const stamped = await store.latestTimestampedCheckpoint();
    if (!stamped || stamped.treeSize === 0) throw new GatewayError('CHECKPOINT_NOT_FOUND', { detail: 'no checkpoint of the exchange log is timestamped yet: nothing to export until the time-stamping authority answers' });
    anchor = stamped;
  }
  const from = query.from ?? 0;
  const to = query.to ?? anchor.treeSize;
  if (to > anchor.treeSize) {
    if (anchor !== latest) {
      throw invalid('query.to', `must not exceed ${anchor.treeSize}: entries after the newest timestamped checkpoint ${anchor.treeSize} are exported once the next timestamp is taken`);
    }
    throw invalid('query.to', `must not exceed the latest checkpoint's tree size (${anchor.treeSize})`);
  }
  if (from >= to) throw invalid('query.from', `must be below to (${to})`);
  if (to - from > MAX_BUNDLE_ENTRIES) throw invalid('query.to', `a bundle holds at most ${MAX_BUNDLE_ENTRIES} entries: export from ${from} to ${from + MAX_BUNDLE_ENTRIES} and continue from there`);
  const inRange = (await store.checkpointSizes(from + 1, to)).filter((c) => c.treeSize !== anchor.treeSize);
  const chosen = thin(inRange, MAX_BUNDLE_CHECKPOINTS - 2).map((c) => c.treeSize);
  // Each witness's newest cosigned checkpoint up to the anchor: an auditor compares it with the
  // checkpoint that witness saved.
  for (const size of await store.latestCosignedSizes(anchor.treeSize)) if (size > 0 && size !== anchor.treeSize && !chosen.includes(size)) chosen.push(size);
  const checkpoints = await store.checkpoints(chosen);
  // The first timestamp covering the whole range dates every entry in it.
  const stamped = await store.firstTimestampedCheckpoint(to);
  if (stamped && stamped.treeSize < anchor.treeSize && !chosen.includes(stamped.treeSize)) checkpoints.push(stamped);
  checkpoints.push(anchor);
  checkpoints.sort((a, b) => a.treeSize - b.treeSize);
  return { from, to, anchor, checkpoints, name: `lienthong-audit-${from}-${to}` };
}

/** Certificates carried in a TimeStampResp's token (the TSA's, when it was asked for). */
function tokenCertificates(reply: Buffer): X509Certificate[] {
  try {
    const token = parseTimestampResponse(reply).token;
    if (!token) return [];
    const contentInfo = pkijs.ContentInfo.fromBER(new Uint8Array(token));
    const signedData = new pkijs.SignedData({ schema: contentInfo.content });
    return (signedData.certificates ?? [])
      .filter((c): c is pkijs.Certificate => c instanceof pkijs.Certificate)
      .map((c) => new X509Certificate(Buffer.from(c.toSchema().toBER(false))));
  } catch {
    return [];
  }
}

function uniqueCertificates(certs: Iterable<X509Certificate>): X509Certificate[] {
  const seen = new Map<string, X509Certificate>();
  for (const cert of certs) if (!seen.has(cert.fingerprint256)) seen.set(cert.fingerprint256, cert);
  return [...seen.values()];
}

const pem = (certs: readonly X509Certificate[]) => Buffer.from(certs.map((c) => c.toString().trim() + '\n').join(''));

function certificateFiles(plan: ExportPlan, certificates: BundleCertificates): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const tsa = certificates.tsa?.length
    ? [...certificates.tsa]
    : uniqueCertificates(plan.checkpoints.flatMap((c) => (c.timestampReply ? tokenCertificates(c.timestampReply) : []))).filter((c) => !c.ca);
  // Only issuing CAs: no root travels in the bundle, the auditor brings their own.
  const isRoot = (c: X509Certificate) => c.subject === c.issuer || certificates.roots.some((r) => r.fingerprint256 === c.fingerprint256);
  const intermediates = uniqueCertificates([...certificates.signer.slice(1), ...(certificates.intermediates ?? [])]).filter((c) => c.ca && !isRoot(c));
  files.set('certs/log-signer.pem', pem(certificates.signer));
  if (intermediates.length > 0) files.set('certs/intermediates.pem', pem(intermediates));
  if (tsa.length > 0 && plan.checkpoints.some((c) => c.timestampReply)) files.set('certs/tsa.pem', pem(uniqueCertificates([...tsa, ...intermediates])));
  return files;
}

/** What the bundle README's commands say in place of the auditor's own root and expected signer. */
export const README_PLACEHOLDERS = {
  root: '/path/to/your-root-ca.pem',
  fingerprint: 'EXPECTED_LOG_SIGNER_SHA256',
  witnessCheckpoint: '/path/to/the-witness-checkpoint',
  witnessVkey: 'WITNESS_VKEY',
} as const;

/**
 * The witness step of the bundle README, with OpenSSL and a shell only: the checkpoint a witness
 * saved (its state file: the signed note with its cosignature) must carry a valid cosignature/v1
 * of that witness (Ed25519 over "cosignature/v1", "time T" and the checkpoint text), be of this
 * log, and be contained unchanged in the bundle: a bundle that ends before it was cut back, one
 * with another root at its size is a fork. Its last command's status is 0 only when all holds.
 */
export function witnessProcedure(): string[] {
  const { witnessCheckpoint, witnessVkey } = README_PLACEHOLDERS;
  return [
    `SAVED=${witnessCheckpoint}   # the checkpoint the witness saved (its state file)`,
    `VKEY=${witnessVkey}   # the witness's verifier key as given to you: name+keyid+base64key`,
    'name=${VKEY%%+*}; tmp=$(mktemp -d); fail=0',
    '# The witness public key: Ed25519 SubjectPublicKeyInfo around the 32 key bytes of the vkey.',
    '(printf \'\\x30\\x2a\\x30\\x05\\x06\\x03\\x2b\\x65\\x70\\x03\\x21\\x00\'; printf %s "${VKEY##*+}" | base64 -d | tail -c 32) \\',
    '  | openssl pkey -pubin -inform DER -out $tmp/witness.pem',
    '# The checkpoint text (up to the blank line) and the witness\'s signature: key ID, time, Ed25519.',
    "sed '/^$/q' \"$SAVED\" | sed '$d' > $tmp/text",
    'grep -F "— $name " "$SAVED" | head -n 1 | cut -d" " -f3 | base64 -d > $tmp/sig',
    't=$((16#$(head -c 12 $tmp/sig | tail -c 8 | od -An -tx1 | tr -d " \\n")))',
    "tail -c 64 $tmp/sig > $tmp/ed25519; { printf 'cosignature/v1\\ntime %s\\n' \"$t\"; cat $tmp/text; } > $tmp/signed",
    'openssl pkeyutl -verify -pubin -inkey $tmp/witness.pem -rawin -in $tmp/signed -sigfile $tmp/ed25519 >/dev/null 2>&1 \\',
    '  || { echo "BAD COSIGNATURE: $SAVED is not cosigned by $name"; fail=1; }',
    'size=$(sed -n 2p $tmp/text); root=$(sed -n 3p $tmp/text)',
    'newest=$(ls checkpoints | sed -n "s/^\\([0-9]*\\)\\.txt$/\\1/p" | sort -n | tail -n 1)',
    '[ "$(sed -n 1p $tmp/text)" = "$(sed -n 1p checkpoints/$newest.txt)" ] || { echo "OTHER LOG: the witness checkpoint is of another log"; fail=1; }',
    'if [ "$size" -gt "$newest" ]; then echo "CUT BACK: the bundle ends at $newest, the witness has seen tree size $size"; fail=1',
    'elif [ -f checkpoints/$size.txt ]; then',
    '  [ "$(sed -n 3p checkpoints/$size.txt)" = "$root" ] || { echo "FORK: the bundle\'s checkpoint $size has another root than the witness saw"; fail=1; }',
    'else echo "NOT COVERED: the bundle holds no checkpoint $size (lienthong audit verify --witness-checkpoint recomputes it)"; fail=1; fi',
    'rm -rf $tmp',
    '[ $fail = 0 ] && echo "OK: the witness cosigned tree size $size and this bundle holds that checkpoint unchanged"',
  ];
}

/**
 * The OpenSSL procedure of the bundle README: the same for every bundle (nothing in it comes
 * from the bundle), run in the bundle's folder. Trust ends at the auditor's own root; the
 * bundle's certificates are only intermediates; the signer must be the expected one (SHA-256
 * fingerprint) and carry the log-signing policy; the bundle's newest checkpoint must be
 * timestamped. The last command's status is 0 only when all of that holds.
 */
export function opensslProcedure(): string[] {
  const { root, fingerprint } = README_PLACEHOLDERS;
  return [
    `ROOT=${root}   # your own copy of the national root CA certificate`,
    `EXPECTED=${fingerprint}   # the log signer's SHA-256 fingerprint, as given to you (colons optional)`,
    `POLICY=${LOG_SIGNING_POLICY_OID}`,
    'norm() { tr -d ": \\n" | tr a-f A-F; }',
    'signer=$(mktemp); fail=0',
    'for t in checkpoints/*.txt; do n=${t%.txt}',
    '  if ! openssl cms -verify -binary -inform DER -in $n.p7s -content $t -CAfile "$ROOT" -no-CApath -no-CAstore \\',
    '      -certfile certs/intermediates.pem -purpose any -signer "$signer" -out /dev/null 2>/dev/null; then',
    '    echo "BAD SIGNATURE (not under your root): $t"; fail=1; continue',
    '  fi',
    '  fp=$(openssl x509 -in "$signer" -noout -fingerprint -sha256 | cut -d= -f2)',
    '  [ "$(printf %s "$fp" | norm)" = "$(printf %s "$EXPECTED" | norm)" ] || { echo "WRONG SIGNER: $t is signed by $fp"; fail=1; }',
    '  openssl x509 -in "$signer" -noout -ext certificatePolicies 2>/dev/null | sed "s/^ *//" | grep -qxF "Policy: $POLICY" \\',
    '    || { echo "NOT A LOG-SIGNING CERTIFICATE: $t"; fail=1; }',
    '  if [ -f $n.tsr ]; then',
    '    openssl ts -verify -data $t -in $n.tsr -CAfile "$ROOT" -untrusted certs/tsa.pem >/dev/null 2>&1 || { echo "BAD TIMESTAMP: $t"; fail=1; }',
    '  fi',
    'done',
    'newest=$(ls checkpoints | sed -n "s/^\\([0-9]*\\)\\.txt$/\\1/p" | sort -n | tail -n 1)',
    '[ -n "$newest" ] && [ -f checkpoints/$newest.tsr ] || { echo "NOT TIMESTAMPED: the newest checkpoint ${newest:-?}"; fail=1; }',
    'rm -f "$signer"',
    '[ $fail = 0 ] && echo "OK: every checkpoint is signed by the expected log signer under your root, the newest is timestamped"',
  ];
}

function readme(plan: ExportPlan, certificates: BundleCertificates): string {
  const n = plan.anchor.treeSize;
  const stamped = plan.checkpoints.filter((c) => c.timestampReply);
  const notes = plan.checkpoints.filter((c) => c.note);
  const signer = certificates.signer[0];
  const { root, fingerprint } = README_PLACEHOLDERS;
  const lines = [
    `# Exchange-log evidence: entries ${plan.from} to ${plan.to - 1}`,
    '',
    `Exported from the Liên thông gateway's exchange log \`${plan.anchor.origin}\`. Every entry is one`,
    'exchange with a national system; its `leaf` is the RFC 8785 canonical JSON hashed into an RFC 9162',
    'Merkle tree (leaf hash = SHA-256(0x00 || leaf as UTF-8), base64). Checkpoints are C2SP checkpoint',
    'texts (origin, tree size, base64 root hash) signed by the log-signing certificate (CMS, `.p7s`), a',
    'certificate that signs nothing else (certificate policy `' + LOG_SIGNING_POLICY_OID + '`),',
    'and timestamped by an RFC 3161 authority (`.tsr`) where a timestamp was obtained.',
    '',
    'A leaf with `"v":2` or `"v":3` records the request and response bodies as `requestMac` and `responseMac`:',
    'HMAC-SHA-256 under a key only the gateway holds, so they cannot be reversed or confirmed by trying',
    'ID numbers; only the gateway can confirm that a body is the one recorded. A leaf without `v`',
    '(format 1, written before) records them as plain SHA-256 in `requestHash` and `responseHash`. In',
    'all, `bindingHash` is SHA-256 of the id, the request digest and the response digest, one per line.',
    '',
    `The bundle's checkpoint is tree size ${n}: \`proofs/inclusion.jsonl\` proves each entry in that tree,`,
    '`proofs/consistency.jsonl` proves that each checkpoint of this bundle is a prefix of the next one.',
    '',
    '## Contents',
    '',
    '| file | what it is |',
    '|---|---|',
    '| `manifest.json` | format, origin, range, the bundle checkpoint and the list of checkpoints |',
    `| \`entries.jsonl\` | ${plan.to - plan.from} entries, one JSON object per line: \`index\`, \`leafHash\`, \`leaf\` |`,
    `| \`checkpoints/<size>.txt\`, \`.p7s\`, \`.tsr\` | ${plan.checkpoints.length} checkpoint(s): ${plan.checkpoints.map((c) => c.treeSize).join(', ')}; ${stamped.length} timestamped |`,
    ...(notes.length > 0
      ? ['| `checkpoints/<size>.note` | the checkpoint as a C2SP signed note: the log\'s signature (ECDSA, same key as the `.p7s`) and the witnesses\' cosignatures (cosignature/v1) |']
      : []),
    '| `certs/log-signer.pem` | the log-signing certificate and its issuing CA(s) |',
    '| `certs/intermediates.pem` | issuing CAs, to build chains: never a trust anchor (no root is included: use your own) |',
    ...(stamped.length > 0 ? ['| `certs/tsa.pem` | the time-stamping authority certificate and its issuing CA(s) |'] : []),
    '| `proofs/inclusion.jsonl` | an inclusion proof (`index`, `treeSize`, `leafHash`, `auditPath`, `rootHash`) per entry |',
    '| `proofs/consistency.jsonl` | consistency proofs (`first`, `second`, `proof`, `firstRoot`, `secondRoot`) |',
    '',
    '## What you need from outside this bundle',
    '',
    'Nothing in a bundle can vouch for itself. Before checking, obtain independently (not from this bundle',
    'nor from the gateway that exported it):',
    '',
    `- your own copy of the national root CA certificate: replace \`${root}\` below;`,
    `- the SHA-256 fingerprint of the log-signing certificate, from the operator through a channel you trust: replace \`${fingerprint}\` below;`,
    '- optionally the verifier keys (vkeys) of the witnesses you rely on and the checkpoints they saved.',
    '',
    ...(signer
      ? [`For comparison only, the checkpoints of this bundle claim to be signed by \`${signer.subject.replaceAll('\n', ', ')}\`, SHA-256 fingerprint \`${signer.fingerprint256}\`: a fingerprint you read here proves nothing.`, '']
      : []),
    '## Check everything',
    '',
    'In this folder (or give the `.tar.gz` instead of `.`):',
    '',
    '```sh',
    `lienthong audit verify . --root ${root} --signer-fingerprint ${fingerprint}`,
    '```',
    '',
    'It recomputes every leaf hash and binding hash, the roots (from the entries when the bundle starts at index 0, from',
    'the inclusion proofs otherwise), checks every inclusion and consistency proof, every CMS signature (chained to',
    'your root, by the pinned log signer, which must carry the log-signing policy) and every timestamp (chained to',
    'your root, timeStamping key usage), and refuses a bundle whose newest checkpoint is not timestamped. With',
    '`--witness VKEY` (repeatable, `--quorum N`) the newest checkpoint must carry those witnesses\' cosignatures;',
    'with `--witness-checkpoint FILE` a checkpoint a witness saved must be consistent with this bundle (a history',
    'cut back or forked is refused). It exits 0 with a one-line summary, or non-zero naming the first bad entry',
    'or checkpoint.',
    '',
    '## Check the signatures with OpenSSL',
    '',
    'Run this in this folder, after replacing the two values at its top. It prints what is wrong, and its',
    'status is 0 only when every checkpoint verifies under your root, is signed by the expected log signer',
    '(fingerprint and log-signing policy) and every timestamp verifies, the newest checkpoint\'s included:',
    '',
    '```sh',
    ...opensslProcedure(),
    '```',
    '',
    'OpenSSL may warn that `certs/tsa.pem` holds a certificate that is not a CA: it is the time-stamping',
    'authority itself, as expected.',
    '',
    'A witness (the inspectorate\'s, `lienthong audit witness`) keeps the newest checkpoint it cosigned. Compare it',
    'with this bundle: a history cut back to an earlier checkpoint or forked is signed by the genuine log key',
    'and timestamped, so only a checkpoint someone outside the gateway saw shows it. After replacing the two',
    'values at its top:',
    '',
    '```sh',
    ...witnessProcedure(),
    '```',
    '',
    'Recompute one leaf hash (here the first entry) and compare it with its `leafHash`:',
    '',
    '```sh',
    "head -n 1 entries.jsonl | jq -j .leaf | (printf '\\000'; cat) | openssl dgst -sha256 -binary | base64",
    '```',
    '',
  ];
  return lines.join('\n');
}

const line = (value: unknown) => Buffer.from(JSON.stringify(value) + '\n');

/** A member whose size is measured by a first pass over its (re-creatable) content. */
async function measured(name: string, chunks: () => AsyncIterable<Buffer>, mtime: Date): Promise<TarMember> {
  let size = 0;
  for await (const chunk of chunks()) size += chunk.length;
  return { name, size, content: chunks, mtime };
}

/**
 * The bundle as an uncompressed tar stream (pipe it through gzip). Everything that can fail
 * because of the data is read before the first chunk; the entries and proofs are then streamed
 * page by page, so memory stays bounded by the tree nodes the proofs need.
 */
export async function exportBundle(store: AuditStore, plan: ExportPlan, certificates: BundleCertificates): Promise<AsyncGenerator<Buffer>> {
  const now = new Date();
  const { from, to, anchor } = plan;
  const size = anchor.treeSize;

  // Every node the inclusion proofs need, fetched once (by ranges of nearby indexes).
  const needed = new Map<string, NodeId>();
  const want = (id: NodeId) => needed.set(`${id.level}:${id.index}`, id);
  for (let i = from; i < to; i++) {
    want({ level: 0, index: i });
    for (const id of inclusionProofNodeIds(i, size)) want(id);
    // ~1 s of work for 100,000 entries: let other requests through now and then.
    if ((i - from) % 2000 === 1999) await new Promise((resolve) => setImmediate(resolve));
  }
  for (const id of rangeNodeIds(0, size)) want(id);
  const getNode = await store.nodes([...needed.values()]);
  needed.clear();
  const rootHash = rangeRoot(0, size, getNode);

  const consistency: Buffer[] = [];
  for (let i = 1; i < plan.checkpoints.length; i++) {
    const proof = await store.consistencyProof(plan.checkpoints[i - 1]!.treeSize, plan.checkpoints[i]!.treeSize);
    consistency.push(line({ first: proof.first, second: proof.second, proof: proof.proof.map(b64), firstRoot: b64(proof.firstRoot), secondRoot: b64(proof.secondRoot) }));
  }

  const manifest: Manifest = {
    format: BUNDLE_FORMAT,
    origin: anchor.origin,
    from,
    to,
    treeSize: size,
    rootHash: b64(anchor.rootHash),
    checkpoints: plan.checkpoints.map((c) => ({ treeSize: c.treeSize, timestamped: c.timestampReply !== null })),
    createdAt: now.toISOString(),
  };

  async function* entryLines(): AsyncGenerator<Buffer> {
    let batch: Buffer[] = [];
    for await (const entry of store.entries(from, to)) {
      batch.push(line({ index: entry.index, leafHash: b64(entry.leafHash), leaf: entry.leaf }));
      if (batch.length === 500) {
        yield Buffer.concat(batch);
        batch = [];
      }
    }
    if (batch.length > 0) yield Buffer.concat(batch);
  }
  async function* proofLines(): AsyncGenerator<Buffer> {
    let batch: Buffer[] = [];
    for (let i = from; i < to; i++) {
      const auditPath = inclusionProof(i, size, getNode);
      batch.push(line({ index: i, treeSize: size, leafHash: b64(getNode(0, i)), auditPath: auditPath.map(b64), rootHash: b64(rootHash) }));
      if (batch.length === 500) {
        yield Buffer.concat(batch);
        batch = [];
      }
    }
    if (batch.length > 0) yield Buffer.concat(batch);
  }

  const dir = `${plan.name}/`;
  const file = (name: string, content: Buffer): TarMember => ({ name: dir + name, size: content.length, content, mtime: now });
  const small: TarMember[] = [
    { name: dir, size: 0, mtime: now },
    file('README.md', Buffer.from(readme(plan, certificates))),
    file('manifest.json', Buffer.from(JSON.stringify(manifest, null, 2) + '\n')),
    { name: `${dir}checkpoints/`, size: 0, mtime: now },
  ];
  for (const c of plan.checkpoints) {
    small.push(file(`checkpoints/${c.treeSize}.txt`, Buffer.from(c.body, 'utf8')));
    small.push(file(`checkpoints/${c.treeSize}.p7s`, c.signature));
    if (c.timestampReply) small.push(file(`checkpoints/${c.treeSize}.tsr`, c.timestampReply));
    if (c.note) small.push(file(`checkpoints/${c.treeSize}.note`, Buffer.from(c.note, 'utf8')));
  }
  small.push({ name: `${dir}certs/`, size: 0, mtime: now });
  for (const [name, content] of certificateFiles(plan, certificates)) small.push(file(name, content));
  small.push({ name: `${dir}proofs/`, size: 0, mtime: now });
  small.push(file('proofs/consistency.jsonl', Buffer.concat(consistency)));

  async function* members(): AsyncGenerator<TarMember> {
    yield* small;
    yield await measured(`${dir}entries.jsonl`, entryLines, now);
    yield await measured(`${dir}proofs/inclusion.jsonl`, proofLines, now);
  }
  return tarStream(members());
}

// ---------------------------------------------------------------------------------------------
// Verification

/** The first thing found wrong, naming the entry or checkpoint (`subject`). */
export class BundleError extends Error {
  readonly subject: string;
  constructor(subject: string, message: string) {
    super(`${subject}: ${message}`);
    this.name = 'BundleError';
    this.subject = subject;
  }
}

/** A checkpoint a witness saved (the signed note as the witness stores it), and where it came from. */
export interface WitnessCheckpoint {
  source: string;
  note: string;
}

export interface VerifyBundleOptions {
  /** The roots to chain signatures and timestamps to (the auditor's own copy). */
  roots: X509Certificate[];
  /** The pinned log signer: its certificate, or its SHA-256 fingerprint (hex, colons optional). */
  signer: X509Certificate | string;
  /** Accept a bundle whose newest checkpoint carries no timestamp. */
  allowUntimestamped?: boolean;
  /** Witnesses whose cosignatures the bundle's checkpoint must carry, `quorum` of them (default: all). */
  witnesses?: WitnessKey[];
  quorum?: number;
  /** Checkpoints witnesses saved: the bundle must be consistent with each. */
  witnessCheckpoints?: WitnessCheckpoint[];
  /** Judge certificate validity at this time instead of the timestamp's (or now). */
  at?: Date;
}

/** A SHA-256 fingerprint as 64 uppercase hex digits, from hex with or without colons; undefined if it is not one. */
export function normalizeFingerprint(text: string): string | undefined {
  const hex = text.replace(/[:\s]/g, '').toUpperCase();
  return /^[0-9A-F]{64}$/.test(hex) ? hex : undefined;
}

const fingerprintOf = (certificate: X509Certificate) => normalizeFingerprint(certificate.fingerprint256)!;

export interface BundleSummary {
  origin: string;
  from: number;
  to: number;
  entries: number;
  treeSize: number;
  rootHash: string;
  checkpoints: number;
  timestamped: number;
  consistencyProofs: number;
  signer: string;
  /** The bundle's checkpoint carries no timestamp, accepted because asked to. */
  untimestampedAllowed: boolean;
  /** Witnesses whose cosignature of the bundle's checkpoint verified, of those given. */
  witnesses: { cosigned: string[]; given: number; quorum: number };
  /** Witnesses' saved checkpoints found consistent with the bundle. */
  witnessCheckpoints: number;
  /** The root was recomputed from the entries (bundle starting at 0 and ending at the checkpoint). */
  rootFromEntries: boolean;
  /** Entries by leaf format: 1 holds plain SHA-256 of the bodies, 2 keyed digests, 3 keyed digests and every subject. */
  leafFormats: { 1: number; 2: number; 3: number };
}

/**
 * Bytes a line of entries.jsonl or proofs/inclusion.jsonl may take on average: an inclusion proof
 * is under 3.3 KB for any tree below 2^64 entries (64 hashes), a leaf about 1 KB.
 */
const BUNDLE_LINE_BYTES = 4096;
/** Bytes a checkpoint file may take on average (.p7s and .tsr carry a few certificates). */
const BUNDLE_CHECKPOINT_FILE_BYTES = 16 * 1024;
/**
 * What a bundle handed in may unpack to. Members: four files per checkpoint (.txt, .p7s, .tsr,
 * .note) for MAX_BUNDLE_CHECKPOINTS and as many witnesses' checkpoints again, the rest is a dozen.
 * One member: entries.jsonl or proofs/inclusion.jsonl of MAX_BUNDLE_ENTRIES lines. All members:
 * both of those and the checkpoint files. Decompressed: that, a pax header (two blocks and a
 * long name) and padding per member, and the end-of-archive records. Compression: a bundle
 * unpacks to about 7 times its .tar.gz (100,000 entries: 25 MB to 180 MB), a bomb to a thousand.
 */
export const BUNDLE_LIMITS: TarLimits = (() => {
  const members = 8 * MAX_BUNDLE_CHECKPOINTS;
  const memberBytes = MAX_BUNDLE_ENTRIES * BUNDLE_LINE_BYTES;
  const totalBytes = 2 * memberBytes + members * BUNDLE_CHECKPOINT_FILE_BYTES;
  return { members, memberBytes, totalBytes, decompressedBytes: totalBytes + members * 4 * 512 + 1024 * 1024, compressionRatio: 100 };
})();

/** The bundle's files by path as archived, from a .tar.gz or .tar (as bytes or a stream), within BUNDLE_LIMITS. */
export async function readBundleArchive(archive: Uint8Array | AsyncIterable<Uint8Array>): Promise<Map<string, Buffer>> {
  try {
    return await readTar(archive, BUNDLE_LIMITS);
  } catch (err) {
    throw new BundleError('bundle', (err as Error).message);
  }
}

/** The bundle's files by path relative to its folder, from a .tar.gz (or .tar) or an unpacked folder. */
export async function readBundle(path: string): Promise<Map<string, Buffer>> {
  let files: Map<string, Buffer>;
  if (statSync(path).isDirectory()) {
    files = new Map();
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const full = join(dir, name);
        if (statSync(full).isDirectory()) walk(full);
        else files.set(relative(path, full).split(sep).join('/'), readFileSync(full));
      }
    };
    walk(path);
  } else {
    files = await readBundleArchive(createReadStream(path));
  }
  return stripFolder(files);
}

/** Drops the single top-level folder that every path shares, if there is one. */
export function stripFolder(files: Map<string, Buffer>): Map<string, Buffer> {
  if (files.has('manifest.json')) return files;
  const tops = new Set([...files.keys()].map((p) => p.split('/', 1)[0]!));
  if (tops.size !== 1 || ![...files.keys()].every((p) => p.includes('/'))) return files;
  const top = [...tops][0]!;
  return new Map([...files].map(([p, content]) => [p.slice(top.length + 1), content]));
}

interface ParsedCheckpoint {
  origin: string;
  size: number;
  root: Buffer;
}

function parseCheckpointText(text: string, subject: string): ParsedCheckpoint {
  try {
    const { origin, treeSize, rootHash } = parseCheckpoint(text);
    return { origin, size: treeSize, root: rootHash };
  } catch (err) {
    throw new BundleError(subject, (err as Error).message);
  }
}

/** Parsed lines of a JSON Lines file; a line that is not JSON, or is cut off, comes back as `undefined`. */
function jsonLines(data: Buffer | undefined, file: string): unknown[] {
  if (data === undefined) throw new BundleError('bundle', `${file} is missing`);
  const text = data.toString('utf8');
  if (text === '') return [];
  const complete = text.endsWith('\n');
  const lines = (complete ? text.slice(0, -1) : text).split('\n').map((l) => {
    try {
      return JSON.parse(l) as unknown;
    } catch {
      return undefined;
    }
  });
  if (!complete) lines[lines.length - 1] = undefined;
  return lines;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function hashField(value: unknown, subject: string, what: string): Buffer {
  const hash = typeof value === 'string' ? Buffer.from(value, 'base64') : Buffer.alloc(0);
  if (hash.length !== HASH_SIZE || hash.toString('base64') !== value) throw new BundleError(subject, `${what} is not a base64 SHA-256 hash`);
  return hash;
}

function hashList(value: unknown, subject: string, what: string): Buffer[] {
  if (!Array.isArray(value)) throw new BundleError(subject, `${what} is not a list of hashes`);
  return value.map((h) => hashField(h, subject, what));
}

function readManifest(files: Map<string, Buffer>): Manifest {
  const raw = files.get('manifest.json');
  if (!raw) throw new BundleError('bundle', 'manifest.json is missing: is this a lienthong audit bundle?');
  let manifest: unknown;
  try {
    manifest = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new BundleError('bundle', 'manifest.json is not JSON');
  }
  if (!isObject(manifest) || manifest.format !== BUNDLE_FORMAT) throw new BundleError('bundle', `manifest.json is not a ${BUNDLE_FORMAT} manifest`);
  const { from, to, treeSize, checkpoints } = manifest;
  const sizes = [from, to, treeSize];
  if (!sizes.every((n) => Number.isSafeInteger(n) && (n as number) >= 0) || !((from as number) < (to as number)) || !((to as number) <= (treeSize as number))) {
    throw new BundleError('bundle', 'manifest.json has an impossible range');
  }
  if (!Array.isArray(checkpoints) || !checkpoints.every((c) => isObject(c) && Number.isSafeInteger(c.treeSize))) throw new BundleError('bundle', 'manifest.json lists no checkpoints');
  return manifest as unknown as Manifest;
}

/** A signed note, with NoteErrors as BundleErrors naming `subject`. */
function readNote(note: string, subject: string, file: string): { text: string; signatures: NoteSignature[] } {
  try {
    return splitNote(note);
  } catch (err) {
    throw new BundleError(subject, `${file} is not a signed note: ${(err as Error).message}`);
  }
}

/** Whether `witness` cosigned the note; a line in its name and key ID that does not verify is an error. */
function cosignedBy(note: { text: string; signatures: NoteSignature[] }, witness: WitnessKey, subject: string): boolean {
  const lines = note.signatures.filter((sig) => sig.name === witness.name && sig.keyId.equals(witness.keyId));
  if (lines.length === 0) return false;
  if (!lines.some((sig) => verifyCosignature(note.text, sig, witness))) throw new BundleError(subject, `the cosignature of witness ${witness.name} does not verify`);
  return true;
}

/**
 * Verifies a bundle completely (see the module comment for what is inside). Throws a BundleError
 * naming the first bad checkpoint or entry; resolves to a summary when all of it holds.
 */
export async function verifyBundle(files: Map<string, Buffer>, options: VerifyBundleOptions): Promise<BundleSummary> {
  const manifest = readManifest(files);
  const { from, to } = manifest;

  // Certificates: intermediates from the bundle are only a pool; trust ends at the given roots.
  const bundleCerts: X509Certificate[] = [];
  for (const [path, content] of files) {
    if (!path.startsWith('certs/') || !path.endsWith('.pem')) continue;
    try {
      bundleCerts.push(...parseCertificates(content));
    } catch {
      throw new BundleError('bundle', `${path} is not a PEM certificate file`);
    }
  }
  // The signer is pinned by the auditor: nothing in the bundle says who it must be.
  const expected = typeof options.signer === 'string' ? normalizeFingerprint(options.signer) : fingerprintOf(options.signer);
  if (!expected) throw new BundleError('bundle', `the expected signer fingerprint ${JSON.stringify(options.signer)} is not 64 hex digits`);
  const pinned = typeof options.signer === 'string' ? `the pinned log signer (SHA-256 ${expected})` : `the pinned log signer "${options.signer.subject.replaceAll('\n', ', ')}"`;
  const intermediates = uniqueCertificates(bundleCerts.filter((c) => c.ca && c.subject !== c.issuer));
  let trust: TrustStore;
  try {
    trust = createTrustStore({ roots: options.roots, intermediates });
  } catch (err) {
    throw new BundleError('bundle', `the roots cannot be used: ${(err as Error).message}`);
  }

  // Checkpoints: every .txt present must be listed, and the other way round.
  const present = [...files.keys()].map((p) => /^checkpoints\/(\d+)\.txt$/.exec(p)?.[1]).filter((s): s is string => s !== undefined).map(Number);
  const listed = manifest.checkpoints.map((c) => c.treeSize);
  for (const size of listed) if (!present.includes(size)) throw new BundleError(`checkpoint ${size}`, 'listed in manifest.json but checkpoints/' + `${size}.txt is missing`);
  for (const size of present) if (!listed.includes(size)) throw new BundleError(`checkpoint ${size}`, 'present but not listed in manifest.json');
  for (const path of files.keys()) {
    const size = /^checkpoints\/(\d+)\.note$/.exec(path)?.[1];
    if (size !== undefined && !listed.includes(Number(size))) throw new BundleError(`checkpoint ${size}`, `${path} belongs to no checkpoint of the bundle`);
  }
  const sizes = [...new Set(listed)].sort((a, b) => a - b);
  const anchorSize = sizes[sizes.length - 1];
  if (anchorSize === undefined) throw new BundleError('bundle', 'the bundle holds no checkpoint');
  if (anchorSize !== manifest.treeSize) throw new BundleError(`checkpoint ${manifest.treeSize}`, 'the bundle checkpoint named in manifest.json is not its largest checkpoint');

  const roots = new Map<number, Buffer>();
  let origin: string | undefined;
  let timestamped = 0;
  let signer: X509Certificate | undefined;
  const notes = new Map<number, { text: string; signatures: NoteSignature[] }>();
  for (const size of sizes) {
    const subject = `checkpoint ${size}`;
    const text = files.get(`checkpoints/${size}.txt`)!;
    const parsed = parseCheckpointText(text.toString('utf8'), subject);
    if (parsed.size !== size) throw new BundleError(subject, `the text says tree size ${parsed.size}`);
    origin ??= parsed.origin;
    if (parsed.origin !== origin) throw new BundleError(subject, `origin ${JSON.stringify(parsed.origin)} differs from ${JSON.stringify(origin)}`);
    let at = options.at;
    const tsr = files.get(`checkpoints/${size}.tsr`);
    if (!tsr && manifest.checkpoints.some((c) => c.treeSize === size && c.timestamped)) throw new BundleError(subject, `manifest.json lists a timestamp, but checkpoints/${size}.tsr is missing`);
    if (tsr) {
      try {
        const stamp = await verifyTimestamp(tsr, text, trust, options.at ? { at: options.at } : {});
        at ??= stamp.genTime;
        timestamped++;
      } catch (err) {
        throw new BundleError(subject, `timestamp (${size}.tsr) does not verify: ${(err as Error).message}`);
      }
    }
    const p7s = files.get(`checkpoints/${size}.p7s`);
    if (!p7s) throw new BundleError(subject, `checkpoints/${size}.p7s is missing`);
    let signedBy: X509Certificate;
    try {
      signedBy = (await verifyDetached(p7s, text, trust, at ? { at } : {})).signer;
    } catch (err) {
      throw new BundleError(subject, `signature (${size}.p7s) does not verify: ${(err as Error).message}`);
    }
    if (fingerprintOf(signedBy) !== expected) {
      throw new BundleError(subject, `signed by "${signedBy.subject.replaceAll('\n', ', ')}" (SHA-256 ${fingerprintOf(signedBy)}), not by ${pinned}`);
    }
    const notSigner = notALogSigner(signedBy);
    if (notSigner) throw new BundleError(subject, notSigner);
    signer = signedBy;
    const note = files.get(`checkpoints/${size}.note`);
    if (note) {
      const signed = readNote(note.toString('utf8'), subject, `${size}.note`);
      if (signed.text !== text.toString('utf8')) throw new BundleError(subject, `the signed note (${size}.note) is of another checkpoint text than ${size}.txt`);
      const verifier = logNoteVerifier(parsed.origin, signedBy);
      if (!signed.signatures.some((sig) => verifier.verify(signed.text, sig))) throw new BundleError(subject, `the log's signature in ${size}.note does not verify with ${pinned}`);
      notes.set(size, signed);
    }
    roots.set(size, parsed.root);
  }
  const anchorRoot = roots.get(anchorSize)!;
  const anchorSubject = `checkpoint ${anchorSize}`;
  const anchorStamped = files.has(`checkpoints/${anchorSize}.tsr`);
  if (!anchorStamped && !options.allowUntimestamped) {
    throw new BundleError(
      anchorSubject,
      timestamped === 0
        ? 'no checkpoint of the bundle is timestamped: nothing dates its entries (--allow-untimestamped accepts that)'
        : "the bundle's newest checkpoint is not timestamped: export one that ends at a timestamped checkpoint (--allow-untimestamped accepts that)",
    );
  }

  // Witnesses: cosignatures of the bundle's checkpoint, and the checkpoints witnesses saved.
  const witnesses = options.witnesses ?? [];
  const quorum = options.quorum ?? witnesses.length;
  const cosigned: string[] = [];
  if (witnesses.length > 0) {
    const anchorNote = notes.get(anchorSize);
    if (!anchorNote) throw new BundleError(anchorSubject, `it carries no signed note (checkpoints/${anchorSize}.note): no witness cosignature to check`);
    for (const witness of witnesses) if (cosignedBy(anchorNote, witness, anchorSubject)) cosigned.push(witness.name);
    if (cosigned.length < quorum) {
      const missing = witnesses.filter((w) => !cosigned.includes(w.name)).map((w) => w.name);
      throw new BundleError(anchorSubject, `cosigned by ${cosigned.length} of the ${witnesses.length} witness(es) given, ${quorum} required: none from ${missing.join(', ')}`);
    }
  }
  /** Tree sizes witnesses saw that only the entries can confirm: size → what the witness saw. */
  const recompute = new Map<number, { root: Buffer; source: string; witness: string }>();
  for (const saved of options.witnessCheckpoints ?? []) {
    const signed = readNote(saved.note, saved.source, saved.source);
    const seen = parseCheckpointText(signed.text, saved.source);
    if (seen.origin !== origin) throw new BundleError(saved.source, `the witness's checkpoint is of log ${JSON.stringify(seen.origin)}, the bundle of ${JSON.stringify(origin)}`);
    const verifier = logNoteVerifier(seen.origin, signer!);
    if (!signed.signatures.some((sig) => verifier.verify(signed.text, sig))) throw new BundleError(saved.source, `the witness's checkpoint is not signed by ${pinned}`);
    const known = witnesses.filter((w) => cosignedBy(signed, w, saved.source));
    const names = known.length > 0 ? known.map((w) => w.name) : signed.signatures.filter((sig) => sig.name !== seen.origin).map((sig) => sig.name);
    const witness = names.join(', ') || saved.source;
    if (seen.size > anchorSize) {
      throw new BundleError(anchorSubject, `the bundle ends at ${anchorSize} but witness ${witness} has seen size ${seen.size}: the history was cut back (or export a newer bundle)`);
    }
    const root = roots.get(seen.size);
    if (root) {
      if (!root.equals(seen.root)) {
        throw new BundleError(`checkpoint ${seen.size}`, `fork: witness ${witness} saw tree size ${seen.size} with root ${seen.root.toString('base64')}, the bundle's has root ${root.toString('base64')}`);
      }
    } else if (seen.size > 0) {
      if (from !== 0 || seen.size > to) {
        throw new BundleError(saved.source, `witness ${witness} saw tree size ${seen.size}, which this bundle neither holds as a checkpoint nor covers from entry 0: export a bundle from 0 to at least ${seen.size}`);
      }
      recompute.set(seen.size, { root: seen.root, source: saved.source, witness });
    }
  }

  // Consistency between consecutive checkpoints, with the roots from the signed texts.
  const consistency = new Map<string, Record<string, unknown>>();
  for (const proof of jsonLines(files.get('proofs/consistency.jsonl'), 'proofs/consistency.jsonl')) {
    if (isObject(proof)) consistency.set(`${String(proof.first)}-${String(proof.second)}`, proof);
  }
  for (let i = 1; i < sizes.length; i++) {
    const [first, second] = [sizes[i - 1]!, sizes[i]!];
    const subject = `checkpoint ${second}`;
    const proof = consistency.get(`${first}-${second}`);
    if (!proof) throw new BundleError(subject, `no consistency proof from checkpoint ${first}`);
    if (!verifyConsistency(first, second, roots.get(first)!, roots.get(second)!, hashList(proof.proof, subject, 'the consistency proof'))) {
      throw new BundleError(subject, `the consistency proof from checkpoint ${first} does not verify: the log was not only appended to`);
    }
  }

  // Entries: contiguous indexes, leaf hashes recomputed, each proven in the bundle checkpoint.
  const entries = jsonLines(files.get('entries.jsonl'), 'entries.jsonl');
  const proofs = jsonLines(files.get('proofs/inclusion.jsonl'), 'proofs/inclusion.jsonl');
  const proofByIndex = new Map<number, Record<string, unknown>>();
  for (const proof of proofs) if (isObject(proof) && typeof proof.index === 'number') proofByIndex.set(proof.index, proof);
  const accumulator = from === 0 ? new MerkleAccumulator() : undefined;
  const leafFormats = { 1: 0, 2: 0, 3: 0 };
  for (let position = 0; position < entries.length; position++) {
    const expected = from + position;
    const subject = `entry ${expected}`;
    const entry = entries[position];
    if (!isObject(entry) || typeof entry.leaf !== 'string') throw new BundleError(subject, `line ${position + 1} of entries.jsonl is not an entry (JSON with a leaf)`);
    if (entry.index !== expected) {
      const found = typeof entry.index === 'number' ? entry.index : NaN;
      if (found > expected) throw new BundleError(subject, `missing (the next line holds entry ${found})`);
      throw new BundleError(subject, `out of order: line ${position + 1} holds entry ${String(entry.index)}`);
    }
    if (expected >= to) throw new BundleError(subject, `beyond the range ${from}..${to - 1} of manifest.json`);
    const leafBytes = Buffer.from(entry.leaf, 'utf8');
    const hash = leafHash(leafBytes);
    if (!hash.equals(hashField(entry.leafHash, subject, 'leafHash'))) throw new BundleError(subject, 'the leaf hash does not match the leaf: the leaf was changed');
    let parsed: unknown;
    let canonical: string | undefined;
    try {
      parsed = JSON.parse(entry.leaf);
      canonical = canonicalize(parsed);
    } catch {
      canonical = undefined;
    }
    if (canonical !== entry.leaf) throw new BundleError(subject, 'the leaf is not RFC 8785 canonical JSON');
    // Both formats stay valid for good: the tree holds the exact bytes of the leaves written before format 2.
    try {
      if (!isObject(parsed)) throw new TypeError('the leaf is not a JSON object');
      leafFormats[leafDigests(parsed).format]++;
    } catch (err) {
      throw new BundleError(subject, (err as Error).message);
    }
    const proof = proofByIndex.get(expected);
    if (!proof) throw new BundleError(subject, 'no inclusion proof in proofs/inclusion.jsonl');
    if (proof.treeSize !== anchorSize || !hashField(proof.rootHash, subject, 'rootHash').equals(anchorRoot)) {
      throw new BundleError(subject, `the inclusion proof is not against checkpoint ${anchorSize}`);
    }
    if (!hash.equals(hashField(proof.leafHash, subject, 'the proof leafHash'))) throw new BundleError(subject, 'the inclusion proof is for another leaf');
    if (!verifyInclusion(hash, expected, anchorSize, hashList(proof.auditPath, subject, 'auditPath'), anchorRoot)) {
      throw new BundleError(subject, `the inclusion proof does not lead to the root of checkpoint ${anchorSize}`);
    }
    if (accumulator) {
      accumulator.append(hash);
      const root = roots.get(accumulator.size);
      if (root && !accumulator.root().equals(root)) throw new BundleError(`checkpoint ${accumulator.size}`, `its root is not the root of entries 0..${accumulator.size - 1}`);
      const seen = recompute.get(accumulator.size);
      if (seen && !accumulator.root().equals(seen.root)) {
        throw new BundleError(`tree size ${accumulator.size}`, `fork: witness ${seen.witness} saw another root (${seen.root.toString('base64')}) than entries 0..${accumulator.size - 1} of the bundle`);
      }
    }
  }
  if (entries.length < to - from) throw new BundleError(`entry ${from + entries.length}`, `missing: entries.jsonl ends there, manifest.json says the bundle runs to ${to - 1}`);
  if (proofByIndex.size !== entries.length || proofs.length !== entries.length) throw new BundleError('bundle', 'proofs/inclusion.jsonl holds proofs for other entries than entries.jsonl');

  return {
    origin: origin!,
    from,
    to,
    entries: entries.length,
    treeSize: anchorSize,
    rootHash: anchorRoot.toString('base64'),
    checkpoints: sizes.length,
    timestamped,
    consistencyProofs: sizes.length - 1,
    signer: signer!.subject.replaceAll('\n', ', '),
    untimestampedAllowed: !anchorStamped,
    witnesses: { cosigned, given: witnesses.length, quorum },
    witnessCheckpoints: options.witnessCheckpoints?.length ?? 0,
    rootFromEntries: from === 0 && to === anchorSize,
    leafFormats,
  };
}

/** The one-line summary `lienthong audit verify` prints. */
export function summaryLine(s: BundleSummary): string {
  return (
    `bundle OK: entries ${s.from}..${s.to - 1} (${s.entries}) of ${s.origin} in checkpoint ${s.treeSize} (root ${s.rootHash}` +
    `${s.rootFromEntries ? ', recomputed from the entries' : ', from the inclusion proofs'}); ` +
    `${s.checkpoints} checkpoint(s) signed by ${s.signer}, ${s.timestamped} timestamped` +
    `${s.untimestampedAllowed ? ` (the newest NOT timestamped: accepted by --allow-untimestamped)` : ''}, ${s.consistencyProofs} consistency proof(s); ` +
    (s.witnesses.given > 0 ? `cosigned by ${s.witnesses.cosigned.length} of ${s.witnesses.given} witness(es) (quorum ${s.witnesses.quorum}: ${s.witnesses.cosigned.join(', ')}); ` : '') +
    (s.witnessCheckpoints > 0 ? `consistent with ${s.witnessCheckpoints} witness checkpoint(s); ` : '') +
    `leaf format 1: ${s.leafFormats[1]}, format 2 (keyed body digests): ${s.leafFormats[2]}, format 3 (keyed body digests, every subject): ${s.leafFormats[3]}`
  );
}
