import { createCipheriv, createDecipheriv, createHash, randomUUID } from 'node:crypto';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable, Transform, pipeline } from 'node:stream';
import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.ts';

/**
 * Document content at rest: encrypted in chunks, content-addressed, streamed both ways.
 *
 * The plaintext is cut into 64 KiB chunks (the last one may be shorter, or empty), each sealed
 * with AES-256-GCM under the document's own key: the nonce is the chunk's index, the additional
 * data binds the content id, the index and whether the chunk is the last. Stored, every chunk but
 * the last is exactly 64 KiB + 16 bytes of tag, so a reader can frame them again without lengths.
 * A chunk is released only once it authenticated; a chunk altered, moved, dropped or added, or a
 * content cut short (its last chunk is the only one sealed as last) fails instead of reading as
 * a shorter file. The stored bytes are named by their SHA-256, which a read checks as well.
 *
 * Two places keep the bytes: files under a directory (with SQLite) and rows of `document_chunks`
 * (with PostgreSQL, shared by every gateway process). Both are written to a temporary name first
 * and get their address once complete, so a crash leaves only something `sweep` removes.
 */

/** Plaintext bytes per chunk. */
export const CHUNK_BYTES = 64 * 1024;
const TAG_BYTES = 16;
/** A stored chunk that is not the last: its ciphertext and tag. */
export const STORED_CHUNK_BYTES = CHUNK_BYTES + TAG_BYTES;
/** The random id a content is bound to (kept with its key). */
export const CONTENT_ID_BYTES = 16;
/** Chunks per PostgreSQL round trip, written or read: bounds memory at about 256 KiB. */
const ROWS_PER_BATCH = 4;

/** Stored content that cannot be authenticated: altered, reordered, cut short, missing, or another key. */
export class ContentIntegrityError extends Error {
  override name = 'ContentIntegrityError';
}

/** The chunk's nonce: its index, big-endian, in the last 8 of 12 bytes (the key is used for one content only). */
function nonceOf(index: number): Buffer {
  const nonce = Buffer.alloc(12);
  nonce.writeBigUInt64BE(BigInt(index), 4);
  return nonce;
}

function chunkAad(contentId: Buffer, index: number, last: boolean): Buffer {
  const position = Buffer.alloc(9);
  position.writeBigUInt64BE(BigInt(index), 0);
  position[8] = last ? 1 : 0;
  return Buffer.concat([Buffer.from('lienthong document chunk\0', 'utf8'), contentId, position]);
}

function sealChunk(key: Buffer, contentId: Buffer, index: number, plaintext: Buffer, last: boolean): Buffer {
  const cipher = createCipheriv('aes-256-gcm', key, nonceOf(index), { authTagLength: TAG_BYTES });
  cipher.setAAD(chunkAad(contentId, index, last));
  return Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
}

function openChunk(key: Buffer, contentId: Buffer, index: number, stored: Buffer, last: boolean): Buffer {
  try {
    if (stored.length < TAG_BYTES) throw new Error('shorter than its tag');
    const decipher = createDecipheriv('aes-256-gcm', key, nonceOf(index), { authTagLength: TAG_BYTES });
    decipher.setAAD(chunkAad(contentId, index, last));
    decipher.setAuthTag(stored.subarray(stored.length - TAG_BYTES));
    return Buffer.concat([decipher.update(stored.subarray(0, stored.length - TAG_BYTES)), decipher.final()]);
  } catch (err) {
    throw new ContentIntegrityError(`document content chunk ${index}${last ? ' (the last)' : ''} does not authenticate`, { cause: err });
  }
}

/** What was read from the plaintext while it was encrypted; filled once the chunks are all taken. */
export interface PlaintextFacts {
  sha256: string;
  size: number;
}

/** The stored chunks of a plaintext, produced as the source is read (at most one chunk ahead of it). */
export async function* sealChunks(source: AsyncIterable<unknown> | Iterable<unknown>, key: Buffer, contentId: Buffer, facts: PlaintextFacts): AsyncGenerator<Buffer> {
  const hash = createHash('sha256');
  let pending: Buffer[] = [];
  let length = 0;
  let index = 0;
  for await (const piece of source) {
    const data = Buffer.isBuffer(piece) ? piece : typeof piece === 'string' ? Buffer.from(piece, 'utf8') : Buffer.from(piece as Uint8Array);
    hash.update(data);
    facts.size += data.length;
    pending.push(data);
    length += data.length;
    // A full chunk is sealed only once a byte beyond it has come: only then is it known not to be the last.
    if (length > CHUNK_BYTES) {
      const buffered = Buffer.concat(pending, length);
      let offset = 0;
      while (length - offset > CHUNK_BYTES) {
        yield sealChunk(key, contentId, index++, buffered.subarray(offset, offset + CHUNK_BYTES), false);
        offset += CHUNK_BYTES;
      }
      pending = [buffered.subarray(offset)];
      length -= offset;
    }
  }
  yield sealChunk(key, contentId, index, Buffer.concat(pending, length), true);
  facts.sha256 = hash.digest('hex');
}

/** Stored bytes in, authenticated plaintext out, chunk by chunk; fails when the last chunk is not the one sealed as last. */
export function openChunks(key: Buffer, contentId: Buffer): Transform {
  let pending: Buffer[] = [];
  let length = 0;
  let index = 0;
  return new Transform({
    transform(data: Buffer, _encoding, done) {
      pending.push(data);
      length += data.length;
      try {
        if (length > STORED_CHUNK_BYTES) {
          const buffered = Buffer.concat(pending, length);
          let offset = 0;
          while (length - offset > STORED_CHUNK_BYTES) {
            this.push(openChunk(key, contentId, index++, buffered.subarray(offset, offset + STORED_CHUNK_BYTES), false));
            offset += STORED_CHUNK_BYTES;
          }
          pending = [buffered.subarray(offset)];
          length -= offset;
        }
        done();
      } catch (err) {
        done(err as Error);
      }
    },
    flush(done) {
      try {
        this.push(openChunk(key, contentId, index, Buffer.concat(pending, length), true));
        done();
      } catch (err) {
        done(err as Error);
      }
    },
  });
}

/** Passes the stored bytes on and fails at their end unless their SHA-256 is the address they were read by. */
function checkAddress(address: string): Transform {
  const hash = createHash('sha256');
  return new Transform({
    transform(data: Buffer, _encoding, done) {
      hash.update(data);
      done(null, data);
    },
    flush(done) {
      done(hash.digest('hex') === address ? null : new ContentIntegrityError(`stored document content does not match its address ${address}`));
    },
  });
}

/** Where the encrypted bytes are kept. */
export interface ContentBackend {
  /** Stores the chunks in order under a temporary name, then under their address; answers it. */
  put(chunks: AsyncIterable<Buffer>): Promise<{ address: string }>;
  /** The stored bytes at `address`; ContentIntegrityError when there are none. */
  open(address: string): Promise<Readable>;
  /**
   * Inside the transaction `trx` that inserts the row naming `address`: whether the content is
   * there, and (PostgreSQL) a lock that keeps another process's `sweep` from removing it until
   * that transaction ends. False: the content is gone, and the row must not be written.
   */
  hold(trx: Kysely<Database>, address: string): Promise<boolean>;
  /** Removes the bytes at `address` (nothing when there are none). */
  remove(address: string): Promise<void>;
  /**
   * Removes what `named` does not name and temporary leftovers, all last written before `before`,
   * except `spare` (content of this process not committed yet) and what this process is writing.
   */
  sweep(options: { before: Date; spare: ReadonlySet<string>; named(addresses: string[]): Promise<Set<string>> }): Promise<number>;
}

/** Encrypts `source` into the backend; answers the address and the plaintext's hash and size. */
export async function writeContent(backend: ContentBackend, source: AsyncIterable<unknown> | Iterable<unknown>, key: Buffer, contentId: Buffer): Promise<{ address: string; sha256: string; size: number }> {
  const facts: PlaintextFacts = { sha256: '', size: 0 };
  const { address } = await backend.put(sealChunks(source, key, contentId, facts));
  return { address, sha256: facts.sha256, size: facts.size };
}

/** The plaintext at `address`, decrypted as it is read; the stream errors (never ends) when anything fails to authenticate. */
export async function readContent(backend: ContentBackend, address: string, key: Buffer, contentId: Buffer): Promise<Readable> {
  const stored = await backend.open(address);
  return pipeline(stored, checkAddress(address), openChunks(key, contentId), () => {
    // Errors reach the consumer through the last stream, which pipeline destroys with them.
  });
}

const ADDRESS = /^[0-9a-f]{64}$/;
const missing = (address: string, cause?: unknown) => new ContentIntegrityError(`document content ${address} is missing`, { cause });

/** Writes the whole buffer (a file handle may take less than asked). */
async function writeFully(handle: import('node:fs/promises').FileHandle, data: Buffer): Promise<void> {
  for (let offset = 0; offset < data.length; ) offset += (await handle.write(data, offset, data.length - offset)).bytesWritten;
}

/** Makes a rename or creation in `directory` durable. */
async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Files under `directory`: `<aa>/<address>` (aa: the address's first two hex digits), written as
 * `.tmp/<uuid>.part`, flushed to disk, then renamed, so a file at an address is always whole.
 */
export function filesystemContent(directory: string): ContentBackend {
  const temporary = join(directory, '.tmp');
  const pathOf = (address: string) => join(directory, address.slice(0, 2), address);
  const writing = new Set<string>();

  return {
    async put(chunks) {
      await mkdir(temporary, { recursive: true });
      const temp = join(temporary, `${randomUUID()}.part`);
      writing.add(temp);
      const hash = createHash('sha256');
      try {
        const handle = await open(temp, 'wx');
        try {
          for await (const chunk of chunks) {
            hash.update(chunk);
            await writeFully(handle, chunk);
          }
          await handle.sync();
        } finally {
          await handle.close();
        }
        const address = hash.digest('hex');
        const target = pathOf(address);
        // A directory made now is itself an entry of `directory`: it is made durable too, or a crash could lose it with the file.
        if ((await mkdir(dirname(target), { recursive: true })) !== undefined) await syncDirectory(directory);
        await rename(temp, target);
        await syncDirectory(dirname(target));
        return { address };
      } catch (err) {
        await rm(temp, { force: true });
        throw err;
      } finally {
        writing.delete(temp);
      }
    },

    async open(address) {
      if (!ADDRESS.test(address)) throw missing(address);
      try {
        const handle = await open(pathOf(address), 'r');
        return handle.createReadStream({ highWaterMark: STORED_CHUNK_BYTES });
      } catch (err) {
        throw missing(address, err);
      }
    },

    // One process per directory (SQLite): its own pending content is spared by `sweep`, so being there is enough.
    async hold(_trx, address) {
      return ADDRESS.test(address) && (await stat(pathOf(address)).then((info) => info.isFile(), () => false));
    },

    async remove(address) {
      if (ADDRESS.test(address)) await rm(pathOf(address), { force: true });
    },

    async sweep({ before, spare, named }) {
      let removed = 0;
      const old = async (path: string) => {
        const info = await stat(path).catch(() => undefined);
        return info !== undefined && info.mtimeMs < before.getTime();
      };
      for (const name of await readdir(temporary).catch(() => [] as string[])) {
        const path = join(temporary, name);
        if (writing.has(path) || !(await old(path))) continue;
        await rm(path, { force: true });
        removed++;
      }
      const candidates: string[] = [];
      for (const prefix of await readdir(directory).catch(() => [] as string[])) {
        if (!/^[0-9a-f]{2}$/.test(prefix)) continue;
        for (const name of await readdir(join(directory, prefix)).catch(() => [] as string[])) {
          if (ADDRESS.test(name) && name.startsWith(prefix) && !spare.has(name) && (await old(pathOf(name)))) candidates.push(name);
        }
      }
      for (let i = 0; i < candidates.length; i += 200) {
        const batch = candidates.slice(i, i + 200);
        const kept = await named(batch);
        for (const address of batch) {
          if (kept.has(address) || spare.has(address)) continue;
          await rm(pathOf(address), { force: true });
          removed++;
        }
      }
      return removed;
    },
  };
}

/**
 * Rows of `document_chunks` (PostgreSQL): one per stored chunk, written a few at a time under a
 * temporary address (`tmp-<uuid>`) and renamed to the content's address once all are in.
 */
export function databaseContent(db: Kysely<Database>, now: () => Date = () => new Date()): ContentBackend {
  const writing = new Set<string>();

  const rows = (address: string, from: number) =>
    db.selectFrom('document_chunks').select(['idx', 'data']).where('address', '=', address).where('idx', '>=', from).orderBy('idx').limit(ROWS_PER_BATCH).execute();

  /**
   * Removes the content at `address` unless a row names it, under the lock `hold` takes: a commit
   * in another process either finished first (its row is seen, or its chunk 0 is younger than
   * `cutoff`) or waits and then finds the content gone (its transaction writes no row). Checking
   * and deleting in one statement is not enough: that statement does not see a row committed
   * while it runs.
   */
  const removeUnnamed = (address: string, cutoff: string) =>
    db.transaction().execute(async (trx) => {
      // Chunk 0 (the lowest left): once locked, its time is the latest a commit's `hold` wrote.
      const first = await trx.selectFrom('document_chunks').select('created_at').where('address', '=', address).orderBy('idx').limit(1).forUpdate().executeTakeFirst();
      if (!first || first.created_at >= cutoff) return false;
      if (await trx.selectFrom('documents').select('code').where('content_address', '=', address).executeTakeFirst()) return false;
      const deleted = await trx.deleteFrom('document_chunks').where('address', '=', address).executeTakeFirst();
      return Number(deleted.numDeletedRows) > 0;
    });

  return {
    async put(chunks) {
      const temp = `tmp-${randomUUID()}`;
      writing.add(temp);
      const hash = createHash('sha256');
      let idx = 0;
      let batch: { address: string; idx: number; data: Buffer; created_at: string }[] = [];
      const flush = async () => {
        if (batch.length > 0) await db.insertInto('document_chunks').values(batch).execute();
        batch = [];
      };
      try {
        for await (const chunk of chunks) {
          hash.update(chunk);
          batch.push({ address: temp, idx: idx++, data: chunk, created_at: now().toISOString() });
          if (batch.length >= ROWS_PER_BATCH) await flush();
        }
        await flush();
        const address = hash.digest('hex');
        await db.transaction().execute(async (trx) => {
          const renamed = await trx.updateTable('document_chunks').set({ address, created_at: now().toISOString() }).where('address', '=', temp).executeTakeFirst();
          // Fewer rows than written: another process swept them (a write stalled beyond the sweep's grace).
          // Undone then, so that what is left keeps its temporary name and is removed below, not left at an address.
          if (Number(renamed.numUpdatedRows) !== idx) throw new ContentIntegrityError(`${idx - Number(renamed.numUpdatedRows)} chunks of the content written disappeared`);
        });
        return { address };
      } catch (err) {
        await db
          .deleteFrom('document_chunks')
          .where('address', '=', temp)
          .execute()
          .catch(() => {
            // Left for sweep.
          });
        throw err;
      } finally {
        writing.delete(temp);
      }
    },

    async open(address) {
      let page = await rows(address, 0);
      if (page.length === 0) throw missing(address);
      let next = 0;
      return new Readable({
        highWaterMark: STORED_CHUNK_BYTES,
        read() {
          const deliver = async () => {
            if (page.length === 0) page = await rows(address, next);
            if (page.length === 0) return this.push(null);
            for (const row of page) {
              // A gap is reported here; the chunk opener would refuse it as well.
              if (row.idx !== next) throw new ContentIntegrityError(`document content ${address} lacks chunk ${next}`);
              next++;
              this.push(row.data);
            }
            page = [];
          };
          deliver().catch((err: unknown) => this.destroy(err as Error));
        },
      });
    },

    // Chunk 0's row is the content's lock: the row's transaction takes it here, `sweep` before it removes anything.
    async hold(trx, address) {
      const touched = await trx
        .updateTable('document_chunks')
        .set({ created_at: now().toISOString() })
        .where('address', '=', address)
        .where('idx', '=', 0)
        .executeTakeFirst();
      return Number(touched.numUpdatedRows) === 1;
    },

    async remove(address) {
      await db.deleteFrom('document_chunks').where('address', '=', address).execute();
    },

    async sweep({ before, spare, named }) {
      const cutoff = before.toISOString();
      const unnamed = await db
        .selectFrom('document_chunks as c')
        .select('c.address')
        .where((eb) => eb.not(eb.exists(eb.selectFrom('documents as d').select('d.code').whereRef('d.content_address', '=', 'c.address'))))
        .groupBy('c.address')
        .having(sql<string>`max(c.created_at)`, '<', cutoff)
        .execute();
      const candidates = unnamed.map((u) => u.address).filter((address) => !spare.has(address) && !writing.has(address));
      let removed = 0;
      for (let i = 0; i < candidates.length; i += 200) {
        const batch = candidates.slice(i, i + 200);
        const kept = await named(batch);
        for (const address of batch) {
          if (kept.has(address) || spare.has(address)) continue;
          if (await removeUnnamed(address, cutoff)) removed++;
        }
      }
      return removed;
    },
  };
}
