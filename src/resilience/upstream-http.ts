import { Agent, errors as undiciErrors, request, type Dispatcher } from 'undici';
import type { CallContext, Health } from '../core/ports.ts';
import { GatewayError } from '../errors/gateway-error.ts';

export interface UpstreamResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export interface UpstreamRequest {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Path and query, appended to the upstream's base URL. */
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  signal: AbortSignal;
}

/** Moves bytes to one national system over a pooled keep-alive connection. */
export interface UpstreamHttp {
  readonly baseUrl: string;
  send(req: UpstreamRequest): Promise<UpstreamResponse>;
  close(): Promise<void>;
}

export interface UpstreamHttpOptions {
  baseUrl: string;
  /** Larger answers are refused as bad responses, so a hostile upstream cannot exhaust memory. */
  maxResponseBytes: number;
  connections?: number;
  /** Inject a dispatcher (tests); by default each upstream gets its own pool. */
  dispatcher?: Dispatcher;
}

const TRANSPORT_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_CLOSED',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

function transportCode(err: unknown): string | undefined {
  let e: unknown = err;
  for (let depth = 0; e && depth < 4; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && TRANSPORT_CODES.has(code)) return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

export function createUpstreamHttp(options: UpstreamHttpOptions): UpstreamHttp {
  const base = options.baseUrl.replace(/\/+$/, '');
  const owned = options.dispatcher ? undefined : new Agent({ connections: options.connections ?? 64, keepAliveTimeout: 10_000 });
  const dispatcher = options.dispatcher ?? owned!;

  async function send(req: UpstreamRequest): Promise<UpstreamResponse> {
    let response: Dispatcher.ResponseData;
    try {
      response = await request(base + req.path, {
        method: req.method,
        headers: req.headers,
        body: req.body,
        signal: req.signal,
        dispatcher,
      });
    } catch (err) {
      const code = transportCode(err);
      if (code) {
        throw new GatewayError('UPSTREAM_UNAVAILABLE', { detail: 'the national system could not be reached', upstreamFailure: true, cause: err });
      }
      throw err;
    }
    const declared = Number(response.headers['content-length']);
    if (Number.isFinite(declared) && declared > options.maxResponseBytes) {
      // Nobody reads this body: without a listener, the abort that destroying it emits is uncaught.
      response.body.on('error', () => {}).destroy();
      throw tooLarge();
    }
    // Read with 'data' events rather than an async iterator: the same bytes for less work per call.
    const body = await new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const stream = response.body;
      stream.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > options.maxResponseBytes) {
          reject(tooLarge());
          stream.on('error', () => {}).destroy();
          return;
        }
        chunks.push(chunk);
      });
      stream.once('end', () => resolve(Buffer.concat(chunks, size)));
      // Closed without its end nor an error (destroyed under us): the answer is cut short.
      stream.once('close', () => {
        if (!stream.readableEnded) reject(new GatewayError('UPSTREAM_UNAVAILABLE', { detail: 'the connection closed before the answer ended', upstreamFailure: true }));
      });
      stream.once('error', (err) => {
        if (transportCode(err) || err instanceof undiciErrors.UndiciError) {
          reject(new GatewayError('UPSTREAM_UNAVAILABLE', { detail: 'the connection broke while reading the answer', upstreamFailure: true, cause: err }));
        } else reject(err);
      });
    });
    return { status: response.statusCode, headers: response.headers, body };
  }

  function tooLarge() {
    return new GatewayError('UPSTREAM_BAD_RESPONSE', {
      detail: `the answer exceeds ${options.maxResponseBytes} bytes`,
      upstreamFailure: true,
    });
  }

  return {
    baseUrl: base,
    send,
    close: async () => {
      if (owned) await owned.close();
    },
  };
}

/** How long a health probe may take before the system counts as down. */
const HEALTH_TIMEOUT_MS = 2000;

/**
 * Probes a system's status path with a GET: up on HTTP 200, down on any other status, on any
 * failure, after 2 s, or when the caller gives up. Never throws.
 */
export async function probeHealth(http: UpstreamHttp, ctx: CallContext, path: string, headers?: Record<string, string>): Promise<Health> {
  const started = performance.now();
  const latencyMs = () => Math.round(performance.now() - started);
  try {
    const response = await http.send({ method: 'GET', path, headers, signal: AbortSignal.any([ctx.signal, AbortSignal.timeout(HEALTH_TIMEOUT_MS)]) });
    return response.status === 200 ? { status: 'up', latencyMs: latencyMs() } : { status: 'down', latencyMs: latencyMs(), detail: `HTTP ${response.status}` };
  } catch (err) {
    return { status: 'down', latencyMs: latencyMs(), detail: (err as Error).message };
  }
}
