import { createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { OFFICER_SEAL_ALGORITHM, unsealOfficer } from '../audit/officers.ts';
import { AuditUsageError } from './audit.ts';

/**
 * `lienthong audit resolve`: what an inspector runs to learn which officer an exchange-log entry's
 * userHash names. The gateway answers the identifier sealed to the inspectorate's public key (and
 * logs the request); it is decrypted here, with the inspectorate's private key, which never
 * leaves the inspector's machine.
 */

export const RESOLVE_USAGE = `  audit resolve USERHASH --url URL --key KEY --user ID --purpose CODE --inspector-key KEY.pem
                [--case-id ID]
                                 fetch the officer an entry's userHash names (the request is
                                 itself logged, as ID acting for purpose CODE) and decrypt it
                                 with the inspectorate's private key; prints the officer's
                                 identifier; the key may come from LIENTHONG_API_KEY
`;

const USER_HASH = /^[0-9a-f]{64}$/;

interface SealedOfficer {
  userHash?: unknown;
  agency?: unknown;
  sealed?: unknown;
  algorithm?: unknown;
  detail?: unknown;
}

/** A failure to report: the message, exit code 1. */
class ResolveError extends Error {}

function inspectorKey(file: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(readFileSync(file));
  } catch (err) {
    throw new AuditUsageError(`--inspector-key ${file}: ${(err as Error).message}`);
  }
  if (key.asymmetricKeyType !== 'rsa') throw new AuditUsageError(`--inspector-key ${file}: not an RSA private key`);
  return key;
}

async function fetchSealed(url: string, headers: Record<string, string>): Promise<SealedOfficer> {
  let res: Response;
  try {
    res = await fetch(url, { headers: { ...headers, accept: 'application/json' }, signal: AbortSignal.timeout(30_000) });
  } catch (err) {
    throw new ResolveError(`GET ${url} failed: ${(err as Error).message}`);
  }
  const body = (await res.json().catch(() => ({}))) as SealedOfficer;
  if (res.status !== 200) throw new ResolveError(`GET ${url} answered ${res.status}${typeof body.detail === 'string' ? `: ${body.detail}` : ''}`);
  return body;
}

/** Runs `lienthong audit resolve ...`; returns the exit code. */
export async function runResolve(args: string[], env: NodeJS.ProcessEnv, out: (line: string) => void, err: (line: string) => void = console.error): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      url: { type: 'string' },
      key: { type: 'string' },
      user: { type: 'string' },
      purpose: { type: 'string' },
      'case-id': { type: 'string' },
      'inspector-key': { type: 'string' },
    },
    allowPositionals: true,
    strict: true,
  });
  const [userHash, ...extra] = positionals;
  if (!userHash || extra.length > 0) throw new AuditUsageError('audit resolve needs one USERHASH (an entry\'s userHash)');
  if (!USER_HASH.test(userHash)) throw new AuditUsageError(`${userHash} is not a userHash (64 lowercase hex digits)`);
  if (!values.url) throw new AuditUsageError('audit resolve needs --url: the gateway');
  const key = values.key ?? env.LIENTHONG_API_KEY;
  if (!key) throw new AuditUsageError('audit resolve needs --key (or LIENTHONG_API_KEY): an auditor client\'s API key');
  if (!values.user || !values.purpose) throw new AuditUsageError('audit resolve needs --user and --purpose: who asks and why (both are logged)');
  if (!values['inspector-key']) throw new AuditUsageError('audit resolve needs --inspector-key: the inspectorate\'s RSA private key (PEM)');
  const privateKey = inspectorKey(values['inspector-key']);
  const url = `${values.url.replace(/\/+$/, '')}/v1/audit/officers/${userHash}`;
  try {
    const headers: Record<string, string> = { authorization: `Bearer ${key}`, 'x-user-id': values.user, 'x-purpose': values.purpose };
    if (values['case-id']) headers['x-case-id'] = values['case-id'];
    const officer = await fetchSealed(url, headers);
    if (officer.userHash !== userHash) throw new ResolveError(`the gateway answered for another userHash (${String(officer.userHash)})`);
    if (officer.algorithm !== OFFICER_SEAL_ALGORITHM) throw new ResolveError(`the identifier is sealed with ${String(officer.algorithm)}, not ${OFFICER_SEAL_ALGORITHM}`);
    if (typeof officer.sealed !== 'string') throw new ResolveError('the answer carries no sealed identifier');
    let id: string;
    try {
      id = unsealOfficer(privateKey, Buffer.from(officer.sealed, 'base64'));
    } catch {
      throw new ResolveError('the sealed identifier does not decrypt with this key: is it the private key of the inspectorate key the gateway seals to?');
    }
    out(id);
    return 0;
  } catch (failure) {
    if (!(failure instanceof ResolveError)) throw failure;
    err(`lienthong: audit resolve FAILED: ${failure.message}`);
    return 1;
  }
}
