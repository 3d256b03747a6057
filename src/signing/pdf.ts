import { AsyncLocalStorage } from 'node:async_hooks';
import { constants as zlib, inflateRawSync } from 'node:zlib';
import {
  EncryptedPDFError,
  PDFArray,
  PDFContext,
  PDFDict,
  PDFDocument,
  PDFHexString,
  PDFName,
  PDFNumber,
  PDFObjectParser,
  PDFObjectStreamParser,
  PDFRawStream,
  PDFRef,
  PDFString,
  PDFXRefStreamParser,
  type PDFObject,
} from 'pdf-lib';
import { GatewayError } from '../errors/gateway-error.ts';

/**
 * Reading, checking and incrementally updating PDF files. pdf-lib parses (it is lenient, so the
 * file's structure is checked here first: header, end marker, every cross-reference section and
 * the objects it points at); it never writes, because saving through it rewrites the whole file
 * and would break the signatures the file already carries. A signature is added as an incremental
 * update (ISO 32000-1 §7.5.6): new objects and a new cross-reference section appended after the
 * original bytes, which stay untouched.
 */

/** Why a file is refused as a PDF, in words. */
export function invalidPdf(detail: string, cause?: unknown): GatewayError {
  return new GatewayError('DOCUMENT_CONTENT_INVALID', { detail: `not an acceptable PDF: ${detail}`, ...(cause ? { cause } : {}) });
}

/**
 * What a hostile file may make the reader do. Cross-reference and object streams are compressed:
 * a few MiB of deflate can hold gigabytes, which pdf-lib would inflate whole while loading (and
 * keep as objects). Their decoded bytes are counted, per file, against one budget.
 */
const LIMITS = {
  /** Decoded bytes of all cross-reference and object streams of one file. */
  structureBytes: 64 * 1024 * 1024,
  /** Cross-reference sections followed through /Prev and /XRefStm. */
  sections: 1000,
  /** ISO 32000-1 Annex C: the largest object number a reader need handle. */
  objectNumber: 8_388_607,
  /** The largest generation number a cross-reference entry can hold. */
  generation: 65_535,
  /** Bytes per row of a cross-reference stream's PNG predictor. */
  columns: 64,
  /** Signatures checked in one file: each costs a hash of (up to) the whole file and a chain to build. */
  signatures: 50,
};

const tooMuchDecoded = () => invalidPdf(`its cross-reference and object streams decode to more than ${LIMITS.structureBytes / 1024 / 1024} MiB`);

/** What is left of a file's decoding budget, and the first refusal (pdf-lib rewords errors thrown inside it). */
interface DecodeBudget {
  left: number;
  refused?: GatewayError;
}

/** Refuses the file, remembering why for readPdf. */
function refuse(budget: DecodeBudget, error: GatewayError): never {
  budget.refused ??= error;
  throw error;
}

/**
 * The bytes of a cross-reference or object stream after its filter (none, or FlateDecode),
 * counted against the file's budget. zlib is told the most it may produce, so a bomb stops there
 * (pdf-lib's own decoder cannot be stopped inside one deflate block, which may hold gigabytes).
 * Raw inflate after the two-byte zlib header, as pdf-lib reads it: a bad trailing checksum is not
 * fatal there either.
 */
function decodeStructureStream(stream: PDFRawStream, budget: DecodeBudget): Buffer {
  const filter = stream.dict.get(PDFName.of('Filter'));
  const name = filter instanceof PDFArray && filter.size() === 1 ? filter.get(0) : filter;
  const raw = Buffer.from(stream.contents);
  let data: Buffer;
  if (name === undefined) {
    data = raw;
  } else if (name === PDFName.of('FlateDecode')) {
    try {
      data = inflateRawSync(raw.subarray(2), { maxOutputLength: Math.max(1, budget.left), finishFlush: zlib.Z_SYNC_FLUSH });
    } catch (err) {
      if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') refuse(budget, tooMuchDecoded());
      refuse(budget, invalidPdf('a cross-reference or object stream does not inflate', err));
    }
  } else {
    refuse(budget, invalidPdf(`a cross-reference or object stream uses filter ${String(filter)}`));
  }
  budget.left -= data.length;
  if (budget.left < 0) refuse(budget, tooMuchDecoded());
  return data;
}

/** The budget of the file pdf-lib is loading in this async context (see readPdf). */
const loading = new AsyncLocalStorage<DecodeBudget>();

/**
 * pdf-lib decodes every object stream and cross-reference stream it meets while loading, without
 * a limit. Its parser makes them through these two factories: each stream is first decoded here,
 * bounded, against the budget of the file being loaded.
 */
function boundStreamDecoding(): void {
  const probe = (stream: PDFRawStream) => decodeStructureStream(stream, loading.getStore() ?? { left: LIMITS.structureBytes });
  const objectStreams = PDFObjectStreamParser.forStream;
  PDFObjectStreamParser.forStream = (stream, shouldWaitForTick) => {
    probe(stream);
    return objectStreams(stream, shouldWaitForTick);
  };
  const xrefStreams = PDFXRefStreamParser.forStream;
  PDFXRefStreamParser.forStream = (stream) => {
    probe(stream);
    return xrefStreams(stream);
  };
}
boundStreamDecoding();

/** A cross-reference section: a classic `xref` table with its trailer, or a cross-reference stream. */
export type XrefForm = 'table' | 'stream';

/** What the newest cross-reference section naming an object says of it. */
type XrefEntry = { kind: 'free' } | { kind: 'at'; generation: number; body: number } | { kind: 'in'; stream: number; index: number };

/** Object number → its entry in the newest section naming it (sections are read newest first, so the first entry stays). */
type XrefEntries = Map<number, XrefEntry>;

const record = (entries: XrefEntries, number: number, entry: XrefEntry) => {
  if (!entries.has(number)) entries.set(number, entry);
};

interface XrefSection {
  offset: number;
  form: XrefForm;
  trailer: PDFDict;
}

/** One signature a PDF carries: a signature dictionary (/Type /Sig) or a document timestamp (/Type /DocTimeStamp). */
export interface PdfSignature {
  type: 'Sig' | 'DocTimeStamp';
  /** /SubFilter, e.g. ETSI.CAdES.detached, adbe.pkcs7.detached, ETSI.RFC3161. */
  subFilter: string | undefined;
  /** /ByteRange as written. */
  byteRange: number[];
  /** /Contents without its zero padding: the CMS (or timestamp token), DER. */
  contents: Buffer;
  /** /M, the claimed signing time. */
  signedAt: Date | undefined;
  /** The field's /T, when a field names the signature. */
  fieldName: string | undefined;
}

export interface PdfFile {
  bytes: Buffer;
  /** The parsed document; never saved. */
  document: PDFDocument;
  /** The form of the last cross-reference section, which an incremental update repeats. */
  xrefForm: XrefForm;
  /** Where the last cross-reference section starts (the new section's /Prev). */
  startxref: number;
  /** The last trailer (or cross-reference stream dictionary). */
  trailer: PDFDict;
  /** The first object number free for new objects. */
  nextObjectNumber: number;
  signatures: PdfSignature[];
}

const latin1 = (bytes: Uint8Array, start = 0, end = bytes.length) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1', start, end);
const isWhite = (byte: number | undefined) => byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09 || byte === 0x0c || byte === 0x00;

/** The last `startxref <offset> %%EOF` of the file, which must end the file (whitespace aside). */
function lastStartxref(bytes: Buffer): number {
  const tail = latin1(bytes, Math.max(0, bytes.length - 1024));
  const match = /startxref\s+(\d+)\s+%%EOF[\s\0]*$/.exec(tail);
  if (!match) {
    throw invalidPdf(/%%EOF[\s\0]*$/.test(tail) ? 'its end has no startxref' : 'it does not end with %%EOF: truncated or not a PDF');
  }
  return Number(match[1]);
}

/** `N G obj` at `offset` (whitespace before it allowed): the object number and where its body starts. */
function objectHeaderAt(bytes: Buffer, offset: number): { number: number; generation: number; body: number } | undefined {
  const text = latin1(bytes, offset, Math.min(bytes.length, offset + 64));
  const match = /^[\0\t\n\f\r ]*(\d+)[\0\t\n\f\r ]+(\d+)[\0\t\n\f\r ]+obj/.exec(text);
  return match ? { number: Number(match[1]), generation: Number(match[2]), body: offset + match[0].length } : undefined;
}

function parseObjectAt(bytes: Buffer, offset: number, context: PDFContext): PDFObject {
  return PDFObjectParser.forBytes(bytes.subarray(offset), context).parseObject();
}

/** Checks that a cross-reference entry points at the object it names; answers where the object's body starts. */
function checkEntry(bytes: Buffer, number: number, generation: number, offset: number): number {
  const header = offset < bytes.length ? objectHeaderAt(bytes, offset) : undefined;
  if (!header || header.number !== number || header.generation !== generation) {
    throw invalidPdf(`the cross-reference table puts object ${number} ${generation} at byte ${offset}, where it is not`);
  }
  return header.body;
}

/** A classic `xref` table at `offset`: checks its entries and reads its trailer. */
function readXrefTable(bytes: Buffer, offset: number, context: PDFContext, entries: XrefEntries): PDFDict {
  // The table runs up to its trailer keyword: only that part is turned into text.
  const trailerAt = bytes.indexOf('trailer', offset, 'latin1');
  const text = latin1(bytes, offset, trailerAt < 0 ? bytes.length : trailerAt + 7);
  const head = /^xref[\0\t\n\f\r ]+/.exec(text);
  if (!head) throw invalidPdf(`startxref points at byte ${offset}, where there is no cross-reference table`);
  let position = head[0].length;
  const subsection = /(\d+)[ \t]+(\d+)[\0\t\n\f\r ]+/y;
  const entry = /(\d{10})[ ](\d{5})[ ]([nf])[\0\t\n\f\r ]{1,2}/y;
  for (;;) {
    subsection.lastIndex = position;
    const found = subsection.exec(text);
    if (!found) break;
    const [first, count] = [Number(found[1]), Number(found[2])];
    position = subsection.lastIndex;
    for (let i = 0; i < count; i++) {
      entry.lastIndex = position;
      const line = entry.exec(text);
      if (!line) throw invalidPdf(`the cross-reference table at byte ${offset} is cut short or malformed`);
      position = entry.lastIndex;
      const [number, generation] = [first + i, Number(line[2])];
      if (line[3] === 'n') record(entries, number, { kind: 'at', generation, body: checkEntry(bytes, number, generation, Number(line[1])) });
      else record(entries, number, { kind: 'free' });
    }
  }
  const trailer = /^[\0\t\n\f\r ]*trailer[\0\t\n\f\r ]*/.exec(text.slice(position));
  if (!trailer) throw invalidPdf(`the cross-reference table at byte ${offset} has no trailer`);
  const dict = parseObjectAt(bytes, offset + position + trailer[0].length, context);
  if (!(dict instanceof PDFDict)) throw invalidPdf(`the trailer at byte ${offset} is not a dictionary`);
  return dict;
}

const numberIn = (dict: PDFDict, key: string): number | undefined => {
  const value = dict.get(PDFName.of(key));
  return value instanceof PDFNumber ? value.asNumber() : undefined;
};

/** Undoes the PNG predictors (ISO 32000-1 §7.4.4.4) of a decoded stream with `columns` bytes per row. */
function unpredict(data: Buffer, columns: number): Buffer {
  const rowLength = columns + 1;
  if (data.length % rowLength !== 0) throw invalidPdf('a cross-reference stream has a partial predictor row');
  const out = Buffer.alloc((data.length / rowLength) * columns);
  for (let row = 0; row * rowLength < data.length; row++) {
    const filter = data[row * rowLength]!;
    for (let i = 0; i < columns; i++) {
      const raw = data[row * rowLength + 1 + i]!;
      const left = i > 0 ? out[row * columns + i - 1]! : 0;
      const up = row > 0 ? out[(row - 1) * columns + i]! : 0;
      const upLeft = row > 0 && i > 0 ? out[(row - 1) * columns + i - 1]! : 0;
      let value: number;
      if (filter === 0) value = raw;
      else if (filter === 1) value = raw + left;
      else if (filter === 2) value = raw + up;
      else if (filter === 3) value = raw + Math.floor((left + up) / 2);
      else if (filter === 4) {
        const p = left + up - upLeft;
        const [pa, pb, pc] = [Math.abs(p - left), Math.abs(p - up), Math.abs(p - upLeft)];
        value = raw + (pa <= pb && pa <= pc ? left : pb <= pc ? up : upLeft);
      } else throw invalidPdf(`a cross-reference stream uses unknown PNG predictor ${filter}`);
      out[row * columns + i] = value & 0xff;
    }
  }
  return out;
}

/** The decoded bytes of a cross-reference or object stream (no filter, or FlateDecode with an optional PNG predictor). */
function structureStreamData(stream: PDFRawStream, budget: DecodeBudget): Buffer {
  let data = decodeStructureStream(stream, budget);
  const parms = stream.dict.get(PDFName.of('DecodeParms'));
  const predictor = parms instanceof PDFDict ? (numberIn(parms, 'Predictor') ?? 1) : 1;
  if (predictor >= 10) {
    const columns = parms instanceof PDFDict ? (numberIn(parms, 'Columns') ?? 1) : 1;
    if (!Number.isInteger(columns) || columns < 1 || columns > LIMITS.columns) throw invalidPdf(`a cross-reference or object stream has predictor /Columns ${columns}`);
    data = unpredict(data, columns);
  } else if (predictor !== 1) throw invalidPdf(`a cross-reference or object stream uses TIFF predictor ${predictor}`);
  return data;
}

/** A cross-reference stream at `offset`: checks its type-1 entries and answers its dictionary. */
function readXrefStream(bytes: Buffer, offset: number, context: PDFContext, budget: DecodeBudget, entries: XrefEntries): PDFDict {
  const header = objectHeaderAt(bytes, offset);
  if (!header) throw invalidPdf(`startxref points at byte ${offset}, where there is neither a cross-reference table nor a stream`);
  const stream = parseObjectAt(bytes, header.body, context);
  if (!(stream instanceof PDFRawStream) || stream.dict.get(PDFName.of('Type')) !== PDFName.of('XRef')) {
    throw invalidPdf(`startxref points at object ${header.number}, which is not a cross-reference stream`);
  }
  const dict = stream.dict;
  const widths = dict.get(PDFName.of('W'));
  const size = numberIn(dict, 'Size');
  if (!(widths instanceof PDFArray) || widths.size() !== 3 || size === undefined) throw invalidPdf('a cross-reference stream lacks /W or /Size');
  const w = widths.asArray().map((n) => (n instanceof PDFNumber ? n.asNumber() : -1));
  if (w.some((n) => !Number.isInteger(n) || n < 0 || n > 8) || w[1] === 0) throw invalidPdf('a cross-reference stream has bad /W widths');
  const index = dict.get(PDFName.of('Index'));
  const ranges = index instanceof PDFArray ? index.asArray().map((n) => (n instanceof PDFNumber ? n.asNumber() : -1)) : [0, size];
  if (ranges.length % 2 !== 0 || ranges.some((n) => !Number.isInteger(n) || n < 0 || n > LIMITS.objectNumber + 1)) throw invalidPdf('a cross-reference stream has a bad /Index');
  const data = structureStreamData(stream, budget);
  const rowLength = w[0]! + w[1]! + w[2]!;
  const rows = ranges.reduce((sum, n, i) => (i % 2 === 1 ? sum + n : sum), 0);
  if (rows * rowLength > data.length) throw invalidPdf('a cross-reference stream is shorter than its /Index says');
  const field = (at: number, width: number, fallback: number) => (width === 0 ? fallback : data.readUIntBE(at, width));
  let at = 0;
  for (let r = 0; r < ranges.length; r += 2) {
    for (let i = 0; i < ranges[r + 1]!; i++) {
      const type = field(at, w[0]!, 1);
      const second = field(at + w[0]!, w[1]!, 0);
      const third = field(at + w[0]! + w[1]!, w[2]!, 0);
      const number = ranges[r]! + i;
      if (type === 1) record(entries, number, { kind: 'at', generation: third, body: checkEntry(bytes, number, third, second) });
      else if (type === 2) record(entries, number, { kind: 'in', stream: second, index: third });
      else if (type === 0) record(entries, number, { kind: 'free' });
      at += rowLength;
    }
  }
  return dict;
}

/** A byte offset a trailer names (/Prev, /XRefStm): a whole number inside the file, or absent. */
function offsetIn(bytes: Buffer, trailer: PDFDict, key: string): number | undefined {
  const value = numberIn(trailer, key);
  if (value !== undefined && (!Number.isInteger(value) || value < 0 || value >= bytes.length)) throw invalidPdf(`its /${key} (${value}) is not an offset inside the file`);
  return value;
}

/**
 * Every cross-reference section from the last one back through /Prev (and /XRefStm of hybrid
 * files), each entry checked against the object it points at. Any failure to parse what is there
 * (pdf-lib's errors, a stack exhausted by nesting) is a refusal of the file, not a fault of ours.
 */
function readXrefSections(bytes: Buffer, budget: DecodeBudget, entries: XrefEntries): XrefSection[] {
  const context = PDFContext.create();
  const sections: XrefSection[] = [];
  const seen = new Set<number>();
  const visit = (offset: number) => {
    if (seen.has(offset) || seen.size >= LIMITS.sections) throw invalidPdf('its cross-reference sections loop');
    seen.add(offset);
  };
  let offset: number | undefined = lastStartxref(bytes);
  if (offset >= bytes.length) throw invalidPdf(`a cross-reference offset (${offset}) lies beyond the end of the file`);
  try {
    while (offset !== undefined) {
      visit(offset);
      const isTable = /^xref[\0\t\n\f\r ]/.test(latin1(bytes, offset, offset + 5));
      const trailer = isTable ? readXrefTable(bytes, offset, context, entries) : readXrefStream(bytes, offset, context, budget, entries);
      sections.push({ offset, form: isTable ? 'table' : 'stream', trailer });
      const hybrid = isTable ? offsetIn(bytes, trailer, 'XRefStm') : undefined;
      if (hybrid !== undefined) {
        visit(hybrid);
        readXrefStream(bytes, hybrid, context, budget, entries);
      }
      offset = offsetIn(bytes, trailer, 'Prev');
    }
  } catch (err) {
    if (err instanceof GatewayError) throw err;
    throw invalidPdf(`its cross-reference sections do not parse: ${(err as Error).message}`, err);
  }
  return sections;
}

function textOf(value: PDFObject | undefined): string | undefined {
  return value instanceof PDFString || value instanceof PDFHexString ? value.decodeText() : undefined;
}

/** The DER value at the start of `contents` without the zero padding after it; the padding must be zeros. */
function trimPadding(contents: Uint8Array): Buffer {
  const bytes = Buffer.from(contents);
  if (bytes.length < 2 || bytes[0] !== 0x30) return bytes;
  let length = bytes[1]!;
  let header = 2;
  if (length & 0x80) {
    const octets = length & 0x7f;
    if (octets === 0 || octets > 4 || bytes.length < 2 + octets) return bytes;
    length = bytes.readUIntBE(2, octets);
    header = 2 + octets;
  }
  const end = header + length;
  if (end > bytes.length || bytes.subarray(end).some((b) => b !== 0)) return bytes;
  return bytes.subarray(0, end);
}

/** The signature dictionaries the document holds: field values (/FT /Sig with /V) and /Type /Sig or /DocTimeStamp dictionaries. */
function findSignatures(document: PDFDocument): PdfSignature[] {
  const context = document.context;
  const found = new Map<PDFDict, string | undefined>();
  for (const [, object] of context.enumerateIndirectObjects()) {
    if (!(object instanceof PDFDict)) continue;
    if (object.get(PDFName.of('FT')) === PDFName.of('Sig')) {
      const value = context.lookup(object.get(PDFName.of('V')));
      if (value instanceof PDFDict) found.set(value, textOf(object.get(PDFName.of('T'))));
    }
    const type = object.get(PDFName.of('Type'));
    if ((type === PDFName.of('Sig') || type === PDFName.of('DocTimeStamp')) && !found.has(object)) found.set(object, undefined);
  }
  return [...found].map(([dict, fieldName]) => {
    const type = dict.get(PDFName.of('Type')) === PDFName.of('DocTimeStamp') || dict.get(PDFName.of('SubFilter')) === PDFName.of('ETSI.RFC3161') ? 'DocTimeStamp' : 'Sig';
    const subFilter = dict.get(PDFName.of('SubFilter'));
    const range = context.lookup(dict.get(PDFName.of('ByteRange')));
    const contents = context.lookup(dict.get(PDFName.of('Contents')));
    const m = dict.get(PDFName.of('M'));
    let signedAt: Date | undefined;
    try {
      signedAt = m instanceof PDFString || m instanceof PDFHexString ? m.decodeDate() : undefined;
    } catch {
      signedAt = undefined;
    }
    // pdf-lib answers an Invalid Date for a well-formed string naming no day (month 13): no time.
    if (signedAt && Number.isNaN(signedAt.getTime())) signedAt = undefined;
    return {
      type,
      subFilter: subFilter instanceof PDFName ? subFilter.decodeText() : undefined,
      byteRange: range instanceof PDFArray ? range.asArray().map((n) => (n instanceof PDFNumber ? n.asNumber() : NaN)) : [],
      contents: contents instanceof PDFHexString || contents instanceof PDFString ? trimPadding(contents.asBytes()) : Buffer.alloc(0),
      signedAt,
      fieldName,
    };
  });
}

/** The objects of object stream `number` (as the cross-reference sections name it): its decoded bytes and where each object starts. */
function objectStream(document: PDFDocument, number: number, entries: XrefEntries, budget: DecodeBudget): { data: Buffer; starts: number[] } {
  const entry = entries.get(number);
  const stream = entry?.kind === 'at' ? document.context.lookup(PDFRef.of(number, entry.generation)) : undefined;
  if (!(stream instanceof PDFRawStream) || stream.dict.get(PDFName.of('Type')) !== PDFName.of('ObjStm')) throw invalidPdf(`its cross-reference sections name object ${number} as an object stream, which it is not`);
  const [count, first] = [numberIn(stream.dict, 'N'), numberIn(stream.dict, 'First')];
  const data = structureStreamData(stream, budget);
  if (!Number.isInteger(count) || !Number.isInteger(first) || count! < 0 || first! < 0 || first! > data.length) throw invalidPdf(`object stream ${number} has a bad /N or /First`);
  const pairs = latin1(data, 0, first).trim().split(/[\0\t\n\f\r ]+/).filter(Boolean).map(Number);
  if (pairs.length < count! * 2 || pairs.some((n) => !Number.isInteger(n) || n < 0)) throw invalidPdf(`object stream ${number} has a bad table of objects`);
  return { data, starts: Array.from({ length: count! }, (_, i) => first! + pairs[i * 2 + 1]!) };
}

/**
 * pdf-lib reads the file front to back and keeps the last definition of each object it meets;
 * readers follow the cross-reference sections. A definition no section names, placed after the
 * one a section names, would make pdf-lib's document (its pages, its signatures, and the page
 * and catalog the update copies) differ from what viewers show. Every object the sections name
 * is set here to the definition they name.
 */
function followXref(document: PDFDocument, bytes: Buffer, entries: XrefEntries): void {
  const context = document.context;
  for (const [number, entry] of entries) {
    if (entry.kind === 'at') context.assign(PDFRef.of(number, entry.generation), parseObjectAt(bytes, entry.body, context));
  }
  const streams = new Map<number, ReturnType<typeof objectStream>>();
  const budget: DecodeBudget = { left: LIMITS.structureBytes };
  for (const [number, entry] of entries) {
    if (entry.kind !== 'in') continue;
    let stream = streams.get(entry.stream);
    if (!stream) streams.set(entry.stream, (stream = objectStream(document, entry.stream, entries, budget)));
    const start = stream.starts[entry.index];
    if (start === undefined || start >= stream.data.length) throw invalidPdf(`object stream ${entry.stream} has no object ${entry.index}`);
    context.assign(PDFRef.of(number, 0), PDFObjectParser.forBytes(stream.data.subarray(start), context).parseObject());
  }
}

/**
 * Reads a PDF and checks its structure: the `%PDF-` header, `%%EOF` at the end, every
 * cross-reference section (tables and streams, through /Prev) pointing at the objects it names,
 * no encryption, a catalog and at least one page. Answers the parsed document and the
 * signatures it carries (not yet verified). Throws DOCUMENT_CONTENT_INVALID saying why not.
 */
export async function readPdf(bytes: Buffer): Promise<PdfFile> {
  if (!/^%PDF-\d\.\d/.test(latin1(bytes, 0, 8))) throw invalidPdf('it does not start with a %PDF- header');
  const budget: DecodeBudget = { left: LIMITS.structureBytes };
  const entries: XrefEntries = new Map();
  const sections = readXrefSections(bytes, budget, entries);
  const last = sections[0]!;
  if (sections.some((s) => s.trailer.has(PDFName.of('Encrypt')))) throw invalidPdf('it is encrypted');
  let document: PDFDocument;
  try {
    document = await loading.run(budget, () => PDFDocument.load(bytes, { updateMetadata: false, throwOnInvalidObject: true }));
  } catch (err) {
    if (budget.refused) throw budget.refused;
    if (err instanceof EncryptedPDFError) throw invalidPdf('it is encrypted', err);
    throw invalidPdf(`it does not parse: ${(err as Error).message}`, err);
  }
  try {
    followXref(document, bytes, entries);
  } catch (err) {
    if (err instanceof GatewayError) throw err;
    throw invalidPdf(`an object its cross-reference sections name does not parse: ${(err as Error).message}`, err);
  }
  const root = last.trailer.get(PDFName.of('Root'));
  if (!(root instanceof PDFRef) || !(document.context.lookup(root) instanceof PDFDict)) throw invalidPdf('its trailer names no catalog (/Root)');
  // pdf-lib takes the catalog of the last trailer in file order; the pages checked must be the ones the update names.
  if (document.context.trailerInfo.Root !== root) throw invalidPdf('its last trailer is not the one startxref points at');
  let pages: number;
  try {
    pages = document.getPageCount();
  } catch (err) {
    throw invalidPdf(`its page tree is broken: ${(err as Error).message}`, err);
  }
  if (pages === 0) throw invalidPdf('it has no page');
  const sizes = sections.map((s) => numberIn(s.trailer, 'Size') ?? 0);
  if (sizes.some((n) => !Number.isInteger(n) || n < 0 || n > LIMITS.objectNumber + 1)) throw invalidPdf(`its /Size is not a count of at most ${LIMITS.objectNumber + 1} objects`);
  const size = Math.max(...sizes, document.context.largestObjectNumber + 1);
  if (size + 4 > LIMITS.objectNumber) throw invalidPdf(`it leaves no object number free below ${LIMITS.objectNumber}`);
  const signatures = findSignatures(document);
  if (signatures.length > LIMITS.signatures) throw invalidPdf(`it carries ${signatures.length} signatures, more than the ${LIMITS.signatures} checked in one file`);
  return { bytes, document, xrefForm: last.form, startxref: last.offset, trailer: last.trailer, nextObjectNumber: size, signatures };
}

/** The bytes a signature's /ByteRange covers, checked: it starts at 0, has two ranges in order within the file. */
export function byteRangeContent(bytes: Buffer, byteRange: number[]): Buffer[] {
  const [a, b, c, d] = byteRange;
  if (byteRange.length !== 4 || byteRange.some((n) => !Number.isSafeInteger(n) || n < 0)) throw new Error('the /ByteRange is not four non-negative integers');
  if (a !== 0) throw new Error('the /ByteRange does not start at the beginning of the file');
  if (c! < b! || c! + d! > bytes.length) throw new Error('the /ByteRange lies outside the file or its ranges overlap');
  return [bytes.subarray(0, b!), bytes.subarray(c!, c! + d!)];
}

/**
 * The gap a /ByteRange leaves must be exactly the `<hex>` string of /Contents holding the CMS:
 * otherwise bytes outside the signature could change unnoticed.
 */
export function checkByteRangeGap(bytes: Buffer, signature: PdfSignature): void {
  const [, b, c] = signature.byteRange as [number, number, number, number];
  if (bytes[b] !== 0x3c || bytes[c - 1] !== 0x3e) throw new Error('the part of the file the /ByteRange leaves out is not the /Contents hex string');
  const hex = latin1(bytes, b + 1, c - 1);
  if (!/^[0-9A-Fa-f]*$/.test(hex) || hex.length % 2 !== 0) throw new Error('the part of the file the /ByteRange leaves out is not a hex string');
  if (!trimPadding(Buffer.from(hex, 'hex')).equals(signature.contents)) throw new Error("the part of the file the /ByteRange leaves out is not this signature's /Contents");
}

/** A PDF date (ISO 32000-1 §7.9.4) in UTC. */
export function pdfDate(date: Date): string {
  const iso = date.toISOString();
  return `D:${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
}

/** A file prepared for signing: its /ByteRange filled, its /Contents a run of zeros to overwrite. */
export interface PreparedSignature {
  bytes: Buffer;
  byteRange: [number, number, number, number];
  /** Offset of the first hex digit of /Contents. */
  contentsOffset: number;
  /** How many bytes of CMS /Contents can hold. */
  capacity: number;
}

export interface PrepareOptions {
  signedAt: Date;
  /** Bytes reserved for the CMS (default 24 KiB: signature, chain and timestamp token). */
  capacity?: number;
  /** The new field's name (default `Seal<n>`, unique in the document). */
  fieldName?: string;
}

const BYTE_RANGE_PLACEHOLDER = '/ByteRange [0 0000000000 0000000000 0000000000]';

/** A field name not used yet. */
function freshFieldName(pdf: PdfFile): string {
  const used = new Set<string>();
  for (const [, object] of pdf.document.context.enumerateIndirectObjects()) {
    if (object instanceof PDFDict) {
      const t = textOf(object.get(PDFName.of('T')));
      if (t) used.add(t);
    }
  }
  for (let n = 1; ; n++) if (!used.has(`Seal${n}`)) return `Seal${n}`;
}

/** An array's elements, whether the array is given inline or by reference. */
function elementsOf(context: PDFContext, value: PDFObject | undefined): PDFObject[] {
  const array = value instanceof PDFRef ? context.lookup(value) : value;
  return array instanceof PDFArray ? array.asArray() : [];
}

/** A PDF literal string for ASCII text. */
const literal = (text: string) => `(${text.replace(/[\\()]/g, (c) => `\\${c}`)})`;

/**
 * Appends a signature as an incremental update: a signature dictionary (/Filter /Adobe.PPKLite,
 * /SubFilter /ETSI.CAdES.detached, /ByteRange, /Contents reserved, /M), an invisible widget on
 * the first page that is also the signature field, the catalog's /AcroForm with /SigFlags 3 and
 * the field added (a new version of an existing AcroForm), the first page with the widget in
 * /Annots, and a cross-reference section of the original's form with /Prev. The /ByteRange is
 * filled; /Contents is left for `embedSignature`.
 */
export function prepareSignature(pdf: PdfFile, options: PrepareOptions): PreparedSignature {
  const { document, bytes } = pdf;
  const context = document.context;
  const capacity = options.capacity ?? 24_576;
  const page = document.getPage(0);
  let next = pdf.nextObjectNumber;
  const sigRef = PDFRef.of(next++, 0);
  const widgetRef = PDFRef.of(next++, 0);
  const fieldName = options.fieldName ?? freshFieldName(pdf);
  const root = pdf.trailer.get(PDFName.of('Root')) as PDFRef;
  // Rewritten objects keep their generation, which a cross-reference entry holds in five digits (or two bytes).
  if ([root, page.ref].some((ref) => ref.generationNumber > LIMITS.generation)) throw invalidPdf('its catalog or first page has a generation number above 65535');

  const objects: { ref: PDFRef; body: string }[] = [];
  const sigBody = `<<\n/Type /Sig\n/Filter /Adobe.PPKLite\n/SubFilter /ETSI.CAdES.detached\n${BYTE_RANGE_PLACEHOLDER}\n/Contents <${'0'.repeat(capacity * 2)}>\n/M ${literal(pdfDate(options.signedAt))}\n>>`;
  objects.push({ ref: sigRef, body: sigBody });
  objects.push({
    ref: widgetRef,
    body: `<<\n/Type /Annot\n/Subtype /Widget\n/FT /Sig\n/T ${literal(fieldName)}\n/V ${sigRef.toString()}\n/F 132\n/Rect [0 0 0 0]\n/P ${page.ref.toString()}\n>>`,
  });

  // The catalog's AcroForm: a new version of an indirect one, else a new one (inline ones are replaced).
  const catalog = context.lookup(root) as PDFDict;
  const acroFormEntry = catalog.get(PDFName.of('AcroForm'));
  const acroForm = context.lookup(acroFormEntry);
  const newAcroForm = acroForm instanceof PDFDict ? acroForm.clone(context) : context.obj({});
  const fields = elementsOf(context, newAcroForm.get(PDFName.of('Fields')));
  newAcroForm.set(PDFName.of('Fields'), context.obj([...fields, widgetRef]));
  const flags = numberIn(newAcroForm, 'SigFlags') ?? 0;
  newAcroForm.set(PDFName.of('SigFlags'), PDFNumber.of(flags | 3));
  if (acroFormEntry instanceof PDFRef) {
    objects.push({ ref: acroFormEntry, body: newAcroForm.toString() });
  } else {
    const acroFormRef = PDFRef.of(next++, 0);
    objects.push({ ref: acroFormRef, body: newAcroForm.toString() });
    const newCatalog = catalog.clone(context);
    newCatalog.set(PDFName.of('AcroForm'), acroFormRef);
    objects.push({ ref: root, body: newCatalog.toString() });
  }

  const newPage = page.node.clone(context);
  newPage.set(PDFName.of('Annots'), context.obj([...elementsOf(context, page.node.get(PDFName.of('Annots'))), widgetRef]));
  objects.push({ ref: page.ref, body: newPage.toString() });

  // The update: objects, then the cross-reference section.
  const parts: Buffer[] = [bytes];
  let length = bytes.length;
  const add = (text: string | Buffer) => {
    const part = typeof text === 'string' ? Buffer.from(text, 'latin1') : text;
    parts.push(part);
    length += part.length;
  };
  if (!isWhite(bytes[bytes.length - 1])) add('\n');
  const offsets = new Map<number, { generation: number; offset: number }>();
  let sigOffset = 0;
  for (const object of objects) {
    offsets.set(object.ref.objectNumber, { generation: object.ref.generationNumber, offset: length });
    if (object.ref === sigRef) sigOffset = length;
    add(`${object.ref.objectNumber} ${object.ref.generationNumber} obj\n${object.body}\nendobj\n`);
  }
  const xrefOffset = length;
  const trailerEntries = (size: number) => {
    const entries = [`/Size ${size}`, `/Root ${root.toString()}`];
    for (const key of ['Info', 'ID']) {
      const value = pdf.trailer.get(PDFName.of(key));
      if (value) entries.push(`/${key} ${value.toString()}`);
    }
    entries.push(`/Prev ${pdf.startxref}`);
    return entries;
  };
  if (pdf.xrefForm === 'table') {
    add(`xref\n${subsections(offsets).map(({ first, rows }) => `${first} ${rows.length}\n${rows.map((r) => `${String(r.offset).padStart(10, '0')} ${String(r.generation).padStart(5, '0')} n\r\n`).join('')}`).join('')}`);
    add(`trailer\n<<\n${trailerEntries(next).join('\n')}\n>>\n`);
  } else {
    const streamRef = next++;
    offsets.set(streamRef, { generation: 0, offset: xrefOffset });
    const groups = subsections(offsets);
    const rows = groups.flatMap((g) => g.rows).map((r) => {
      const row = Buffer.alloc(7);
      row[0] = 1;
      row.writeUInt32BE(r.offset, 1);
      row.writeUInt16BE(r.generation, 5);
      return row;
    });
    const data = Buffer.concat(rows);
    const dict = [...trailerEntries(next), '/Type /XRef', `/Index [${groups.map((g) => `${g.first} ${g.rows.length}`).join(' ')}]`, '/W [1 4 2]', `/Length ${data.length}`];
    add(`${streamRef} 0 obj\n<<\n${dict.join('\n')}\n>>\nstream\n`);
    add(data);
    add('\nendstream\nendobj\n');
  }
  add(`startxref\n${xrefOffset}\n%%EOF\n`);
  const out = Buffer.concat(parts, length);

  // Where /Contents and /ByteRange sit in the signature dictionary.
  const sigText = out.toString('latin1', sigOffset, sigOffset + sigBody.length + 64);
  const rangeAt = sigOffset + sigText.indexOf(BYTE_RANGE_PLACEHOLDER);
  const contentsStart = sigOffset + sigText.indexOf('/Contents <') + '/Contents '.length;
  const contentsEnd = contentsStart + capacity * 2 + 2;
  const byteRange: [number, number, number, number] = [0, contentsStart, contentsEnd, out.length - contentsEnd];
  const written = `/ByteRange [${byteRange.join(' ')}]`;
  out.write(written.padEnd(BYTE_RANGE_PLACEHOLDER.length, ' '), rangeAt, 'latin1');
  return { bytes: out, byteRange, contentsOffset: contentsStart + 1, capacity };
}

/** Contiguous runs of object numbers, as cross-reference subsections. */
function subsections(offsets: Map<number, { generation: number; offset: number }>): { first: number; rows: { generation: number; offset: number }[] }[] {
  const numbers = [...offsets.keys()].sort((a, b) => a - b);
  const groups: { first: number; rows: { generation: number; offset: number }[] }[] = [];
  for (const n of numbers) {
    const last = groups[groups.length - 1];
    if (last && last.first + last.rows.length === n) last.rows.push(offsets.get(n)!);
    else groups.push({ first: n, rows: [offsets.get(n)!] });
  }
  return groups;
}

/** The bytes a prepared signature's CMS signs: everything but /Contents. */
export function preparedContent(prepared: PreparedSignature): Buffer[] {
  const [, b, c, d] = prepared.byteRange;
  return [prepared.bytes.subarray(0, b), prepared.bytes.subarray(c, c + d)];
}

/** Writes the CMS into the reserved /Contents (in place; the rest stays zeros). */
export function embedSignature(prepared: PreparedSignature, cms: Buffer): Buffer {
  if (cms.length > prepared.capacity) throw new Error(`the CMS (${cms.length} bytes) does not fit the ${prepared.capacity} bytes reserved in /Contents`);
  prepared.bytes.write(cms.toString('hex').toUpperCase(), prepared.contentsOffset, 'latin1');
  return prepared.bytes;
}
