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

/** Masks numbers shaped like personal ID (12 digits) or old card numbers (9 digits). */
export function maskIdentifiers(text: string): string {
  return text.replace(/(?<!\d)(\d{12}|\d{9})(?!\d)/g, (m) => m.slice(0, 3) + '*'.repeat(m.length - 5) + m.slice(-2));
}

export function createLogger(options: { level: string }, destination?: DestinationStream): Logger {
  return pino(
    {
      level: options.level,
      base: { service: 'lienthong' },
      redact: { paths: redactPaths, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}
