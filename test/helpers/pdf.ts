import { spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { PDFDocument, StandardFonts } from 'pdf-lib';
import { signatureTimestampToken } from '../../src/signing/pades.ts';
import type { Credentials } from '../../src/signing/trust-store.ts';
import { createTsaServer } from '../../src/sandbox/tsa-server.ts';

/**
 * PDF fixtures and the independent tools that judge signed PDFs: poppler's `pdfsig` (with an NSS
 * database holding only the root we give it), `qpdf` for encryption, and the raw bytes a
 * signature covers, extracted without our parser for `openssl cms -verify` / `openssl ts -verify`.
 */

export interface SamplePdfOptions {
  pages?: number;
  /** ASCII text drawn on each page (the standard fonts carry no Vietnamese). */
  text?: string;
  /** Object streams and a cross-reference stream (PDF 1.5) instead of a classic `xref` table. */
  objectStreams?: boolean;
}

/** A small generated PDF. */
export async function samplePdf(options: SamplePdfOptions = {}): Promise<Buffer> {
  const document = await PDFDocument.create({ updateMetadata: false });
  const font = await document.embedFont(StandardFonts.Helvetica);
  for (let i = 0; i < (options.pages ?? 1); i++) {
    const page = document.addPage([595, 842]);
    page.drawText(`${options.text ?? 'Giay chung nhan (sandbox)'} - page ${i + 1}`, { x: 50, y: 780, size: 14, font });
  }
  return Buffer.from(await document.save({ useObjectStreams: options.objectStreams ?? false }));
}

function run(command: string, args: string[], input?: Buffer): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(command, args, { encoding: 'latin1', ...(input ? { input } : {}), maxBuffer: 64 * 1024 * 1024 });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** A scratch directory removed by the returned function. */
export function scratch(prefix = 'pdf-test-'): { dir: string; file(name: string, data?: Buffer | string): string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return {
    dir,
    file(name, data) {
      const path = join(dir, name);
      if (data !== undefined) writeFileSync(path, data);
      return path;
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** `pdf` encrypted by qpdf (AES-256, user password "user", owner password "owner"). */
export function encryptedPdf(pdf: Buffer): Buffer {
  const work = scratch('pdf-encrypt-');
  try {
    const input = work.file('in.pdf', pdf);
    const output = work.file('out.pdf');
    const result = run('qpdf', ['--encrypt', 'user', 'owner', '256', '--', input, output]);
    if (result.status !== 0) throw new Error(`qpdf --encrypt failed: ${result.stderr}`);
    return readFileSync(output);
  } finally {
    work.remove();
  }
}

/** `pdf` rewritten by another program (`<command> ...args <in> <out>`). */
function rewrite(command: string, args: string[], pdf: Buffer): Buffer {
  const work = scratch('pdf-rewrite-');
  try {
    const input = work.file('in.pdf', pdf);
    const output = work.file('out.pdf');
    const result = run(command, [...args, input, output]);
    if (result.status !== 0) throw new Error(`${command} failed: ${result.stderr}`);
    return readFileSync(output);
  } finally {
    work.remove();
  }
}

/** `pdf` rewritten by qpdf with object streams: a cross-reference stream with PNG predictors, as most producers write. */
export const qpdfObjectStreams = (pdf: Buffer): Buffer => rewrite('qpdf', ['--object-streams=generate'], pdf);

/** `pdf` linearized by qpdf ("fast web view": a first-page cross-reference section at the start, /Prev to the main one). */
export const qpdfLinearized = (pdf: Buffer): Buffer => rewrite('qpdf', ['--linearize'], pdf);

/** `pdf` redrawn by poppler's cairo back end: another producer's file layout. */
export const cairoPdf = (pdf: Buffer): Buffer => rewrite('pdftocairo', ['-pdf'], pdf);

/** The first part of `pdf`: an upload cut short. */
export const truncatedPdf = (pdf: Buffer, keep = 0.6): Buffer => Buffer.from(pdf.subarray(0, Math.floor(pdf.length * keep)));

/** `pdf` whose last startxref points a few bytes off its cross-reference section. */
export function misplacedXrefPdf(pdf: Buffer): Buffer {
  const text = pdf.toString('latin1');
  const at = text.lastIndexOf('startxref');
  const match = /startxref\s+(\d+)/.exec(text.slice(at))!;
  return Buffer.from(text.slice(0, at) + text.slice(at).replace(match[0], `startxref\n${Number(match[1]) + 7}`), 'latin1');
}

/**
 * An NSS database (empty password) trusting `rootPem` for everything, as pdfsig reads it.
 * `known` certificates are added without any trust (`,,`): they only spare NSS importing them
 * from the signature. pdfsig 22.12 reads NSS's last error even after a successful verification,
 * so in a file with several signatures by the same certificate a later one can be reported
 * "Unknown issue with Certificate or corrupted data." from a stale error of importing that
 * certificate again (newer poppler checks the result first); knowing the certificate avoids it.
 */
export function nssDbWithRoot(rootPem: string, dir = mkdtempSync(join(tmpdir(), 'nssdb-')), known: string[] = []): string {
  mkdirSync(dir, { recursive: true });
  const created = run('certutil', ['-N', '-d', `sql:${dir}`, '--empty-password']);
  if (created.status !== 0) throw new Error(`certutil -N failed: ${created.stderr}`);
  const added = run('certutil', ['-A', '-d', `sql:${dir}`, '-n', 'sample-root', '-t', 'CT,C,C', '-i', rootPem]);
  if (added.status !== 0) throw new Error(`certutil -A failed: ${added.stderr}`);
  for (const [i, file] of known.entries()) {
    const result = run('certutil', ['-A', '-d', `sql:${dir}`, '-n', `known-${i}`, '-t', ',,', '-i', file]);
    if (result.status !== 0) throw new Error(`certutil -A ${file} failed: ${result.stderr}`);
  }
  return dir;
}

export interface PdfsigSignature {
  commonName: string | undefined;
  signatureValidation: string | undefined;
  certificateValidation: string | undefined;
  signatureType: string | undefined;
  signingTime: string | undefined;
  /** "Total document signed" or "Not total document signed". */
  coverage: string | undefined;
  /** Every "  - key: value" line of the signature's block. */
  fields: Record<string, string>;
  /** The block as printed. */
  text: string;
}

export interface PdfsigResult {
  status: number | null;
  output: string;
  signatures: PdfsigSignature[];
}

/**
 * Runs pdfsig 22.12 and parses its report. It exits 0 even for invalid signatures: judge the
 * "Signature Validation:" and "Certificate Validation:" lines. Not given `-no-ocsp`: with it,
 * pdfsig 22.12 answers "Unknown issue with Certificate or corrupted data." for every certificate
 * (the sample certificates name no OCSP responder, so nothing is fetched without it).
 */
export function pdfsig(file: string, options: { nssDir: string }): PdfsigResult {
  const result = run('pdfsig', ['-nssdir', `sql:${options.nssDir}`, file]);
  const output = `${result.stdout}${result.stderr}`;
  const blocks = result.stdout.split(/^Signature #\d+:\s*$/m).slice(1);
  const signatures = blocks.map((text) => {
    const fields: Record<string, string> = {};
    let coverage: string | undefined;
    for (const line of text.split('\n')) {
      const field = /^\s+- ([^:]+): (.*)$/.exec(line);
      if (field) fields[field[1]!.trim()] = field[2]!.trim();
      else if (/^\s+- (Total|Not total) document signed/.test(line)) coverage = line.replace(/^\s+- /, '').trim();
    }
    return {
      commonName: fields['Signer Certificate Common Name'],
      signatureValidation: fields['Signature Validation'],
      certificateValidation: fields['Certificate Validation'],
      signatureType: fields['Signature Type'],
      signingTime: fields['Signing Time'],
      coverage,
      fields,
      text,
    };
  });
  return { status: result.status, output, signatures };
}

/** The DER value at the start of `bytes`, its zero padding dropped. */
function derPrefix(bytes: Buffer): Buffer {
  let length = bytes[1]!;
  let header = 2;
  if (length & 0x80) {
    const octets = length & 0x7f;
    length = bytes.readUIntBE(2, octets);
    header += octets;
  }
  return bytes.subarray(0, header + length);
}

export interface ExtractedSignature {
  byteRange: [number, number, number, number];
  /** The CMS (DER) in /Contents. */
  cms: Buffer;
  /** The bytes the byte range covers, concatenated: what the CMS signs. */
  signedBytes: Buffer;
}

/**
 * Every signature in `pdf`, read from the raw bytes (not through our parser): each /ByteRange,
 * the /Contents hex in its gap, and the bytes it covers.
 */
export function extractPdfSignatures(pdf: Buffer): ExtractedSignature[] {
  const text = pdf.toString('latin1');
  const found: ExtractedSignature[] = [];
  for (const match of text.matchAll(/\/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]/g)) {
    const byteRange = match.slice(1, 5).map(Number) as [number, number, number, number];
    const [a, b, c, d] = byteRange;
    if (text[b] !== '<' || text[c - 1] !== '>' || c + d > pdf.length) continue;
    const cms = derPrefix(Buffer.from(text.slice(b + 1, c - 1), 'hex'));
    found.push({ byteRange, cms, signedBytes: Buffer.concat([pdf.subarray(a, a + b), pdf.subarray(c, c + d)]) });
  }
  return found;
}

/** The last signature's CMS in `pdf` (see extractPdfSignatures). */
export function extractPdfCms(pdf: Buffer): ExtractedSignature {
  const all = extractPdfSignatures(pdf);
  if (all.length === 0) throw new Error('the PDF carries no signature');
  return all[all.length - 1]!;
}

/** The signature timestamp token of a CMS and the signature value it covers, for `openssl ts -verify`. */
export function extractTimestamp(cms: Buffer): { token: Buffer; signatureValue: Buffer } {
  const { token, signatureValue } = signatureTimestampToken(cms);
  if (!token) throw new Error('the CMS carries no signature timestamp');
  return { token, signatureValue };
}

/** openssl with its exit status and combined output. */
export function openssl(...args: string[]): { status: number | null; output: string } {
  const result = run('openssl', args);
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/** Where the last startxref of `pdf` points, and its catalog reference (`N G R`). */
function lastSection(pdf: Buffer): { startxref: number; root: string } {
  const text = pdf.toString('latin1');
  const startxref = Number(/startxref\s+(\d+)/.exec(text.slice(text.lastIndexOf('startxref')))![1]);
  const roots = [...text.matchAll(/\/Root\s+(\d+\s+\d+\s+R)/g)];
  return { startxref, root: roots[roots.length - 1]![1]! };
}

/**
 * `pdf` with one more revision whose only content is a cross-reference stream (object 999) with
 * `entries` added to its dictionary and `data` as its rows (deflated unless `deflate` is false):
 * for hostile /W, /Index, predictors and decompression bombs.
 */
export function appendXrefStream(pdf: Buffer, entries: string, data: Buffer, options: { deflate?: boolean } = {}): Buffer {
  const { startxref, root } = lastSection(pdf);
  const body = options.deflate === false ? data : deflateSync(data);
  const at = pdf.length;
  const head = `999 0 obj\n<< /Type /XRef /Size 1000 /Root ${root} /Prev ${startxref} ${entries}${options.deflate === false ? '' : ' /Filter /FlateDecode'} /Length ${body.length} >>\nstream\n`;
  return Buffer.concat([pdf, Buffer.from(head, 'latin1'), body, Buffer.from(`\nendstream\nendobj\nstartxref\n${at}\n%%EOF\n`, 'latin1')]);
}

/** `pdf` with `text` inserted at the start of its last trailer dictionary (after `<<`). */
export function editTrailer(pdf: Buffer, text: string): Buffer {
  const source = pdf.toString('latin1');
  const at = source.lastIndexOf('trailer');
  const open = source.indexOf('<<', at) + 2;
  const edited = Buffer.from(source.slice(0, open) + text + source.slice(open), 'latin1');
  // The trailer follows the cross-reference table, so no offset moves.
  return edited;
}

/**
 * `pdf` with an object stream (object 998) that inflates to `decodedBytes` zeros, inserted
 * before its cross-reference table (startxref moved with it): a decompression bomb pdf-lib would
 * inflate whole while loading.
 */
export function objectStreamBomb(pdf: Buffer, decodedBytes: number): Buffer {
  const text = pdf.toString('latin1');
  const table = text.lastIndexOf('\nxref') + 1;
  const body = deflateSync(Buffer.alloc(decodedBytes));
  const object = Buffer.concat([Buffer.from(`998 0 obj\n<< /Type /ObjStm /N 1 /First 4 /Filter /FlateDecode /Length ${body.length} >>\nstream\n`, 'latin1'), body, Buffer.from('\nendstream\nendobj\n', 'latin1')]);
  const out = Buffer.concat([pdf.subarray(0, table), object, pdf.subarray(table)]).toString('latin1');
  const last = out.lastIndexOf('startxref');
  return Buffer.from(out.slice(0, last) + out.slice(last).replace(/startxref\s+\d+/, `startxref\n${table + object.length}`), 'latin1');
}

/** The sandbox TSA (src/sandbox/tsa-server.ts) signing with `credentials`, on a free local port. */
export async function startTsa(credentials: Credentials): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer(createTsaServer({ credentials }));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    async close() {
      const closed = new Promise((resolve) => server.close(resolve));
      server.closeAllConnections();
      await closed;
    },
  };
}
