import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { openStore, type Store } from '../../src/store/store.ts';
import type { CitizenService } from '../../src/core/citizens.ts';
import type { EnterpriseService } from '../../src/core/enterprises.ts';

/** Stands in for a dependency a test must never reach. */
export const unused = (): never => {
  throw new Error('no national call expected');
};

/** Resolving links and sign-ons needs no national database: these must never be called. */
export const noCitizens: CitizenService = { verify: unused, lookup: unused };
export const noEnterprises: EnterpriseService = { get: unused };

/** A keyed hash of identifiers, as the gateway's, under a fixed test key. */
export const testHash = (value: string): string => createHmac('sha256', 'k').update(value).digest('hex');

/** A fresh SQLite store per call, in a temporary folder removed after the file's tests. */
export function freshStores(prefix: string): () => Promise<Store> {
  const dir = mkdtempSync(join(tmpdir(), `lienthong-${prefix}-`));
  const stores: Store[] = [];
  let n = 0;
  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()));
    rmSync(dir, { recursive: true, force: true });
  });
  return async () => {
    const store = await openStore({ sqlitePath: join(dir, `${prefix}-${n++}.db`) });
    stores.push(store);
    return store;
  };
}
