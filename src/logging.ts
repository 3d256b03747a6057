import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

/**
 * Keys whose values never reach a log line, at any depth we log: credentials and personal data.
 * Request and response bodies and headers are not logged at all (see http/logging.ts); this is
 * the second line of defence for objects passed to the logger by hand.
 */
const SENSITIVE_KEYS = [
  'authorization',
  'cookie',
  'set-cookie',
  'x-user-id',
  'apiKey',
  'key',
  'token',
  'accessToken',
  'idToken',
  'password',
  'secret',
  'idNumber',
  'oldIdNumber',
  'fullName',
  'name',
  'dateOfBirth',
  'insuranceCode',
  'SoDinhDanh',
  'SoCMND',
  'HoVaTen',
  'HoTen',
  'NgayThangNamSinh',
];

const redactPaths = SENSITIVE_KEYS.flatMap((k) => {
  const key = /^[A-Za-z_$][\w$]*$/.test(k) ? k : `["${k}"]`;
  const dot = key.startsWith('[') ? '' : '.';
  return [key, `*${dot}${key}`, `*.*${dot}${key}`];
});

/**
 * Masks every run of nine or more digits, keeping its first three and last two: that covers each
 * identifier form of DOMAIN.md wherever it sits in a path, a query or a message: personal ID
 * numbers and personal tax codes (12), old ID cards (9), tax, enterprise and social-insurance
 * codes (10), a branch's tax code (its 10 digits; the `-NNN` suffix alone identifies no one) and
 * the digits of a health-insurance card number. A run glued to other digits (`%20` before a
 * number in a URL) is masked too, rather than guessed at by length.
 */
export function maskIdentifiers(text: string): string {
  return text.replace(/\d{9,}/g, (m) => m.slice(0, 3) + '*'.repeat(m.length - 5) + m.slice(-2));
}

/** A request path for logs and answers: percent-decoded where it decodes (digits may come as %30…), identifiers masked. */
export function maskedPath(path: string): string {
  let decoded = path;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    // Not valid percent-encoding: as sent.
  }
  return maskIdentifiers(decoded);
}

/** Log fields that hold a URL or a path; an identifier in them is masked, whoever logs it. */
const URL_FIELDS = ['path', 'url', 'href', 'route'];

function maskUrlFields(object: Record<string, unknown>): Record<string, unknown> {
  let out = object;
  for (const field of URL_FIELDS) {
    const value = object[field];
    if (typeof value === 'string' && /\d{9}/.test(value)) {
      if (out === object) out = { ...object };
      out[field] = maskIdentifiers(value);
    }
  }
  return out;
}

/** Error fields kept in a log line; anything else an error carries (an HTTP client's request config, body, socket) is dropped. */
const ERROR_FIELDS = ['code', 'status', 'statusCode', 'detail', 'reason', 'upstreamFailure'] as const;

/**
 * How errors are logged: type, message, stack, a few well-known fields and the cause chain, with
 * identifier-shaped numbers masked. Never the whole object: an HTTP client's error carries the
 * request it sent (personal data) and its sockets.
 */
export function serializeError(err: unknown, depth = 0): unknown {
  if (!(err instanceof Error)) return typeof err === 'string' ? maskIdentifiers(err) : err;
  const out: Record<string, unknown> = { type: err.constructor?.name ?? 'Error', message: maskIdentifiers(err.message) };
  if (err.stack) out.stack = maskIdentifiers(err.stack);
  const fields = err as unknown as Record<string, unknown>;
  for (const field of ERROR_FIELDS) {
    const value = fields[field];
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') out[field] = typeof value === 'string' ? maskIdentifiers(value) : value;
  }
  if (err.cause !== undefined && depth < 5) out.cause = serializeError(err.cause, depth + 1);
  return out;
}

export function createLogger(options: { level: string }, destination?: DestinationStream): Logger {
  return pino(
    {
      level: options.level,
      base: { service: 'lienthong' },
      redact: { paths: redactPaths, censor: '[redacted]' },
      serializers: { err: serializeError },
      formatters: { log: maskUrlFields },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}

const LEVELS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal']);
const ignore = () => undefined;

/**
 * A logger that makes itself (`make`, usually a child with bindings) only when a line is written
 * at a level `levels` has enabled, or anything else is asked of it: most requests log nothing,
 * and a pino child per request and per call costs every one of them.
 */
export function deferredLogger(levels: Pick<Logger, 'isLevelEnabled'>, make: () => Logger): Logger {
  let made: Logger | undefined;
  const real = () => (made ??= make());
  return new Proxy({} as Logger, {
    get(_target, property) {
      if (typeof property === 'string' && LEVELS.has(property) && !levels.isLevelEnabled(property)) return ignore;
      if (property === 'isLevelEnabled') return (level: string) => levels.isLevelEnabled(level);
      const logger = real();
      const value = Reflect.get(logger, property, logger) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(logger) : value;
    },
  });
}
