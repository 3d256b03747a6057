import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBodyVault } from '../../src/audit/bodies.ts';
import { bodiesMatchLeaf, sha256Hex } from '../../src/audit/leaf.ts';
import { enterprises, people } from '../../src/sandbox/personas.ts';
import { createKeyedDigest, loadHashKey } from '../../src/signing/attestation.ts';
import { openStore, type Store } from '../../src/store/store.ts';
import { KEYS, startTestGateway, type TestGateway } from '../helpers/gateway.ts';

let gw: TestGateway;
let store: Store;

beforeAll(async () => {
  gw = await startTestGateway({ 'audit.bodies.operations': ['getEnterprise'] });
  store = await openStore({ sqlitePath: gw.dbPath });
});
afterAll(async () => {
  await store?.close();
  await gw?.close();
});

describe('exchange bodies behind the API', () => {
  it('keeps the encrypted bodies of a listed operation, matching the keyed digests in its leaf, and none of the others', async () => {
    const enterprise = enterprises[0]!;
    const res = await gw.fetch(`/v1/enterprises/${enterprise.enterpriseCode}`);
    expect(res.status).toBe(200);
    const answer = await res.text();
    const id = res.headers.get('x-exchange-id')!;
    expect(id).toBeTruthy();

    const row = await store.db.selectFrom('exchange_bodies').selectAll().where('exchange_id', '=', id).executeTakeFirst();
    expect(row).toBeDefined();
    expect(row!.response).not.toContain(enterprise.enterpriseCode);

    const masterKey = loadHashKey(join(dirname(gw.dbPath), 'hash-key'), { create: false });
    const vault = createBodyVault({ db: store.db, masterKey });
    const body = (await vault.read(id))!;
    expect(body.response.toString('utf8')).toBe(answer);
    const queued = await store.db.selectFrom('exchange_queue').select('leaf').where('exchange_id', '=', id).executeTakeFirst();
    const entry = await store.db.selectFrom('exchange_entries').select('leaf').where('exchange_id', '=', id).executeTakeFirst();
    const leaf = JSON.parse((queued ?? entry)!.leaf) as { v: number; requestMac: string; responseMac: string };
    // Only the holder of the privacy key confirms the bodies; their plain SHA-256 is not in the leaf.
    const digest = createKeyedDigest(masterKey, 'exchange-bodies');
    expect(leaf).toMatchObject({ v: 3, requestMac: digest(body.request), responseMac: digest(body.response) });
    expect(bodiesMatchLeaf(leaf, body.request, body.response, digest)).toBe(true);
    expect((queued ?? entry)!.leaf).not.toContain(sha256Hex(body.request));

    const person = people.find((p) => !p.dateOfDeath)!;
    const verify = await gw.fetch('/v1/citizens/verify', {
      method: 'POST',
      key: KEYS.agency,
      headers: { 'content-type': 'application/json', 'x-user-id': 'officer-17', 'x-purpose': 'XAC_MINH_DANH_TINH' },
      body: JSON.stringify({ idNumber: person.idNumber, fullName: person.fullName, dateOfBirth: person.dateOfBirth }),
    });
    const other = verify.headers.get('x-exchange-id');
    expect(other).toBeTruthy();
    expect(await store.db.selectFrom('exchange_bodies').select('exchange_id').where('exchange_id', '=', other!).executeTakeFirst()).toBeUndefined();
  });
});
