import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import { createDocumentStore } from '../../src/store/documents.ts';
import { openStore } from '../../src/store/store.ts';
import type { NewDocument } from '../../src/core/documents/port.ts';

/**
 * One gateway process's use of the document store, for test/documents-scale-out.test.ts, run as
 * `node --import tsx document-store-worker.ts` with its orders in the environment:
 * - WORKER_MODE=commit: after "ready", waits for a line on standard input, then commits
 *   WORKER_COUNT documents (a few at a time) with the code prefix WORKER_PREFIX and prints one
 *   JSON line per document: {code, sha256}.
 * - WORKER_MODE=write: commits WORKER_COUNT documents, then writes content that never ends and
 *   prints "writing" once 2 MiB of it was handed over (the test kills it then).
 * - WORKER_MODE=full: commits WORKER_COUNT documents, then writes 8 MiB (the test limits the size
 *   of files) and prints "written", or "refused <error code>" when the write failed.
 * The database: WORKER_DB_URL and WORKER_DB_SCHEMA (PostgreSQL) or WORKER_SQLITE_PATH; content
 * directory WORKER_DIRECTORY; privacy key WORKER_MASTER_KEY (hex).
 */

const env = process.env;
const store = await openStore(env.WORKER_DB_URL ? { url: env.WORKER_DB_URL, searchPath: env.WORKER_DB_SCHEMA!, poolSize: 4 } : { sqlitePath: env.WORKER_SQLITE_PATH! });
const documents = createDocumentStore({ db: store.db, dialect: store.dialect, directory: env.WORKER_DIRECTORY!, masterKey: Buffer.from(env.WORKER_MASTER_KEY!, 'hex') });
const count = Number(env.WORKER_COUNT ?? '0');
const prefix = env.WORKER_PREFIX ?? 'H52.TEST.2026';

const metadata = (content: { sha256: string; size: number }): NewDocument => ({
  codePrefix: prefix,
  kind: 'submission',
  subjectType: 'citizen',
  subject: '001099000123',
  subjectHash: 'a'.repeat(64),
  documentType: 'TEST',
  name: 'Giấy tờ thử',
  mediaType: 'application/octet-stream',
  procedureCode: null,
  dossierCode: null,
  issuingAgency: 'H52',
  issuedOn: null,
  validUntil: null,
  sha256: content.sha256,
  size: content.size,
  signatures: [],
  sealCms: null,
  depositedAt: new Date(),
  clientId: `worker-${process.pid}`,
  agency: 'H52',
  userHash: 'u'.repeat(64),
  retainUntil: null,
});

async function commitOne(): Promise<void> {
  const bytes = randomBytes(1 + Math.floor(Math.random() * 150_000));
  const pending = await documents.write(Readable.from([bytes.subarray(0, 1000), bytes.subarray(1000)]));
  const record = await documents.commit(pending, metadata(pending));
  process.stdout.write(`${JSON.stringify({ code: record.code, sha256: createHash('sha256').update(bytes).digest('hex') })}\n`);
}

async function commitAll(): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < count) {
      next++;
      await commitOne();
    }
  };
  await Promise.all(Array.from({ length: 5 }, lane));
}

if (env.WORKER_MODE === 'commit') {
  process.stdout.write('ready\n');
  await once(process.stdin, 'data');
  process.stdin.destroy();
  await commitAll();
  await store.close();
} else if (env.WORKER_MODE === 'full') {
  await commitAll();
  try {
    await documents.write(Readable.from(Array.from({ length: 128 }, () => randomBytes(64 * 1024))));
    process.stdout.write('written\n');
  } catch (err) {
    process.stdout.write(`refused ${(err as NodeJS.ErrnoException).code}\n`);
  }
  await store.close();
} else {
  await commitAll();
  let handed = 0;
  const endless = new Readable({
    read() {
      handed += 64 * 1024;
      if (handed === 2 * 1024 * 1024) process.stdout.write('writing\n');
      this.push(randomBytes(64 * 1024));
    },
  });
  await documents.write(endless);
}
