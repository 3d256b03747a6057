import { createHash, randomBytes, type X509Certificate } from 'node:crypto';
import { createExchangeLog } from '../../src/audit/exchange-log.ts';
import { createIntegrator, type Integrator } from '../../src/audit/integrator.ts';
import { bindingHash, sha256Hex, type ExchangeLeaf, type Outcome } from '../../src/audit/leaf.ts';
import { createAuditStore, type AuditStore } from '../../src/audit/store.ts';
import type { BundleCertificates } from '../../src/audit/bundle.ts';
import { createLogger } from '../../src/logging.ts';
import { createTimestampReply } from '../../src/sandbox/tsa-server.ts';
import { createSubjectHasher, type KeyedDigest } from '../../src/signing/attestation.ts';
import { signDetached } from '../../src/signing/cms.ts';
import { sample } from '../../src/signing/material.ts';
import { createTimestampRequest } from '../../src/signing/tsa.ts';
import { loadPemCredentials, readCertificates, withChain, type Credentials } from '../../src/signing/trust-store.ts';
import type { DatabaseOptions } from '../../src/store/database.ts';
import { openStore, type Store } from '../../src/store/store.ts';

export const ORIGIN = 'test.lienthong.sonla.gov.vn/exchange-log';
export const ROOT_PEM = sample('root-ca.pem');

const issuing = readCertificates(sample('issuing-ca.pem'));
export const roots = readCertificates(ROOT_PEM);
export const tsaCredentials: Credentials = withChain(loadPemCredentials(sample('tsa.pem'), sample('tsa.key.pem')), issuing);
/** The sample log-signing certificate: what signs the checkpoints. */
export const logSignerCredentials: Credentials = withChain(loadPemCredentials(sample('log-signer.pem'), sample('log-signer.key.pem')), issuing);
export const LOG_SIGNER_PEM = sample('log-signer.pem');
/** Another certificate under the same root: a valid signature, but not the log signer's. */
export const otherCredentials: Credentials = withChain(loadPemCredentials(sample('tax.pem'), sample('tax.key.pem')), issuing);

export const certificates: BundleCertificates = {
  signer: [logSignerCredentials.certificate, ...logSignerCredentials.chain],
  roots,
  intermediates: issuing,
};

/** An RFC 3161 TimeStampResp over `data`, from the sandbox TSA code, in process. */
export async function timestampReply(data: Uint8Array, credentials: Credentials = tsaCredentials): Promise<Buffer> {
  const query = createTimestampRequest(createHash('sha256').update(data).digest(), { certReq: true, nonce: BigInt('0x' + randomBytes(8).toString('hex')) });
  return createTimestampReply(query, { credentials });
}

export const SUBJECTS = ['014203000123', '014199004567', '5500123457'] as const;
const CLIENTS = ['sandbox-portal', 'sandbox-agency'] as const;
const OPERATIONS = [
  ['verifyCitizen', 'population'],
  ['getEnterprise', 'business-registry'],
  ['getTaxpayer', 'tax'],
] as const;
const OUTCOMES: Outcome[] = ['success', 'success', 'business_error', 'refused', 'failed', 'rejected'];
export const BASE_TIME = Date.parse('2026-11-27T01:00:00.000Z');

export interface TestLog {
  store: Store;
  audit: AuditStore;
  integrator: Integrator;
  hashIdentifier(value: string): string;
  /** The exchange log's keyed digest (format 2 leaves). */
  digest: KeyedDigest;
  /** Leaves appended so far, in log order. */
  leaves: ExchangeLeaf[];
  /** Enqueues `count` more leaves (format 2 unless `format: 1`) and integrates them as one batch (one checkpoint). */
  append(count: number, options?: { timestamp?: boolean; variant?: string; format?: 1 | 2 }): Promise<void>;
  /** The checkpoints written, in size order. */
  checkpointSizes(): Promise<number[]>;
  close(): Promise<void>;
}

/**
 * The leaf of exchange `i`: varied clients, operations, outcomes and subjects; one second apart.
 * With `digest`, a format 2 leaf (keyed digests); without, format 1 (plain SHA-256), as written
 * before keyed digests.
 */
export function testLeaf(i: number, hashIdentifier: (v: string) => string, variant = '', digest?: KeyedDigest): ExchangeLeaf {
  const [operation, upstream] = OPERATIONS[i % OPERATIONS.length]!;
  const outcome = OUTCOMES[i % OUTCOMES.length]!;
  const id = `ex-${variant}${String(i).padStart(6, '0')}`;
  const request = `request ${variant}${i}`;
  const response = outcome === 'failed' || outcome === 'rejected' ? null : `response ${i}`;
  const fields = {
    id,
    time: new Date(BASE_TIME + i * 1000).toISOString(),
    client: CLIENTS[i % CLIENTS.length]!,
    agency: 'H52',
    operation,
    upstream,
    purpose: i % 4 === 0 ? null : 'XAC_MINH_DANH_TINH',
    userHash: hashIdentifier(`user:officer-${i % 5}`),
    subjectHash: i % 7 === 6 ? null : hashIdentifier(SUBJECTS[i % SUBJECTS.length]!),
    outcome,
    status: outcome === 'success' ? 200 : outcome === 'business_error' ? 404 : outcome === 'refused' ? 502 : 503,
    latencyMs: 10 + (i % 13) * 3.5,
    upstreamCalls: outcome === 'rejected' ? [] : [{ upstream, outcome, code: outcome === 'success' ? null : 'UPSTREAM_X', latencyMs: 8 + (i % 5) }],
  };
  if (digest) {
    const requestMac = digest(request);
    const responseMac = response === null ? null : digest(response);
    return { v: 2, ...fields, requestMac, responseMac, bindingHash: bindingHash(id, requestMac, responseMac) };
  }
  const requestHash = sha256Hex(request);
  const responseHash = response === null ? null : sha256Hex(response);
  return { ...fields, requestHash, responseHash, bindingHash: bindingHash(id, requestHash, responseHash) };
}

/**
 * An exchange log in a fresh SQLite database, written by the real queue and integrator, with
 * checkpoints signed by the sample gateway certificate and (when asked) timestamped by the
 * sample TSA. The database defaults to an in-memory SQLite one.
 */
export async function createTestLog(options: { database?: DatabaseOptions; hashKey?: Buffer } = {}): Promise<TestLog> {
  const store = await openStore(options.database ?? { sqlitePath: ':memory:' });
  const hashKey = options.hashKey ?? Buffer.alloc(32, 7);
  const hashIdentifier = createSubjectHasher(hashKey);
  const exchangeLog = createExchangeLog({ db: store.db, masterKey: hashKey });
  let stampNext = false;
  const integrator = createIntegrator(
    {
      db: store.db,
      dialect: store.dialect,
      log: createLogger({ level: 'silent' }),
      signCheckpoint: (body) => signDetached(Buffer.from(body, 'utf8'), logSignerCredentials),
      timestamp: async (body) => {
        if (!stampNext) throw new Error('no timestamp for this checkpoint');
        return timestampReply(Buffer.from(body, 'utf8'));
      },
    },
    { origin: ORIGIN, intervalMs: 60_000, batchSize: 100_000, timestampEveryMs: 0 },
  );
  const leaves: ExchangeLeaf[] = [];
  return {
    store,
    audit: createAuditStore({ db: store.db }),
    integrator,
    hashIdentifier,
    digest: exchangeLog.digest,
    leaves,
    async append(count, appendOptions = {}) {
      for (let n = 0; n < count; n++) {
        const leaf = testLeaf(leaves.length, hashIdentifier, appendOptions.variant, appendOptions.format === 1 ? undefined : exchangeLog.digest);
        leaves.push(leaf);
        await exchangeLog.enqueue(leaf);
      }
      stampNext = appendOptions.timestamp ?? false;
      await integrator.runOnce();
    },
    async checkpointSizes() {
      return (await store.db.selectFrom('checkpoints').select('tree_size').orderBy('tree_size').execute()).map((r) => Number(r.tree_size));
    },
    close: () => store.close(),
  };
}

export const fingerprint = (cert: X509Certificate) => cert.fingerprint256;
