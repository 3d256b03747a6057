import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import type { DocumentStore, NewDocument, SignatureFacts } from '../src/core/documents/port.ts';
import { STORED_CHUNK_BYTES } from '../src/store/document-content.ts';
import { createDocumentStore } from '../src/store/documents.ts';
import { openStore, type Store } from '../src/store/store.ts';
import { storeBackends, type Backend } from './helpers/backends.ts';

const { backends, cleanup } = storeBackends('document store');
const directories: string[] = [];
afterAll(async () => {
  for (const dir of directories) rmSync(dir, { recursive: true, force: true });
  await cleanup();
});

const DAY = 24 * 60 * 60 * 1000;
const MINUTE = 60 * 1000;
const day = (offsetDays: number) => new Date(Date.now() + offsetDays * DAY).toISOString().slice(0, 10);
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const PREFIX = `H52.GCN.${new Date().getUTCFullYear()}`;

const signature: SignatureFacts = {
  form: 'cms',
  by: 'gateway',
  signer: { subject: 'CN=Sở Tư pháp', issuer: 'CN=Test CA', serialNumber: '0A1B', notBefore: '2025-01-01T00:00:00Z', notAfter: '2030-01-01T00:00:00Z', sha256: 'c'.repeat(64) },
  signedAt: null,
  timestamp: null,
};

function documentFor(content: { sha256: string; size: number }, overrides: Partial<NewDocument> = {}): NewDocument {
  return {
    codePrefix: PREFIX,
    kind: 'result',
    subjectType: 'citizen',
    subject: '001099000123',
    subjectHash: 'a'.repeat(64),
    documentType: 'GCN',
    name: 'Giấy chứng nhận của Nguyễn Văn An',
    mediaType: 'application/pdf',
    procedureCode: '1.001234',
    dossierCode: null,
    issuingAgency: 'H52',
    issuedOn: day(0),
    validUntil: null,
    sha256: content.sha256,
    size: content.size,
    signatures: [signature],
    sealCms: randomBytes(300),
    depositedAt: new Date(),
    clientId: 'sandbox-agency',
    agency: 'H52',
    userHash: 'u'.repeat(64),
    retainUntil: null,
    ...overrides,
  };
}

/** Reads a stream to its end: its bytes, or the error it ended with. */
async function drain(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

interface Fixture {
  store: Store;
  documents: DocumentStore;
  directory: string;
  masterKey: Buffer;
  options: Awaited<ReturnType<Backend['options']>>;
  /** Moves the clock of `documents` ahead. */
  advance(ms: number): void;
  /** Another gateway process's view (on SQLite: a later start), with its clock moved by `aheadMs`. */
  another(aheadMs: number): Promise<DocumentStore>;
  /** Stored content addresses (temporary names excluded). */
  addresses(): Promise<string[]>;
  /** Content being written or left half-written: temporary files or chunk rows. */
  leftovers(): Promise<number>;
  /** Bytes stored so far under temporary names. */
  temporaryBytes(): Promise<number>;
  stored(code: string): Promise<Buffer>;
  /** Replaces a document's stored bytes, under the same address or (readdress) under their own. */
  replace(code: string, bytes: Buffer, readdress: boolean): Promise<void>;
  close(): Promise<void>;
}

async function fixture(backend: Backend): Promise<Fixture> {
  const options = await backend.options();
  const store = await openStore(options);
  const directory = mkdtempSync(join(tmpdir(), 'lienthong-documents-'));
  directories.push(directory);
  const masterKey = randomBytes(32);
  const postgres = store.dialect === 'postgres';
  let ahead = 0;
  const documents = createDocumentStore({ db: store.db, dialect: store.dialect, directory, masterKey, now: () => new Date(Date.now() + ahead) });
  const others: Store[] = [];
  const addressOf = async (code: string) =>
    (await store.db.selectFrom('documents').select('content_address').where('code', '=', code).executeTakeFirstOrThrow()).content_address!;
  const fileOf = (address: string) => join(directory, address.slice(0, 2), address);
  const put = async (address: string, bytes: Buffer) => {
    if (!postgres) {
      mkdirSync(join(directory, address.slice(0, 2)), { recursive: true });
      writeFileSync(fileOf(address), bytes);
      return;
    }
    await store.db.deleteFrom('document_chunks').where('address', '=', address).execute();
    for (let idx = 0; idx * STORED_CHUNK_BYTES < bytes.length; idx++) {
      const data = bytes.subarray(idx * STORED_CHUNK_BYTES, (idx + 1) * STORED_CHUNK_BYTES);
      await store.db.insertInto('document_chunks').values({ address, idx, data, created_at: new Date().toISOString() }).execute();
    }
  };
  return {
    store,
    documents,
    directory,
    masterKey,
    options,
    advance(ms) {
      ahead += ms;
    },
    async another(aheadMs) {
      // On PostgreSQL a second connection pool stands for the second process; SQLite serves one process at a time.
      const db = postgres ? (others[others.push(await openStore(options)) - 1]!).db : store.db;
      return createDocumentStore({ db, dialect: store.dialect, directory, masterKey, now: () => new Date(Date.now() + aheadMs) });
    },
    async addresses() {
      if (postgres) {
        const rows = await store.db.selectFrom('document_chunks').select('address').distinct().where('address', 'not like', 'tmp-%').execute();
        return rows.map((r) => r.address).sort();
      }
      return readdirSync(directory)
        .filter((d) => /^[0-9a-f]{2}$/.test(d))
        .flatMap((d) => readdirSync(join(directory, d)))
        .sort();
    },
    async leftovers() {
      if (postgres) {
        const rows = await store.db.selectFrom('document_chunks').select('address').distinct().where('address', 'like', 'tmp-%').execute();
        return rows.length;
      }
      return existsSync(join(directory, '.tmp')) ? readdirSync(join(directory, '.tmp')).length : 0;
    },
    async temporaryBytes() {
      if (postgres) {
        const { rows } = await sql<{ n: string | null }>`select sum(length(data)) as n from document_chunks where address like 'tmp-%'`.execute(store.db);
        return Number(rows[0]?.n ?? 0);
      }
      const temporary = join(directory, '.tmp');
      return existsSync(temporary) ? readdirSync(temporary).reduce((sum, name) => sum + statSync(join(temporary, name)).size, 0) : 0;
    },
    async stored(code) {
      const address = await addressOf(code);
      if (!postgres) return readFileSync(fileOf(address));
      const rows = await store.db.selectFrom('document_chunks').select('data').where('address', '=', address).orderBy('idx').execute();
      return Buffer.concat(rows.map((r) => r.data));
    },
    async replace(code, bytes, readdress) {
      const address = await addressOf(code);
      if (!readdress) return put(address, bytes);
      const next = sha256(bytes);
      if (postgres) await store.db.deleteFrom('document_chunks').where('address', '=', address).execute();
      else rmSync(fileOf(address));
      await put(next, bytes);
      await store.db.updateTable('documents').set({ content_address: next }).where('code', '=', code).execute();
    },
    async close() {
      for (const other of others) await other.close();
      await store.close();
    },
  };
}

/** Resolves once `check` answers true (polled), or fails after `ms`. */
async function until(check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  for (const end = Date.now() + ms; !(await check()); ) {
    if (Date.now() > end) throw new Error('the awaited state did not come');
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function deposit(documents: DocumentStore, content: Buffer, overrides: Partial<NewDocument> = {}) {
  const pending = await documents.write(content);
  return documents.commit(pending, documentFor(pending, overrides));
}

describe.each(backends)('document store on $name', (backend) => {
  it.skipIf(backend.skip)('stores 5 MiB as it streams in and reads it back a chunk at a time, encrypted at rest', async () => {
    const f = await fixture(backend);
    try {
      const total = 5 * 1024 * 1024;
      const piece = 16 * 1024;
      const hash = createHash('sha256');
      const head: Buffer[] = [];
      let produced = 0;
      let storedWhenFourMiB = -1;
      const source = new Readable({
        read() {
          void (async () => {
            if (produced === 4 * 1024 * 1024) storedWhenFourMiB = await f.temporaryBytes();
            if (produced === total) return this.push(null);
            const data = randomBytes(piece);
            if (produced < 64 * 1024) head.push(data);
            hash.update(data);
            produced += piece;
            this.push(data);
          })();
        },
      });
      const pending = await f.documents.write(source);
      expect(pending).toMatchObject({ sha256: hash.digest('hex'), size: total });
      // Streamed: once 4 MiB were handed over, all but a few chunks of them were already stored.
      expect(storedWhenFourMiB).toBeGreaterThan(4 * 1024 * 1024 - 512 * 1024);
      expect(await f.leftovers()).toBe(0);
      const record = await f.documents.commit(pending, documentFor(pending));
      expect(record.code).toBe(`${PREFIX}.000001`);

      const stored = await f.stored(record.code);
      expect(stored.length).toBe(total + 80 * 16);
      expect(stored.subarray(0, 1024).equals(head[0]!.subarray(0, 1024))).toBe(false);
      expect(stored.includes(head[1]!.subarray(0, 64))).toBe(false);

      const content = (await f.documents.read(record.code))!;
      expect(content.size).toBe(total);
      const back = createHash('sha256');
      let read = 0;
      let largest = 0;
      for await (const part of content.stream as AsyncIterable<Buffer>) {
        if (read === 0) {
          // A slow reader: the store does not run ahead of it by more than a few chunks.
          await new Promise((r) => setTimeout(r, 200));
          expect(content.stream.readableLength).toBeLessThanOrEqual(256 * 1024);
          expect(content.stream.readableEnded).toBe(false);
        }
        largest = Math.max(largest, part.length);
        read += part.length;
        back.update(part);
      }
      expect(largest).toBeLessThanOrEqual(64 * 1024);
      expect(read).toBe(total);
      expect(back.digest('hex')).toBe(record.sha256);
      expect(sha256((await f.documents.readAll(record.code))!)).toBe(record.sha256);
    } finally {
      await f.close();
    }
  }, 60_000);

  it.skipIf(backend.skip)('refuses content with an altered byte, a dropped last chunk or swapped chunks, as an error and never a shorter file', async () => {
    const f = await fixture(backend);
    try {
      const plaintext = randomBytes(3 * 64 * 1024 + 1000);
      const deposits = [];
      for (let i = 0; i < 6; i++) deposits.push(await deposit(f.documents, plaintext));
      const [control, flipped, flippedReaddressed, dropped, swapped, appended] = deposits.map((d) => d.code) as [string, string, string, string, string, string];
      const original = await f.stored(control);
      expect(original.length).toBe(3 * STORED_CHUNK_BYTES + 1000 + 16);

      // Rewriting the same bytes under their own address changes nothing: the manipulations below are what fails.
      await f.replace(control, Buffer.from(original), true);
      expect(sha256((await f.documents.readAll(control))!)).toBe(sha256(plaintext));

      const flip = async (code: string, readdress: boolean) => {
        const bytes = Buffer.from(await f.stored(code));
        bytes[STORED_CHUNK_BYTES + 500]! ^= 0x01;
        await f.replace(code, bytes, readdress);
      };
      await flip(flipped, false);
      await flip(flippedReaddressed, true);
      // Without the last chunk (and the rest named by its own hash, so only the chunk seals can tell).
      await f.replace(dropped, (await f.stored(dropped)).subarray(0, 3 * STORED_CHUNK_BYTES), true);
      const bytes = await f.stored(swapped);
      await f.replace(swapped, Buffer.concat([bytes.subarray(STORED_CHUNK_BYTES, 2 * STORED_CHUNK_BYTES), bytes.subarray(0, STORED_CHUNK_BYTES), bytes.subarray(2 * STORED_CHUNK_BYTES)]), true);
      const longer = await f.stored(appended);
      await f.replace(appended, Buffer.concat([longer, longer.subarray(3 * STORED_CHUNK_BYTES)]), true);

      for (const code of [flipped, flippedReaddressed, dropped, swapped, appended]) {
        const content = (await f.documents.read(code))!;
        await expect(drain(content.stream), code).rejects.toThrow(/authenticate|does not match its address/);
        await expect(f.documents.readAll(code)).rejects.toThrow();
      }
      // Opened and left unread for a while, a failing stream keeps its error for its reader (and crashes nothing).
      const idle = (await f.documents.read(swapped))!.stream;
      await new Promise((r) => setTimeout(r, 100));
      expect(idle.destroyed).toBe(true);
      await expect(drain(idle)).rejects.toThrow(/chunk 0 does not authenticate/);
      // The dropped last chunk is told apart from a shorter file: the new last one was not sealed as last.
      await expect(drain((await f.documents.read(dropped))!.stream)).rejects.toThrow(/chunk 2 \(the last\) does not authenticate/);
      // A swapped chunk fails where it stands, before anything of it is released.
      const partial: Buffer[] = [];
      const stream = (await f.documents.read(swapped))!.stream;
      await expect(
        (async () => {
          for await (const part of stream) partial.push(part as Buffer);
        })(),
      ).rejects.toThrow(/chunk 0 does not authenticate/);
      expect(partial).toHaveLength(0);
    } finally {
      await f.close();
    }
  });

  it.skipIf(backend.skip)('binds the wrapped key and the sealed metadata to the code: moved to another row, they do not open', async () => {
    const f = await fixture(backend);
    try {
      const a = await deposit(f.documents, Buffer.from('first document'));
      const b = await deposit(f.documents, Buffer.from('second document'), { name: 'Quyết định', subject: '001099000999' });
      expect(a.code).toBe(`${PREFIX}.000001`);
      expect(b.code).toBe(`${PREFIX}.000002`);
      expect((await f.documents.get(b.code))!).toMatchObject({ name: 'Quyết định', subject: '001099000999' });
      const rowA = await f.store.db.selectFrom('documents').selectAll().where('code', '=', a.code).executeTakeFirstOrThrow();
      expect(rowA.name_sealed).not.toContain('Giấy');
      expect(rowA.subject_sealed).not.toContain('001099000123');

      await f.store.db.updateTable('documents').set({ wrapped_key: rowA.wrapped_key, content_address: rowA.content_address }).where('code', '=', b.code).execute();
      await expect(f.documents.read(b.code)).rejects.toThrow(/cannot be unwrapped/);
      expect((await f.documents.readAll(a.code))!.toString()).toBe('first document');

      await f.store.db.updateTable('documents').set({ subject_sealed: rowA.subject_sealed }).where('code', '=', b.code).execute();
      await expect(f.documents.get(b.code)).rejects.toThrow();

      // Another privacy key opens nothing.
      const stranger = createDocumentStore({ db: f.store.db, dialect: f.store.dialect, directory: f.directory, masterKey: randomBytes(32) });
      await expect(stranger.read(a.code)).rejects.toThrow(/cannot be unwrapped/);
    } finally {
      await f.close();
    }
  });

  it.skipIf(backend.skip)('lists a subject\'s documents newest first, by type and validity, a page at a time, with the total', async () => {
    const f = await fixture(backend);
    try {
      const start = Date.now() - 60 * MINUTE;
      const at = (i: number) => new Date(start + i * MINUTE);
      const made = [
        await deposit(f.documents, Buffer.from('0'), { documentType: 'GKS', validUntil: null, depositedAt: at(0), dossierCode: 'H52.1' }),
        await deposit(f.documents, Buffer.from('1'), { documentType: 'GKS', validUntil: day(-1), depositedAt: at(1) }),
        await deposit(f.documents, Buffer.from('2'), { documentType: 'CCCD', validUntil: day(0), depositedAt: at(2), dossierCode: 'H52.1' }),
        await deposit(f.documents, Buffer.from('3'), { documentType: 'GKS', validUntil: day(30), depositedAt: at(3), retainUntil: at(3) }),
        await deposit(f.documents, Buffer.from('4'), { documentType: 'CCCD', validUntil: day(365), depositedAt: at(4) }),
      ].map((d) => d.code);
      await deposit(f.documents, Buffer.from('other'), { subjectHash: 'b'.repeat(64), depositedAt: at(5) });
      expect(await f.documents.destroy(made[3]!, new Date())).toBe(true);

      const subject = 'a'.repeat(64);
      const codes = async (filter: Partial<Parameters<DocumentStore['list']>[0]>) => {
        const page = await f.documents.list({ subjectHash: subject, page: 1, pageSize: 10, ...filter });
        return { total: page.total, codes: page.items.map((d) => d.code) };
      };
      expect(await codes({})).toEqual({ total: 5, codes: [...made].reverse() });
      expect(await codes({ pageSize: 2 })).toEqual({ total: 5, codes: [made[4], made[3]] });
      expect(await codes({ pageSize: 2, page: 3 })).toEqual({ total: 5, codes: [made[0]] });
      expect(await codes({ pageSize: 2, page: 4 })).toEqual({ total: 5, codes: [] });
      expect(await codes({ documentType: 'GKS' })).toEqual({ total: 3, codes: [made[3], made[1], made[0]] });
      // Valid today: no end, or an end today or later; not the one expired yesterday, nor the destroyed one.
      expect(await codes({ validOn: day(0) })).toEqual({ total: 3, codes: [made[4], made[2], made[0]] });
      expect(await codes({ validOn: day(1), documentType: 'CCCD' })).toEqual({ total: 1, codes: [made[4]] });
      expect((await f.documents.list({ subjectHash: 'c'.repeat(64), page: 1, pageSize: 10 })).total).toBe(0);
      expect((await f.documents.forDossier('H52.1')).map((d) => d.code)).toEqual([made[0], made[2]]);
    } finally {
      await f.close();
    }
  });

  it.skipIf(backend.skip)('destroys content when due: metadata, hash, signatures and seal stay; a legal hold stops it', async () => {
    const f = await fixture(backend);
    try {
      const now = new Date();
      const due = await deposit(f.documents, randomBytes(100_000), { retainUntil: new Date(now.getTime() - DAY) });
      const held = await deposit(f.documents, randomBytes(1000), { retainUntil: new Date(now.getTime() - 2 * DAY) });
      const later = await deposit(f.documents, randomBytes(1000), { retainUntil: new Date(now.getTime() + DAY) });
      const permanent = await deposit(f.documents, randomBytes(1000), { retainUntil: null });
      expect((await f.documents.setLegalHold(held.code, true))!.legalHold).toBe(true);
      expect(await f.documents.setLegalHold('H52.NONE.2026.000001', true)).toBeUndefined();
      expect(await f.documents.dueForDestruction(now)).toEqual([due.code]);
      expect(await f.documents.dueForDestruction(new Date(now.getTime() + 2 * DAY))).toEqual([due.code, later.code]);

      expect(await f.addresses()).toHaveLength(4);
      expect(await f.documents.destroy(held.code, now)).toBe(false);
      expect(await f.documents.destroy(later.code, now)).toBe(false);
      expect(await f.documents.destroy(permanent.code, now)).toBe(false);
      expect(await f.documents.destroy('H52.NONE.2026.000001', now)).toBe(false);
      expect(await f.documents.destroy(due.code, now)).toBe(true);
      expect(await f.documents.destroy(due.code, now)).toBe(false);

      const kept = (await f.documents.get(due.code))!;
      const { destroyedAt, ...rest } = kept;
      const { destroyedAt: before, ...original } = due;
      expect(before).toBeNull();
      expect(destroyedAt).toBe(now.toISOString());
      expect(rest).toEqual(original);
      expect(kept.sealCms!.equals(due.sealCms!)).toBe(true);
      expect(kept.signatures).toEqual([signature]);
      expect(await f.documents.read(due.code)).toBeUndefined();
      expect(await f.documents.readAll(due.code)).toBeUndefined();
      const row = await f.store.db.selectFrom('documents').select(['wrapped_key', 'content_address']).where('code', '=', due.code).executeTakeFirstOrThrow();
      expect(row).toEqual({ wrapped_key: null, content_address: null });
      expect(await f.addresses()).toHaveLength(3);
      expect(await f.documents.dueForDestruction(new Date(now.getTime() + 2 * DAY))).toEqual([later.code]);

      // The hold kept the content; lifted, the document is due and goes.
      expect((await f.documents.readAll(held.code))!.length).toBe(1000);
      expect((await f.documents.setLegalHold(held.code, false))!.legalHold).toBe(false);
      expect(await f.documents.dueForDestruction(now)).toEqual([held.code]);
      expect(await f.documents.destroy(held.code, now)).toBe(true);
      expect(await f.documents.read(held.code)).toBeUndefined();
      expect(await f.addresses()).toHaveLength(2);
    } finally {
      await f.close();
    }
  });

  it.skipIf(backend.skip || backend.name !== 'PostgreSQL')('does not sweep content whose row another process is committing at that moment', async () => {
    const f = await fixture(backend);
    const blocker = new pg.Client({ connectionString: f.options.url, options: `-c search_path=${f.options.searchPath}` });
    await blocker.connect();
    try {
      await deposit(f.documents, Buffer.from('makes the counter row'));
      // Pending for longer than the grace: another process's sweep finds it unnamed and old.
      const pending = await f.documents.write(Buffer.from('committed while another process sweeps'));
      // The commit is held inside its transaction (the code counter's row is locked elsewhere).
      await blocker.query('begin');
      await blocker.query('select last from document_sequences where prefix = $1 for update', [PREFIX]);
      const blockerPid = (await blocker.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
      const blockedBy = async (pid: number) =>
        (await sql<{ pid: number }>`select pid from pg_stat_activity where ${pid} = any(pg_blocking_pids(pid))`.execute(f.store.db)).rows.map((r) => r.pid);
      const committing = f.documents.commit(pending, documentFor(pending));
      committing.catch(() => undefined);
      await until(async () => (await blockedBy(blockerPid)).length === 1);
      const [committer] = await blockedBy(blockerPid);

      const sweeping = (await f.another(11 * MINUTE)).sweep();
      let swept: number | undefined;
      void sweeping.then((n) => (swept = n), () => undefined);
      // Either the sweep finished (it did not wait for the commit) or it waits for the committing transaction.
      await until(async () => swept !== undefined || (await blockedBy(committer!)).length === 1);
      await blocker.query('rollback');

      const record = await committing;
      expect(await sweeping).toBe(0);
      expect((await f.documents.readAll(record.code))!.toString()).toBe('committed while another process sweeps');
    } finally {
      await blocker.end();
      await f.close();
    }
  });

  it.skipIf(backend.skip)('indexes dossiers by the time they were received (the figures select by it)', async () => {
    const f = await fixture(backend);
    try {
      const indexed =
        f.store.dialect === 'postgres'
          ? (await sql<{ def: string }>`select indexdef as def from pg_indexes where schemaname = current_schema() and tablename = 'dossiers'`.execute(f.store.db)).rows.map((r) => r.def)
          : (await sql<{ def: string }>`select sql as def from sqlite_master where type = 'index' and tbl_name = 'dossiers' and sql is not null`.execute(f.store.db)).rows.map((r) => r.def);
      expect(indexed.some((def) => /\(\s*"?received_at"?\s*\)/.test(def)), indexed.join('\n')).toBe(true);
    } finally {
      await f.close();
    }
  });

  it.skipIf(backend.skip)('fetches stored chunks only as a slow reader takes them, and lets go of them when the reader hangs up', async () => {
    const f = await fixture(backend);
    try {
      const plaintext = randomBytes(2 * 1024 * 1024);
      const record = await deposit(f.documents, plaintext);
      const stored = await f.stored(record.code);
      const content = (await f.documents.read(record.code))!;
      const parts: Buffer[] = [];
      const reading = (async () => {
        for await (const part of content.stream) {
          parts.push(part as Buffer);
          // A reader that stops after its first part: the store must not have fetched the rest meanwhile.
          if (parts.length === 1) await new Promise((r) => setTimeout(r, 300));
        }
      })();
      await until(async () => parts.length === 1);
      // The second half of the stored bytes changes under the reader, in place: fetched later, it does not authenticate.
      const altered = Buffer.from(stored);
      for (let i = altered.length / 2; i < altered.length; i += 1000) altered[i]! ^= 0xff;
      if (f.store.dialect === 'postgres') {
        const address = (await f.store.db.selectFrom('documents').select('content_address').where('code', '=', record.code).executeTakeFirstOrThrow()).content_address!;
        const half = Math.floor(stored.length / 2 / STORED_CHUNK_BYTES);
        for (let idx = half; idx * STORED_CHUNK_BYTES < altered.length; idx++) {
          const data = altered.subarray(idx * STORED_CHUNK_BYTES, (idx + 1) * STORED_CHUNK_BYTES);
          await f.store.db.updateTable('document_chunks').set({ data }).where('address', '=', address).where('idx', '=', idx).execute();
        }
      } else {
        const address = (await f.store.db.selectFrom('documents').select('content_address').where('code', '=', record.code).executeTakeFirstOrThrow()).content_address!;
        const file = await open(join(f.directory, address.slice(0, 2), address), 'r+');
        await file.write(altered, altered.length / 2, altered.length / 2, altered.length / 2);
        await file.close();
      }
      await expect(reading).rejects.toThrow(/does not authenticate|does not match its address/);
      expect(Buffer.concat(parts).length).toBeLessThanOrEqual(plaintext.length / 2);

      // Readers that hang up early (a client gone) hold no file and no connection (the pool has 4).
      const openFiles = () =>
        readdirSync('/proc/self/fd').filter((fd) => {
          try {
            return readlinkSync(`/proc/self/fd/${fd}`).startsWith(f.directory);
          } catch {
            return false;
          }
        }).length;
      const other = await deposit(f.documents, randomBytes(1024 * 1024));
      for (let i = 0; i < 10; i++) {
        const stream = (await f.documents.read(other.code))!.stream;
        await new Promise<void>((resolve) => stream.once('data', () => resolve()));
        stream.destroy();
        await new Promise((r) => stream.once('close', r));
      }
      await new Promise((r) => setTimeout(r, 50));
      expect(openFiles()).toBe(0);
      expect((await f.documents.readAll(other.code))!.length).toBe(1024 * 1024);
    } finally {
      await f.close();
    }
  });

  it.skipIf(backend.skip || backend.name !== 'SQLite')('leaves no copy of a destroyed document\'s wrapped key in the database\'s files', async () => {
    const f = await fixture(backend);
    try {
      const now = new Date();
      // Kept neighbours on the same database page: a value removed between them leaves free space inside the page.
      await deposit(f.documents, randomBytes(1000));
      const due = await deposit(f.documents, randomBytes(1000), { retainUntil: new Date(now.getTime() - DAY) });
      await deposit(f.documents, randomBytes(1000));
      const { wrapped_key: wrapped } = await f.store.db.selectFrom('documents').select('wrapped_key').where('code', '=', due.code).executeTakeFirstOrThrow();
      const files = () => readdirSync(dirname(f.options.sqlitePath!)).map((name) => join(dirname(f.options.sqlitePath!), name));
      const holding = () => files().filter((file) => readFileSync(file).includes(Buffer.from(wrapped!, 'latin1')));
      // Written, it is there (the search would prove nothing otherwise).
      expect(holding().length).toBeGreaterThan(0);
      expect(await f.documents.destroy(due.code, now)).toBe(true);
      expect(holding().map((file) => `${file} ${statSync(file).size}`)).toEqual([]);
    } finally {
      await f.close();
    }
  });

  it.skipIf(backend.skip || backend.name !== 'PostgreSQL')('fails a write stalled beyond the grace whose chunks another process swept, and leaves none of it', async () => {
    const f = await fixture(backend);
    try {
      let release!: () => void;
      const stalled = new Promise<void>((resolve) => (release = resolve));
      let handed = 0;
      const source = new Readable({
        read() {
          handed++;
          // 640 KiB, then a stall (the client stops sending), then the rest.
          if (handed === 11) return void stalled.then(() => this.push(randomBytes(64 * 1024)));
          if (handed > 20) return void this.push(null);
          this.push(randomBytes(64 * 1024));
        },
      });
      const writing = f.documents.write(source);
      writing.catch(() => undefined);
      await until(async () => (await f.temporaryBytes()) >= 8 * STORED_CHUNK_BYTES);
      // Another process, its clock past the grace, takes the stalled chunks for a dead process's leftovers.
      expect(await (await f.another(11 * MINUTE)).sweep()).toBe(1);
      release();
      await expect(writing).rejects.toThrow(/disappeared/);
      expect(await f.leftovers()).toBe(0);
      expect(await f.addresses()).toEqual([]);
    } finally {
      await f.close();
    }
  });

  it.skipIf(backend.skip)('sweeps content no row names and half-written leftovers once old enough, and keeps committed and pending content', async () => {
    const f = await fixture(backend);
    try {
      const committed = await deposit(f.documents, Buffer.from('kept'));
      // Written by a process that stopped before committing it.
      const orphan = await (await f.another(0)).write(randomBytes(200_000));
      // This process's own content, about to be committed.
      const mine = await f.documents.write(Buffer.from('about to be committed'));
      // A destroy interrupted between deleting the key and the bytes: no row names them any more.
      const interrupted = await deposit(f.documents, Buffer.from('destroyed, bytes left'));
      await f.store.db.updateTable('documents').set({ wrapped_key: null, content_address: null, destroyed_at: new Date().toISOString() }).where('code', '=', interrupted.code).execute();
      // A half-written content of a process that died.
      if (f.store.dialect === 'postgres') {
        await f.store.db.insertInto('document_chunks').values({ address: 'tmp-dead', idx: 0, data: randomBytes(100), created_at: new Date().toISOString() }).execute();
      } else {
        mkdirSync(join(f.directory, '.tmp'), { recursive: true });
        writeFileSync(join(f.directory, '.tmp', 'dead.part'), randomBytes(100));
      }
      // Pending in this process, for longer than the grace (below).
      const stale = await f.documents.write(Buffer.from('pending too long'));
      // A refused upload goes at once; discarding twice is harmless.
      const refused = await f.documents.write(Buffer.from('refused'));
      await refused.discard();
      await refused.discard();
      expect(await f.addresses()).toHaveLength(5);
      expect(await f.leftovers()).toBe(1);

      // Recent content is spared: another process may be about to commit it.
      expect(await (await f.another(0)).sweep()).toBe(0);
      expect(await f.documents.sweep()).toBe(0);
      expect(await f.addresses()).toHaveLength(5);

      // Eleven minutes later: the orphan, the interrupted destroy's bytes and the leftover go; this process's pending content stays.
      f.advance(11 * MINUTE);
      expect(await f.documents.sweep()).toBe(3);
      expect(await f.leftovers()).toBe(0);
      expect(await f.addresses()).toHaveLength(3);
      const late = await f.documents.commit(mine, documentFor(mine));
      expect((await f.documents.readAll(late.code))!.toString()).toBe('about to be committed');
      // Pending longer than the grace, content may be swept by another process: it then cannot become a document.
      const later = await f.another(11 * MINUTE);
      expect(await later.sweep()).toBe(1);
      await expect(f.documents.commit(stale, documentFor(stale))).rejects.toThrow(/gone/);
      expect(await later.sweep()).toBe(0);
      expect((await later.readAll(committed.code))!.toString()).toBe('kept');
      expect(await f.addresses()).toHaveLength(2);

      await expect(f.documents.commit(refused, documentFor(refused))).rejects.toThrow(/not pending/);
      await expect(f.documents.commit(mine, documentFor(mine))).rejects.toThrow(/not pending/);
      await expect(f.documents.commit(orphan, documentFor(orphan))).rejects.toThrow(/not pending/);
    } finally {
      await f.close();
    }
  });
});
