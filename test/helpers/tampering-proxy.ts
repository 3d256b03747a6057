import http, { type IncomingHttpHeaders } from 'node:http';
import { listen, type Listening } from '../../src/http/listen.ts';

/** What the proxy saw of one exchange; `headers` are the answer's and may be changed in place. */
export interface TamperedExchange {
  method: string;
  /** Path and query, as the client asked. */
  path: string;
  requestHeaders: IncomingHttpHeaders;
  requestBody: string;
  status: number;
  headers: Record<string, string | string[]>;
}

/** Rewrites one answer's body (and, through `exchange.headers`, its headers). */
export type Tamper = (body: string, exchange: TamperedExchange) => string;

export interface TamperingProxy {
  url: string;
  /** Where requests go; may be set after the proxy listens (e.g. once a sandbox has started). */
  target: string;
  /** The rewrite applied to every answer; the identity when unset. */
  tamper: Tamper;
  /** Every exchange forwarded, oldest first, with the body as it was sent on. */
  readonly seen: (TamperedExchange & { body: string })[];
  close(): Promise<void>;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'upgrade', 'proxy-connection']);

function forward(target: string, method: string, path: string, headers: IncomingHttpHeaders, body: Buffer): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const forwarded = Object.fromEntries(Object.entries(headers).filter(([name]) => !HOP_BY_HOP.has(name)));
    // The Host header goes on as the client sent it: a transparent man in the middle, so that
    // signatures over the target URI still hold for the genuine answers.
    const req = http.request(new URL(path, target), { method, headers: { ...forwarded, 'content-length': String(body.length) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 502, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * A man in the middle on loopback: a real HTTP server that forwards every request to `target`
 * unchanged and hands each answer to `tamper` before sending it back, so tests can show what a
 * client does with answers rewritten on the wire.
 */
export async function startTamperingProxy(target = '', tamper: Tamper = (body) => body): Promise<TamperingProxy> {
  const proxy = {
    target,
    tamper,
    seen: [] as (TamperedExchange & { body: string })[],
  };
  const server: Listening = await listen(
    (req, res) => {
      void (async () => {
        const chunks: Buffer[] = [];
        for await (const chunk of req) chunks.push(chunk as Buffer);
        const requestBody = Buffer.concat(chunks);
        const method = req.method ?? 'GET';
        const path = req.url ?? '/';
        const upstream = await forward(proxy.target, method, path, req.headers, requestBody);
        const headers: Record<string, string | string[]> = {};
        for (const [name, value] of Object.entries(upstream.headers)) if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
        const exchange: TamperedExchange = { method, path, requestHeaders: req.headers, requestBody: requestBody.toString('utf8'), status: upstream.status, headers };
        const body = proxy.tamper(upstream.body.toString('utf8'), exchange);
        proxy.seen.push({ ...exchange, body });
        res.writeHead(exchange.status, { ...exchange.headers, 'content-length': String(Buffer.byteLength(body)) }).end(body);
      })().catch(() => {
        if (!res.headersSent) res.writeHead(502).end();
        else res.destroy();
      });
    },
    '127.0.0.1',
    0,
  );
  return Object.assign(proxy, { url: server.url, close: () => server.close() });
}
