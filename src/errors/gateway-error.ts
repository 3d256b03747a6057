import { ERROR_CODES, type ErrorCode } from './codes.ts';

/** One field-level problem, named as `path.x`, `query.x`, `header.x` or `body.x.y`. */
export interface FieldProblem {
  field: string;
  message: string;
}

export interface GatewayErrorOptions {
  detail?: string;
  errors?: FieldProblem[];
  /** Seconds, sent as Retry-After (429, 503). */
  retryAfter?: number;
  /** Extra problem members (RFC 9457 extensions), e.g. `allowed` on INVALID_TRANSITION. */
  extensions?: Record<string, unknown>;
  /** Response headers to add, e.g. `Allow` on 405. */
  headers?: Record<string, string>;
  /** Whether an upstream fault of this kind counts against the upstream's circuit breaker. */
  upstreamFailure?: boolean;
  /**
   * The upstream refused the request as such (e.g. an invalid item): sent again unchanged, it is
   * refused again. Internal: never rendered in a problem body.
   */
  permanent?: boolean;
  /** What the upstream said of its refusal, for operators (e.g. an outbox job's last error); never rendered in a problem body. */
  upstreamReason?: string;
  cause?: unknown;
}

/** The only error type the gateway answers with; everything else becomes INTERNAL_ERROR. */
export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly detail: string | undefined;
  readonly errors: FieldProblem[] | undefined;
  readonly retryAfter: number | undefined;
  readonly extensions: Record<string, unknown> | undefined;
  readonly headers: Record<string, string> | undefined;
  readonly upstreamFailure: boolean;
  readonly permanent: boolean;
  readonly upstreamReason: string | undefined;

  constructor(code: ErrorCode, options: GatewayErrorOptions = {}) {
    super(options.detail ?? ERROR_CODES[code].title, { cause: options.cause });
    this.name = 'GatewayError';
    this.code = code;
    this.status = ERROR_CODES[code].status;
    this.detail = options.detail;
    this.errors = options.errors;
    this.retryAfter = options.retryAfter;
    this.extensions = options.extensions;
    this.headers = options.headers;
    this.upstreamFailure = options.upstreamFailure ?? false;
    this.permanent = options.permanent ?? false;
    this.upstreamReason = options.upstreamReason;
  }
}

export function isGatewayError(err: unknown): err is GatewayError {
  return err instanceof GatewayError;
}
