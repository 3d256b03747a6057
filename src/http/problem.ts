import type { Duplex } from 'node:stream';
import type { ErrorRequestHandler, Response } from 'express';
import { ERROR_CODES, problemType, type ErrorCode } from '../errors/codes.ts';
import { GatewayError, isGatewayError, type FieldProblem } from '../errors/gateway-error.ts';
import { MAX_FIELD_PROBLEMS } from './validation.ts';

/** Writes an RFC 9457 problem+json answer for a GatewayError. */
export function sendProblem(res: Response, err: GatewayError): void {
  const requestId = String(res.getHeader('x-request-id') ?? '');
  const body: Record<string, unknown> = {
    type: problemType(err.code),
    title: ERROR_CODES[err.code].title,
    status: err.status,
    ...(err.detail ? { detail: err.detail } : {}),
    code: err.code,
    requestId,
    instance: `urn:lienthong:request:${requestId}`,
    // Bounded whatever raised it (the request validation says in its detail how many more there were).
    ...(err.errors?.length ? { errors: err.errors.slice(0, MAX_FIELD_PROBLEMS) } : {}),
    ...err.extensions,
  };
  res.locals.errorCode = err.code;
  for (const [name, value] of Object.entries(err.headers ?? {})) res.setHeader(name, value);
  if (err.retryAfter !== undefined) res.setHeader('retry-after', String(err.retryAfter));
  if (err.status === 401) res.setHeader('www-authenticate', 'Bearer realm="lienthong"');
  res.status(err.status).type('application/problem+json').send(JSON.stringify(body));
}

/** Error paths of other validators (`/params/x`, `/body/a/b`, `.query.x`) as our field names. */
export function fieldName(path: string | undefined): string {
  if (!path) return 'request';
  const parts = path.replace(/^[./]+/, '').split(/[./]/).filter(Boolean);
  const where = { params: 'path', headers: 'header', query: 'query', body: 'body' }[parts[0] ?? ''];
  return where ? [where, ...parts.slice(1)].join('.') : ['body', ...parts].join('.');
}

interface HttpLikeError {
  status?: number;
  statusCode?: number;
  type?: string;
  message?: string;
  errors?: { path?: string; message?: string }[];
  headers?: Record<string, string>;
  /** The text body-parser could not parse. */
  body?: unknown;
}

/** Whether a text is valid JSON (body-parser's strict mode refuses some that is). */
function isJson(text: unknown): boolean {
  if (typeof text !== 'string') return false;
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** Turns any error into a GatewayError; unknown ones become INTERNAL_ERROR (details to the log). */
export function toGatewayError(err: unknown): { error: GatewayError; unexpected: boolean } {
  if (isGatewayError(err)) return { error: err, unexpected: false };
  const e = (err ?? {}) as HttpLikeError;
  const status = e.status ?? e.statusCode;
  const fields = (): FieldProblem[] | undefined =>
    e.errors?.map((x) => ({ field: fieldName(x.path), message: x.message ?? 'is not valid' }));
  const of = (code: ErrorCode, detail?: string, extra: { errors?: FieldProblem[]; headers?: Record<string, string> } = {}) => ({
    error: new GatewayError(code, { detail, ...extra, cause: err }),
    unexpected: false,
  });
  // body-parser
  if (e.type === 'entity.too.large') return of('PAYLOAD_TOO_LARGE', 'the request body exceeds the size limit');
  if (e.type === 'entity.parse.failed') {
    // Strict parsing takes an object or an array only: `null`, `"x"` or `5` is JSON, but not a body.
    if (isJson(e.body)) return of('VALIDATION_FAILED', 'the body must be a JSON object', { errors: [{ field: 'body', message: 'must be a JSON object' }] });
    return of('VALIDATION_FAILED', 'the body is not valid JSON', { errors: [{ field: 'body', message: 'is not valid JSON' }] });
  }
  if (e.type === 'encoding.unsupported' || e.type === 'charset.unsupported') return of('UNSUPPORTED_MEDIA_TYPE', e.message);
  // Errors with an HTTP status from other middleware.
  if (status === 400) {
    const errors = fields();
    return of('VALIDATION_FAILED', errors?.map((x) => `${x.field} ${x.message}`).join('; ') ?? e.message, { errors });
  }
  if (status === 413) return of('PAYLOAD_TOO_LARGE', 'the request body exceeds the size limit');
  if (status === 415) return of('UNSUPPORTED_MEDIA_TYPE', 'send application/json', { errors: [{ field: 'header.content-type', message: 'must be application/json' }] });
  if (status === 404) return of('ROUTE_NOT_FOUND');
  if (status === 405) return of('METHOD_NOT_ALLOWED', undefined, e.headers?.Allow ? { headers: { allow: e.headers.Allow } } : {});
  return { error: new GatewayError('INTERNAL_ERROR', { cause: err }), unexpected: true };
}

/** The one error handler: everything leaves as problem+json, nothing internal leaks. */
export function problemHandler(): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const { error, unexpected } = toGatewayError(err);
    if (unexpected) req.log.error({ err }, 'unexpected error');
    else if (error.status >= 500) req.log.warn({ code: error.code, err: error.cause ?? error }, 'request failed');
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (req.socket.destroyed) return;
    sendProblem(res, error);
  };
}

/**
 * Answers what never reaches Express, because Node's HTTP parser refused it (a request line or
 * headers over the size limit, bytes that are not HTTP), with problem+json like every other
 * refusal, instead of Node's bare status line. Attach to the gateway's servers' `clientError`.
 */
export function clientErrorHandler(log: { info(obj: object, msg: string): void }) {
  return (err: Error & { code?: string }, socket: Duplex): void => {
    if (!socket.writable || (err.code !== undefined && ['ECONNRESET', 'EPIPE'].includes(err.code))) {
      socket.destroy();
      return;
    }
    const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
    const detail = tooLarge ? 'the request line and headers exceed the size limit' : 'the request is not valid HTTP';
    log.info({ code: err.code }, 'request refused by the HTTP parser');
    const body = JSON.stringify({
      type: problemType('VALIDATION_FAILED'),
      title: ERROR_CODES.VALIDATION_FAILED.title,
      status: 400,
      detail,
      code: 'VALIDATION_FAILED',
      errors: [{ field: tooLarge ? 'header' : 'request', message: detail }],
    });
    socket.end(
      `HTTP/1.1 400 Bad Request\r\ncontent-type: application/problem+json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  };
}
