import type { IncomingMessage } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors/gateway-error.ts';
import { listen, type Listening } from '../../src/http/listen.ts';
import { createLogger } from '../../src/logging.ts';
import { createMetrics } from '../../src/metrics.ts';
import { createPolicy, type UpstreamPolicy } from '../../src/resilience/policy.ts';
import { createUpstreamHttp, type UpstreamHttp } from '../../src/resilience/upstream-http.ts';
import { FaultBoard } from '../../src/sandbox/faults.ts';
import { taxpayers } from '../../src/sandbox/personas.ts';
import { sample } from '../../src/signing/material.ts';
import { loadPemCredentials } from '../../src/signing/trust-store.ts';
import { signEnveloped, verifyEnveloped } from '../../src/signing/xml-signature.ts';
import { MESSAGE_FAULTS, failure, fixtureReader, simulatorDeps, testContext, testSigning } from '../contract/test-kit.ts';
import { createTaxClient, HEALTH_PATH, LOOKUP_PATH, type AnswerVerifier, type TaxClient } from './client.ts';
import type { WireLookup } from './inferred.ts';
import { parseXml } from './safe-xml.ts';
import { taxMessageSecurity } from './security.ts';
import { answerXml, createTaxSimulator, toWire } from './simulator/server.ts';

const fixture = fixtureReader(import.meta.url);
const log = createLogger({ level: 'silent' });
const signing = testSigning('tax');
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** Every message and cause down the chain, to check nothing hostile was expanded into them. */
function chainText(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err, depth = 0; e && depth < 6; e = (e as { cause?: unknown }).cause, depth++) {
    parts.push(String((e as Error).message), JSON.stringify(e));
  }
  return parts.join('\n');
}

describe('tax client against its simulator and a hostile upstream', () => {
  const faults = new FaultBoard();
  const lookups: { lookup: WireLookup; headers: IncomingMessage['headers'] }[] = [];
  let simulator: Listening;
  let hostile: Listening;
  /** What the hostile upstream answers; a function gets the request document. */
  let hostileAnswer: { status: number; type: string; body: Buffer | string | ((request: string) => string) } = { status: 200, type: 'application/xml', body: '' };
  const built: { policy: UpstreamPolicy; http: UpstreamHttp }[] = [];

  beforeAll(async () => {
    simulator = await listen(createTaxSimulator(simulatorDeps('tax', faults), { onLookup: (lookup, headers) => lookups.push({ lookup, headers }) }), '127.0.0.1', 0);
    hostile = await listen(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const { status, type, body } = hostileAnswer;
      res.writeHead(status, { 'content-type': type }).end(typeof body === 'function' ? body(Buffer.concat(chunks).toString('utf8')) : body);
    }, '127.0.0.1', 0);
  });
  afterAll(async () => {
    await simulator.close();
    await hostile.close();
  });
  afterEach(async () => {
    faults.clear();
    lookups.length = 0;
    for (const { policy, http } of built.splice(0)) {
      policy.shutdown();
      await http.close();
    }
  });

  const client = (url: string, verifyAnswer?: AnswerVerifier, security = taxMessageSecurity(signing)): TaxClient => {
    const policy = createPolicy({ log, metrics: createMetrics({ defaultMetrics: false }) }, 'tax', {
      timeoutMs: 2000,
      retryAfterSeconds: 3,
      breaker: { errorThresholdPercentage: 50, volumeThreshold: 1000, resetTimeoutMs: 1000, rollingCountTimeoutMs: 10_000 },
    });
    const http = createUpstreamHttp({ baseUrl: url, maxResponseBytes: 1_048_576 });
    built.push({ policy, http });
    return createTaxClient({ http, policy, ...security, ...(verifyAnswer ? { verifyAnswer } : {}) }, { retryAfterSeconds: 3 });
  };

  it('sends a fresh MaYeuCau on every call and the calling agency as MaDonVi', async () => {
    const tax = client(simulator.url);
    const first = testContext({ agency: 'H52.101.114' });
    const second = testContext({ agency: 'H52.118.101' });
    await tax.getTaxpayer(first, '5500123457');
    await tax.getTaxpayer(first, '5500123457');
    await tax.getTaxpayer(second, '014201000415');
    expect(lookups.map((l) => l.lookup.MaDonVi)).toEqual(['H52.101.114', 'H52.101.114', 'H52.118.101']);
    expect(lookups.map((l) => l.lookup.MaSoThue)).toEqual(['5500123457', '5500123457', '014201000415']);
    const ids = lookups.map((l) => l.lookup.MaYeuCau);
    for (const id of ids) expect(id).toMatch(UUID);
    expect(new Set(ids).size).toBe(3);
    // The request id is ours; the exchange id is not reused as the tax administration's request id.
    expect(ids).not.toContain(first.exchangeId);
    expect(lookups[0]!.headers['content-type']).toBe('application/xml; charset=utf-8');
    expect(lookups[0]!.headers['x-request-id']).toBe(first.requestId);
  });

  it('escapes what it puts in the request, so the simulator reads the agency code back unchanged', async () => {
    const odd = 'H52 <Sở Tài chính> & "Thuế"';
    await client(simulator.url).getTaxpayer(testContext({ agency: odd }), '5500123457');
    expect(lookups[0]!.lookup.MaDonVi).toBe(odd);
  });

  it('reads individuals, household businesses and branches from the simulator', async () => {
    const tax = client(simulator.url);
    for (const type of ['individual', 'household_business', 'organization'] as const) {
      const persona = taxpayers.find((t) => t.taxpayerType === type && (type !== 'organization' || t.taxCode.includes('-')))!;
      expect(await tax.getTaxpayer(testContext(), persona.taxCode)).toMatchObject({ taxCode: persona.taxCode, name: persona.name, taxpayerType: type, status: persona.status });
    }
  });

  it('refuses XXE and billion-laughs answers with UPSTREAM_BAD_RESPONSE, never expanding them', async () => {
    const seen: string[] = [];
    const tax = client(hostile.url, (xml) => (seen.push(xml), xml));
    for (const name of ['hostile-billion-laughs.xml', 'hostile-xxe-file.xml', 'hostile-external-dtd.xml']) {
      hostileAnswer = { status: 200, type: 'application/xml; charset=utf-8', body: fixture(name) };
      const started = performance.now();
      const err = await failure(tax.getTaxpayer(testContext(), '5500123457'));
      expect(err, name).toMatchObject({ code: 'UPSTREAM_BAD_RESPONSE', status: 502, upstreamFailure: true });
      expect(err.detail).toMatch(/document type declaration/);
      expect(performance.now() - started).toBeLessThan(1000);
      const text = chainText(err);
      expect(text).not.toContain('lollol');
      expect(text).not.toMatch(/root:.*:0:0:/);
    }
    // Refused before the signature check: a verifier never sees a DTD.
    expect(seen).toEqual([]);
  });

  it('refuses answers that are not XML', async () => {
    const tax = client(hostile.url);
    hostileAnswer = { status: 200, type: 'application/json', body: '{"MaLoi":"00"}' };
    expect((await failure(tax.getTaxpayer(testContext(), '5500123457'))).code).toBe('UPSTREAM_BAD_RESPONSE');
    hostileAnswer = { status: 200, type: 'text/html', body: '<html><body>Bảo trì hệ thống</body></html>' };
    expect((await failure(tax.getTaxpayer(testContext(), '5500123457'))).code).toBe('UPSTREAM_BAD_RESPONSE');
  });

  it('maps a refusal of the gateway to UPSTREAM_AUTH', async () => {
    hostileAnswer = { status: 403, type: 'application/xml', body: '<KetQuaTraCuu><MaLoi>03</MaLoi></KetQuaTraCuu>' };
    expect(await failure(client(hostile.url).getTaxpayer(testContext(), '5500123457'))).toMatchObject({ code: 'UPSTREAM_AUTH', status: 502 });
  });

  it('hands the raw answer to the verifier before parsing, and refuses what it refuses', async () => {
    const seen: string[] = [];
    await client(simulator.url, (xml) => (seen.push(xml), taxMessageSecurity(signing).verifyAnswer(xml, testContext()))).getTaxpayer(testContext(), '5500123457');
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?><KetQuaTraCuu><MaLoi>00<\/MaLoi>/);
    expect(seen[0]).toContain(`<MaYeuCau>${lookups[0]!.lookup.MaYeuCau}</MaYeuCau>`);

    const refusing = client(simulator.url, () => {
      throw new Error('signature does not verify');
    });
    expect(await failure(refusing.getTaxpayer(testContext(), '5500123457'))).toMatchObject({ code: 'UPSTREAM_BAD_RESPONSE', upstreamFailure: true });

    // Before parsing: a broken document reaches the verifier, whose verdict comes first.
    faults.set({ system: 'tax', mode: 'malformed' });
    const untrusted = client(simulator.url, () => {
      throw new GatewayError('UPSTREAM_AUTH', { detail: 'untrusted signer', upstreamFailure: true });
    });
    expect(await failure(untrusted.getTaxpayer(testContext(), '5500123457'))).toMatchObject({ code: 'UPSTREAM_AUTH', detail: 'untrusted signer' });
  });

  describe('signatures', () => {
    it('signs every request with the gateway certificate (enveloped), which the simulator checks', async () => {
      const sent: string[] = [];
      const security = taxMessageSecurity(signing);
      const tax = client(simulator.url, undefined, { ...security, signRequest: (xml) => (sent.push(security.signRequest(xml)), sent.at(-1)!) });
      expect((await tax.getTaxpayer(testContext(), '5500123457')).taxCode).toBe('5500123457');
      const { certificate, signedXml } = verifyEnveloped(sent[0]!, simulatorDeps('tax', faults).signing.verifyClient);
      expect(certificate.subject).toContain('CN=lienthong-gateway.sandbox.sonla.gov.vn');
      expect(signedXml).toBe(`<YeuCauTraCuu><MaYeuCau>${lookups[0]!.lookup.MaYeuCau}</MaYeuCau><MaDonVi>H52.101.114</MaDonVi><MaSoThue>5500123457</MaSoThue></YeuCauTraCuu>`);
    });

    it('refuses unsigned, wrongly signed, revoked and expired answers, "not found" answers included', async () => {
      const tax = client(simulator.url);
      for (const [mode, code] of MESSAGE_FAULTS) {
        faults.set({ system: 'tax', mode });
        for (const taxCode of ['5500123457', '5500999999']) {
          expect(await failure(tax.getTaxpayer(testContext(), taxCode)), `${mode} ${taxCode}`).toMatchObject({ code, status: 502, upstreamFailure: true });
        }
      }
      faults.clear();
      expect((await failure(tax.getTaxpayer(testContext(), '5500999999'))).code).toBe('SUBJECT_NOT_FOUND');
    });

    it('is refused by the tax administration (UPSTREAM_AUTH) when its request is unsigned or signed with another certificate', async () => {
      const unsigned = client(simulator.url, undefined, { ...taxMessageSecurity(signing), signRequest: (xml) => xml });
      expect(await failure(unsigned.getTaxpayer(testContext(), '5500123457'))).toMatchObject({ code: 'UPSTREAM_AUTH', status: 502 });
      const impostor = taxMessageSecurity({ ...signing, credentials: loadPemCredentials(sample('population.pem'), sample('population.key.pem')) });
      expect(await failure(client(simulator.url, undefined, impostor).getTaxpayer(testContext(), '5500123457'))).toMatchObject({ code: 'UPSTREAM_AUTH' });
      expect(lookups).toEqual([]);
    });

    it('reads only what the signature covers: content beside it or changed after signing is refused', async () => {
      // A hostile upstream holding a signed "not found" for this very request dresses it up as a find.
      const taxAdministration = simulatorDeps('tax', faults).signing.credentials();
      const signedNotFound = (request: string) =>
        signEnveloped(
          answerXml({ MaLoi: '02', MoTa: 'Không tìm thấy người nộp thuế', MaYeuCau: /<MaYeuCau>([^<]+)<\/MaYeuCau>/.exec(request)![1] }),
          taxAdministration,
        );
      const found = `<NguoiNopThue>${/<NguoiNopThue>.*<\/NguoiNopThue>/s.exec(answerXml({ MaLoi: '00', NguoiNopThue: toWire(taxpayers.find((t) => t.taxCode === '5500123457')!) }))![0]}</NguoiNopThue>`;
      const tax = client(hostile.url);
      const dressUps: Record<string, (signed: string) => string> = {
        'as signed': (signed) => signed,
        'code changed': (signed) => signed.replace('<MaLoi>02</MaLoi>', '<MaLoi>00</MaLoi>'),
        'taxpayer added beside the signature': (signed) => signed.replace('<MaLoi>02</MaLoi>', '<MaLoi>00</MaLoi>').replace('</ds:Signature>', `</ds:Signature>${found}`),
        // Not refused but never read: the signature element is no part of what it signs.
        'taxpayer inside the signature': (signed) => signed.replace('</ds:KeyInfo>', `</ds:KeyInfo><ds:Object>${found}</ds:Object>`),
      };
      const expected: Record<string, string> = { 'as signed': 'SUBJECT_NOT_FOUND', 'taxpayer inside the signature': 'SUBJECT_NOT_FOUND' };
      for (const [name, dressUp] of Object.entries(dressUps)) {
        hostileAnswer = { status: 200, type: 'application/xml; charset=utf-8', body: (request) => dressUp(signedNotFound(request)) };
        expect((await failure(tax.getTaxpayer(testContext(), '5500123457'))).code, name).toBe(expected[name] ?? 'UPSTREAM_SIGNATURE_INVALID');
      }
    });
  });

  describe('the simulator', () => {
    /** Posts the document signed with the gateway's certificate, or as given with `sign: false`. */
    const post = (body: string, type = 'application/xml; charset=utf-8', sign = true) =>
      fetch(simulator.url + LOOKUP_PATH, { method: 'POST', headers: { 'content-type': type }, body: sign ? signEnveloped(body, signing.credentials) : body });
    const read = async (response: Response) => parseXml(verifyEnveloped(await response.text(), signing.verifyPeer).signedXml);
    const maLoi = async (response: Response) => (parseXml(await response.text()) as { KetQuaTraCuu: { MaLoi: string } }).KetQuaTraCuu.MaLoi;

    it('refuses a request with a DOCTYPE, without expanding anything', async () => {
      for (const name of ['hostile-billion-laughs.xml', 'hostile-xxe-file.xml']) {
        const body = fixture(name).toString('utf8').replaceAll('KetQuaTraCuu', 'YeuCauTraCuu');
        const started = performance.now();
        const response = await post(body, undefined, false);
        expect(response.status).toBe(400);
        expect(response.headers.get('content-type')).toMatch(/^application\/xml/);
        const text = await response.clone().text();
        expect(text).not.toContain('lollol');
        expect(await maLoi(response)).toBe('01');
        expect(performance.now() - started).toBeLessThan(1000);
      }
      expect(lookups).toEqual([]);
    });

    it('refuses requests that are not XML or lack the agency code', async () => {
      const cases: [string, string, boolean][] = [
        ['{"MaSoThue":"5500123457"}', 'application/json', false],
        ['<YeuCauTraCuu><MaYeuCau>1</MaYeuCau>', 'application/xml', false],
        ['<YeuCauTraCuu><MaYeuCau>1</MaYeuCau><MaSoThue>5500123457</MaSoThue></YeuCauTraCuu>', 'application/xml', true],
        ['<YeuCauTraCuu><MaYeuCau>1</MaYeuCau><MaDonVi>H52</MaDonVi><MaSoThue>&x;</MaSoThue></YeuCauTraCuu>', 'application/xml', false],
      ];
      for (const [body, type, sign] of cases) {
        const response = await post(body, type, sign);
        expect(response.status, body).toBe(400);
        expect(await maLoi(response)).toBe('01');
      }
    });

    it('answers "not found" with HTTP 200 and MaLoi 02, echoing the request id', async () => {
      const response = await post('<YeuCauTraCuu><MaYeuCau>abc-1</MaYeuCau><MaDonVi>H52</MaDonVi><MaSoThue>5500999999</MaSoThue></YeuCauTraCuu>');
      expect(response.status).toBe(200);
      expect(await read(response)).toEqual({ KetQuaTraCuu: { MaLoi: '02', MoTa: 'Không tìm thấy người nộp thuế', MaYeuCau: 'abc-1' } });
    });

    it('refuses oversized requests, other methods and other paths, and answers its health probe in XML', async () => {
      expect((await post(`<YeuCauTraCuu><MoTa>${'x'.repeat(70_000)}</MoTa></YeuCauTraCuu>`)).status).toBe(413);
      expect((await fetch(simulator.url + LOOKUP_PATH)).status).toBe(405);
      expect((await fetch(simulator.url + '/tra-cuu/doanh-nghiep', { method: 'POST' })).status).toBe(404);
      const health = await fetch(simulator.url + HEALTH_PATH);
      expect(health.status).toBe(200);
      expect(health.headers.get('content-type')).toMatch(/^application\/xml/);
      expect(await read(health)).toEqual({ TrangThaiHeThong: { MaLoi: '00', MoTa: 'Hoạt động bình thường' } });
    });
  });
});
