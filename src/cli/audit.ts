import type { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { BundleError, normalizeFingerprint, readBundle, summaryLine, verifyBundle } from '../audit/bundle.ts';
import { parseCheckpointText, type WitnessKey } from '../audit/note.ts';
import { loadWitnessKey } from '../audit/witnessing.ts';
import { verifyConsistency } from '../audit/merkle.ts';
import { verifyDetached } from '../signing/cms.ts';
import { verifyTimestamp } from '../signing/tsa.ts';
import { notALogSigner } from '../signing/log-signer.ts';
import { commonName, createTrustStore, readCertificates, type TrustStore } from '../signing/trust-store.ts';

/**
 * `lienthong audit verify`: checks an export bundle offline, or the gateway's served checkpoint
 * against one saved earlier (a consistency proof shows the log was only appended to).
 */

export const AUDIT_USAGE = `  audit verify BUNDLE --root CA.pem (--signer CERT.pem | --signer-fingerprint SHA256)
               [--allow-untimestamped] [--witness VKEY ... [--quorum N]] [--witness-checkpoint FILE ...]
                                 check an export bundle (.tar.gz or unpacked folder) offline:
                                 leaf and binding hashes (leaf formats 1 to 3), roots,
                                 inclusion and consistency proofs, CMS signatures by the pinned
                                 log signer (its certificate or SHA-256 fingerprint; it must carry
                                 the log-signing policy) and timestamps, chained to YOUR root
                                 CA.pem (the bundle's certificates are only intermediates). The
                                 newest checkpoint must be timestamped unless
                                 --allow-untimestamped. --witness (a vkey or a file holding one,
                                 repeatable): the newest checkpoint must be cosigned by --quorum
                                 of them (default all); --witness-checkpoint: a checkpoint a
                                 witness saved, which the bundle must not contradict (cut back,
                                 fork)
  audit verify --url URL --key KEY --root CA.pem [--intermediates CAS.pem]
               (--signer CERT.pem | --signer-fingerprint SHA256) [--allow-untimestamped]
               [--saved FILE] [--save FILE]
                                 fetch the gateway's newest timestamped checkpoint (its latest
                                 with --allow-untimestamped), check its signature by the
                                 pinned log signer and its timestamp under CA.pem (with the
                                 issuing CAs in --intermediates), prove it extends the checkpoint
                                 saved in FILE (--saved), and/or save it (--save FILE,
                                 FILE.p7s); the key may come from LIENTHONG_API_KEY instead of
                                 --key
`;

/** A failure the user should read: printed without a stack, exit code 1. */
export class AuditCheckError extends Error {}

/** Bad arguments: printed with the usage, exit code 2. */
export class AuditUsageError extends Error {}

interface Checkpoint {
  text: string;
  origin: string;
  size: number;
  root: Buffer;
}

function parseCheckpoint(text: string, where: string): Checkpoint {
  try {
    const { origin, treeSize, rootHash } = parseCheckpointText(text);
    return { text, origin, size: treeSize, root: rootHash };
  } catch (err) {
    throw new AuditCheckError(`${where} is not a checkpoint: ${(err as Error).message}`);
  }
}

async function getJson(url: string, key: string): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(url, { headers: { authorization: `Bearer ${key}`, accept: 'application/json' }, signal: AbortSignal.timeout(30_000) });
  } catch (err) {
    throw new AuditCheckError(`GET ${url} failed: ${(err as Error).message}`);
  }
  const body = (await res.json().catch(() => undefined)) as Record<string, unknown> | undefined;
  if (res.status !== 200) throw new AuditCheckError(`GET ${url} answered ${res.status}${body?.detail ? `: ${String(body.detail)}` : ''}`);
  return body;
}

const decode = (value: unknown, what: string): Buffer => {
  if (typeof value !== 'string') throw new AuditCheckError(`the gateway sent no ${what}`);
  return Buffer.from(value, 'base64');
};

/** The log signer the auditor pinned: SHA-256 fingerprint as 64 uppercase hex digits. */
interface PinnedSigner {
  fingerprint: string;
  describe: string;
}

async function checkSignature(text: string, signature: Buffer, trust: TrustStore, pinned: PinnedSigner, what: string): Promise<X509Certificate> {
  let signer: X509Certificate;
  try {
    signer = (await verifyDetached(signature, Buffer.from(text, 'utf8'), trust)).signer;
  } catch (err) {
    throw new AuditCheckError(`${what}: the signature does not verify: ${(err as Error).message}`);
  }
  const fingerprint = normalizeFingerprint(signer.fingerprint256)!;
  if (fingerprint !== pinned.fingerprint) throw new AuditCheckError(`${what}: signed by "${signer.subject.replaceAll('\n', ', ')}" (SHA-256 ${fingerprint}), not by ${pinned.describe}`);
  const notSigner = notALogSigner(signer);
  if (notSigner) throw new AuditCheckError(`${what}: ${notSigner}`);
  return signer;
}

async function verifyRemote(options: { url: string; key: string; trust: TrustStore; pinned: PinnedSigner; allowUntimestamped: boolean; saved?: string; save?: string }): Promise<string> {
  const base = options.url.replace(/\/+$/, '');
  // The newest timestamped checkpoint, unless untimestamped ones are accepted: the latest one is
  // often seconds old, its timestamp still to come.
  const served = (await getJson(`${base}/v1/audit/checkpoint${options.allowUntimestamped ? '' : '?timestamped=true'}`, options.key)) as Record<string, unknown>;
  const current = parseCheckpoint(String(served.checkpoint ?? ''), 'the served checkpoint');
  if (served.treeSize !== current.size || served.rootHash !== current.root.toString('base64')) {
    throw new AuditCheckError('the served checkpoint text disagrees with its treeSize or rootHash fields');
  }
  const signature = decode(served.signature, 'signature');
  const notes: string[] = [];
  const signer = await checkSignature(current.text, signature, options.trust, options.pinned, `checkpoint ${current.size}`);
  notes.push(`signed by ${commonName(signer) ?? signer.subject}`);
  if (typeof served.timestamp === 'string') {
    try {
      const stamp = await verifyTimestamp(Buffer.from(served.timestamp, 'base64'), Buffer.from(current.text, 'utf8'), options.trust);
      notes.push(`timestamped ${stamp.genTime.toISOString()}`);
    } catch (err) {
      throw new AuditCheckError(`checkpoint ${current.size}: the timestamp does not verify: ${(err as Error).message}`);
    }
  } else if (options.allowUntimestamped) {
    notes.push('NOT timestamped (accepted by --allow-untimestamped)');
  } else {
    throw new AuditCheckError(`checkpoint ${current.size}: the gateway served an untimestamped checkpoint for ?timestamped=true`);
  }

  if (options.saved) {
    if (!existsSync(options.saved)) throw new AuditCheckError(`${options.saved} does not exist`);
    const saved = parseCheckpoint(readFileSync(options.saved, 'utf8'), options.saved);
    if (existsSync(`${options.saved}.p7s`)) await checkSignature(saved.text, readFileSync(`${options.saved}.p7s`), options.trust, options.pinned, `saved checkpoint ${saved.size}`);
    if (saved.origin !== current.origin) throw new AuditCheckError(`the saved checkpoint is of log "${saved.origin}", the gateway serves "${current.origin}"`);
    if (saved.size > current.size) throw new AuditCheckError(`the log shrank: the saved checkpoint has ${saved.size} entries, the gateway now serves ${current.size}`);
    if (saved.size === current.size) {
      if (!saved.root.equals(current.root)) throw new AuditCheckError(`tree size ${saved.size} has another root than the saved checkpoint: the log's history was rewritten`);
    } else if (saved.size > 0) {
      const proof = (await getJson(`${base}/v1/audit/consistency?first=${saved.size}&second=${current.size}`, options.key)) as Record<string, unknown>;
      const path = Array.isArray(proof.proof) ? proof.proof.map((h) => decode(h, 'proof hash')) : [];
      if (!verifyConsistency(saved.size, current.size, saved.root, current.root, path)) {
        throw new AuditCheckError(`the consistency proof from the saved checkpoint (${saved.size}) to the served one (${current.size}) does not verify: the log's history was rewritten`);
      }
    }
    notes.push(`consistent with the saved checkpoint of tree size ${saved.size}`);
  }
  if (options.save) {
    writeFileSync(options.save, current.text);
    writeFileSync(`${options.save}.p7s`, signature);
    notes.push(`saved to ${options.save} and ${options.save}.p7s`);
  }
  return `checkpoint OK: ${current.origin} tree size ${current.size} root ${current.root.toString('base64')}; ${notes.join('; ')}`;
}

function certificates(path: string, flag: string): X509Certificate[] {
  try {
    const certs = readCertificates(path);
    if (certs.length === 0) throw new Error('no certificate in it');
    return certs;
  } catch (err) {
    throw new AuditUsageError(`${flag} ${path}: ${(err as Error).message}`);
  }
}

/** Runs `lienthong audit ...`; returns the exit code. */
export async function runAudit(args: string[], env: NodeJS.ProcessEnv, out: (line: string) => void): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'resolve') return (await import('./audit-resolve.ts')).runResolve(rest, env, out);
  if (sub === 'witness') return (await import('./witness.ts')).runWitness(rest, env, out);
  if (sub !== 'verify') throw new AuditUsageError(`unknown audit command "${sub ?? ''}"`);
  const { values, positionals } = parseArgs({
    args: rest,
    options: {
      root: { type: 'string' },
      intermediates: { type: 'string' },
      signer: { type: 'string' },
      'signer-fingerprint': { type: 'string' },
      'allow-untimestamped': { type: 'boolean' },
      witness: { type: 'string', multiple: true },
      quorum: { type: 'string' },
      'witness-checkpoint': { type: 'string', multiple: true },
      url: { type: 'string' },
      key: { type: 'string' },
      saved: { type: 'string' },
      save: { type: 'string' },
    },
    allowPositionals: true,
    strict: true,
  });
  try {
    if (values.url && positionals.length > 0) throw new AuditUsageError('give either a bundle or --url, not both');
    if (!values.url && (positionals.length !== 1 || !positionals[0])) throw new AuditUsageError('audit verify needs one bundle (or --url)');
    // Trust is the auditor's to give: their own root, and the log signer they expect.
    if (!values.root) throw new AuditUsageError('audit verify needs --root: YOUR copy of the root certificate (never one from the bundle or the gateway)');
    const roots = certificates(values.root, '--root');
    const pinned = pinnedSigner(values.signer, values['signer-fingerprint']);
    const allowUntimestamped = values['allow-untimestamped'] ?? false;
    if (values.url) {
      if (values.witness || values.quorum || values['witness-checkpoint']) throw new AuditUsageError('--witness, --quorum and --witness-checkpoint apply to a bundle');
      const key = values.key ?? env.LIENTHONG_API_KEY;
      if (!key) throw new AuditUsageError('--url needs --key (or LIENTHONG_API_KEY)');
      const intermediates = values.intermediates ? certificates(values.intermediates, '--intermediates') : [];
      const trust = createTrustStore({ roots, intermediates });
      out(await verifyRemote({ url: values.url, key, trust, pinned, allowUntimestamped, ...(values.saved ? { saved: values.saved } : {}), ...(values.save ? { save: values.save } : {}) }));
      return 0;
    }
    const bundle = positionals[0]!;
    const witnesses = (values.witness ?? []).map(witnessKey);
    const quorum = values.quorum === undefined ? undefined : Number(values.quorum);
    if (quorum !== undefined && (!Number.isSafeInteger(quorum) || quorum < 1 || quorum > witnesses.length)) {
      throw new AuditUsageError(`--quorum must be a whole number from 1 to the number of --witness given (${witnesses.length})`);
    }
    const witnessCheckpoints = (values['witness-checkpoint'] ?? []).map((file) => {
      if (!existsSync(file)) throw new AuditUsageError(`--witness-checkpoint ${file}: no such file`);
      return { source: file, note: readFileSync(file, 'utf8') };
    });
    if (!existsSync(bundle)) throw new AuditCheckError(`${bundle} does not exist`);
    const summary = await verifyBundle(await readBundle(bundle), {
      roots,
      signer: pinned.certificate ?? pinned.fingerprint,
      allowUntimestamped,
      witnesses,
      ...(quorum !== undefined ? { quorum } : {}),
      witnessCheckpoints,
    });
    out(summaryLine(summary));
    return 0;
  } catch (err) {
    if (err instanceof BundleError) throw new AuditCheckError(err.message);
    throw err;
  }
}

/** The log signer from --signer (a certificate file) or --signer-fingerprint; exactly one is required. */
function pinnedSigner(file: string | undefined, fingerprint: string | undefined): PinnedSigner & { certificate?: X509Certificate } {
  if (file && fingerprint) throw new AuditUsageError('give --signer or --signer-fingerprint, not both');
  if (file) {
    const certificate = certificates(file, '--signer')[0]!;
    return { certificate, fingerprint: normalizeFingerprint(certificate.fingerprint256)!, describe: `the pinned log signer "${certificate.subject.replaceAll('\n', ', ')}"` };
  }
  if (fingerprint) {
    const hex = normalizeFingerprint(fingerprint);
    if (!hex) throw new AuditUsageError(`--signer-fingerprint ${fingerprint}: not a SHA-256 fingerprint (64 hex digits, colons optional)`);
    return { fingerprint: hex, describe: `the pinned log signer (SHA-256 ${hex})` };
  }
  throw new AuditUsageError('audit verify needs the log signer you expect: --signer CERT.pem or --signer-fingerprint SHA256 (obtained from the operator, not from the bundle)');
}

/** A witness vkey given as the key itself or as a file holding it. */
function witnessKey(value: string): WitnessKey {
  try {
    return loadWitnessKey(value);
  } catch (err) {
    throw new AuditUsageError(`--witness ${value}: ${(err as Error).message}`);
  }
}
