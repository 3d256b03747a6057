/**
 * The electronic document store end to end, as a portal developer meets it: a real gateway wired
 * to the sandbox deposits a result PDF for a sandbox person (sealed PAdES-B-T by the gateway with
 * the sandbox TSA's timestamp), finds it by the person's ID number, downloads it (the bytes are
 * those the deposit answered the SHA-256 of, and pdfsig accepts the signature), and reads it with
 * a fresh signature check. Each bad input of the issue is a 4xx problem and stores nothing: no
 * document listed, no content left in the store's directory. Every deposit, list, read and
 * download is an exchange-log entry with the subject's keyed hash.
 */
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UNKNOWN } from '../../src/sandbox/personas.ts';
import { storeBackends } from '../helpers/backends.ts';
import { KEYS, auditEntriesAbout, startTestGateway, type TestGateway, subjectHasherOf } from '../helpers/gateway.ts';
import { addDays, vietnamDay } from '../../src/core/time.ts';
import { encryptedPdf, extractPdfCms, extractTimestamp, nssDbWithRoot, openssl, pdfsig, samplePdf, truncatedPdf } from '../helpers/pdf.ts';
import { sample } from '../../src/signing/material.ts';

const execFileAsync = promisify(execFile);

const PERSON = '014089001234';
const ACCOUNTABLE = { 'x-user-id': 'canbo-tohieu-0042', 'x-purpose': 'TIEP_NHAN_HO_SO' };
/** Small enough that an oversized file is cheap to send, large enough for every fixture. */
const MAX_BYTES = 64 * 1024;

let gw: TestGateway;
let hash: (value: string) => string;
let work: string;
let documentsDir: string;

/** A one-page PDF made for this run (its text names the run, so no two are alike). */
const pdfSaying = (text: string) => samplePdf({ text });

/** A PNG's first bytes: what file-type needs to call it a PNG. */
const PNG = Buffer.concat([
  Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489', 'hex'),
  Buffer.from('0000000d49444154789c6300010000050001a5f645400000000049454e44ae426082', 'hex'),
]);

const METADATA = {
  subjectType: 'citizen',
  subject: PERSON,
  kind: 'result',
  documentType: 'KQ.G15.000031',
  name: 'Giấy chứng nhận đăng ký hộ kinh doanh',
  procedureCode: '1.001808.000.00.00.H52',
  issuingAgency: 'H52.101.114',
};

function form(file: { bytes: Buffer; name: string; type: string } | undefined, fields: Record<string, string> = METADATA): FormData {
  const body = new FormData();
  for (const [name, value] of Object.entries(fields)) body.append(name, value);
  if (file) body.append('file', new Blob([new Uint8Array(file.bytes)], { type: file.type }), file.name);
  return body;
}

/** A deposit, by the sandbox's one-stop desk (an agency client: results are deposited by agencies) unless another key is given. */
const deposit = (body: RequestInit['body'], headers: Record<string, string> = ACCOUNTABLE, key: string = KEYS.agency) => gw.fetch('/v1/documents', { method: 'POST', headers, body, key });

interface Problem {
  code: string;
  detail?: string;
  errors?: { field: string; message: string }[];
}

async function problem(res: Response, status: number, code: string): Promise<Problem> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  const body = JSON.parse(text) as Problem;
  expect(body.code).toBe(code);
  return body;
}

/** Every file under the store's directory (content and anything half-written). */
function storedFiles(dir = documentsDir): string[] {
  let found: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  for (const name of names) {
    const path = join(dir, name);
    found = statSync(path).isDirectory() ? [...found, ...storedFiles(path)] : [...found, path];
  }
  return found;
}

async function listed(subject = PERSON): Promise<{ items: { code: string; sha256: string }[]; total: number }> {
  const res = await gw.fetch(`/v1/documents?subject=${subject}&pageSize=100`, { headers: ACCOUNTABLE });
  expect(res.status).toBe(200);
  return (await res.json()) as never;
}

/** What the store holds: the person's documents and every file in its directory. */
async function holdings(subject = PERSON): Promise<{ total: number; files: string[] }> {
  return { total: (await listed(subject)).total, files: storedFiles().sort() };
}

/** Runs a refused deposit and checks that nothing was stored by it. */
async function storesNothing(refuse: () => Promise<void>, subject = PERSON): Promise<void> {
  const before = await holdings(subject);
  await refuse();
  expect(await holdings(subject)).toEqual(before);
}

/**
 * A deposit sent by hand over one connection: the headers, then `body`; `end` says how the
 * request ends. Resolves with the status (or `closed` when the gateway answered nothing).
 */
function rawDeposit(headers: Record<string, string | number>, body: Buffer, end: 'destroy' | 'finish'): Promise<number | 'closed'> {
  const url = new URL(`${gw.url}/v1/documents`);
  return new Promise((resolve) => {
    const req = request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { authorization: `Bearer ${KEYS.agency}`, ...ACCOUNTABLE, ...headers } });
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('error', () => resolve('closed'));
    req.on('close', () => setTimeout(() => resolve('closed'), 50));
    req.write(body);
    if (end === 'finish') req.end();
    // The client goes away mid-upload, once its bytes have had time to arrive.
    else setTimeout(() => req.destroy(), 200);
  });
}

function multipartBody(boundary: string, pdf: Buffer, fields: Record<string, string> = METADATA, options: { partType?: string | null; fieldsAfter?: boolean } = {}): Buffer {
  const parts = Object.entries(fields).map(([name, value]) => `--${boundary}\r\ncontent-disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`).join('');
  // partType null: a file part without a Content-Type header.
  const partType = options.partType === undefined ? 'content-type: application/pdf\r\n' : options.partType === null ? '' : `content-type: ${options.partType}\r\n`;
  const file = Buffer.concat([Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="decision.pdf"\r\n${partType}\r\n`), pdf, Buffer.from('\r\n')]);
  return Buffer.concat(options.fieldsAfter ? [file, Buffer.from(parts), Buffer.from(`--${boundary}--\r\n`)] : [Buffer.from(parts), file, Buffer.from(`--${boundary}--\r\n`)]);
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'lienthong-documents-'));
  documentsDir = join(work, 'documents');
  gw = await startTestGateway({ 'documents.directory': documentsDir, 'documents.maxBytes': MAX_BYTES });
  hash = subjectHasherOf(gw);
}, 60_000);

afterAll(async () => {
  await gw?.close();
});

describe('a result PDF for a sandbox person', () => {
  let deposited: Record<string, unknown> & { code: string; sha256: string; signatures: Record<string, unknown>[] };
  let original: Buffer;

  it('is deposited, sealed and timestamped: 201 with its code, SHA-256 and signature', async () => {
    original = await pdfSaying(`Quyet dinh ${Date.now()}`);
    const res = await deposit(form({ bytes: original, name: 'quyet-dinh.pdf', type: 'application/pdf' }));
    const text = await res.text();
    // A refusal names its cause; an internal error's is in the gateway's log.
    expect(res.status, `${text}\n${gw.logs.filter((line) => /"level":50/.test(line)).join('\n')}`).toBe(201);
    deposited = JSON.parse(text) as typeof deposited;
    const year = vietnamDay(new Date()).slice(0, 4);
    expect(deposited.code).toMatch(new RegExp(`^H52\\.101\\.114\\.KQ\\.G15\\.000031\\.${year}\\.[0-9]{6}$`));
    expect(res.headers.get('location')).toBe(`/v1/documents/${deposited.code}`);
    expect(deposited).toMatchObject({ kind: 'result', subjectType: 'citizen', subject: PERSON, mediaType: 'application/pdf', destroyedAt: null, legalHold: false });
    expect(deposited.sha256).toMatch(/^[0-9a-f]{64}$/);
    // The sealed file is not the one sent: the seal is an incremental update after it.
    expect(deposited.sha256).not.toBe(createHash('sha256').update(original).digest('hex'));
    const seal = deposited.signatures.find((s) => s.by === 'gateway');
    expect(seal).toMatchObject({ form: 'pades', coversWholeFile: true });
    expect((seal!.timestamp as { genTime: string } | null)?.genTime).toMatch(/\+07:00$/);
    expect(Math.abs(Date.parse((seal!.timestamp as { genTime: string }).genTime) - Date.now())).toBeLessThan(120_000);
  });

  it('is found by the person\'s ID number, and among their valid documents of its type', async () => {
    expect((await listed()).items.map((d) => d.code)).toContain(deposited.code);
    const res = await gw.fetch(`/v1/documents?subject=${PERSON}&documentType=KQ.G15.000031&valid=true`, { headers: ACCOUNTABLE });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { items: { code: string }[] }).items.map((d) => d.code)).toContain(deposited.code);
    // Another person's list does not hold it.
    const other = await gw.fetch(`/v1/documents?subject=${UNKNOWN.idNumber}`, { headers: ACCOUNTABLE });
    expect(((await other.json()) as { total: number }).total).toBe(0);
  });

  it('downloads as the bytes whose SHA-256 was answered, and pdfsig accepts its signature', async () => {
    const res = await gw.fetch(`/v1/documents/${deposited.code}/content`, { headers: ACCOUNTABLE });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/pdf');
    expect(res.headers.get('content-disposition')).toContain("filename*=UTF-8''Gi%E1%BA%A5y%20ch%E1%BB%A9ng");
    const bytes = Buffer.from(await res.arrayBuffer());
    const digest = createHash('sha256').update(bytes).digest();
    expect(digest.toString('hex')).toBe(deposited.sha256);
    expect(res.headers.get('repr-digest')).toBe(`sha-256=:${digest.toString('base64')}:`);
    // The original is the first revision of the sealed file, untouched.
    expect(bytes.subarray(0, original.length).equals(original)).toBe(true);
    const file = join(work, 'downloaded.pdf');
    writeFileSync(file, bytes);
    // pdfsig trusting only the sample root: the seal is valid, its certificate trusted, the whole file signed.
    const report = pdfsig(file, { nssDir: nssDbWithRoot(sample('root-ca.pem')) });
    expect(report.signatures, report.output).toHaveLength(1);
    expect(report.signatures[0]).toMatchObject({
      signatureValidation: 'Signature is Valid.',
      certificateValidation: 'Certificate is Trusted.',
      signatureType: 'ETSI.CAdES.detached',
      coverage: 'Total document signed',
    });
    // openssl, apart from the gateway's code: the CMS over the byte ranges, and its signature timestamp.
    const extracted = extractPdfCms(bytes);
    const write = (name: string, data: Buffer) => {
      writeFileSync(join(work, name), data);
      return join(work, name);
    };
    const cms = openssl('cms', '-verify', '-binary', '-inform', 'DER', '-in', write('seal.p7s', extracted.cms), '-content', write('signed.bin', extracted.signedBytes), '-CAfile', sample('root-ca.pem'), '-certfile', sample('issuing-ca.pem'), '-purpose', 'any', '-out', '/dev/null');
    expect(cms.output).toContain('Verification successful');
    const { token, signatureValue } = extractTimestamp(extracted.cms);
    const ts = openssl('ts', '-verify', '-token_in', '-in', write('timestamp.der', token), '-data', write('signature-value.bin', signatureValue), '-CAfile', sample('root-ca.pem'), '-untrusted', sample('issuing-ca.pem'));
    expect(ts.output).toContain('Verification: OK');
  });

  it('reads with a fresh signature check that finds the seal valid', async () => {
    const res = await gw.fetch(`/v1/documents/${deposited.code}`, { headers: ACCOUNTABLE });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { sha256: string; signatureCheck: { valid: boolean; contentChecked: boolean; checkedAt: string; signatures: { by: string; valid: boolean }[] } };
    expect(body.sha256).toBe(deposited.sha256);
    expect(body.signatureCheck).toMatchObject({ valid: true, contentChecked: true });
    expect(Math.abs(Date.parse(body.signatureCheck.checkedAt) - Date.now())).toBeLessThan(60_000);
    expect(body.signatureCheck.signatures).toEqual([expect.objectContaining({ by: 'gateway', valid: true })]);
  });

  it('leaves an exchange-log entry with the person\'s keyed hash for each deposit, list, read and download', async () => {
    const clients: Record<string, string> = { createDocument: 'sandbox-agency', listDocuments: 'sandbox-portal', getDocument: 'sandbox-portal', getDocumentContent: 'sandbox-portal' };
    for (const operation of Object.keys(clients)) {
      const entries = await auditEntriesAbout<{ status: number; subjectHash: string | null; client: string; purpose: string | null }>(gw, PERSON, operation, (items) => items.some((e) => e.status < 300));
      expect(entries.find((e) => e.status < 300)).toMatchObject({ subjectHash: hash(PERSON), client: clients[operation], purpose: 'TIEP_NHAN_HO_SO' });
    }
  });

  it('is 404 DOCUMENT_NOT_FOUND under a code no document has', async () => {
    await problem(await gw.fetch(`/v1/documents/${deposited.code.replace(/[0-9]{6}$/, '999999')}`, { headers: ACCOUNTABLE }), 404, 'DOCUMENT_NOT_FOUND');
  });
});

describe('bad input: a clear 4xx problem, and nothing stored', () => {
  it('a file that is not what it claims: PNG bytes named .pdf sent as application/pdf', async () => {
    await storesNothing(async () => {
      const body = await problem(await deposit(form({ bytes: PNG, name: 'decision.pdf', type: 'application/pdf' })), 422, 'DOCUMENT_CONTENT_INVALID');
      expect(body.errors?.[0]?.field).toBe('body.file');
    });
  });

  it('a file that is not what it claims, larger than its first bytes: refused, and the rest of it read and dropped', async () => {
    const image = Buffer.concat([PNG, Buffer.alloc(MAX_BYTES / 2, 1)]);
    await storesNothing(async () => {
      await problem(await deposit(form({ bytes: image, name: 'scan.pdf', type: 'application/pdf' })), 422, 'DOCUMENT_CONTENT_INVALID');
    });
  });

  it('an image named as a PDF though its part claims nothing', async () => {
    await storesNothing(async () => {
      await problem(await deposit(form({ bytes: PNG, name: 'decision.pdf', type: 'application/octet-stream' })), 422, 'DOCUMENT_CONTENT_INVALID');
    });
  });

  it('a type that is not accepted (judged by content)', async () => {
    const zip = Buffer.concat([Buffer.from('504b0304', 'hex'), Buffer.alloc(200)]);
    await storesNothing(async () => {
      await problem(await deposit(form({ bytes: zip, name: 'archive', type: 'application/octet-stream' })), 415, 'UNSUPPORTED_MEDIA_TYPE');
    });
  });

  it('an encrypted PDF', async () => {
    const encrypted = encryptedPdf(await pdfSaying('secret'));
    await storesNothing(async () => {
      await problem(await deposit(form({ bytes: encrypted, name: 'encrypted.pdf', type: 'application/pdf' })), 422, 'DOCUMENT_CONTENT_INVALID');
    });
  });

  it('a broken PDF', async () => {
    // The header and the first objects, without the cross-reference table and trailer.
    const broken = truncatedPdf(await pdfSaying('broken'), 0.5);
    await storesNothing(async () => {
      await problem(await deposit(form({ bytes: broken, name: 'broken.pdf', type: 'application/pdf' })), 422, 'DOCUMENT_CONTENT_INVALID');
    });
  });

  it('a truncated upload: the client goes away mid-body', async () => {
    const boundary = 'lienthong-truncated';
    const body = multipartBody(boundary, await pdfSaying('truncated'));
    await storesNothing(async () => {
      const outcome = await rawDeposit({ 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': body.length }, body.subarray(0, body.length - 200), 'destroy');
      // Nobody is left to answer; if an answer got out first, it is a refusal.
      if (outcome !== 'closed') expect(outcome).toBe(400);
      // The gateway has noticed the lost connection before the store is looked at again.
      await new Promise((r) => setTimeout(r, 300));
    });
  });

  it('a truncated upload: the body ends without its closing boundary', async () => {
    const boundary = 'lienthong-unterminated';
    const whole = multipartBody(boundary, await pdfSaying('unterminated'));
    const cut = whole.subarray(0, whole.length - 300);
    await storesNothing(async () => {
      expect(await rawDeposit({ 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': cut.length }, cut, 'finish')).toBe(400);
    });
    const res = await deposit(new TextDecoder('latin1').decode(cut), { ...ACCOUNTABLE, 'content-type': `multipart/form-data; boundary=${boundary}` });
    const body = await problem(res, 400, 'VALIDATION_FAILED');
    expect(body.errors?.[0]?.field).toBe('body');
  });

  it('a wrong multipart boundary', async () => {
    const body = multipartBody('the-real-boundary', await pdfSaying('boundary'));
    await storesNothing(async () => {
      const res = await gw.fetch('/v1/documents', { method: 'POST', headers: { ...ACCOUNTABLE, 'content-type': 'multipart/form-data; boundary=another-boundary' }, body: new Uint8Array(body) });
      const refused = await problem(res, 400, 'VALIDATION_FAILED');
      expect(refused.errors?.[0]?.field).toBe('body');
    });
  });

  it('no file part', async () => {
    await storesNothing(async () => {
      const refused = await problem(await deposit(form(undefined)), 400, 'VALIDATION_FAILED');
      expect(refused.errors).toEqual([expect.objectContaining({ field: 'body.file' })]);
    });
  });

  it('an oversized file: 413 beyond documents.maxBytes, PDF or streamed', async () => {
    const pdf = await pdfSaying('oversized');
    const large = Buffer.concat([pdf, Buffer.alloc(MAX_BYTES, 0x20)]);
    const image = Buffer.concat([PNG, Buffer.alloc(MAX_BYTES * 2)]);
    await storesNothing(async () => {
      await problem(await deposit(form({ bytes: large, name: 'large.pdf', type: 'application/pdf' })), 413, 'PAYLOAD_TOO_LARGE');
      await problem(await deposit(form({ bytes: image, name: 'large.png', type: 'image/png' }, { ...METADATA, kind: 'submission' })), 413, 'PAYLOAD_TOO_LARGE');
    });
  });

  it('an unknown subject: 404 SUBJECT_NOT_FOUND, for a streamed image too', async () => {
    const pdf = await pdfSaying('unknown');
    await storesNothing(async () => {
      await problem(await deposit(form({ bytes: pdf, name: 'x.pdf', type: 'application/pdf' }, { ...METADATA, subject: UNKNOWN.idNumber })), 404, 'SUBJECT_NOT_FOUND');
      await problem(await deposit(form({ bytes: PNG, name: 'x.png', type: 'image/png' }, { ...METADATA, kind: 'submission', subject: UNKNOWN.idNumber })), 404, 'SUBJECT_NOT_FOUND');
    }, UNKNOWN.idNumber);
  });

  it('fields that break the contract name body.<field>', async () => {
    await storesNothing(async () => {
      const refused = await problem(await deposit(form({ bytes: PNG, name: 'x.png', type: 'image/png' }, { ...METADATA, kind: 'decision', issuedOn: '2026-02-30' })), 400, 'VALIDATION_FAILED');
      expect(refused.errors?.map((e) => e.field).sort()).toEqual(['body.issuedOn', 'body.kind']);
    });
  });

  it('a result from a portal: 403 naming body.kind, the file refused unread when the fields come first', async () => {
    const pdf = await pdfSaying('portal result');
    await storesNothing(async () => {
      const refused = await problem(await deposit(form({ bytes: pdf, name: 'x.pdf', type: 'application/pdf' }), ACCOUNTABLE, KEYS.portal), 403, 'FORBIDDEN');
      expect(refused.errors).toEqual([expect.objectContaining({ field: 'body.kind' })]);
      // The fields after the file: judged once read, and the file forgotten.
      const boundary = 'lienthong-fields-after';
      const body = multipartBody(boundary, pdf, METADATA, { fieldsAfter: true });
      const after = await problem(await deposit(new Uint8Array(body), { ...ACCOUNTABLE, 'content-type': `multipart/form-data; boundary=${boundary}` }, KEYS.portal), 403, 'FORBIDDEN');
      expect(after.errors?.[0]?.field).toBe('body.kind');
    });
  });

  it('a result issued by an agency the depositing agency does not act for: 403 naming body.issuingAgency', async () => {
    const image = Buffer.concat([PNG, Buffer.alloc(2000, 1)]);
    await storesNothing(async () => {
      const refused = await problem(await deposit(form({ bytes: image, name: 'x.png', type: 'image/png' }, { ...METADATA, issuingAgency: 'H52.101.115' })), 403, 'FORBIDDEN');
      expect(refused.errors).toEqual([expect.objectContaining({ field: 'body.issuingAgency' })]);
    });
  });

  it('a field named __proto__ is an unknown field like any other', async () => {
    await storesNothing(async () => {
      const refused = await problem(await deposit(form({ bytes: PNG, name: 'x.png', type: 'image/png' }, { ...METADATA, kind: 'submission', ['__proto__']: 'x' })), 400, 'VALIDATION_FAILED');
      expect(refused.errors?.map((e) => e.field)).toEqual(['body.__proto__']);
    });
  });

  it('a name with a line break, and an issue day after today (Vietnam time)', async () => {
    const afterTomorrow = addDays(vietnamDay(new Date()), 2);
    await storesNothing(async () => {
      const name = await problem(await deposit(form({ bytes: PNG, name: 'x.png', type: 'image/png' }, { ...METADATA, kind: 'submission', name: 'Giấy tờ\r\nX-Injected: 1' })), 400, 'VALIDATION_FAILED');
      expect(name.errors?.map((e) => e.field)).toEqual(['body.name']);
      const issued = await problem(await deposit(form({ bytes: PNG, name: 'x.png', type: 'image/png' }, { ...METADATA, kind: 'submission', issuedOn: afterTomorrow })), 400, 'VALIDATION_FAILED');
      expect(issued.errors).toEqual([{ field: 'body.issuedOn', message: 'must not be after today (Vietnam time)' }]);
    });
  });

  it('a refused deposit is logged with its subject\'s keyed hash', async () => {
    // 415 (content), 413 (size), 403 (who), 400 (fields): refused while reading the body or after.
    for (const status of [415, 413, 403, 400]) {
      const entries = await auditEntriesAbout<{ status: number; subjectHash: string | null }>(gw, PERSON, 'createDocument', (items) => items.some((e) => e.status === status));
      expect(entries.find((e) => e.status === status)!.subjectHash).toBe(hash(PERSON));
    }
  });

  it('missing accountability headers', async () => {
    const pdf = await pdfSaying('accountability');
    await storesNothing(async () => {
      await problem(await deposit(form({ bytes: pdf, name: 'x.pdf', type: 'application/pdf' }), {}), 400, 'ACCOUNTABILITY_REQUIRED');
      await problem(await gw.fetch(`/v1/documents?subject=${PERSON}`), 400, 'ACCOUNTABILITY_REQUIRED');
    });
  });
});

describe('the README', () => {
  it('runs its Documents commands as written: deposit, find, read, download, and pdfsig trusts the seal', async () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('## Documents\n'));
    const script = /```sh\n([\s\S]*?)```/.exec(section)?.[1];
    expect(script, 'the README shows the document commands').toBeDefined();
    // A folder of the developer's own, with the checkout's example PDF and sample PKI where the README names them.
    const folder = mkdtempSync(join(tmpdir(), 'lienthong-readme-documents-'));
    for (const name of ['examples', 'certs-sample']) symlinkSync(fileURLToPath(new URL(`../../${name}`, import.meta.url)), join(folder, name));
    // Not spawnSync: the gateway answering the script runs in this process.
    const run = await execFileAsync('bash', ['-eo', 'pipefail', '-c', script!], { cwd: folder, env: { ...process.env, GW: gw.url }, encoding: 'utf8' });
    const deposited = JSON.parse(readFileSync(join(folder, 'deposited.json'), 'utf8')) as { code: string; sha256: string };
    expect(run.stdout).toContain(`"code":"${deposited.code}"`);
    expect(createHash('sha256').update(readFileSync(join(folder, 'sealed.pdf'))).digest('hex')).toBe(deposited.sha256);
    expect(run.stdout).toMatch(/Signature Validation: Signature is Valid\.\n\s*- Certificate Validation: Certificate is Trusted\./);
  });
});

describe('a submission streamed into the store', () => {
  it('is stored unsealed, and downloads as sent (a portal deposits submissions)', async () => {
    const res = await deposit(form({ bytes: PNG, name: 'cccd.png', type: 'image/png' }, { ...METADATA, kind: 'submission', documentType: 'CCCD', name: 'Ảnh căn cước' }), ACCOUNTABLE, KEYS.portal);
    const text = await res.text();
    expect(res.status, text).toBe(201);
    const body = JSON.parse(text) as { code: string; sha256: string; signatures: unknown[]; mediaType: string };
    expect(body).toMatchObject({ mediaType: 'image/png', signatures: [], sha256: createHash('sha256').update(PNG).digest('hex') });
    const content = await gw.fetch(`/v1/documents/${body.code}/content`, { headers: ACCOUNTABLE });
    expect(Buffer.from(await content.arrayBuffer()).equals(PNG)).toBe(true);
  });

  it('a PDF whose part has no Content-Type (text/plain by RFC 7578) is taken as the PDF it is', async () => {
    const boundary = 'lienthong-no-type';
    const body = multipartBody(boundary, await pdfSaying('no part type'), { ...METADATA, kind: 'submission' }, { partType: null });
    const res = await deposit(new Uint8Array(body), { ...ACCOUNTABLE, 'content-type': `multipart/form-data; boundary=${boundary}` });
    const text = await res.text();
    expect(res.status, text).toBe(201);
    expect(JSON.parse(text)).toMatchObject({ mediaType: 'application/pdf' });
  });
});

describe('a result image: sealed with a detached signature', () => {
  it('reads with a fresh check of its seal against the digest of its content', async () => {
    const image = Buffer.concat([PNG, Buffer.alloc(MAX_BYTES / 2, 9)]);
    const res = await deposit(form({ bytes: image, name: 'kq.png', type: 'image/png' }));
    const text = await res.text();
    expect(res.status, text).toBe(201);
    const { code, signatures } = JSON.parse(text) as { code: string; signatures: { form: string; by: string }[] };
    expect(signatures).toEqual([expect.objectContaining({ form: 'cms', by: 'gateway' })]);
    const read = (await (await gw.fetch(`/v1/documents/${code}`, { headers: ACCOUNTABLE })).json()) as { signatureCheck: { valid: boolean; contentChecked: boolean; signatures: { by: string; valid: boolean }[] } };
    expect(read.signatureCheck).toMatchObject({ valid: true, contentChecked: true, signatures: [expect.objectContaining({ by: 'gateway', valid: true })] });
  });
});

describe.skipIf(!process.env.TEST_DATABASE_URL)('with PostgreSQL (database.url): content kept in the database', () => {
  const { backends, cleanup } = storeBackends('documents end to end');
  let pgGateway: TestGateway;

  beforeAll(async () => {
    const options = await backends.find((b) => b.name === 'PostgreSQL')!.options();
    schema = options.searchPath!;
    pgGateway = await startTestGateway({ 'database.url': options.url, 'database.schema': options.searchPath, 'documents.maxBytes': MAX_BYTES, 'documents.directory': join(work, 'unused-with-postgres') });
  }, 60_000);
  afterAll(async () => {
    await pgGateway?.close();
    await cleanup();
  });

  let schema: string;
  /** The blobs of content in the database (chunks grouped by address). */
  const blobs = async (): Promise<number> => {
    const client = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
    await client.connect();
    try {
      const { rows } = await client.query<{ n: string }>(`select count(distinct address) as n from ${schema}.document_chunks`);
      return Number(rows[0]!.n);
    } finally {
      await client.end();
    }
  };
  const headers = { ...ACCOUNTABLE };
  const total = async () => ((await (await pgGateway.fetch(`/v1/documents?subject=${PERSON}`, { headers })).json()) as { total: number }).total;

  it('deposits, lists and downloads a sealed result; a refused deposit stores nothing', async () => {
    // The sandbox may have stored sample documents of its own: what this test adds is counted.
    const before = await blobs();
    const listedBefore = await total();
    const pdf = await pdfSaying(`PostgreSQL ${Date.now()}`);
    const res = await pgGateway.fetch('/v1/documents', { method: 'POST', headers, key: KEYS.agency, body: form({ bytes: pdf, name: 'qd.pdf', type: 'application/pdf' }) });
    const text = await res.text();
    expect(res.status, text).toBe(201);
    const { code, sha256 } = JSON.parse(text) as { code: string; sha256: string };
    expect(await total()).toBe(listedBefore + 1);
    expect(await blobs()).toBe(before + 1);
    const content = await pgGateway.fetch(`/v1/documents/${code}/content`, { headers });
    const bytes = Buffer.from(await content.arrayBuffer());
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(sha256);
    const file = join(work, 'postgres.pdf');
    writeFileSync(file, bytes);
    expect(pdfsig(file, { nssDir: nssDbWithRoot(sample('root-ca.pem')) }).signatures[0]?.signatureValidation).toBe('Signature is Valid.');

    const large = Buffer.concat([PNG, Buffer.alloc(MAX_BYTES * 2)]);
    await problem(await pgGateway.fetch('/v1/documents', { method: 'POST', headers, key: KEYS.agency, body: form({ bytes: large, name: 'big.png', type: 'image/png' }, { ...METADATA, kind: 'submission' }) }), 413, 'PAYLOAD_TOO_LARGE');
    expect(await total()).toBe(listedBefore + 1);
    expect(await blobs()).toBe(before + 1);
    // Nothing was written beside the database.
    expect(storedFiles(join(work, 'unused-with-postgres'))).toEqual([]);
  });
});
