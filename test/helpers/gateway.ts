import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { createGatewayClient, type GatewayClient } from '@lienthong/client';
import { loadConfig } from '../../src/config/load.ts';
import { startGateway, type Gateway } from '../../src/main.ts';
import { createSubjectHasher, loadHashKey } from '../../src/signing/attestation.ts';
import { eventually } from './dossiers.ts';

export const KEYS = {
  portal: 'sandbox-portal-key',
  agency: 'sandbox-agency-key',
  auditor: 'sandbox-auditor-key',
  operator: 'sandbox-operator-key',
} as const;

export interface TestGateway {
  gateway: Gateway;
  url: string;
  controlUrl: string;
  /** Every log line the gateway wrote, as text. */
  logs: string[];
  /** The gateway's SQLite file. */
  dbPath: string;
  client(key: string, extra?: { userId?: string; purpose?: string }): GatewayClient;
  fetch(path: string, init?: RequestInit & { key?: string | null }): Promise<Response>;
  close(): Promise<void>;
}

/** The keyed hash the gateway's exchange log gives an identifier, from the key beside its database. */
export function subjectHasherOf(gw: Pick<TestGateway, 'dbPath'>): (value: string) => string {
  return createSubjectHasher(loadHashKey(join(dirname(gw.dbPath), 'hash-key'), { create: false }));
}

/**
 * Starts the real gateway, as `npm start` does, wired to a real sandbox on free loopback ports,
 * with a fresh SQLite file and its log lines captured.
 */
export async function startTestGateway(overrides: Record<string, unknown> = {}, env: Record<string, string> = {}): Promise<TestGateway> {
  const dir = mkdtempSync(join(tmpdir(), 'lienthong-e2e-'));
  const config = loadConfig(env, {
    file: 'config/sandbox.yaml',
    overrides: {
      'server.host': '127.0.0.1',
      'server.port': 0,
      'server.shutdownGraceMs': 500,
      'sandbox.port': 0,
      'server.tls.port': 0,
      'database.sqlitePath': join(dir, 'gateway.db'),
      'privacy.hashKeyFile': join(dir, 'hash-key'),
      'documents.directory': join(dir, 'documents'),
      'log.level': 'debug',
      // The sandbox's sample dossiers only where a test asks for them: the others count their own.
      'sandbox.sampleDossiers': false,
      ...overrides,
    },
  });
  const logs: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logs.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  const gateway = await startGateway(config, { logDestination: destination });
  const url = gateway.url;
  return {
    gateway,
    url,
    dbPath: join(dir, 'gateway.db'),
    // Empty when every upstream URL was given (no sandbox of its own).
    controlUrl: gateway.sandbox?.controlUrl ?? '',
    logs,
    client: (key, extra = {}) => createGatewayClient({ baseUrl: url, apiKey: key, ...extra }),
    fetch: (path, init = {}) => {
      const headers = new Headers(init.headers);
      const key = init.key === undefined ? KEYS.portal : init.key;
      if (key !== null && !headers.has('authorization')) headers.set('authorization', `Bearer ${key}`);
      return fetch(url + path, { ...init, headers });
    },
    close: () => gateway.close(),
  };
}

export async function setFault(controlUrl: string, fault: Record<string, unknown>): Promise<void> {
  const res = await fetch(`${controlUrl}/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(fault) });
  if (res.status !== 200) throw new Error(`fault not set: ${res.status} ${await res.text()}`);
}

export async function clearFaults(controlUrl: string): Promise<void> {
  await fetch(`${controlUrl}/faults`, { method: 'DELETE' });
}

/** The sum of the Prometheus series of `name` that carry these labels, 0 when none. */
export async function metric(url: string, name: string, labels: Record<string, string>): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  let sum = 0;
  for (const line of text.split('\n')) {
    // A series without labels is written `name value`.
    if ((line.startsWith(`${name}{`) || line.startsWith(`${name} `)) && want.every((w) => line.includes(w))) sum += Number(line.split(' ').pop());
  }
  return sum;
}

/** An exchange-log entry as the auditor API lists it. */
export interface AuditEntry {
  id: string;
  upstream: string | null;
  outcome: string;
  status: number;
  upstreamCalls?: { upstream: string; outcome: string; code: string | null }[];
}

/** The exchange-log entry of an exchange, read as an auditor would, once integrated. */
export async function auditEntry(gw: TestGateway, exchangeId: string, upstream: string): Promise<AuditEntry> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const res = await gw.fetch(`/v1/audit/entries?upstream=${upstream}&limit=1000`, { key: KEYS.auditor });
    if (res.status !== 200) throw new Error(`the auditor API answered ${res.status}`);
    const { items } = (await res.json()) as { items: AuditEntry[] };
    const found = items.find((e) => e.id === exchangeId);
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`exchange ${exchangeId} is not in the exchange log`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** An auditor's accountability headers, for searches by subject (the API asks who and why). */
export const AUDITOR_HEADERS = { 'x-user-id': 'thanhtra-0007', 'x-purpose': 'THANH_TRA_KIEM_TRA' };

/** Exchange-log entries about a person for one operation, as an auditor searches them, once `enough` holds (15 s at most). */
export function auditEntriesAbout<T>(gw: TestGateway, identifier: string, operation: string, enough: (items: T[]) => boolean): Promise<T[]> {
  return eventually(
    async () => {
      const res = await gw.fetch(`/v1/audit/entries?operation=${operation}&subject=${identifier}&limit=1000`, { key: KEYS.auditor, headers: AUDITOR_HEADERS });
      if (res.status !== 200) throw new Error(`the auditor API answered ${res.status}`);
      const { items } = (await res.json()) as { items: T[] };
      return enough(items) ? items : undefined;
    },
    15_000,
    `${operation} entries in the exchange log`,
  );
}
