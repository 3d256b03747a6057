import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createDocumentStore } from '../src/store/documents.ts';
import { openStore } from '../src/store/store.ts';
import { storeBackends, type Backend } from './helpers/backends.ts';

/**
 * The document store used by separate gateway processes at once, and by one killed while it
 * writes: codes stay unique and gap-free per prefix, and a crash leaves nothing that `sweep`
 * does not remove.
 */

const { backends, cleanup } = storeBackends('document store processes');
const postgres = backends.find((b) => b.name === 'PostgreSQL')!;
const WORKER = fileURLToPath(new URL('./helpers/document-store-worker.ts', import.meta.url));
const directories: string[] = [];
afterAll(async () => {
  for (const dir of directories) rmSync(dir, { recursive: true, force: true });
  await cleanup();
});

interface Worker {
  child: ChildProcess;
  output(): string;
  /** Resolves once the worker printed `line`. */
  printed(line: string): Promise<void>;
  exited: Promise<number | null>;
}

/** Starts the worker; with `fileSizeKiB`, under that limit on the size of any file it writes (the disk is full beyond it). */
function startWorker(env: Record<string, string>, fileSizeKiB?: number): Worker {
  const command = fileSizeKiB === undefined ? [process.execPath, '--import', 'tsx', WORKER] : ['bash', '-c', `ulimit -f ${fileSizeKiB} && exec "$0" --import tsx "$1"`, process.execPath, WORKER];
  const child = spawn(command[0]!, command.slice(1), { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const waiting: { line: string; resolve(): void }[] = [];
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    for (const w of [...waiting]) if (out.split('\n').includes(w.line)) w.resolve();
  });
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    output: () => out + err,
    exited,
    printed: (line) =>
      new Promise((resolve, reject) => {
        if (out.split('\n').includes(line)) return resolve();
        waiting.push({ line, resolve });
        void exited.then((code) => reject(new Error(`the worker exited (${code}) before printing "${line}"\n${out}\n${err}`)));
      }),
  };
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

async function workerEnv(backend: Backend, masterKey: Buffer) {
  const options = await backend.options();
  const directory = mkdtempSync(join(tmpdir(), 'lienthong-document-processes-'));
  directories.push(directory);
  // Migrated once before the workers start, as a deployment's release step would.
  await (await openStore(options)).close();
  const env: Record<string, string> = options.url
    ? { WORKER_DB_URL: options.url, WORKER_DB_SCHEMA: options.searchPath! }
    : { WORKER_SQLITE_PATH: options.sqlitePath! };
  return { options, directory, env: { ...env, WORKER_DIRECTORY: directory, WORKER_MASTER_KEY: masterKey.toString('hex') } };
}

describe.skipIf(postgres.skip)('two processes depositing at once on PostgreSQL', () => {
  it('give 100 documents of one prefix 100 distinct, gap-free codes, every content readable', async () => {
    const masterKey = randomBytes(32);
    const { options, directory, env } = await workerEnv(postgres, masterKey);
    const prefix = `H52.GKS.${new Date().getUTCFullYear()}`;
    const workers = [0, 1].map(() => startWorker({ ...env, WORKER_MODE: 'commit', WORKER_COUNT: '50', WORKER_PREFIX: prefix }));
    try {
      await Promise.all(workers.map((w) => w.printed('ready')));
      for (const w of workers) w.child.stdin!.end('go\n');
      const codes = await Promise.all(workers.map((w) => w.exited));
      expect(codes, workers.map((w) => w.output()).join('\n')).toEqual([0, 0]);
    } finally {
      for (const w of workers) if (w.child.exitCode === null) w.child.kill('SIGKILL');
    }
    const made = workers.flatMap((w, i) =>
      w
        .output()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => ({ ...(JSON.parse(l) as { code: string; sha256: string }), worker: i })),
    );
    expect(made).toHaveLength(100);
    // Both processes took numbers while the other did: their codes interleave.
    const sequence = (code: string) => Number(code.slice(prefix.length + 1));
    const byNumber = [...made].sort((a, b) => sequence(a.code) - sequence(b.code));
    expect(byNumber.map((m) => m.code)).toEqual(Array.from({ length: 100 }, (_, i) => `${prefix}.${String(i + 1).padStart(6, '0')}`));
    expect(new Set(byNumber.slice(0, 50).map((m) => m.worker)).size).toBe(2);

    const store = await openStore(options);
    try {
      const documents = createDocumentStore({ db: store.db, dialect: store.dialect, directory, masterKey });
      for (const m of made) expect(sha256((await documents.readAll(m.code))!), m.code).toBe(m.sha256);
      expect(await documents.sweep()).toBe(0);
    } finally {
      await store.close();
    }
  }, 120_000);
});

describe.each(backends)('a process killed while it writes content, on $name', (backend) => {
  it.skipIf(backend.skip)('leaves nothing that sweep does not remove, and no document without its content', async () => {
    const masterKey = randomBytes(32);
    const { options, directory, env } = await workerEnv(backend, masterKey);
    const worker = startWorker({ ...env, WORKER_MODE: 'write', WORKER_COUNT: '3' });
    try {
      await worker.printed('writing');
    } finally {
      worker.child.kill('SIGKILL');
    }
    await worker.exited;
    expect(worker.child.signalCode).toBe('SIGKILL');

    const store = await openStore(options);
    try {
      const leftovers = async () => {
        if (store.dialect === 'postgres') {
          return (await store.db.selectFrom('document_chunks').select('address').distinct().where('address', 'like', 'tmp-%').execute()).length;
        }
        return existsSync(join(directory, '.tmp')) ? readdirSync(join(directory, '.tmp')).length : 0;
      };
      // The half-written content is there (the test would prove nothing otherwise).
      expect(await leftovers()).toBe(1);
      const rows = await store.db.selectFrom('documents').select(['code', 'content_address']).execute();
      expect(rows).toHaveLength(3);

      // On the next start (or in another process, once the content is old enough), sweep removes it.
      const restarted = createDocumentStore({ db: store.db, dialect: store.dialect, directory, masterKey, now: () => new Date(Date.now() + 11 * 60 * 1000) });
      expect(await restarted.sweep()).toBe(1);
      expect(await leftovers()).toBe(0);
      const stored =
        store.dialect === 'postgres'
          ? (await store.db.selectFrom('document_chunks').select('address').distinct().execute()).map((r) => r.address)
          : readdirSync(directory)
              .filter((d) => /^[0-9a-f]{2}$/.test(d))
              .flatMap((d) => readdirSync(join(directory, d)));
      // Nothing stored that no row names, and every row's content is there and reads.
      expect(stored.sort()).toEqual(rows.map((r) => r.content_address).sort());
      for (const row of rows) expect((await restarted.readAll(row.code))!.length).toBeGreaterThan(0);
    } finally {
      await store.close();
    }
  }, 120_000);
});

describe('a write that meets a full disk, on SQLite', () => {
  it('fails with the file system\'s error and leaves no temporary file and no content', async () => {
    const sqlite = backends.find((b) => b.name === 'SQLite')!;
    const { options, directory, env } = await workerEnv(sqlite, randomBytes(32));
    // Files may not grow beyond 2 MiB (EFBIG, the same path as ENOSPC); the content is 8 MiB.
    const worker = startWorker({ ...env, WORKER_MODE: 'full', WORKER_COUNT: '1' }, 2048);
    expect(await worker.exited, worker.output()).toBe(0);
    expect(worker.output()).toMatch(/^refused EFBIG$/m);
    expect(readdirSync(join(directory, '.tmp'))).toEqual([]);
    const stored = readdirSync(directory)
      .filter((d) => /^[0-9a-f]{2}$/.test(d))
      .flatMap((d) => readdirSync(join(directory, d)));
    // Only the one document committed before the big write.
    expect(stored).toHaveLength(1);
    const store = await openStore(options);
    try {
      expect(await store.db.selectFrom('documents').select('code').execute()).toHaveLength(1);
    } finally {
      await store.close();
    }
  }, 60_000);
});
