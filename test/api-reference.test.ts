import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enterprises } from '../src/sandbox/personas.ts';
import { KEYS, startTestGateway, type TestGateway } from './helpers/gateway.ts';

interface Served {
  servers: { url: string }[];
}

async function servers(url: string, headers: Record<string, string> = {}): Promise<string[]> {
  const res = await fetch(`${url}/openapi.json`, { headers });
  expect(res.status).toBe(200);
  expect(res.headers.get('vary')).toMatch(/host/i);
  return ((await res.json()) as Served).servers.map((s) => s.url);
}

/** The document's servers for a request with this Host header (which fetch does not let one set). */
async function rawServers(url: string, host: string): Promise<string[]> {
  const text = await new Promise<string>((resolve, reject) => {
    const { hostname, port } = new URL(url);
    httpRequest({ hostname, port, path: '/openapi.json', headers: { host } }, (answer) => {
      let body = '';
      answer.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      answer.on('end', () => resolve(body));
    })
      .on('error', reject)
      .end();
  });
  return (JSON.parse(text) as Served).servers.map((s) => s.url);
}

/**
 * A reverse proxy as deployments put in front of the gateway: it publishes the gateway under
 * `/lienthong` on its own port and tells where with X-Forwarded-Host, -Proto and -Prefix.
 */
async function reverseProxy(target: string): Promise<{ url: string; server: Server }> {
  const upstream = new URL(target);
  const server = createServer((req, res) => {
    if (!req.url?.startsWith('/lienthong/')) {
      res.writeHead(404).end();
      return;
    }
    const forwarded = httpRequest(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url.slice('/lienthong'.length),
        headers: { ...req.headers, host: upstream.host, 'x-forwarded-host': req.headers.host ?? '', 'x-forwarded-proto': 'http', 'x-forwarded-prefix': '/lienthong' },
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forwarded.on('error', () => res.writeHead(502).end());
    req.pipe(forwarded);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

/** What the reference page loads, resolved as a browser does: from the page's address, then the script's. */
async function pageResources(pageUrl: string): Promise<{ assets: string[]; documentUrl: string }> {
  const page = await fetch(pageUrl);
  expect(page.status).toBe(200);
  const html = await page.text();
  const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => new URL(m[1]!, pageUrl).href);
  const init = assets.find((a) => a.endsWith('/init.js'));
  expect(init, 'the page loads init.js').toBeDefined();
  const script = await (await fetch(init!)).text();
  // init.js names the document relative to its own address (document.currentScript.src).
  const relative = /new URL\('([^']+)', document\.currentScript\.src\)/.exec(script);
  expect(relative, 'init.js names the document relative to itself').not.toBeNull();
  return { assets, documentUrl: new URL(relative![1]!, init).href };
}

/** "Try it out": the request swagger-ui sends, to the first server of the document it loaded. */
async function tryItOut(documentUrl: string): Promise<Response> {
  const document = (await (await fetch(documentUrl)).json()) as Served;
  // A relative server URL is resolved against the document's address (OpenAPI 3.1 §4.8.5).
  const base = new URL(document.servers[0]!.url, documentUrl).href.replace(/\/$/, '');
  return fetch(`${base}/v1/enterprises/${enterprises[0]!.enterpriseCode}`, { headers: { authorization: `Bearer ${KEYS.portal}` } });
}

describe('the API reference names the gateway it was fetched from', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway();
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('gives the port the gateway listens on, not the sandbox default', async () => {
    expect(new URL(gw.url).port).not.toBe('8080');
    expect(await servers(gw.url)).toEqual([gw.url]);
    // The same gateway reached by another name: the document follows the request.
    const port = new URL(gw.url).port;
    expect(await rawServers(gw.url, `localhost:${port}`)).toEqual([`http://localhost:${port}`]);
  });

  it('ignores X-Forwarded-* when no proxy is trusted, and a Host that is not a host', async () => {
    const forged = { 'x-forwarded-host': 'attacker.example', 'x-forwarded-proto': 'https', 'x-forwarded-prefix': '/elsewhere' };
    expect(await servers(gw.url, forged)).toEqual([gw.url]);
    expect(await rawServers(gw.url, 'a b"<c>')).toEqual(['/']);
  });

  it('lets "Try it out" on /docs reach this gateway, from /docs and /docs/', async () => {
    for (const page of [`${gw.url}/docs`, `${gw.url}/docs/`]) {
      const { assets, documentUrl } = await pageResources(page);
      for (const asset of assets) expect((await fetch(asset)).status, asset).toBe(200);
      expect(documentUrl).toBe(`${gw.url}/openapi.json`);
      const answer = await tryItOut(documentUrl);
      expect(answer.status).toBe(200);
      expect(((await answer.json()) as { enterpriseCode: string }).enterpriseCode).toBe(enterprises[0]!.enterpriseCode);
    }
  });
});

describe('behind a trusted reverse proxy', () => {
  let gw: TestGateway;
  let proxy: { url: string; server: Server };
  beforeAll(async () => {
    gw = await startTestGateway({ 'server.trustProxy': true });
    proxy = await reverseProxy(gw.url);
  });
  afterAll(async () => {
    proxy?.server.close();
    await gw?.close();
  });

  it('names the address and path the proxy publishes', async () => {
    expect(await servers(`${proxy.url}/lienthong`)).toEqual([`${proxy.url}/lienthong`]);
    expect(await servers(gw.url, { 'x-forwarded-host': 'gateway.sonla.gov.vn', 'x-forwarded-proto': 'https', 'x-forwarded-prefix': '/lienthong' })).toEqual([
      'https://gateway.sonla.gov.vn/lienthong',
    ]);
    // A prefix that is not a plain path is left out rather than repeated into the document.
    expect(await servers(gw.url, { 'x-forwarded-host': 'gateway.sonla.gov.vn', 'x-forwarded-proto': 'https', 'x-forwarded-prefix': '/../x"' })).toEqual([
      'https://gateway.sonla.gov.vn',
    ]);
  });

  it('takes only http or https from X-Forwarded-Proto, else names no address', async () => {
    for (const proto of ['http://evil.com/#', 'javascript', 'ftp', 'https:']) {
      expect(await servers(gw.url, { 'x-forwarded-host': 'gateway.sonla.gov.vn', 'x-forwarded-proto': proto }), proto).toEqual(['/']);
    }
    expect(await servers(gw.url, { 'x-forwarded-host': 'gateway.sonla.gov.vn', 'x-forwarded-proto': 'http' })).toEqual(['http://gateway.sonla.gov.vn']);
  });

  it('lets "Try it out" through the proxy reach the gateway', async () => {
    const { assets, documentUrl } = await pageResources(`${proxy.url}/lienthong/docs`);
    for (const asset of assets) {
      expect(asset.startsWith(`${proxy.url}/lienthong/docs/`), asset).toBe(true);
      expect((await fetch(asset)).status, asset).toBe(200);
    }
    expect(documentUrl).toBe(`${proxy.url}/lienthong/openapi.json`);
    const answer = await tryItOut(documentUrl);
    expect(answer.status).toBe(200);
    expect(((await answer.json()) as { enterpriseCode: string }).enterpriseCode).toBe(enterprises[0]!.enterpriseCode);
  });
});
