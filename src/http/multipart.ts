import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import busboy from 'busboy';
import { GatewayError, isGatewayError, type FieldProblem } from '../errors/gateway-error.ts';
import { validationFailed } from './validation.ts';

/**
 * Reads a `multipart/form-data` body as it streams in: its text fields, and its one file part,
 * handed to `onFile` while it arrives (never held here). Whatever goes wrong (a part beyond the
 * limits, a body cut short or without its closing boundary, a boundary the body does not use, no
 * file) refuses the request with a problem naming `body` or `body.<part>`, once the body has
 * been read to its end or the connection is gone, and what `onFile` made of the file is handed to
 * `discard`: nothing of a refused upload is kept. A refusal carries the fields read before it
 * (`fieldsReadBefore`), so that the caller can still say whom the refused request was about.
 */

export interface MultipartLimits {
  /** Largest file accepted: 413 PAYLOAD_TOO_LARGE beyond. */
  fileBytes: number;
  /** The file part's name. */
  fileField: string;
  /** Most text fields, and the longest one (bytes). */
  fields: number;
  fieldBytes: number;
}

export interface IncomingPart {
  stream: Readable;
  filename: string;
  /** The part's Content-Type, lower case, without parameters; empty when none. */
  declaredType: string;
}

/** The text fields read before a refusal, by the refusal thrown. */
const readBefore = new WeakMap<object, Readonly<Record<string, string>>>();

/** The text fields a body carried before `readMultipart` refused it with `refusal` (undefined for anything else). */
export function fieldsReadBefore(refusal: unknown): Readonly<Record<string, string>> | undefined {
  return typeof refusal === 'object' && refusal !== null ? readBefore.get(refusal) : undefined;
}

function bodyProblem(field: string, message: string): GatewayError {
  return validationFailed([{ field, message }]);
}

/** A body read to its end (or cut off): the first refusal that explains the others, in this order. */
interface Refusals {
  tooLarge?: GatewayError;
  /** The body itself is not a complete multipart body (or the connection was lost). */
  body?: GatewayError;
  /** What `onFile` refused (the content judged), or an unexpected fault. */
  file?: unknown;
  parts: FieldProblem[];
}

export async function readMultipart<T>(
  req: IncomingMessage,
  limits: MultipartLimits,
  /** Gets the file part as it starts, with the fields read before it (a check on them can refuse the file unread). */
  onFile: (part: IncomingPart, fieldsBefore: Readonly<Record<string, string>>) => Promise<T>,
  discard: (received: T) => Promise<void>,
): Promise<{ fields: Record<string, string>; file: T }> {
  let parser: busboy.Busboy;
  try {
    parser = busboy({
      headers: req.headers,
      // File names and field values in UTF-8 (Vietnamese names), whatever the part headers omit.
      defParamCharset: 'utf8',
      // busboy signals 'limit' once a file reaches fileSize bytes, not beyond it: one more, so that a file of exactly fileBytes is taken.
      limits: { fileSize: limits.fileBytes + 1, files: 1, fields: limits.fields, fieldSize: limits.fieldBytes, parts: limits.fields + 1, headerPairs: 20 },
    });
  } catch (err) {
    // No boundary, or not multipart at all: nothing of the body can be read.
    throw bodyProblem('body', `is not a multipart/form-data body: ${(err as Error).message}`);
  }
  const refusals: Refusals = { parts: [] };
  // Without a prototype, a field named `__proto__` (or `constructor`) is a field like any other:
  // it is kept, so that the schema refuses it as unknown, instead of changing the object.
  const fields = Object.create(null) as Record<string, string>;
  let received: Promise<{ ok: true; value: T } | { ok: false }> | undefined;
  const tooLarge = () => (refusals.tooLarge ??= new GatewayError('PAYLOAD_TOO_LARGE', { detail: `the file exceeds ${limits.fileBytes} bytes`, errors: [{ field: `body.${limits.fileField}`, message: `must be at most ${limits.fileBytes} bytes` }] }));

  parser.on('file', (name, stream, info) => {
    if (name !== limits.fileField || received) {
      refusals.parts.push({ field: `body.${name}`, message: name === limits.fileField ? 'must be given once' : 'is not a file part of this body' });
      stream.resume();
      return;
    }
    // Beyond the limit the parser drops the rest of the file and ends the part: what was taken of
    // it is discarded with the refusal. (A part stream destroyed under the parser would stall it.)
    stream.once('limit', tooLarge);
    // Errors reach onFile through its reading; this listener only keeps one from being unhandled.
    stream.on('error', () => undefined);
    const part: IncomingPart = { stream, filename: info.filename ?? '', declaredType: (info.mimeType ?? '').split(';')[0]!.trim().toLowerCase() };
    // A promise made this way also takes what onFile throws before its first await.
    received = new Promise<T>((resolve) => resolve(onFile(part, Object.freeze(Object.assign(Object.create(null) as Record<string, string>, fields))))).then(
      (value) => ({ ok: true as const, value }),
      (err: unknown) => {
        refusals.file = err;
        // The rest of a refused file is read and dropped, so that the refusal is answered once the body has arrived.
        if (!stream.destroyed) stream.resume();
        return { ok: false as const };
      },
    );
  });
  parser.on('field', (name, value, info) => {
    if (info.valueTruncated) refusals.parts.push({ field: `body.${name}`, message: `must have at most ${limits.fieldBytes} bytes` });
    else if (Object.hasOwn(fields, name)) refusals.parts.push({ field: `body.${name}`, message: 'must be given once' });
    else fields[name] = value;
  });
  parser.once('filesLimit', () => refusals.parts.push({ field: `body.${limits.fileField}`, message: 'must be the only file' }));
  parser.once('fieldsLimit', () => refusals.parts.push({ field: 'body', message: `must have at most ${limits.fields} fields` }));
  parser.once('partsLimit', () => refusals.parts.push({ field: 'body', message: `must have at most ${limits.fields + 1} parts` }));

  try {
    await pipeline(req, parser);
  } catch (err) {
    refusals.body = isGatewayError(err) ? err : bodyProblem('body', `is not a complete multipart/form-data body (${(err as Error).message})`);
  }
  const file = received ? await received : undefined;
  const refusal = refusals.tooLarge ?? refusals.body ?? refusals.file ?? (refusals.parts.length > 0 ? validationFailed(refusals.parts) : undefined) ?? (file ? undefined : bodyProblem(`body.${limits.fileField}`, 'is required: a file part'));
  if (refusal !== undefined) {
    if (file?.ok) await discard(file.value);
    if (typeof refusal === 'object' && refusal !== null) readBefore.set(refusal, fields);
    throw refusal;
  }
  return { fields, file: (file as { ok: true; value: T }).value };
}
