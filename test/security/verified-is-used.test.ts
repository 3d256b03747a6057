import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enterprises, insured, people, procedures, taxpayers, UNKNOWN } from '../../src/sandbox/personas.ts';
import { KEYS, auditEntry, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { startTamperingProxy, type Tamper, type TamperingProxy } from '../helpers/tampering-proxy.ts';
import { ACCOUNTABLE } from '../helpers/upstream-calls.ts';

/**
 * "What was verified is what is used": a man in the middle between the gateway and each national
 * system rewrites genuine, correctly signed answers so that a reader other than the verifier would
 * see something else. Every such answer is refused (502), nothing forged reaches the caller, no
 * attestation is signed, and the exchange log records the refusal.
 */

const PROXIED = ['population', 'tax', 'business-registry', 'dvcqg', 'social-insurance'] as const;
type Proxied = (typeof PROXIED)[number];

let gw: TestGateway;
const proxies = {} as Record<Proxied, TamperingProxy>;

beforeAll(async () => {
  const overrides: Record<string, unknown> = { 'catalogue.ttlSeconds': 0, 'catalogue.maxStaleSeconds': 0, 'audit.integrateIntervalMs': 50 };
  for (const id of PROXIED) {
    proxies[id] = await startTamperingProxy();
    overrides[`upstreams.${id}.url`] = proxies[id].url;
    // Every call must reach the proxy: the breaker has its own tests.
    overrides[`upstreams.${id}.breaker.volumeThreshold`] = 100_000;
  }
  // The population database signs its answers only when reached directly.
  overrides['upstreams.population.transport.mode'] = 'direct';
  overrides['upstreams.population.messageSecurity'] = 'ws-security';
  // The national portal signs nothing by default (as the real one); these checks are of the RFC 9421 profile.
  overrides['upstreams.dvcqg.messageSecurity'] = 'rfc9421';
  // The other systems are missing, so the gateway starts its sandbox; the proxies lead to it.
  gw = await startTestGateway(overrides);
  for (const id of PROXIED) proxies[id].target = gw.gateway.sandbox!.urls[id]!;
});
afterAll(async () => {
  await gw?.close();
  for (const proxy of Object.values(proxies)) await proxy.close();
});


/** Calls through the gateway with `tamper` on the system's proxy, then checks the refusal. */
async function refusedThrough(system: Proxied, tamper: Tamper, call: () => Promise<Response>, codes: string[], forged: RegExp) {
  let tampered = 0;
  proxies[system].tamper = (body, exchange) => {
    const changed = tamper(body, exchange);
    if (changed !== body) tampered++;
    return changed;
  };
  let res: Response;
  let text: string;
  try {
    res = await call();
    text = await res.text();
  } finally {
    proxies[system].tamper = (body) => body;
  }
  expect(tampered, 'the proxy rewrote an answer').toBeGreaterThan(0);
  expect(res.status, text).toBe(502);
  expect(res.headers.get('content-type')).toContain('application/problem+json');
  const problem = JSON.parse(text) as { code: string; attestation?: unknown };
  expect(codes).toContain(problem.code);
  expect(problem.attestation).toBeUndefined();
  expect(text).not.toMatch(forged);
  const entry = await auditEntry(gw, res.headers.get('x-exchange-id')!, system);
  expect(entry).toMatchObject({ status: 502, outcome: 'refused' });
  expect(entry.upstreamCalls?.some((c) => c.upstream === system && c.code === problem.code)).toBe(true);
  return problem;
}

describe('population: an envelope smuggled beside the signed one', () => {
  const verifyUnknown = () =>
    gw.fetch('/v1/citizens/verify', {
      method: 'POST',
      key: KEYS.agency,
      headers: ACCOUNTABLE,
      body: JSON.stringify({ idNumber: UNKNOWN.idNumber, fullName: 'Mạo Danh Giả', dateOfBirth: '1989-01-01' }),
    });

  /** The answer the attacker wants read: this very request's MaYeuCau, TonTai true. */
  const forgedEnvelope = (genuine: string) => {
    const maYeuCau = /<MaYeuCau>([^<]+)<\/MaYeuCau>/.exec(genuine)?.[1] ?? '';
    return (
      '<f:Envelope xmlns:f="http://schemas.xmlsoap.org/soap/envelope/"><f:Body>' +
      `<XacThucThongTinCongDanResponse xmlns="http://www.mic.gov.vn/dancu/1.0"><MaYeuCau>${maYeuCau}</MaYeuCau>` +
      '<MaKetQua>00</MaKetQua><MoTa>Mạo Danh</MoTa><TonTai>true</TonTai></XacThucThongTinCongDanResponse></f:Body></f:Envelope>'
    );
  };
  const afterDeclaration = (body: string, inserted: string) => body.replace(/^(<\?xml[^>]*\?>)?/, (declaration) => declaration + inserted);
  const onlyPosts =
    (rewrite: (body: string) => string): Tamper =>
    (body, exchange) =>
      exchange.method === 'POST' ? rewrite(body) : body;

  const VARIANTS: [string, Tamper][] = [
    ['in a second comment', onlyPosts((body) => afterDeclaration(body, `<!--x--><!--${forgedEnvelope(body)}-->`))],
    // The "?" keeps soap's optional leading-PI group from swallowing the instruction whole.
    ['in a processing instruction', onlyPosts((body) => afterDeclaration(body, `<?x ?${forgedEnvelope(body)}?>`))],
  ];

  it('answers the genuine "not found" when nothing is rewritten', async () => {
    const res = await verifyUnknown();
    const body = (await res.json()) as { result: string; attestation?: string };
    expect(res.status).toBe(200);
    expect(body.result).toBe('not_found');
    expect(body.attestation).toBeTruthy();
  });

  it.each(VARIANTS)('refuses the answer with a forged envelope %s, and signs no attestation', async (_name, tamper) => {
    const problem = await refusedThrough('population', tamper, verifyUnknown, ['UPSTREAM_SIGNATURE_INVALID', 'UPSTREAM_BAD_RESPONSE'], /Mạo Danh|match/);
    expect(problem.code).toBe('UPSTREAM_SIGNATURE_INVALID');
  });

  it('refuses a lookup answer with a citizen record smuggled in a comment', async () => {
    const person = people.find((p) => !p.dateOfDeath)!;
    const lookup = () => gw.fetch('/v1/citizens/lookup', { method: 'POST', key: KEYS.agency, headers: ACCOUNTABLE, body: JSON.stringify({ idNumber: person.idNumber }) });
    // The genuine record with another name: the fields soap would have read.
    const tamper = onlyPosts((body) => {
      const envelope = /<soap:Envelope[\s\S]*<\/soap:Envelope>/.exec(body)![0].replace(/<Ten>[^<]*<\/Ten>/, '<Ten>Mạo Danh</Ten>').replaceAll('soap:', 'f:').replace('xmlns:soap=', 'xmlns:f=');
      return afterDeclaration(body, `<!--x--><!--${envelope}-->`);
    });
    await refusedThrough('population', tamper, lookup, ['UPSTREAM_SIGNATURE_INVALID'], /Mạo Danh/);
  });
});

const FORGED = /Mạo Danh/;
const REFUSED = ['UPSTREAM_SIGNATURE_INVALID', 'UPSTREAM_BAD_RESPONSE'];
const unchanged: Tamper = (body) => body;

describe('tax: content outside the signed document', () => {
  const call = () => gw.fetch(`/v1/taxpayers/${taxpayers[0]!.taxCode}`, { headers: ACCOUNTABLE });
  const forgedRoot = (xml: string) => /<KetQuaTraCuu[\s\S]*<\/KetQuaTraCuu>/.exec(xml)![0].replace(/<TenNNT>[^<]*</, '<TenNNT>Mạo Danh<');
  const afterDeclaration = (body: string, inserted: string) => body.replace(/^(<\?xml[^>]*\?>)?/, (declaration) => declaration + inserted);

  it('reads the genuine answer when nothing is rewritten', async () => {
    proxies.tax.tamper = unchanged;
    expect((await call()).status).toBe(200);
  });

  it.each<[string, Tamper]>([
    ['a forged document in a comment before the root', (xml) => afterDeclaration(xml, `<!--x--><!--${forgedRoot(xml)}-->`)],
    ['a forged document in a processing instruction', (xml) => afterDeclaration(xml, `<?x ?${forgedRoot(xml)}?>`)],
    ['a comment after the root', (xml) => `${xml}<!--${forgedRoot(xml)}-->`],
    ['a second document after the signed one', (xml) => `${xml}${forgedRoot(xml)}`],
    ['a forged document before the signed one', (xml) => afterDeclaration(xml, forgedRoot(xml))],
  ])('refuses an answer with %s', async (_name, tamper) => {
    await refusedThrough('tax', (body, exchange) => (exchange.method === 'POST' ? tamper(body, exchange) : body), call, REFUSED, FORGED);
  });
});

/** RFC 9421 systems: the JSON read must be exactly the bytes the signed Content-Digest covers. */
const JSON_TAMPERING: [string, Tamper][] = [
  ['content appended', (body) => `${body}{"TenDoanhNghiep":"Mạo Danh"}`],
  ['content prepended', (body) => `{"TenDoanhNghiep":"Mạo Danh"}${body}`],
  ['a duplicate key the parser keeps', (body) => body.replace(/}\s*$/, ',"MaLoi":"00","TenDoanhNghiep":"Mạo Danh"}')],
  ['a second JSON document', (body) => `${body}\n${body.replace(/"[^"]*"\s*}\s*$/, '"Mạo Danh"}')}`],
  [
    'content appended and a Content-Digest recomputed for it',
    (body, exchange) => {
      const forged = body.replace(/}\s*$/, ',"TenDoanhNghiep":"Mạo Danh"}');
      exchange.headers['content-digest'] = `sha-256=:${createHash('sha256').update(forged).digest('base64')}:`;
      return forged;
    },
  ],
];

describe('business registry: the JSON read is the JSON digested', () => {
  const call = () => gw.fetch(`/v1/enterprises/${enterprises[0]!.enterpriseCode}`);

  it('reads the genuine answer when nothing is rewritten', async () => {
    proxies['business-registry'].tamper = unchanged;
    expect((await call()).status).toBe(200);
  });

  it.each(JSON_TAMPERING)('refuses an answer with %s', async (_name, tamper) => {
    const problem = await refusedThrough('business-registry', tamper, call, REFUSED, FORGED);
    expect(problem.code).toBe('UPSTREAM_SIGNATURE_INVALID');
  });
});

describe('national portal: the JSON read is the JSON digested', () => {
  const call = () => gw.fetch(`/v1/procedures/${procedures[0]!.code}`);
  // The session login answer is signed too; the service answers are what carry data.
  const onService =
    (tamper: Tamper): Tamper =>
    (body, exchange) =>
      exchange.requestBody.includes('"service"') ? tamper(body, exchange) : body;

  it('reads the genuine answer when nothing is rewritten', async () => {
    proxies.dvcqg.tamper = unchanged;
    expect((await call()).status).toBe(200);
  });

  it.each(JSON_TAMPERING)('refuses an answer with %s', async (_name, tamper) => {
    const problem = await refusedThrough('dvcqg', onService(tamper), call, REFUSED, FORGED);
    expect(problem.code).toBe('UPSTREAM_SIGNATURE_INVALID');
  });
});

describe('social insurance: the payload read is the payload jose verified', () => {
  const call = () => gw.fetch('/v1/social-insurance/lookup', { method: 'POST', headers: ACCOUNTABLE, body: JSON.stringify({ insuranceCode: insured[0]!.insuranceCode }) });
  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  /** The genuine payload with the insured person's name changed, re-encoded. */
  const forgedPayload = (token: string) => {
    const payload = JSON.parse(Buffer.from(token.trim().split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
    return b64(JSON.parse(JSON.stringify(payload).replace(/("hoTen"\s*:\s*")[^"]*/, '$1Mạo Danh')));
  };
  const header = (token: string) => token.trim().split('.')[0]!;

  it('reads the genuine answer when nothing is rewritten', async () => {
    proxies['social-insurance'].tamper = unchanged;
    expect((await call()).status).toBe(200);
  });

  it.each<[string, Tamper]>([
    ['a forged payload under the genuine signature', (token) => { const [h, , sig] = token.trim().split('.'); return `${h}.${forgedPayload(token)}.${sig}`; }],
    ['an unsigned forged token before the genuine one', (token) => `${header(token)}.${forgedPayload(token)}.\n${token}`],
    ['an unsigned forged token after the genuine one', (token) => `${token.trim()}\n${header(token)}.${forgedPayload(token)}.`],
    ['a forged payload appended as a fourth part', (token) => `${token.trim()}.${forgedPayload(token)}`],
    ['a JSON document beside the token', (token) => `${token.trim()}\n{"hoTen":"Mạo Danh"}`],
  ])('refuses an answer with %s', async (_name, tamper) => {
    await refusedThrough('social-insurance', tamper, call, REFUSED, FORGED);
  });
});
