// @ts-check
/**
 * Calls to the gateway's own /v1 API with the console session's cookie. The CSRF token is held in
 * this module's memory only (never in any browser storage) and re-read from getConsoleSession
 * after a reload. URLs are relative to this file, so the console works under a reverse-proxy prefix.
 */

/**
 * @typedef {{ client: string, agency: string, roles: string[], userId: string, purposes: string[],
 *   expiresAt: string, idleExpiresAt: string, csrfToken: string }} ConsoleSession
 * @typedef {{ status: number, title?: string, detail?: string, code?: string,
 *   errors?: { field: string, message: string }[] }} Problem
 */

/** The gateway's root: this file is served at <root>/console/assets/api.js. */
export const ROOT = new URL('../../', import.meta.url);

/** @type {string | null} */
let csrfToken = null;

/** @type {(() => void) | null} */
let onSessionEnded = null;

/** The server's clock minus this browser's, from the Date header of the last answer (session expiry is in server time). */
let skewMs = 0;

/** Now, on the server's clock. */
export function serverNow() {
  return Date.now() + skewMs;
}

/** @param {() => void} handler called when a call finds the session ended (401) */
export function whenSessionEnds(handler) {
  onSessionEnded = handler;
}

/** The gateway could not be reached at all (no answer): not the same as an answer saying no. */
export class NetworkError extends Error {
  /** @param {unknown} cause */
  constructor(cause) {
    super('network', { cause });
    this.name = 'NetworkError';
  }
}

export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {Problem | null} problem
   */
  constructor(status, problem) {
    const fields = problem?.errors?.map((e) => `${e.field}: ${e.message}`).join('; ');
    super([problem?.detail ?? problem?.title ?? `HTTP ${status}`, fields].filter(Boolean).join(' — '));
    this.status = status;
    this.problem = problem;
  }
}

/**
 * A URL of the API, with its query (empty values left out).
 * @param {string} path without a leading slash, e.g. 'v1/audit/checkpoint'
 * @param {Record<string, string | number | boolean | null | undefined>} [query]
 */
export function apiUrl(path, query = {}) {
  const url = new URL(path, ROOT);
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') url.searchParams.set(k, String(v));
  return url;
}

/**
 * Calls the API; parses JSON answers. Throws ApiError for answers outside 2xx.
 * @param {string} path
 * @param {{ method?: string, query?: Record<string, string | number | boolean | null | undefined>,
 *   headers?: Record<string, string>, body?: unknown, sessionCall?: boolean, signal?: AbortSignal,
 *   raw?: boolean }} [options] raw: a success is returned as the Response itself (a file), unread
 * @returns {Promise<any>}
 */
export async function api(path, options = {}) {
  const method = options.method ?? 'GET';
  const headers = new Headers(options.headers);
  if (!headers.has('accept')) headers.set('accept', 'application/json');
  if (method !== 'GET' && method !== 'HEAD' && csrfToken) headers.set('x-csrf-token', csrfToken);
  /** @type {RequestInit} */
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store', signal: options.signal };
  if (options.body !== undefined) {
    headers.set('content-type', 'application/json');
    init.body = JSON.stringify(options.body);
  }
  // The server moves the session's idle expiry on every answer it gives; the shell's own clock follows.
  /** @type {Response} */
  let response;
  try {
    response = await fetch(apiUrl(path, options.query), init);
  } catch (e) {
    // An abort is the page's own doing (it was left); anything else is no answer at all.
    if (e instanceof Error && e.name === 'AbortError') throw e;
    throw new NetworkError(e);
  }
  const date = Date.parse(response.headers.get('date') ?? '');
  // Whole seconds: the half second added centres the error.
  if (!Number.isNaN(date)) skewMs = date + 500 - Date.now();
  const type = response.headers.get('content-type') ?? '';
  const json = type.includes('json');
  /** @type {any} */
  let data = null;
  let parsed = false;
  if (json && !(options.raw && response.ok)) {
    try {
      data = await response.json();
      parsed = true;
    } catch {
      // Left null: for an error answer its status still says enough; a success is refused below.
    }
  }
  if (!response.ok) {
    if (response.status === 401 && !options.sessionCall) {
      csrfToken = null;
      onSessionEnded?.();
    }
    throw new ApiError(response.status, data);
  }
  globalThis.dispatchEvent?.(new Event('lienthong:api-used'));
  if (options.raw) return response;
  // A success the console cannot read (a proxy's HTML page, a cut-off body) is an error, never "nothing".
  if (response.status !== 204 && !parsed) throw new ApiError(response.status, { status: response.status, detail: `HTTP ${response.status}: ${json ? 'unreadable JSON' : `not JSON (${type || 'no content type'})`}` });
  return data;
}

/**
 * Signs in: the key goes to the gateway once, in this request's body, and nowhere else.
 * @param {string} apiKey
 * @param {string} userId
 * @returns {Promise<ConsoleSession>}
 */
export async function signIn(apiKey, userId) {
  const session = await api('v1/console/sessions', { method: 'POST', body: { apiKey, userId }, sessionCall: true });
  csrfToken = session.csrfToken;
  return session;
}

/**
 * The session this browser's cookie names, or null when there is none.
 * @returns {Promise<ConsoleSession | null>}
 */
export async function currentSession() {
  try {
    const session = await api('v1/console/sessions/current', { sessionCall: true });
    csrfToken = session.csrfToken;
    return session;
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return null;
    throw e;
  }
}

/**
 * Ends the session. Only an answer ends it here: 2xx, or 401 (already ended on the server). With no
 * answer, or any other one, the session may still be alive, so it is kept and the error thrown.
 */
export async function signOut() {
  try {
    await api('v1/console/sessions/current', { method: 'DELETE', sessionCall: true });
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 401)) throw e;
  }
  csrfToken = null;
}
