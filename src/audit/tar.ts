import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { extract, pack, type Header } from 'tar-stream';

/**
 * Tar archives for the audit export bundle, on `tar-stream`. The writer streams (sizes are
 * declared up front, as tar requires); the reader takes archives auditors hand in, so it is
 * bounded: decompressed size, member count, member size and total size, regular files and
 * folders only, relative names without `..`, each name once, and the end-of-archive marker.
 */

const BLOCK = 512;

type MemberHeader = Partial<Header> & Pick<Header, 'name'>;

/** One member to write: a regular file or a folder (name ending in `/`). */
export interface TarMember {
  name: string;
  /** Exact byte length of the content; the writer fails if the content disagrees. */
  size: number;
  content?: Uint8Array | (() => AsyncIterable<Uint8Array>);
  mtime?: Date;
}

export class TarError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TarError';
  }
}

interface Closable {
  destroyed: boolean;
  once(event: string, listener: () => void): unknown;
  removeListener(event: string, listener: () => void): unknown;
}

/** Resolves when `stream` drains; throws if it is closed instead (the reader went away). */
async function drained(stream: Closable): Promise<void> {
  await new Promise<void>((resolve) => {
    const done = () => {
      stream.removeListener('drain', done);
      stream.removeListener('close', done);
      resolve();
    };
    stream.once('drain', done);
    stream.once('close', done);
  });
  if (stream.destroyed) throw new TarError('the archive was closed while being written');
}

/** The archive as a stream of chunks (uncompressed); pipe it through gzip for a .tar.gz. */
export async function* tarStream(members: Iterable<TarMember> | AsyncIterable<TarMember>): AsyncGenerator<Buffer> {
  const archive = pack();
  /** Starts a member; `finished` settles once the archive has taken all of it. */
  const start = (header: MemberHeader, content?: Buffer) => {
    let settle!: (err?: Error | null) => void;
    const finished = new Promise<void>((resolve, reject) => {
      settle = (err) => (err ? reject(err) : resolve());
    });
    const sink = content ? archive.entry(header, content, settle) : archive.entry(header, settle);
    // Its failures reach `finished` and the archive; an 'error' event with no listener would throw.
    sink.on('error', () => undefined);
    return { sink, finished };
  };

  async function write(): Promise<void> {
    for await (const member of members) {
      const mtime = member.mtime ?? new Date();
      if (member.name.endsWith('/')) {
        await start({ name: member.name, type: 'directory', mtime }).finished;
        continue;
      }
      const header: MemberHeader = { name: member.name, type: 'file', size: member.size, mtime };
      const content = member.content ?? new Uint8Array(0);
      if (typeof content !== 'function') {
        if (content.length !== member.size) throw new TarError(`member ${member.name} has ${content.length} bytes, declared ${member.size}`);
        await start(header, Buffer.from(content.buffer, content.byteOffset, content.byteLength)).finished;
        continue;
      }
      const { sink, finished } = start(header);
      // Observed below; an early exit (a source that fails) destroys the archive instead.
      finished.catch(() => undefined);
      let written = 0;
      for await (const chunk of content()) {
        written += chunk.length;
        if (written > member.size) throw new TarError(`member ${member.name} is longer than its declared ${member.size} bytes`);
        if (!sink.write(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength))) await drained(sink);
      }
      if (written !== member.size) throw new TarError(`member ${member.name} has ${written} bytes, declared ${member.size}`);
      sink.end(undefined);
      await finished;
    }
    archive.finalize();
  }

  const writing = write().catch((err: unknown) => {
    archive.destroy(err instanceof Error ? err : new Error(String(err)));
  });
  try {
    for await (const chunk of archive) yield chunk as Buffer;
  } finally {
    // A reader that stops early (a client gone) ends the writer too, and with it the sources.
    if (!archive.destroyed) archive.destroy();
    await writing;
  }
}

/** A whole archive in one buffer, from files given as name → content. */
export async function tarBuffer(files: Iterable<[string, Uint8Array]>, mtime?: Date): Promise<Buffer> {
  const members: TarMember[] = [];
  for (const [name, content] of files) members.push({ name, size: content.length, content, ...(mtime ? { mtime } : {}) });
  const chunks: Buffer[] = [];
  for await (const chunk of tarStream(members)) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** What an archive handed in may unpack to. */
export interface TarLimits {
  /** Bytes out of gzip (or of a plain tar), headers and padding included. */
  decompressedBytes: number;
  /**
   * Bytes out of gzip per compressed byte read so far (after the first MiB): a decompression bomb
   * is refused after a few of its bytes, not after `decompressedBytes`.
   */
  compressionRatio: number;
  /** Members, folders included. */
  members: number;
  /** Bytes of one member. */
  memberBytes: number;
  /** Bytes of all members together. */
  totalBytes: number;
}

/** The member name as a relative path ('' for the archive's own top folder `./`), or why it is refused. */
function memberPath(name: string): string {
  if (name === '' || name.includes('\0')) throw new TarError(`a member has an empty or malformed name ${JSON.stringify(name)}`);
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name) || name.includes('\\')) throw new TarError(`member ${JSON.stringify(name)} has an absolute or non-portable path`);
  const parts = name.split('/').filter((part) => part !== '' && part !== '.');
  if (parts.includes('..')) throw new TarError(`member ${JSON.stringify(name)} climbs out of the archive with ".."`);
  return parts.join('/');
}

/** Writes, waiting for 'drain' when asked to; throws once `stream` is closed. */
async function writeTo(stream: { write(chunk: Buffer): boolean } & Closable, chunk: Buffer): Promise<void> {
  if (stream.destroyed) throw new TarError('the archive reader stopped');
  if (!stream.write(chunk)) await drained(stream);
}

const RATIO_SLACK = 1024 * 1024;

/** Regular files of a plain tar stream, within `limits`; `compressed()` is how many bytes its source has read. */
async function untar(source: AsyncIterable<Buffer>, limits: TarLimits, compressed: () => number): Promise<Map<string, Buffer>> {
  const extractor = extract();
  let read = 0;
  // Feeds the parser, counting what comes out of gzip: a bomb stops here, not in memory.
  const feeding = (async () => {
    for await (const chunk of source) {
      read += chunk.length;
      if (read > limits.decompressedBytes) throw new TarError(`the archive unpacks to more than ${limits.decompressedBytes} bytes`);
      if (read > RATIO_SLACK && read > compressed() * limits.compressionRatio) {
        throw new TarError(`the archive unpacks to more than ${limits.compressionRatio} times its compressed size: a decompression bomb`);
      }
      await writeTo(extractor, chunk);
    }
    extractor.end(undefined);
  })().catch((err: unknown) => {
    extractor.destroy(err instanceof Error ? err : new Error(String(err)));
  });

  const files = new Map<string, Buffer>();
  const folders = new Set<string>();
  let members = 0;
  let total = 0;
  let dataEnd = 0;
  try {
    for await (const member of extractor) {
      const header = member.header as Header & { byteOffset?: number };
      const size = header.size ?? 0;
      if (++members > limits.members) throw new TarError(`the archive holds more than ${limits.members} members`);
      const path = memberPath(header.name);
      if (header.type === 'directory') {
        if (size !== 0) throw new TarError(`folder ${path} declares ${size} bytes of content`);
        if (files.has(path)) throw new TarError(`${path} appears twice in the archive`);
        folders.add(path);
      } else if (header.type === 'file' || header.type === 'contiguous-file') {
        if (path === '') throw new TarError(`member ${JSON.stringify(header.name)} names no file`);
        if (files.has(path) || folders.has(path)) throw new TarError(`${path} appears twice in the archive`);
        if (size > limits.memberBytes) throw new TarError(`member ${path} is ${size} bytes, more than the ${limits.memberBytes} a member may hold`);
        total += size;
        if (total > limits.totalBytes) throw new TarError(`the archive's members hold more than ${limits.totalBytes} bytes`);
      } else {
        const kind = header.type === 'symlink' || header.type === 'link' ? `a ${header.type === 'link' ? 'hard link' : 'symbolic link'} to ${JSON.stringify(header.linkname ?? '')}` : `of type ${header.type ?? 'unknown'}`;
        throw new TarError(`member ${path} is ${kind}: only regular files and folders may be in the archive`);
      }
      const chunks: Buffer[] = [];
      for await (const chunk of member) chunks.push(chunk as Buffer);
      const content = Buffer.concat(chunks);
      if (content.length !== size) throw new TarError(`member ${path} is truncated`);
      if (header.type !== 'directory') files.set(path, content);
      dataEnd = (header.byteOffset ?? 0) + Math.ceil(size / BLOCK) * BLOCK;
    }
  } catch (err) {
    extractor.destroy();
    await feeding;
    if (err instanceof TarError) throw err;
    const message = (err as Error).message;
    if (/unexpected end/i.test(message)) throw new TarError('the archive is truncated');
    if ((err as NodeJS.ErrnoException).code?.startsWith('Z_')) throw new TarError(`not a readable gzip file: ${message}`);
    throw new TarError(`not a readable tar archive: ${message}`);
  }
  await feeding;
  if (read - dataEnd < 2 * BLOCK) throw new TarError('the archive ends without its end-of-archive marker: it is truncated');
  return files;
}

/**
 * The regular files of a tar archive, gzip-compressed or not (told by its first bytes), by path
 * (`./` dropped). Throws a TarError for anything beyond `limits` or not plainly a bundle's.
 */
export async function readTar(source: Uint8Array | AsyncIterable<Uint8Array>, limits: TarLimits): Promise<Map<string, Buffer>> {
  const iterator = (source instanceof Uint8Array ? single(source) : source)[Symbol.asyncIterator]();
  let head = Buffer.alloc(0);
  let compressed = 0;
  try {
    while (head.length < 2) {
      const next = await iterator.next();
      if (next.done) break;
      head = Buffer.concat([head, next.value]);
      compressed += next.value.length;
    }
  } catch (err) {
    throw new TarError(`the archive cannot be read: ${(err as Error).message}`);
  }
  async function* rest(): AsyncGenerator<Buffer> {
    try {
      if (head.length > 0) yield head;
      for (;;) {
        const next = await iterator.next();
        if (next.done) return;
        compressed += next.value.length;
        yield Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength);
      }
    } finally {
      await iterator.return?.();
    }
  }
  const gzip = head[0] === 0x1f && head[1] === 0x8b;
  let reading: Promise<Map<string, Buffer>> | undefined;
  const consume = async (chunks: AsyncIterable<Buffer>) => {
    await (reading = untar(chunks, limits, () => compressed));
  };
  try {
    if (gzip) await pipeline(Readable.from(rest()), createGunzip(), consume);
    else await pipeline(Readable.from(rest()), consume);
    return await reading!;
  } catch (err) {
    // The pipeline reports the first stream to fail (or the abort when the reader stops early):
    // the reader's own reason, once it settles, says more.
    const reason = await reading?.then(
      () => err,
      (own: unknown) => own,
    );
    if (reason instanceof TarError) throw reason;
    throw new TarError(gzip ? `not a readable gzip file: ${(err as Error).message}` : `the archive cannot be read: ${(err as Error).message}`);
  }
}

async function* single(chunk: Uint8Array): AsyncGenerator<Uint8Array> {
  yield chunk;
}
