import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalize } from 'json-canonicalize';
import { leafDigests, sha256Hex } from '../../src/audit/leaf.ts';
import { leafHash, rootHash } from '../../src/audit/merkle.ts';
import { createKeyedDigest, loadHashKey } from '../../src/signing/attestation.ts';
import { enterprises, people } from '../../src/sandbox/personas.ts';
import { verifyDetached } from '../../src/signing/cms.ts';
import { sample } from '../../src/signing/material.ts';
import { verifyTimestamp } from '../../src/signing/tsa.ts';
import { createTrustStore, readCertificates } from '../../src/signing/trust-store.ts';
import { openStore, type Store } from '../../src/store/store.ts';
import { KEYS, clearFaults, setFault, startTestGateway, type TestGateway } from '../helpers/gateway.ts';

let gw: TestGateway;
let store: Store;
const exchangeIds: string[] = [];
const living = people.filter((p) => !p.dateOfDeath);
const trust = createTrustStore({ roots: readCertificates(sample('root-ca.pem')), intermediates: readCertificates(sample('issuing-ca.pem')) });

beforeAll(async () => {
  gw = await startTestGateway({ 'audit.integrateIntervalMs': 50, 'audit.timestampEverySeconds': 1 });
  const headers = { 'content-type': 'application/json', 'x-user-id': 'officer-17', 'x-purpose': 'XAC_MINH_DANH_TINH' };
  const calls: Promise<Response>[] = [];
  for (const p of living.slice(0, 5)) {
    calls.push(gw.fetch('/v1/citizens/verify', { method: 'POST', key: KEYS.agency, headers, body: JSON.stringify({ idNumber: p.idNumber, fullName: p.fullName, dateOfBirth: p.dateOfBirth }) }));
  }
  for (const e of enterprises.slice(0, 5)) calls.push(gw.fetch(`/v1/enterprises/${e.enterpriseCode}`));
  for (const res of await Promise.all(calls)) exchangeIds.push(res.headers.get('x-exchange-id')!);
  await setFault(gw.controlUrl, { system: 'business-registry', mode: 'error' });
  const failed = await gw.fetch(`/v1/enterprises/${enterprises[0]!.enterpriseCode}`);
  expect(failed.status).toBe(503);
  exchangeIds.push(failed.headers.get('x-exchange-id')!);
  await clearFaults(gw.controlUrl);
  // A request refused before any upstream call is not an exchange.
  expect((await gw.fetch('/v1/enterprises/5500123458')).headers.get('x-exchange-id')).toBeNull();
  store = await openStore({ sqlitePath: gw.dbPath });
  // Wait for the integrator and the timestamp.
  for (let i = 0; i < 100; i++) {
    const cp = await store.db.selectFrom('checkpoints').selectAll().orderBy('tree_size', 'desc').limit(1).executeTakeFirst();
    if (cp && cp.tree_size >= exchangeIds.length && cp.timestamp_reply) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
});
afterAll(async () => {
  await store?.close();
  await gw?.close();
});

describe('the exchange log behind the API', () => {
  it('holds one leaf per exchange, failed ones included, with no personal data in clear', async () => {
    const entries = await store.db.selectFrom('exchange_entries').selectAll().orderBy('idx').execute();
    expect(entries.map((e) => e.exchange_id).sort()).toEqual([...exchangeIds].sort());
    const failed = entries.find((e) => e.exchange_id === exchangeIds.at(-1))!;
    // A lookup is a read, tried again after a server error (upstreams.<id>.retry): every attempt is in the leaf.
    const attempt = { upstream: 'business-registry', outcome: 'failed', code: 'UPSTREAM_UNAVAILABLE' };
    expect(JSON.parse(failed.leaf)).toMatchObject({ outcome: 'failed', status: 503, upstream: 'business-registry', upstreamCalls: [attempt, attempt, attempt] });
    const verify = JSON.parse(entries.find((e) => e.operation === 'verifyCitizen')!.leaf);
    expect(verify).toMatchObject({ client: 'sandbox-agency', agency: 'H52.101.114', purpose: 'XAC_MINH_DANH_TINH', outcome: 'success', status: 200, upstream: 'population' });
    expect(verify.subjectHash).toMatch(/^[0-9a-f]{64}$/);
    const text = entries.map((e) => e.leaf).join('\n');
    for (const p of living.slice(0, 5)) {
      expect(text).not.toContain(p.idNumber);
      expect(text).not.toContain(p.fullName);
    }
    expect(text).not.toContain('officer-17');
    // Each leaf hash is SHA-256(0x00 || the stored bytes), so anyone can recompute it.
    for (const e of entries) expect(leafHash(Buffer.from(e.leaf, 'utf8')).toString('hex')).toBe(e.leaf_hash);
  });

  it('signs each checkpoint (CMS) and timestamps it (RFC 3161), verifiable with openssl', async () => {
    const entries = await store.db.selectFrom('exchange_entries').select('leaf_hash').orderBy('idx').execute();
    const cp = await store.db.selectFrom('checkpoints').selectAll().orderBy('tree_size', 'desc').limit(1).executeTakeFirstOrThrow();
    const root = rootHash(entries.slice(0, cp.tree_size).map((e) => Buffer.from(e.leaf_hash, 'hex')));
    expect(cp.body).toBe(`lienthong.sonla.gov.vn/exchange-log\n${cp.tree_size}\n${root.toString('base64')}\n`);
    const signature = Buffer.from(cp.signature, 'base64');
    const { signer } = await verifyDetached(signature, Buffer.from(cp.body), trust);
    // The dedicated log signer, not the gateway's TLS or message-signing certificate.
    expect(signer.fingerprint256).toBe(new X509Certificate(readFileSync(sample('log-signer.pem'))).fingerprint256);
    expect(signer.subject).toContain('exchange-log signer');
    expect(cp.timestamp_reply).toBeTruthy();
    await verifyTimestamp(Buffer.from(cp.timestamp_reply!, 'base64'), Buffer.from(cp.body), trust);

    const dir = mkdtempSync(join(tmpdir(), 'lienthong-cp-'));
    writeFileSync(join(dir, 'cp.txt'), cp.body);
    writeFileSync(join(dir, 'cp.p7s'), signature);
    writeFileSync(join(dir, 'cp.tsr'), Buffer.from(cp.timestamp_reply!, 'base64'));
    writeFileSync(join(dir, 'ca.pem'), readFileSync(sample('root-ca.pem'), 'utf8') + readFileSync(sample('issuing-ca.pem'), 'utf8'));
    execFileSync('openssl', ['cms', '-verify', '-binary', '-inform', 'DER', '-in', join(dir, 'cp.p7s'), '-content', join(dir, 'cp.txt'), '-CAfile', join(dir, 'ca.pem'), '-purpose', 'any', '-out', '/dev/null'], { stdio: 'pipe' });
    const ts = execFileSync('openssl', ['ts', '-verify', '-data', join(dir, 'cp.txt'), '-in', join(dir, 'cp.tsr'), '-CAfile', join(dir, 'ca.pem'), '-untrusted', sample('tsa.pem')], { stdio: 'pipe' }).toString();
    expect(ts).toContain('Verification: OK');
    writeFileSync(join(dir, 'cp.txt'), cp.body.replace(/\n(\d+)\n/, (_m, n: string) => `\n${Number(n) + 1}\n`));
    expect(() => execFileSync('openssl', ['cms', '-verify', '-binary', '-inform', 'DER', '-in', join(dir, 'cp.p7s'), '-content', join(dir, 'cp.txt'), '-CAfile', join(dir, 'ca.pem'), '-purpose', 'any', '-out', '/dev/null'], { stdio: 'pipe' })).toThrow();
  });

  it('gives no ID number back to whoever enumerates an exported leaf; the gateway, holding the key, still checks the bodies', async () => {
    const person = living[5]!;
    const headers = { 'content-type': 'application/json', 'x-user-id': 'officer-17', 'x-purpose': 'XAC_MINH_DANH_TINH' };
    const res = await gw.fetch('/v1/citizens/lookup', { method: 'POST', key: KEYS.agency, headers, body: JSON.stringify({ idNumber: person.idNumber }) });
    const answer = await res.text();
    expect(res.status, answer).toBe(200);
    const exchangeId = res.headers.get('x-exchange-id')!;
    let index: number | undefined;
    for (let i = 0; i < 100 && index === undefined; i++) {
      const row = await store.db.selectFrom('exchange_entries').select('idx').where('exchange_id', '=', exchangeId).executeTakeFirst();
      if (row) index = Number(row.idx);
      else await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(index).toBeDefined();
    // The leaf as an auditor exports it.
    const exported = await gw.fetch(`/v1/audit/entries/${index!}`, { key: KEYS.auditor });
    expect(exported.status, await exported.clone().text()).toBe(200);
    const entry = (await exported.json()) as { leaf: string };
    const leaf = JSON.parse(entry.leaf) as Record<string, unknown>;
    expect(leaf).toMatchObject({ v: 3, operation: 'lookupCitizen' });
    expect(leaf).not.toHaveProperty('requestHash');

    // The request exactly as the gateway digested it: the key confirms it, and the answer too.
    const requestText = (idNumber: string) => canonicalize({ method: 'POST', path: '/v1/citizens/lookup', query: {}, body: { idNumber } });
    const digest = createKeyedDigest(loadHashKey(join(dirname(gw.dbPath), 'hash-key'), { create: false }), 'exchange-bodies');
    expect(leafDigests(leaf)).toEqual({ format: 3, request: digest(requestText(person.idNumber)), response: digest(answer) });

    // Without the key: SHA-256 over every candidate number around the real one finds nothing in the
    // leaf, where the same search finds the number in the format 1 form of that request.
    const enumerate = (text: string) => {
      const found: string[] = [];
      for (let n = 0; n < 100_000; n++) {
        const candidate = person.idNumber.slice(0, 7) + String(n).padStart(5, '0');
        if (text.includes(sha256Hex(requestText(candidate)))) found.push(candidate);
      }
      return found;
    };
    expect(enumerate(entry.leaf)).toEqual([]);
    expect(enumerate(`"requestHash":"${sha256Hex(requestText(person.idNumber))}"`)).toEqual([person.idNumber]);
    expect(entry.leaf).not.toContain(sha256Hex(answer));
  }, 30_000);
});
