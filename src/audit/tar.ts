/**
 * A small POSIX ustar writer and reader: enough for the audit export bundle and for reading it
 * back, without a dependency. The writer streams (sizes are declared up front, as tar requires);
 * the reader takes a whole archive in memory and also understands the pax `path`/`size` records
 * and GNU long names that other tools add when a bundle is unpacked and packed again.
 */

const BLOCK = 512;
const MAX_SIZE = 8 ** 11 - 1; // eleven octal digits

/** One member to write: a regular file or a directory (name ending in `/`). */
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

function writeString(block: Buffer, offset: number, length: number, value: string): void {
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length > length) throw new TarError(`tar header field too long: ${value}`);
  bytes.copy(block, offset);
}

function writeOctal(block: Buffer, offset: number, length: number, value: number): void {
  writeString(block, offset, length, `${value.toString(8).padStart(length - 1, '0')}\0`);
}

/** Splits a long path into ustar prefix (≤ 155 bytes) and name (≤ 100 bytes) at a slash. */
function splitName(path: string): { prefix: string; name: string } {
  if (Buffer.byteLength(path) <= 100) return { prefix: '', name: path };
  for (let i = path.lastIndexOf('/', path.length - 2); i > 0; i = path.lastIndexOf('/', i - 1)) {
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100) return { prefix, name };
  }
  throw new TarError(`path too long for ustar: ${path}`);
}

export function tarHeader(path: string, size: number, options: { directory?: boolean; mtime?: Date } = {}): Buffer {
  if (!Number.isSafeInteger(size) || size < 0 || size > MAX_SIZE) throw new TarError(`member ${path} has an invalid size ${size}`);
  const block = Buffer.alloc(BLOCK);
  const { prefix, name } = splitName(path);
  writeString(block, 0, 100, name);
  writeOctal(block, 100, 8, options.directory ? 0o755 : 0o644);
  writeOctal(block, 108, 8, 0);
  writeOctal(block, 116, 8, 0);
  writeOctal(block, 124, 12, options.directory ? 0 : size);
  writeOctal(block, 136, 12, Math.floor((options.mtime ?? new Date()).getTime() / 1000));
  block.fill(0x20, 148, 156); // checksum field counts as spaces while summing
  block[156] = options.directory ? 0x35 : 0x30;
  writeString(block, 257, 6, 'ustar\0');
  writeString(block, 263, 2, '00');
  writeString(block, 345, 155, prefix);
  let sum = 0;
  for (const byte of block) sum += byte;
  writeString(block, 148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
  return block;
}

const padding = (size: number): Buffer => Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);

/** The archive as a stream of chunks (uncompressed); pipe it through gzip for a .tar.gz. */
export async function* tarStream(members: Iterable<TarMember> | AsyncIterable<TarMember>): AsyncGenerator<Buffer> {
  for await (const member of members) {
    const directory = member.name.endsWith('/');
    yield tarHeader(member.name, directory ? 0 : member.size, { directory, ...(member.mtime ? { mtime: member.mtime } : {}) });
    if (directory) continue;
    let written = 0;
    const content = member.content ?? new Uint8Array(0);
    const chunks: AsyncIterable<Uint8Array> | Uint8Array[] = typeof content === 'function' ? content() : [content];
    for await (const chunk of chunks) {
      written += chunk.length;
      if (written > member.size) throw new TarError(`member ${member.name} is longer than its declared ${member.size} bytes`);
      yield Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    }
    if (written !== member.size) throw new TarError(`member ${member.name} has ${written} bytes, declared ${member.size}`);
    yield padding(written);
  }
  yield Buffer.alloc(BLOCK * 2);
}

/** A whole archive in one buffer, from files given as name → content. */
export async function tarBuffer(files: Iterable<[string, Uint8Array]>, mtime?: Date): Promise<Buffer> {
  const members: TarMember[] = [];
  for (const [name, content] of files) members.push({ name, size: content.length, content, ...(mtime ? { mtime } : {}) });
  const chunks: Buffer[] = [];
  for await (const chunk of tarStream(members)) chunks.push(chunk);
  return Buffer.concat(chunks);
}

function readString(block: Buffer, offset: number, length: number): string {
  const field = block.subarray(offset, offset + length);
  const end = field.indexOf(0);
  return field.subarray(0, end === -1 ? length : end).toString('utf8');
}

function readNumber(block: Buffer, offset: number, length: number, what: string): number {
  const field = block.subarray(offset, offset + length);
  if (field[0]! & 0x80) {
    // GNU base-256: big-endian, first byte's top bit is the marker.
    let value = field[0]! & 0x7f;
    for (let i = 1; i < length; i++) value = value * 256 + field[i]!;
    if (!Number.isSafeInteger(value)) throw new TarError(`tar ${what} too large`);
    return value;
  }
  const text = readString(block, offset, length).trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw new TarError(`tar header has a malformed ${what}: ${JSON.stringify(text)}`);
  return parseInt(text, 8);
}

function paxRecords(data: Buffer): Map<string, string> {
  const records = new Map<string, string>();
  let at = 0;
  while (at < data.length) {
    const space = data.indexOf(0x20, at);
    if (space === -1) break;
    const length = Number(data.subarray(at, space).toString('ascii'));
    if (!Number.isSafeInteger(length) || length <= 0 || at + length > data.length) throw new TarError('malformed pax header');
    const record = data.subarray(space + 1, at + length - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (eq > 0) records.set(record.slice(0, eq), record.slice(eq + 1));
    at += length;
  }
  return records;
}

/**
 * Regular files of an archive by path (directories and other member types are skipped). Refuses
 * corrupted headers, truncated members and a path that appears twice.
 */
export function readTar(archive: Buffer): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  let at = 0;
  let pax: Map<string, string> | undefined;
  let longName: string | undefined;
  while (at + BLOCK <= archive.length) {
    const block = archive.subarray(at, at + BLOCK);
    if (block.every((b) => b === 0)) return files;
    const stored = readNumber(block, 148, 8, 'checksum');
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!;
    if (sum !== stored) throw new TarError(`corrupted tar header at byte ${at}`);
    const type = String.fromCharCode(block[156]!);
    let size = readNumber(block, 124, 12, 'size');
    if (pax?.has('size')) size = Number(pax.get('size'));
    const dataStart = at + BLOCK;
    if (!Number.isSafeInteger(size) || size < 0 || dataStart + size > archive.length) throw new TarError(`tar member at byte ${at} is truncated`);
    const data = archive.subarray(dataStart, dataStart + size);
    at = dataStart + Math.ceil(size / BLOCK) * BLOCK;
    if (type === 'x') {
      pax = paxRecords(data);
      continue;
    }
    if (type === 'L') {
      longName = readString(data, 0, data.length);
      continue;
    }
    if (type === 'g') continue;
    const prefix = readString(block, 345, 155);
    const headerName = readString(block, 0, 100);
    const name = pax?.get('path') ?? longName ?? (prefix ? `${prefix}/${headerName}` : headerName);
    pax = undefined;
    longName = undefined;
    if (type !== '0' && type !== '\0' && type !== '7') continue;
    const path = name.replace(/^\.\//, '');
    if (files.has(path)) throw new TarError(`${path} appears twice in the archive`);
    files.set(path, Buffer.from(data));
  }
  throw new TarError('the archive ends without its end-of-archive marker: it is truncated');
}
