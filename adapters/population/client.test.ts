import type { RequestListener } from 'node:http';
import { DOMParser, XMLSerializer, type Element } from '@xmldom/xmldom';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors/gateway-error.ts';
import { listen, type Listening } from '../../src/http/listen.ts';
import { createLogger } from '../../src/logging.ts';
import { createMetrics } from '../../src/metrics.ts';
import { createPolicy, type UpstreamPolicy } from '../../src/resilience/policy.ts';
import { FaultBoard } from '../../src/sandbox/faults.ts';
import { people, UNKNOWN } from '../../src/sandbox/personas.ts';
import { simulatorSigning } from '../../src/sandbox/signing.ts';
import { sample } from '../../src/signing/material.ts';
import { loadPemCredentials } from '../../src/signing/trust-store.ts';
import { verifySoapEnvelope, XMLNS } from '../../src/signing/xml-signature.ts';
import { MESSAGE_FAULTS, failure, simulatorDeps, testContext, testSigning } from '../contract/test-kit.ts';
import { createPopulationClient, type PopulationClient, type PopulationClientOptions } from './client.ts';
import type { RawAnswer } from './errors.ts';
import { NAMESPACE } from './mapping.ts';
import { populationMessageSecurity } from './security.ts';
import { createPopulationSimulator, type ReceivedRequest } from './simulator/server.ts';

const log = createLogger({ level: 'silent' });
const signing = testSigning('population');
const faults = new FaultBoard();
const received: ReceivedRequest[] = [];
let wsdlFetches = 0;
let abandoned = 0;
let server: Listening;

const living = people.find((p) => p.dateOfDeath === null && p.oldIdNumber !== null)!;
const deceased = people.find((p) => p.dateOfDeath !== null)!;

beforeAll(async () => {
  const simulator = createPopulationSimulator(simulatorDeps('population', faults), { onRequest: (r) => received.push(r) });
  // Counts what the tests need to see from outside: WSDL fetches and connections given up on.
  const counting: RequestListener = (req, res) => {
    if (req.method === 'GET') wsdlFetches++;
    res.on('close', () => {
      if (!res.writableFinished) abandoned++;
    });
    simulator(req, res);
  };
  server = await listen(counting, '127.0.0.1', 0);
});
afterAll(async () => {
  await server.close();
});

let policy: UpstreamPolicy;
let client: PopulationClient;
const built: { policy: UpstreamPolicy; client: PopulationClient }[] = [];
const build = (options: Partial<PopulationClientOptions> = {}) => {
  policy = createPolicy({ log, metrics: createMetrics({ defaultMetrics: false }) }, 'population', {
    timeoutMs: 400,
    retryAfterSeconds: 3,
    breaker: { errorThresholdPercentage: 50, volumeThreshold: 1000, resetTimeoutMs: 600, rollingCountTimeoutMs: 10_000 },
  });
  client = createPopulationClient(
    { policy },
    { url: server.url, maxResponseBytes: 1_048_576, retryAfterSeconds: 3, integrationCode: 'LIENTHONG-H52', serviceCode: '037', ...populationMessageSecurity(signing), ...options },
  );
  built.push({ policy, client });
};
beforeEach(() => {
  received.length = 0;
  build();
});
afterEach(async () => {
  faults.clear();
  for (const b of built.splice(0)) {
    b.policy.shutdown();
    await b.client.close();
  }
});

describe('population client: XacThucThongTinCongDan', () => {
  it('confirms the exact persona, and the same name in NFD, in other letter case and spacing', async () => {
    const { idNumber, fullName, dateOfBirth } = living;
    expect(await client.exists(testContext(), { idNumber, fullName, dateOfBirth })).toBe(true);
    expect(await client.exists(testContext(), { idNumber, fullName: fullName.normalize('NFD'), dateOfBirth })).toBe(true);
    expect(await client.exists(testContext(), { idNumber, fullName: fullName.toLocaleUpperCase('vi'), dateOfBirth })).toBe(true);
    expect(await client.exists(testContext(), { idNumber, fullName: `  ${fullName.toLocaleLowerCase('vi').replaceAll(' ', '   ')} ` })).toBe(true);
    expect(await client.exists(testContext(), { idNumber })).toBe(true);
  });

  it('answers false for a wrong date of birth, a wrong name, an unknown number or a deceased person', async () => {
    const { idNumber, fullName, dateOfBirth } = living;
    const nextDay = new Date(Date.parse(`${dateOfBirth}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
    expect(await client.exists(testContext(), { idNumber, fullName, dateOfBirth: nextDay })).toBe(false);
    expect(await client.exists(testContext(), { idNumber, fullName: `${fullName} Anh`, dateOfBirth })).toBe(false);
    // Diacritics matter: "Lo Van Thang" is another name than "Lò Văn Thắng".
    expect(await client.exists(testContext(), { idNumber, fullName: fullName.normalize('NFD').replace(/\p{M}/gu, ''), dateOfBirth })).toBe(false);
    expect(await client.exists(testContext(), { idNumber: UNKNOWN.idNumber })).toBe(false);
    expect(await client.exists(testContext(), { idNumber: deceased.idNumber, fullName: deceased.fullName, dateOfBirth: deceased.dateOfBirth })).toBe(false);
  });

  it('sends a fresh MaYeuCau and the agency, officer and purpose of the context on every request', async () => {
    const contexts = [testContext(), testContext({ agency: 'H52.20', userId: 'canbo.tuphap.07', purpose: 'XAC_MINH_DANH_TINH' }), testContext()];
    await client.exists(contexts[0]!, { idNumber: living.idNumber, fullName: living.fullName.normalize('NFD'), dateOfBirth: living.dateOfBirth });
    await client.exists(contexts[1]!, { idNumber: living.idNumber });
    await client.lookup(contexts[2]!, living.idNumber);

    expect(received.map((r) => r.operation)).toEqual(['XacThucThongTinCongDan', 'XacThucThongTinCongDan', 'TraCuuThongTinCongDan']);
    received.forEach((request, i) => {
      const c = contexts[i]!;
      expect(request.fields).toMatchObject({ MaDonVi: c.agency, MaCanBo: c.userId, MaDVC: '037', MaTichHop: 'LIENTHONG-H52', SoDinhDanh: living.idNumber });
      expect(request.fields.MaYeuCau).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(request.soapAction).toBe(`http://dancuquocgia.bca/${request.operation}`);
    });
    expect(new Set(received.map((r) => r.fields.MaYeuCau)).size).toBe(3);
    // Names go out in NFC, whatever the caller sent; fields not asked about are not sent.
    expect(received[0]!.fields.HoVaTen).toBe(living.fullName.normalize('NFC'));
    expect(received[0]!.fields.NgayThangNamSinh).toBe(living.dateOfBirth.replaceAll('-', ''));
    expect(Object.keys(received[1]!.fields)).not.toContain('HoVaTen');
    expect(Object.keys(received[1]!.fields)).not.toContain('NgayThangNamSinh');
  });

  it('refuses to call without officer or purpose, and refuses malformed numbers, before any exchange', async () => {
    expect((await failure(client.exists(testContext({ userId: undefined }), { idNumber: living.idNumber }))).code).toBe('ACCOUNTABILITY_REQUIRED');
    expect((await failure(client.lookup(testContext({ purpose: undefined }), living.idNumber))).code).toBe('ACCOUNTABILITY_REQUIRED');
    expect((await failure(client.lookup(testContext(), '0507123456'))).code).toBe('INVALID_IDENTIFIER');
    expect((await failure(client.exists(testContext(), { idNumber: '05071234567' }))).code).toBe('INVALID_IDENTIFIER');
    expect((await failure(client.exists(testContext(), { idNumber: living.idNumber, dateOfBirth: '17/04/1989' }))).code).toBe('VALIDATION_FAILED');
    expect(received).toEqual([]);
  });
});

describe('population client: TraCuuThongTinCongDan', () => {
  it('returns the record, deceased people included', async () => {
    expect(await client.lookup(testContext(), living.idNumber)).toMatchObject({ idNumber: living.idNumber, oldIdNumber: living.oldIdNumber, deceased: false });
    expect(await client.lookup(testContext(), deceased.idNumber)).toMatchObject({ idNumber: deceased.idNumber, fullName: deceased.fullName, deceased: true });
  });

  it('asks by SoCMND alone for a 9-digit old card number, and reads the record it finds', async () => {
    const oldCard = living.oldIdNumber!;
    expect(await client.lookup(testContext(), oldCard)).toMatchObject({ idNumber: living.idNumber, oldIdNumber: oldCard, fullName: living.fullName });
    expect(await client.exists(testContext(), { idNumber: oldCard, fullName: living.fullName, dateOfBirth: living.dateOfBirth })).toBe(true);
    expect(await client.exists(testContext(), { idNumber: '999999999' })).toBe(false);
    expect((await failure(client.lookup(testContext(), '999999999'))).code).toBe('SUBJECT_NOT_FOUND');
    expect(received.slice(0, 2).map((r) => r.fields.SoCMND)).toEqual([oldCard, oldCard]);
    for (const request of received) expect(Object.keys(request.fields)).not.toContain('SoDinhDanh');
  });
});

describe('population client: the service description', () => {
  it('never fetches the WSDL, and posts to the configured endpoint', async () => {
    await Promise.all([client.lookup(testContext(), living.idNumber), client.exists(testContext(), { idNumber: living.idNumber }), client.lookup(testContext(), living.idNumber)]);
    await client.lookup(testContext(), living.idNumber);
    expect(wsdlFetches).toBe(0);
    // The WSDL's soap:address names a production host that does not answer here.
    expect(received).toHaveLength(4);
  });
});

describe('population client: faults once the client is built', () => {
  const warm = () => client.exists(testContext(), { idNumber: living.idNumber });

  it('maps a Server fault (HTTP 500) to UPSTREAM_UNAVAILABLE', async () => {
    await warm();
    faults.set({ system: 'population', mode: 'error' });
    const err = await failure(client.lookup(testContext(), living.idNumber));
    expect(err).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', status: 503, retryAfter: 3, upstreamFailure: true });
    expect(String((err.cause as Error).message)).toMatch(/soap:Server/);
  });

  it('maps a Client fault to UPSTREAM_BAD_RESPONSE, counted against the upstream', async () => {
    build({ integrationCode: '' });
    const err = await failure(client.lookup(testContext(), living.idNumber));
    expect(err).toMatchObject({ code: 'UPSTREAM_BAD_RESPONSE', status: 502, upstreamFailure: true });
    expect(String((err.cause as Error).message)).toMatch(/soap:Client.*MaTichHop/);
  });

  it('maps a truncated answer to UPSTREAM_BAD_RESPONSE and a dropped connection to UPSTREAM_UNAVAILABLE', async () => {
    await warm();
    faults.set({ system: 'population', mode: 'malformed' });
    expect((await failure(client.lookup(testContext(), living.idNumber))).code).toBe('UPSTREAM_BAD_RESPONSE');
    faults.set({ system: 'population', mode: 'down' });
    expect((await failure(client.exists(testContext(), { idNumber: living.idNumber }))).code).toBe('UPSTREAM_UNAVAILABLE');
  });

  it('abandons the connection of a silent upstream when the policy times out', async () => {
    await warm();
    faults.set({ system: 'population', mode: 'timeout' });
    const before = abandoned;
    expect((await failure(client.lookup(testContext(), living.idNumber))).code).toBe('UPSTREAM_TIMEOUT');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(abandoned - before).toBe(1);
  });

  it('refuses answers larger than maxResponseBytes', async () => {
    build({ maxResponseBytes: 1024 });
    expect((await failure(client.lookup(testContext(), living.idNumber))).code).toBe('UPSTREAM_BAD_RESPONSE');
  });
});

describe('population client: the message-security seams', () => {
  it('shows each raw answer to verifyAnswer, and lets it refuse the answer', async () => {
    const seen: RawAnswer[] = [];
    const { verifyAnswer } = populationMessageSecurity(signing);
    build({ verifyAnswer: (answer) => (seen.push(answer), verifyAnswer(answer)) });
    await client.lookup(testContext(), living.idNumber);
    expect(seen).toHaveLength(1);
    const answer = seen[0]!;
    expect(answer).toMatchObject({ status: 200, url: `${server.url}/CongDanService` });
    expect(answer.body.startsWith('<?xml')).toBe(true);
    expect(answer.body).toContain(`<MaYeuCau>${received[0]!.fields.MaYeuCau}</MaYeuCau>`);

    const refusal = new GatewayError('UPSTREAM_BAD_RESPONSE', { detail: 'unsigned answer', upstreamFailure: true });
    build({
      verifyAnswer: () => {
        throw refusal;
      },
    });
    expect(await failure(client.lookup(testContext(), living.idNumber))).toBe(refusal);
  });

  it('reads the Body verifyAnswer hands back, not the text received', async () => {
    const { verifyAnswer } = populationMessageSecurity(signing);
    // A verifier that answers with a Body of its own: what the client returns can only come from it.
    build({
      verifyAnswer: (answer) => {
        const body = verifyAnswer(answer);
        const tonTai = body.getElementsByTagNameNS(NAMESPACE, 'TonTai')[0]!;
        tonTai.textContent = tonTai.textContent === 'true' ? 'false' : 'true';
        return body;
      },
    });
    expect(await client.exists(testContext(), { idNumber: living.idNumber })).toBe(false);
    expect(await client.exists(testContext(), { idNumber: UNKNOWN.idNumber })).toBe(true);
  });
});

describe('population client: WS-Security', () => {
  const { idNumber, fullName, dateOfBirth } = living;
  const wrongBirthday = `${Number(dateOfBirth.slice(0, 4)) + 1}${dateOfBirth.slice(4)}`;

  it('signs every request with the gateway certificate, which the database accepts', async () => {
    await client.exists(testContext(), { idNumber, fullName, dateOfBirth });
    await client.lookup(testContext(), idNumber);
    expect(received).toHaveLength(2);
    for (const request of received) {
      const verified = verifySoapEnvelope(request.xml, simulatorSigning('population').verifyClient);
      expect(verified.certificate.subject).toContain('CN=lienthong-gateway.sandbox.sonla.gov.vn');
      expect(verified.body.toString()).toContain(`<qldc:SoDinhDanh>${idNumber}</qldc:SoDinhDanh>`);
    }
  });

  it('refuses unsigned, wrongly signed, revoked and expired answers, "not found" answers included', async () => {
    for (const [mode, code] of MESSAGE_FAULTS) {
      faults.set({ system: 'population', mode });
      for (const call of [() => client.lookup(testContext(), idNumber), () => client.lookup(testContext(), UNKNOWN.idNumber), () => client.exists(testContext(), { idNumber })]) {
        expect(await failure(call()), mode).toMatchObject({ code, status: 502, upstreamFailure: true });
      }
    }
    faults.clear();
    expect((await failure(client.lookup(testContext(), UNKNOWN.idNumber))).code).toBe('SUBJECT_NOT_FOUND');
  });

  it('is refused by the database (UPSTREAM_AUTH) when its request is unsigned or signed with another certificate', async () => {
    build({ signRequest: (xml: string) => xml });
    expect(await failure(client.lookup(testContext(), idNumber))).toMatchObject({ code: 'UPSTREAM_AUTH', status: 502 });
    const impostor = { ...signing, credentials: loadPemCredentials(sample('tax.pem'), sample('tax.key.pem')) };
    build({ signRequest: populationMessageSecurity(impostor).signRequest });
    const err = await failure(client.exists(testContext(), { idNumber }));
    expect(err).toMatchObject({ code: 'UPSTREAM_AUTH', status: 502 });
    expect(String((err.cause as Error).message)).toMatch(/FailedAuthentication/);
    expect(received).toEqual([]);
  });

  describe('behind a proxy that rewrites answers', () => {
    let proxy: Listening;
    let rewrite: (xml: string) => string = (xml) => xml;
    beforeAll(async () => {
      proxy = await listen(async (req, res) => {
        const chunks: Buffer[] = [];
        for await (const chunk of req) chunks.push(chunk as Buffer);
        const headers = Object.fromEntries(Object.entries(req.headers).filter(([name]) => ['content-type', 'soapaction'].includes(name))) as Record<string, string>;
        const upstream = await fetch(server.url + (req.url ?? '/'), { method: req.method, headers, ...(req.method === 'POST' ? { body: Buffer.concat(chunks) } : {}) });
        const text = await upstream.text();
        const body = req.method === 'POST' ? rewrite(text) : text;
        res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'text/xml' }).end(body);
      }, '127.0.0.1', 0);
    });
    afterAll(async () => {
      await proxy.close();
    });
    afterEach(() => {
      rewrite = (xml) => xml;
    });

    /** Moves the signed Body into a wrapper in the Header and puts a forged Body where soap reads it. */
    const wrapBody = (keepId: boolean) => (xml: string) => {
      const doc = new DOMParser().parseFromString(xml, 'text/xml');
      const envelope = doc.documentElement!;
      const child = (parent: Element, name: string) => Array.from(parent.childNodes).find((n) => n.nodeType === n.ELEMENT_NODE && (n as Element).localName === name) as Element;
      const header = child(envelope, 'Header');
      const signedBody = child(envelope, 'Body');
      const forged = signedBody.cloneNode(true) as Element;
      if (!keepId) forged.removeAttributeNS(XMLNS.wsu, 'Id');
      const tonTai = forged.getElementsByTagNameNS(NAMESPACE, 'TonTai')[0]!;
      tonTai.textContent = 'true';
      const wrapper = doc.createElementNS('urn:example:wrapper', 'w:Wrapper');
      header.appendChild(wrapper);
      wrapper.appendChild(signedBody);
      envelope.appendChild(forged);
      return new XMLSerializer().serializeToString(doc);
    };

    it('passes answers through unchanged when nothing is rewritten', async () => {
      build({ url: proxy.url });
      expect(await client.exists(testContext(), { idNumber, fullName, dateOfBirth: wrongBirthday })).toBe(false);
      expect(await client.exists(testContext(), { idNumber, fullName, dateOfBirth })).toBe(true);
    });

    it('refuses an answer whose signed Body was moved aside for a forged one (signature wrapping)', async () => {
      build({ url: proxy.url });
      let forgedAnswer = '';
      for (const keepId of [false, true]) {
        rewrite = (xml) => (forgedAnswer = wrapBody(keepId)(xml));
        const err = await failure(client.exists(testContext(), { idNumber, fullName, dateOfBirth: wrongBirthday }));
        expect(err).toMatchObject({ code: 'UPSTREAM_SIGNATURE_INVALID', status: 502, upstreamFailure: true });
        expect(forgedAnswer).toContain('<TonTai>true</TonTai>');
        expect(forgedAnswer).toContain('<TonTai>false</TonTai>');
      }
    });

    /** The answer an attacker wants read, with this request's MaYeuCau: TonTai true. */
    const forgedEnvelope = (genuine: string) =>
      '<f:Envelope xmlns:f="http://schemas.xmlsoap.org/soap/envelope/"><f:Body>' +
      `<XacThucThongTinCongDanResponse xmlns="${NAMESPACE}"><MaYeuCau>${/<MaYeuCau>([^<]+)</.exec(genuine)![1]}</MaYeuCau>` +
      '<MaKetQua>00</MaKetQua><TonTai>true</TonTai></XacThucThongTinCongDanResponse></f:Body></f:Envelope>';
    const afterDeclaration = (inserted: (xml: string) => string) => (xml: string) => xml.replace(/^(<\?xml[^>]*\?>)?/, (declaration) => declaration + inserted(xml));

    it.each([
      // soap's reader dropped the first comment and took the first <x:Envelope> it found.
      ['a forged envelope in a second comment', afterDeclaration((xml) => `<!--x--><!--${forgedEnvelope(xml)}-->`)],
      ['a forged envelope in a processing instruction', afterDeclaration((xml) => `<?x ?${forgedEnvelope(xml)}?>`)],
      ['a comment before the root', afterDeclaration(() => '<!--x-->')],
      ['a processing instruction after the root', (xml: string) => `${xml}<?x y?>`],
      ['a comment after the root', (xml: string) => `${xml}\n<!--${forgedEnvelope(xml)}-->`],
    ])('refuses a signed answer with %s', async (_name, tamper) => {
      build({ url: proxy.url });
      let tampered = '';
      rewrite = (xml) => (tampered = tamper(xml));
      const err = await failure(client.exists(testContext(), { idNumber: UNKNOWN.idNumber }));
      expect(err).toMatchObject({ code: 'UPSTREAM_SIGNATURE_INVALID', status: 502, upstreamFailure: true });
      expect((err.cause as Error).message).toMatch(/outside the root element/);
      // The genuine signed envelope is still there, intact.
      expect(tampered).toContain('<TonTai>false</TonTai>');
    });

    it('accepts whitespace around the signed envelope', async () => {
      build({ url: proxy.url });
      rewrite = (xml) => afterDeclaration(() => '\n  ')(xml) + '\n';
      expect(await client.exists(testContext(), { idNumber: UNKNOWN.idNumber })).toBe(false);
      expect(await client.exists(testContext(), { idNumber })).toBe(true);
    });

    it('refuses an answer with its Body changed, or without its signature', async () => {
      build({ url: proxy.url });
      rewrite = (xml) => xml.replace('<TonTai>false</TonTai>', '<TonTai>true</TonTai>');
      expect((await failure(client.exists(testContext(), { idNumber, fullName, dateOfBirth: wrongBirthday }))).code).toBe('UPSTREAM_SIGNATURE_INVALID');
      rewrite = (xml) => xml.replace(/<soap:Header>.*<\/soap:Header>/s, '<soap:Header/>');
      expect((await failure(client.exists(testContext(), { idNumber }))).code).toBe('UPSTREAM_SIGNATURE_INVALID');
    });
  });
});
