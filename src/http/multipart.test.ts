import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayError, isGatewayError } from '../errors/gateway-error.ts';
import { fieldsReadBefore, readMultipart, type IncomingPart, type MultipartLimits } from './multipart.ts';

/**
 * The multipart reader behind a real HTTP server: each request's outcome (the fields and file it
 * read, or the refusal), and what it handed to `discard`, are kept for the assertions.
 */
const LIMITS: MultipartLimits = { fileBytes: 1000, fileField: 'file', fields: 3, fieldBytes: 40 };

interface Outcome {
  fields?: Record<string, string>;
  file?: { bytes: string; filename: string; declaredType: string };
  refusal?: { code: string; errors?: { field: string; message: string }[]; fieldsBefore?: Record<string, string> };
  /** The fields handed to onFile with the file part. */
  before?: Record<string, string>;
  discarded: string[];
}

let server: Server;
let port: number;
let last: Promise<Outcome>;

beforeAll(async () => {
  server = createServer((req, res) => {
    const discarded: string[] = [];
    let before: Record<string, string> | undefined;
    last = readMultipart(
      req,
      LIMITS,
      (part, fieldsBefore) => {
        before = { ...fieldsBefore };
        // A check of the fields that refuses the file before reading any of it (thrown, not rejected).
        if (fieldsBefore.kind === 'refused') throw new GatewayError('FORBIDDEN', { errors: [{ field: 'body.kind', message: 'refused' }] });
        return readAll(part);
      },
      async (received) => void discarded.push(received.bytes),
    ).then(
      ({ fields, file }) => ({ fields, file, discarded, ...(before ? { before } : {}) }),
      (err: unknown) => {
        if (!isGatewayError(err)) throw err;
        const fieldsBefore = fieldsReadBefore(err);
        return { refusal: { code: err.code, ...(err.errors ? { errors: err.errors } : {}), ...(fieldsBefore ? { fieldsBefore: { ...fieldsBefore } } : {}) }, discarded };
      },
    );
    void last.finally(() => res.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

async function readAll(part: IncomingPart): Promise<{ bytes: string; filename: string; declaredType: string }> {
        const chunks: Buffer[] = [];
        for await (const chunk of part.stream) chunks.push(chunk as Buffer);
        return { bytes: Buffer.concat(chunks).toString('utf8'), filename: part.filename, declaredType: part.declaredType };
}

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const BOUNDARY = 'test-boundary';

function part(name: string, value: string, file?: { filename: string; type: string }): string {
  const disposition = file ? `form-data; name="${name}"; filename="${file.filename}"\r\ncontent-type: ${file.type}` : `form-data; name="${name}"`;
  return `--${BOUNDARY}\r\ncontent-disposition: ${disposition}\r\n\r\n${value}\r\n`;
}

async function send(body: string, contentType = `multipart/form-data; boundary=${BOUNDARY}`): Promise<Outcome> {
  await new Promise<void>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/', headers: { 'content-type': contentType, 'content-length': Buffer.byteLength(body, 'utf8') } });
    req.on('response', (res) => res.resume().on('end', resolve));
    req.on('error', reject);
    req.end(Buffer.from(body, 'utf8'));
  });
  return last;
}

const CLOSE = `--${BOUNDARY}--\r\n`;

describe('reading a multipart body', () => {
  it('reads the fields and hands the file over with its name and declared type', async () => {
    const outcome = await send(part('subject', '014089001234') + part('file', '%PDF-1.7 body', { filename: 'Quyết định.pdf', type: 'application/pdf; charset=x' }) + part('kind', 'result') + CLOSE);
    expect(outcome).toEqual({
      fields: { subject: '014089001234', kind: 'result' },
      file: { bytes: '%PDF-1.7 body', filename: 'Quyết định.pdf', declaredType: 'application/pdf' },
      before: { subject: '014089001234' },
      discarded: [],
    });
  });

  it('keeps a field named __proto__ as a field, for the schema to refuse as unknown', async () => {
    const outcome = await send(part('__proto__', 'x') + part('file', 'content', { filename: 'a.png', type: 'image/png' }) + CLOSE);
    expect(Object.keys(outcome.fields!)).toEqual(['__proto__']);
    expect(Object.getOwnPropertyDescriptor(outcome.fields, '__proto__')?.value).toBe('x');
  });

  it('lets a check of the fields read before the file refuse it unread; the refusal keeps those fields', async () => {
    const outcome = await send(part('subject', '014089001234') + part('kind', 'refused') + part('file', 'content', { filename: 'a.png', type: 'image/png' }) + CLOSE);
    expect(outcome.refusal).toEqual({ code: 'FORBIDDEN', errors: [{ field: 'body.kind', message: 'refused' }], fieldsBefore: { subject: '014089001234', kind: 'refused' } });
    expect(outcome.discarded).toEqual([]);
    // A refusal after the file (a field too long) carries the fields read until then.
    const late = await send(part('subject', '014089001234') + part('file', 'content', { filename: 'a.png', type: 'image/png' }) + part('name', 'n'.repeat(LIMITS.fieldBytes + 1)) + CLOSE);
    expect(late.refusal).toMatchObject({ code: 'VALIDATION_FAILED', fieldsBefore: { subject: '014089001234' } });
  });

  it('refuses a file over the limit with 413, and discards what was taken of it', async () => {
    const outcome = await send(part('file', 'x'.repeat(LIMITS.fileBytes + 1), { filename: 'a.png', type: 'image/png' }) + CLOSE);
    expect(outcome.refusal).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', errors: [{ field: 'body.file' }] });
    expect(outcome.discarded).toEqual(['x'.repeat(LIMITS.fileBytes + 1)]);
    // A file of exactly the limit is taken whole.
    const exact = await send(part('file', 'y'.repeat(LIMITS.fileBytes), { filename: 'a.png', type: 'image/png' }) + CLOSE);
    expect(exact.refusal).toBeUndefined();
    expect(exact.discarded).toEqual([]);
  });

  it('refuses a body without its closing boundary, and one whose boundary is not the one announced', async () => {
    const cut = await send(part('subject', '1') + part('file', 'content', { filename: 'a.png', type: 'image/png' }).slice(0, -10));
    expect(cut.refusal).toMatchObject({ code: 'VALIDATION_FAILED', errors: [{ field: 'body' }] });
    const other = await send(part('file', 'content', { filename: 'a.png', type: 'image/png' }) + CLOSE, 'multipart/form-data; boundary=another');
    expect(other.refusal).toMatchObject({ code: 'VALIDATION_FAILED', errors: [{ field: 'body' }] });
    const none = await send(part('file', 'content', { filename: 'a.png', type: 'image/png' }) + CLOSE, 'multipart/form-data');
    expect(none.refusal).toMatchObject({ code: 'VALIDATION_FAILED', errors: [{ field: 'body' }] });
  });

  it('requires the file part, once, and no other file', async () => {
    expect((await send(part('subject', '1') + CLOSE)).refusal).toEqual({ code: 'VALIDATION_FAILED', errors: [{ field: 'body.file', message: 'is required: a file part' }], fieldsBefore: { subject: '1' } });
    const twice = await send(part('file', 'one', { filename: 'a.png', type: 'image/png' }) + part('file', 'two', { filename: 'b.png', type: 'image/png' }) + CLOSE);
    expect(twice.refusal).toMatchObject({ code: 'VALIDATION_FAILED', errors: [{ field: 'body.file', message: 'must be the only file' }] });
    expect(twice.discarded).toEqual(['one']);
    const other = await send(part('scan', 'one', { filename: 'a.png', type: 'image/png' }) + CLOSE);
    expect(other.refusal).toMatchObject({ code: 'VALIDATION_FAILED', errors: [{ field: 'body.scan', message: 'is not a file part of this body' }] });
  });

  it('bounds the fields: their number, their length, each given once', async () => {
    const file = part('file', 'content', { filename: 'a.png', type: 'image/png' });
    const long = await send(part('name', 'n'.repeat(LIMITS.fieldBytes + 1)) + file + CLOSE);
    expect(long.refusal).toMatchObject({ code: 'VALIDATION_FAILED', errors: [{ field: 'body.name', message: `must have at most ${LIMITS.fieldBytes} bytes` }] });
    expect(long.discarded).toEqual(['content']);
    const repeated = await send(part('kind', 'a') + part('kind', 'b') + file + CLOSE);
    expect(repeated.refusal).toMatchObject({ errors: [{ field: 'body.kind', message: 'must be given once' }] });
    const many = await send(['a', 'b', 'c', 'd'].map((n) => part(n, n)).join('') + file + CLOSE);
    expect(many.refusal?.code).toBe('VALIDATION_FAILED');
    expect(many.refusal?.errors?.map((e) => e.field)).toContain('body');
  });
});
