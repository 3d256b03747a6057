import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readBundleArchive, stripFolder, verifyBundle } from '../../src/audit/bundle.ts';
import { ConfigError } from '../../src/config/load.ts';
import { sample } from '../../src/signing/material.ts';
import { readCertificates } from '../../src/signing/trust-store.ts';
import { KEYS, auditEntry, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { upstreamCalls } from '../helpers/upstream-calls.ts';

let gw: TestGateway;

beforeAll(async () => {
  gw = await startTestGateway({ 'audit.integrateIntervalMs': 50, 'audit.timestampEverySeconds': 1 });
});
afterAll(async () => {
  await gw?.close();
});

/** The exchange-log entry of one public call to `system`, as the auditor API lists it. */
async function loggedCall(system: 'business-registry' | 'tax' | 'social-insurance' | 'dvcqg') {
  const res = await upstreamCalls(gw)[system]();
  expect(res.status, await res.clone().text()).toBe(200);
  const entry = await auditEntry(gw, res.headers.get('x-exchange-id')!, system);
  return entry as typeof entry & { upstreamCalls: { upstream: string; messageSecurity?: string }[] };
}

describe('message security per upstream', () => {
  it('records in the exchange log the profile each call was made under, one per system', async () => {
    // The national portal's default is what the real one does: TLS and its session, nothing signed.
    const expected = { 'business-registry': 'rfc9421', tax: 'xml-dsig', 'social-insurance': 'jws', dvcqg: 'none' } as const;
    for (const [system, profile] of Object.entries(expected) as [keyof typeof expected, string][]) {
      const entry = await loggedCall(system);
      expect(entry.upstreamCalls.length, system).toBeGreaterThan(0);
      expect(entry.upstreamCalls, system).toEqual(entry.upstreamCalls.map(() => expect.objectContaining({ upstream: system, messageSecurity: profile, outcome: 'success' })));
    }
  });

  it('keeps the profile inside the leaf that was hashed into the tree', async () => {
    const res = await upstreamCalls(gw).tax();
    const id = res.headers.get('x-exchange-id')!;
    const { index } = (await auditEntry(gw, id, 'tax')) as unknown as { index: number };
    const withLeaf = await gw.fetch(`/v1/audit/entries/${index}`, { key: KEYS.auditor });
    expect(withLeaf.status).toBe(200);
    const leaf = JSON.parse(((await withLeaf.json()) as { leaf: string }).leaf) as { v: number; upstreamCalls: { messageSecurity: string }[] };
    expect(leaf.v).toBe(3);
    expect(leaf.upstreamCalls.map((c) => c.messageSecurity)).toEqual(['xml-dsig']);
  });

  it('exports leaves with the profile in a bundle that verifies offline', async () => {
    await loggedCall('social-insurance');
    let treeSize = 0;
    for (let i = 0; i < 100 && !treeSize; i++) {
      const checkpoint = (await (await gw.fetch('/v1/audit/checkpoint', { key: KEYS.auditor })).json()) as { treeSize?: number; timestamp?: string };
      if (checkpoint.treeSize && checkpoint.treeSize >= 4 && checkpoint.timestamp) treeSize = checkpoint.treeSize;
      else await new Promise((r) => setTimeout(r, 100));
    }
    expect(treeSize).toBeGreaterThanOrEqual(4);
    const res = await gw.fetch(`/v1/audit/export?to=${treeSize}`, { key: KEYS.auditor });
    expect(res.status).toBe(200);
    const files = stripFolder(await readBundleArchive(Buffer.from(await res.arrayBuffer())));
    const leaves = files.get('entries.jsonl')!.toString('utf8').split('\n').filter(Boolean).map((line) => JSON.parse((JSON.parse(line) as { leaf: string }).leaf) as { upstreamCalls: { messageSecurity?: string }[] });
    expect(new Set(leaves.flatMap((l) => l.upstreamCalls.map((c) => c.messageSecurity)))).toEqual(new Set(['rfc9421', 'xml-dsig', 'jws', 'none']));
    const summary = await verifyBundle(files, { roots: readCertificates(sample('root-ca.pem')), signer: readCertificates(sample('log-signer.pem'))[0]! });
    expect(summary).toMatchObject({ entries: treeSize, treeSize, rootFromEntries: true, leafFormats: { 1: 0, 2: 0, 3: treeSize } });
  });

  it('refuses at start a profile an adapter does not speak, naming the setting', async () => {
    const started = startTestGateway({ 'upstreams.tax.messageSecurity': 'jws', 'upstreams.vneid.messageSecurity': 'jws' });
    await expect(started).rejects.toThrow(ConfigError);
    const problems = await started.then(
      () => [],
      (err: ConfigError) => err.problems,
    );
    expect(problems).toEqual([
      'upstreams.tax.messageSecurity: "jws" is not spoken by the tax adapter (supported: xml-dsig)',
      expect.stringMatching(/^upstreams\.vneid\.messageSecurity: not applicable to vneid/),
    ]);
  });
});
