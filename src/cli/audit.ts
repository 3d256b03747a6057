import type { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { BundleError, readBundle, summaryLine, verifyBundle } from '../audit/bundle.ts';
import { HASH_SIZE, verifyConsistency } from '../audit/merkle.ts';
import { verifyDetached } from '../signing/cms.ts';
import { verifyTimestamp } from '../signing/tsa.ts';
import { commonName, createTrustStore, readCertificates, type TrustStore } from '../signing/trust-store.ts';

/**
 * `lienthong audit verify`: checks an export bundle offline, or the gateway's served checkpoint
 * against one saved earlier (a consistency proof shows the log was only appended to).
 */

export const AUDIT_USAGE = `  audit verify BUNDLE --root CA.pem [--signer CERT.pem]
                                 check an export bundle (.tar.gz or unpacked folder) offline:
                                 leaf and binding hashes (leaf formats 1 and 2), roots,
                                 inclusion and consistency proofs, CMS signatures and
                                 timestamps chained to CA.pem
  audit verify --url URL --key KEY [--root CA.pem [--intermediates CAS.pem]] [--saved FILE] [--save FILE]
                                 fetch the gateway's checkpoint (checking its signature and
                                 timestamp with --root, and with the issuing CAs in
                                 --intermediates), prove it extends the checkpoint saved in FILE
                                 (--saved), and/or save it (--save FILE, FILE.p7s); the key
                                 may come from LIENTHONG_API_KEY instead of --key
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
  const lines = text.split('\n');
  const [origin, size, root] = lines;
  const rootHash = Buffer.from(root ?? '', 'base64');
  if (lines.length < 4 || lines[lines.length - 1] !== '' || !origin || !/^(0|[1-9][0-9]*)$/.test(size ?? '') || rootHash.length !== HASH_SIZE) {
    throw new AuditCheckError(`${where} is not a checkpoint (origin, tree size and base64 root hash, one per line)`);
  }
  return { text, origin, size: Number(size), root: rootHash };
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

async function checkSignature(text: string, signature: Buffer, trust: TrustStore, what: string): Promise<X509Certificate> {
  try {
    return (await verifyDetached(signature, Buffer.from(text, 'utf8'), trust)).signer;
  } catch (err) {
    throw new AuditCheckError(`${what}: the signature does not verify: ${(err as Error).message}`);
  }
}

async function verifyRemote(options: { url: string; key: string; trust?: TrustStore; saved?: string; save?: string }): Promise<string> {
  const base = options.url.replace(/\/+$/, '');
  const served = (await getJson(`${base}/v1/audit/checkpoint`, options.key)) as Record<string, unknown>;
  const current = parseCheckpoint(String(served.checkpoint ?? ''), 'the served checkpoint');
  if (served.treeSize !== current.size || served.rootHash !== current.root.toString('base64')) {
    throw new AuditCheckError('the served checkpoint text disagrees with its treeSize or rootHash fields');
  }
  const signature = decode(served.signature, 'signature');
  const notes: string[] = [];
  if (options.trust) {
    const signer = await checkSignature(current.text, signature, options.trust, `checkpoint ${current.size}`);
    notes.push(`signed by ${commonName(signer) ?? signer.subject}`);
    if (typeof served.timestamp === 'string') {
      try {
        const stamp = await verifyTimestamp(Buffer.from(served.timestamp, 'base64'), Buffer.from(current.text, 'utf8'), options.trust);
        notes.push(`timestamped ${stamp.genTime.toISOString()}`);
      } catch (err) {
        throw new AuditCheckError(`checkpoint ${current.size}: the timestamp does not verify: ${(err as Error).message}`);
      }
    }
  } else {
    notes.push('signature not checked (no --root)');
  }

  if (options.saved) {
    if (!existsSync(options.saved)) throw new AuditCheckError(`${options.saved} does not exist`);
    const saved = parseCheckpoint(readFileSync(options.saved, 'utf8'), options.saved);
    if (options.trust && existsSync(`${options.saved}.p7s`)) await checkSignature(saved.text, readFileSync(`${options.saved}.p7s`), options.trust, `saved checkpoint ${saved.size}`);
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
  if (sub !== 'verify') throw new AuditUsageError(`unknown audit command "${sub ?? ''}"`);
  const { values, positionals } = parseArgs({
    args: rest,
    options: {
      root: { type: 'string' },
      intermediates: { type: 'string' },
      signer: { type: 'string' },
      url: { type: 'string' },
      key: { type: 'string' },
      saved: { type: 'string' },
      save: { type: 'string' },
    },
    allowPositionals: true,
    strict: true,
  });
  const roots = values.root ? certificates(values.root, '--root') : undefined;
  try {
    if (values.url) {
      if (positionals.length > 0) throw new AuditUsageError('give either a bundle or --url, not both');
      const key = values.key ?? env.LIENTHONG_API_KEY;
      if (!key) throw new AuditUsageError('--url needs --key (or LIENTHONG_API_KEY)');
      if (values.intermediates && !roots) throw new AuditUsageError('--intermediates needs --root');
      const intermediates = values.intermediates ? certificates(values.intermediates, '--intermediates') : [];
      const trust = roots ? createTrustStore({ roots, intermediates }) : undefined;
      out(await verifyRemote({ url: values.url, key, ...(trust ? { trust } : {}), ...(values.saved ? { saved: values.saved } : {}), ...(values.save ? { save: values.save } : {}) }));
      return 0;
    }
    const [bundle, ...extra] = positionals;
    if (!bundle || extra.length > 0) throw new AuditUsageError('audit verify needs one bundle (or --url)');
    if (!roots) throw new AuditUsageError('audit verify needs --root: the root certificate you trust');
    if (!existsSync(bundle)) throw new AuditCheckError(`${bundle} does not exist`);
    const signer = values.signer ? certificates(values.signer, '--signer')[0] : undefined;
    const summary = await verifyBundle(readBundle(bundle), { roots, ...(signer ? { signer } : {}) });
    out(summaryLine(summary));
    return 0;
  } catch (err) {
    if (err instanceof BundleError) throw new AuditCheckError(err.message);
    throw err;
  }
}
