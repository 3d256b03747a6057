import { HttpClient } from 'soap';
import { fromTransport, type RawAnswer } from './errors.ts';

/**
 * Sees every answer's raw text before `soap` parses it, and may refuse it by throwing (a
 * GatewayError). This is where WS-Security verification of answers plugs in.
 */
export type AnswerInspector = (answer: RawAnswer) => void;

/**
 * Per-call state handed through the method options under a symbol key: `soap` copies option
 * keys into the axios config with `for...in`, which skips symbols, so axios never sees it.
 */
export const CALL_STATE = Symbol('population.callState');
export interface CallState {
  status?: number;
}

const RAW_BODY = Symbol('population.rawBody');

type Request = HttpClient['request'];
type HandleResponse = HttpClient['handleResponse'];

/**
 * `soap`'s HTTP client with our rules around it: transport failures become our errors, every
 * answer (service description or operation) is inspected before parsing, and the HTTP status
 * is recorded for the caller (`soap` disables axios's status check, so a fault with HTTP 500
 * arrives as a success).
 */
export class GuardedHttpClient extends HttpClient {
  readonly #inspect: AnswerInspector;
  readonly #retryAfterSeconds: number;

  constructor(inspect: AnswerInspector, retryAfterSeconds: number) {
    super();
    this.#inspect = inspect;
    this.#retryAfterSeconds = retryAfterSeconds;
  }

  // `soap` trims text around the envelope and drops a comment before calling back; a signature
  // check needs the bytes as they came, so they are kept aside on the response.
  override handleResponse(...[req, res, body]: Parameters<HandleResponse>): ReturnType<HandleResponse> {
    if (res && typeof body === 'string') (res as unknown as Record<symbol, string>)[RAW_BODY] = body;
    return super.handleResponse(req, res, body);
  }

  override request(...[rurl, data, callback, exheaders, exoptions]: Parameters<Request>): ReturnType<Request> {
    const state = (exoptions as Record<symbol, unknown> | undefined)?.[CALL_STATE] as CallState | undefined;
    return super.request(
      rurl,
      data,
      (err, res, body) => {
        if (err) return callback(fromTransport(err, this.#retryAfterSeconds));
        try {
          const raw = (res as Record<symbol, unknown>)[RAW_BODY];
          const headers = (res as { headers?: Record<string, unknown> }).headers ?? {};
          const status = Number((res as { status?: unknown }).status);
          if (state) state.status = status;
          this.#inspect({
            kind: data ? 'soap' : 'wsdl',
            url: rurl,
            status,
            contentType: String(headers['content-type'] ?? ''),
            body: typeof raw === 'string' ? raw : typeof body === 'string' ? body : '',
          });
        } catch (inspectError) {
          return callback(inspectError);
        }
        return callback(null, res, body);
      },
      exheaders,
      exoptions,
    );
  }
}
