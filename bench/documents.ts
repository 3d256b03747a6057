/**
 * Document deposits: a result PDF of 1 MiB and of 20 MiB (the largest file the default
 * documents.maxBytes lets through), and a result PNG of the same size, deposited through a
 * gateway process (multipart upload, type judged by content; a PDF held in memory, its structure
 * and signatures checked, sealed as PAdES-B-T; a PNG streamed to the store and sealed by a detached
 * CAdES-B-T signature; both with the sandbox TSA, encrypted and written, the row committed, the
 * exchange logged), next to this process writing the same bytes to a file and hashing them
 * (SHA-256): what a deposit costs over merely keeping the bytes.
 *
 * Throughput is MB/s of file bytes deposited (1 MB = 10^6 bytes), one deposit at a time and
 * `BENCH_DOCUMENT_CONCURRENCY` (4) at once. Peak memory is the gateway process's resident-set
 * high-water mark (VmHWM, /proc/<pid>/status), its window restarted before each measurement
 * (clear_refs 5) where the kernel allows it.
 *
 * Run alone: `npm run bench -- documents` (prints the table, writes nothing), or as part of
 * `npm run bench` (a section of bench/RESULTS.md).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { crc32, deflateSync } from 'node:zlib';
import { join } from 'node:path';
import { PDFDict, PDFDocument, PDFName, PDFString, StandardFonts } from 'pdf-lib';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { people } from '../src/sandbox/personas.ts';
import { freePort, startLienthong, startSandboxProcess, type Started } from '../test/helpers/processes.ts';

const MIB = 1024 * 1024;
const CONCURRENCY = Number(process.env.BENCH_DOCUMENT_CONCURRENCY ?? 4);
/** The default documents.maxBytes. */
const MAX_BYTES = 20 * MIB;
/** The largest file a deposit accepts by default: exactly documents.maxBytes. */
const LARGEST = MAX_BYTES;
const LARGE_DEPOSITS = Number(process.env.BENCH_DOCUMENTS_LARGE ?? 8);

interface Sample {
  label: string;
  bytes: number;
  deposits: number;
  mediaType: 'application/pdf' | 'image/png';
  filename: string;
  make(bytes: number): Promise<Buffer>;
}

/**
 * Deposits per measurement, by file: enough for a few seconds of work each. The PNG shows the
 * streamed path (content never whole in the gateway's memory) beside the PDF's held one.
 */
const SAMPLES: Sample[] = [
  { label: 'PDF 1 MiB', bytes: MIB, deposits: Number(process.env.BENCH_DOCUMENTS_SMALL ?? 40), mediaType: 'application/pdf', filename: 'result.pdf', make: pdfOfSize },
  { label: 'PDF 20 MiB', bytes: LARGEST, deposits: LARGE_DEPOSITS, mediaType: 'application/pdf', filename: 'result.pdf', make: pdfOfSize },
  { label: 'PNG 20 MiB', bytes: LARGEST, deposits: LARGE_DEPOSITS, mediaType: 'image/png', filename: 'result.png', make: async (bytes) => pngOfSize(bytes) },
];

/**
 * A one-page PDF of exactly `bytes`: a page of text and an embedded scan (random, incompressible
 * bytes), brought to the byte by a literal string in the document information dictionary.
 */
async function pdfOfSize(bytes: number): Promise<Buffer> {
  const build = async (payload: number, padding: number) => {
    const pdf = await PDFDocument.create();
    pdf.setCreationDate(new Date('2026-01-01T00:00:00Z'));
    const page = pdf.addPage();
    page.drawText('GIAY CHUNG NHAN - benchmark document', { x: 50, y: 750, size: 14, font: await pdf.embedFont(StandardFonts.Helvetica) });
    // Incompressible, like a scan: deflate leaves it the size it is.
    const scan = randomBytes(payload);
    await pdf.attach(scan, 'scan.bin', { mimeType: 'application/octet-stream', creationDate: new Date('2026-01-01T00:00:00Z'), modificationDate: new Date('2026-01-01T00:00:00Z') });
    const info = pdf.context.lookup(pdf.context.trailerInfo.Info, PDFDict);
    info.set(PDFName.of('BenchPadding'), PDFString.of('x'.repeat(padding)));
    return Buffer.from(await pdf.save({ useObjectStreams: false }));
  };
  // The attachment's stream is deflated: size it, correct the scan by what it came to, then pad to the byte.
  let payload = bytes - 4096;
  let padding = 1024;
  let pdf = await build(payload, padding);
  for (let tries = 0; tries < 8 && pdf.length !== bytes; tries++) {
    const missing = bytes - pdf.length;
    if (Math.abs(missing) <= 4096 && padding + missing >= 0) padding += missing;
    else payload += missing;
    pdf = await build(payload, padding);
  }
  if (pdf.length !== bytes) throw new Error(`the ${bytes}-byte benchmark PDF came to ${pdf.length} bytes`);
  return pdf;
}

/** A PNG chunk: length, type, data, CRC-32 of type and data. */
function pngChunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

/**
 * A PNG of exactly `bytes`: an RGB image of random pixels (a photograph compresses little more),
 * stored uncompressed, brought to the byte by a text chunk.
 */
function pngOfSize(bytes: number): Buffer {
  const width = 2048;
  const row = 1 + width * 3;
  const height = Math.floor((bytes - 4096) / row);
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8 bits per sample, RGB, deflate, adaptive filtering, not interlaced
  const raw = randomBytes(row * height);
  for (let y = 0; y < height; y++) raw[y * row] = 0; // filter type None on every row
  const image = pngChunk('IDAT', deflateSync(raw, { level: 0 }));
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const parts = [signature, pngChunk('IHDR', header), image, pngChunk('IEND', Buffer.alloc(0))];
  const used = parts.reduce((sum, p) => sum + p.length, 0);
  const keyword = Buffer.from('Comment\0', 'latin1');
  const text = pngChunk('tEXt', Buffer.concat([keyword, Buffer.alloc(bytes - used - 12 - keyword.length, 0x20)]));
  const png = Buffer.concat([parts[0]!, parts[1]!, text, parts[2]!, parts[3]!]);
  if (png.length !== bytes) throw new Error(`the ${bytes}-byte benchmark PNG came to ${png.length} bytes`);
  return png;
}

function peakMiB(pid: number): number {
  return Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024;
}

/** CPU time (user + system) the process has used so far, in ms (Linux). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

function residentMiB(pid: number): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024;
}

/** Starts a new high-water window; false when the kernel does not let this process do it. */
function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** Runs `task` `count` times, `concurrency` at once; answers the seconds it took. */
async function timed(count: number, concurrency: number, task: (n: number) => Promise<void>): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) await task(next++);
    }),
  );
  return (performance.now() - started) / 1000;
}

export interface DocumentBenchRow {
  size: string;
  bytes: number;
  concurrency: number;
  deposits: number;
  gatewayMBps: number;
  directMBps: number;
  /** The gateway's VmHWM during the measurement, and its resident set just before. */
  peakMiB: number;
  residentBeforeMiB: number;
  msPerDeposit: number;
  /** The gateway's CPU time per deposit (the rest of a deposit's time is waiting: upload, TSA, disk). */
  cpuMsPerDeposit: number;
}

/** Measures deposits through a gateway process wired to a sandbox process; answers the rows and whether peaks are per measurement. */
export async function documentsBench(): Promise<{ rows: DocumentBenchRow[]; windowed: boolean }> {
  const dir = mkdtempSync(join(tmpdir(), 'lienthong-bench-documents-'));
  const children: Started[] = [];
  try {
    const sandbox = await startSandboxProcess();
    children.push(sandbox);
    const config = join(dir, 'bench.yaml');
    const base = parseYaml(readFileSync('config/sandbox.yaml', 'utf8')) as Record<string, unknown>;
    writeFileSync(config, stringifyYaml({ ...base, rateLimit: { default: { points: 10_000_000, durationSeconds: 1 } }, documents: { directory: join(dir, 'documents') } }));
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const gateway = await startLienthong(
      ['serve', '--config', config],
      { ...sandbox.upstreamEnv, PORT: String(port), HOST: '127.0.0.1', TLS_ENABLED: 'false', TSA_URL: sandbox.tsaUrl, SQLITE_PATH: join(dir, 'gateway.db'), HASH_KEY_FILE: join(dir, 'hash-key'), VALIDATE_RESPONSES: 'false', LOG_LEVEL: 'warn' },
      { url: `${url}/healthz` },
    );
    children.push(gateway);
    const pid = gateway.child.pid!;
    const person = people.find((p) => !p.dateOfDeath)!;

    const deposit = async (sample: Sample, content: Buffer) => {
      const form = new FormData();
      for (const [name, value] of Object.entries({ subjectType: 'citizen', subject: person.idNumber, kind: 'result', documentType: 'KQ.BENCH.000001', name: 'Giấy chứng nhận (benchmark)', issuingAgency: 'H52.101.114' })) form.append(name, value);
      form.append('file', new Blob([new Uint8Array(content)], { type: sample.mediaType }), sample.filename);
      const res = await fetch(`${url}/v1/documents`, {
        method: 'POST',
        headers: { authorization: 'Bearer sandbox-agency-key', 'x-user-id': 'bench-officer', 'x-purpose': 'XAC_MINH_DANH_TINH' },
        body: form,
      });
      const body = await res.text();
      if (res.status !== 201) throw new Error(`deposit answered ${res.status}: ${body.slice(0, 300)}`);
    };
    const direct = async (content: Buffer, n: number) => {
      const file = join(dir, `direct-${n % 8}`);
      await writeFile(file, content);
      createHash('sha256').update(content).digest('hex');
    };

    const rows: DocumentBenchRow[] = [];
    let windowed = true;
    for (const sample of SAMPLES) {
      const content = await sample.make(sample.bytes);
      // Warm-up: the first deposit pays for loading the sealer's code paths and the TSA connection.
      await deposit(sample, content);
      for (const concurrency of [1, CONCURRENCY]) {
        const residentBefore = residentMiB(pid);
        windowed = resetPeak(pid) && windowed;
        const cpuBefore = cpuMs(pid);
        const gatewaySeconds = await timed(sample.deposits, concurrency, () => deposit(sample, content));
        const cpuPerDeposit = (cpuMs(pid) - cpuBefore) / sample.deposits;
        const peak = peakMiB(pid);
        const directSeconds = await timed(sample.deposits, concurrency, (n) => direct(content, n));
        const total = content.length * sample.deposits;
        rows.push({
          size: sample.label,
          bytes: content.length,
          concurrency,
          deposits: sample.deposits,
          gatewayMBps: total / 1e6 / gatewaySeconds,
          directMBps: total / 1e6 / directSeconds,
          peakMiB: peak,
          residentBeforeMiB: residentBefore,
          msPerDeposit: (gatewaySeconds * 1000) / sample.deposits,
          cpuMsPerDeposit: cpuPerDeposit,
        });
      }
    }
    return { rows, windowed };
  } finally {
    await Promise.all(children.map((c) => c.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The section of bench/RESULTS.md. */
export function documentsSection(result: { rows: DocumentBenchRow[]; windowed: boolean }): string[] {
  return [
    `| document deposit (result: PDF sealed PAdES-B-T, PNG sealed CAdES-B-T) | at once | deposits | through the gateway MB/s | write + SHA-256 here MB/s | ratio | ms per deposit (wall) | gateway CPU ms per deposit | gateway peak memory (resident before) |`,
    `|---|---|---|---|---|---|---|---|---|`,
    ...result.rows.map(
      (r) =>
        `| ${r.size} (${r.bytes} bytes) | ${r.concurrency} | ${r.deposits} | ${r.gatewayMBps.toFixed(1)} | ${r.directMBps.toFixed(0)} | ${((r.gatewayMBps / r.directMBps) * 100).toFixed(1)}% | ${r.msPerDeposit.toFixed(0)} | ${r.cpuMsPerDeposit.toFixed(0)} | ${r.peakMiB.toFixed(0)} MiB (${r.residentBeforeMiB.toFixed(0)} MiB) |`,
    ),
    ``,
    `A deposit through the gateway: multipart upload over loopback, type judged by content, a PDF held whole, parsed, its signatures checked and sealed (PAdES-B-T: CMS signature and an RFC 3161 timestamp from the sandbox TSA, another process), a PNG streamed to the store and sealed by a detached CAdES-B-T signature over its SHA-256, encrypted (AES-256-GCM per 64 KiB chunk) and written under documents.directory, its row committed in SQLite, the exchange logged. "Write + SHA-256 here": this process writing the same bytes to a file and hashing them, at the same concurrency. Peak memory: the gateway process's VmHWM during that measurement${result.windowed ? '' : ' (the kernel refused to restart the high-water window: the figure is the peak since the gateway started)'}: a PDF is held whole in memory while it is checked and sealed, a PNG never is. 20 MiB is the largest file the default documents.maxBytes lets through.`,
  ];
}
