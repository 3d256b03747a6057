/**
 * Time to verify a 1,000,000-entry log from its leaves: hash every leaf (SHA-256 of 0x00 and the
 * leaf's canonical JSON) and recompute the RFC 9162 root. Run on its own process by bench/run.ts,
 * so the measurement is not disturbed by the load scenarios' heap. Prints seconds.
 */
import { randomUUID } from 'node:crypto';
import { bindingHash, leafText, sha256Hex } from '../src/audit/leaf.ts';
import { leafHash, rootHash } from '../src/audit/merkle.ts';

const N = Number(process.argv[2] ?? 1_000_000);
// The leaves as an auditor holds them: bytes read from the log or an export.
const texts: Buffer[] = new Array(N);
for (let n = 0; n < N; n++) {
  const id = randomUUID();
  const rq = sha256Hex(`rq${n}`);
  const rs = sha256Hex(`rs${n}`);
  texts[n] = Buffer.from(leafText({ id, time: new Date(1_764_000_000_000 + n).toISOString(), client: 'bench', agency: 'H52', operation: 'getEnterprise', upstream: 'business-registry', purpose: null, userHash: rq, subjectHash: null, requestHash: rq, responseHash: rs, bindingHash: bindingHash(id, rq, rs), outcome: 'success', status: 200, latencyMs: 1, upstreamCalls: [] }), 'utf8');
}
const started = performance.now();
const root = rootHash(texts.map((bytes) => leafHash(bytes)));
process.stdout.write(`${((performance.now() - started) / 1000).toFixed(2)} ${root.toString('hex')}\n`);
