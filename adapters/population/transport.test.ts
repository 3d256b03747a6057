import { create as createAdapter } from './adapter.ts';
import { createHash } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/load.ts';
import type { MessageSecurity } from '../../src/config/schema.ts';
import { listen, type Listening } from '../../src/http/listen.ts';
import { createLogger } from '../../src/logging.ts';
import { createMetrics } from '../../src/metrics.ts';
import { createPolicy, type UpstreamPolicy } from '../../src/resilience/policy.ts';
import { FaultBoard } from '../../src/sandbox/faults.ts';
import { people, UNKNOWN } from '../../src/sandbox/personas.ts';
import { failure, simulatorDeps, testContext, testSigning } from '../contract/test-kit.ts';
import { createPopulationClient, type PopulationClient } from './client.ts';
import { population } from './index.ts';
import { REQUEST_NAMESPACE, SOAP_NS } from './mapping.ts';
import { plainMessages, populationMessageSecurity, readPlainEnvelope } from './security.ts';
import { createPopulationSimulator, type PopulationSimulatorOptions } from './simulator/server.ts';
import { DEFAULT_PATHS, SANDBOX_TRANSPORT, type TransportOptions } from './transport.ts';

type Received = Parameters<NonNullable<PopulationSimulatorOptions['onRequest']>>[0];

const log = createLogger({ level: 'silent' });
const faults = new FaultBoard();
const received: Received[] = [];
const tokenRequests: { lgspaccesstoken: string | undefined; contentType: string | undefined }[] = [];
const tokens = new Map<string, number>();
const statuses: { path: string; status: number }[] = [];
let server: Listening;

const living = people.find((p) => p.dateOfDeath === null)!;

beforeAll(async () => {
  const simulator = createPopulationSimulator(simulatorDeps('population', faults), { onRequest: (r) => received.push(r), tokens, tokenLifetimeSeconds: 600 });
  server = await listen(
    (req, res) => {
      if (req.url === DEFAULT_PATHS.token) {
        const header = req.headers.lgspaccesstoken;
        tokenRequests.push({ lgspaccesstoken: typeof header === 'string' ? header : undefined, contentType: req.headers['content-type'] });
      }
      res.on('finish', () => statuses.push({ path: req.url ?? '', status: res.statusCode }));
      simulator(req, res);
    },
    '127.0.0.1',
    0,
  );
});
afterAll(async () => {
  await server.close();
});

const built: { policy: UpstreamPolicy; client: PopulationClient }[] = [];
afterEach(async () => {
  received.length = 0;
  tokenRequests.length = 0;
  statuses.length = 0;
  tokens.clear();
  faults.clear();
  for (const b of built.splice(0)) {
    b.policy.shutdown();
    await b.client.close();
  }
});

function build(transport: TransportOptions, security = plainMessages(), now?: () => number): PopulationClient {
  const policy = createPolicy({ log, metrics: createMetrics({ defaultMetrics: false }) }, 'population', {
    timeoutMs: 2000,
    retryAfterSeconds: 3,
    breaker: { errorThresholdPercentage: 50, volumeThreshold: 1000, resetTimeoutMs: 600, rollingCountTimeoutMs: 10_000 },
  });
  const client = createPopulationClient(
    { policy },
    { url: server.url, maxResponseBytes: 1_048_576, retryAfterSeconds: 3, integrationCode: '037', serviceCode: '037', transport, ...security, ...(now ? { now } : {}) },
  );
  built.push({ policy, client });
  return client;
}

const lgsp: TransportOptions = { mode: 'lgsp', platformKeys: SANDBOX_TRANSPORT.platformKeys, account: SANDBOX_TRANSPORT.account };
const ndxp: TransportOptions = { mode: 'ndxp', account: SANDBOX_TRANSPORT.account, client: SANDBOX_TRANSPORT.client, apiKey: SANDBOX_TRANSPORT.apiKey };

describe('population through the provincial integration platform (lgsp)', () => {
  it('wraps the SOAP envelope in JSON with the platform token, the application keys and AuthHash, and reads the unsigned answer', async () => {
    const client = build(lgsp);
    expect(await client.exists(testContext(), { idNumber: living.idNumber, fullName: living.fullName, dateOfBirth: living.dateOfBirth })).toBe(true);
    const record = await client.lookup(testContext(), living.idNumber);
    expect(record.fullName).toBe(living.fullName);

    expect(received.map((r) => r.transport)).toEqual(['lgsp', 'lgsp']);
    const wrapper = received[0]!.wrapper!;
    expect(Object.keys(wrapper).sort()).toEqual(['AuthHash', 'accessToken', 'data', 'lgspAccessToken']);
    expect(wrapper.accessToken).toMatch(/^Bearer \S+$/);
    expect(JSON.parse(Buffer.from(String(wrapper.lgspAccessToken), 'base64').toString('utf8'))).toEqual({
      AccessKey: 'sandbox-access-key',
      SecretKey: 'sandbox-secret-key',
      AppName: 'LIENTHONG',
      PartnerCode: 'H52',
      PartnerCodeCus: 'H52',
    });
    expect(Buffer.from(String(wrapper.AuthHash), 'base64').toString('utf8')).toBe('lienthong-h52:sandbox');
    const data = String(wrapper.data);
    expect(data).toContain(`xmlns:qldc="${REQUEST_NAMESPACE}"`);
    expect(data).toContain('<qldc:NgayThangNamSinh><qldc:NgayThangNam>');
    // No WS-Security through the platform unless configured.
    expect(data).not.toContain('Security');
    // One token for both calls, asked for with the application keys as the source shows.
    expect(tokenRequests).toHaveLength(1);
    expect(tokenRequests[0]).toEqual({ lgspaccesstoken: wrapper.lgspAccessToken, contentType: 'application/x-www-form-urlencoded' });
    expect(received[0]!.fields).toMatchObject({ MaTichHop: '037', MaDVC: '037' });
  });

  it('renews the token before it expires', async () => {
    let clock = Date.now();
    const client = build(lgsp, plainMessages(), () => clock);
    await client.exists(testContext(), { idNumber: living.idNumber });
    clock += 580_000; // within the renewal margin of a 600 s token
    await client.exists(testContext(), { idNumber: living.idNumber });
    expect(tokenRequests).toHaveLength(2);
    const [first, second] = received.map((r) => r.wrapper!.accessToken);
    expect(first).not.toBe(second);
  });

  it('renews the token once when the platform refuses it, and the call succeeds', async () => {
    const client = build(lgsp);
    await client.exists(testContext(), { idNumber: living.idNumber });
    tokens.clear(); // the platform forgets every token (restart, revocation)
    expect(await client.exists(testContext(), { idNumber: UNKNOWN.idNumber })).toBe(false);
    expect(tokenRequests).toHaveLength(2);
    expect(statuses.filter((s) => s.path === DEFAULT_PATHS.lgsp).map((s) => s.status)).toEqual([200, 401, 200]);
  });

  it('reports refused platform keys as UPSTREAM_AUTH, without calling the service', async () => {
    const client = build({ ...lgsp, platformKeys: { ...SANDBOX_TRANSPORT.platformKeys, secretKey: 'wrong' } });
    expect((await failure(client.exists(testContext(), { idNumber: living.idNumber }))).code).toBe('UPSTREAM_AUTH');
    expect(received).toHaveLength(0);
  });

  it('is refused by the platform with a wrong AuthHash (UPSTREAM_AUTH)', async () => {
    const client = build({ ...lgsp, account: { username: 'lienthong-h52', password: 'wrong' } });
    expect((await failure(client.exists(testContext(), { idNumber: living.idNumber }))).code).toBe('UPSTREAM_AUTH');
    expect(received).toHaveLength(0);
  });

  it('speaks WS-Security through the platform when configured: the request is signed and an unsigned answer refused', async () => {
    const client = build(lgsp, populationMessageSecurity(testSigning('population')));
    expect(await client.exists(testContext(), { idNumber: living.idNumber, fullName: living.fullName })).toBe(true);
    expect(String(received[0]!.wrapper!.data)).toContain('wsse:Security');
    faults.set({ system: 'population', mode: 'unsigned' });
    expect((await failure(client.exists(testContext(), { idNumber: living.idNumber }))).code).toBe('UPSTREAM_SIGNATURE_INVALID');
  });

  it('refuses an unsigned answer carrying a DTD, or content outside its Envelope', async () => {
    const client = build(lgsp);
    faults.set({ system: 'population', mode: 'attack', variant: 'xxe' });
    expect((await failure(client.exists(testContext(), { idNumber: living.idNumber }))).code).toBe('UPSTREAM_BAD_RESPONSE');
  });
});

describe('population through the national data-sharing platform (ndxp)', () => {
  it('sends the SOAP envelope with X-Road client headers, an API key and basic auth with the password hashed', async () => {
    const client = build(ndxp);
    expect(await client.exists(testContext(), { idNumber: living.idNumber, dateOfBirth: living.dateOfBirth })).toBe(true);
    expect((await client.lookup(testContext(), living.idNumber)).idNumber).toBe(living.idNumber);
    const { headers, transport } = received[0]!;
    expect(transport).toBe('ndxp');
    expect(headers['x-road-client']).toBe(SANDBOX_TRANSPORT.client);
    expect(headers['x-api-key']).toBe(SANDBOX_TRANSPORT.apiKey);
    expect(Math.abs(Date.parse(String(headers['x-road-timestamp'])) - Date.now())).toBeLessThan(60_000);
    const hashed = createHash('sha256').update('sandbox').digest('hex');
    expect(headers.authorization).toBe(`Basic ${Buffer.from(`lienthong-h52:${hashed}`).toString('base64')}`);
    expect(String(headers.authorization)).not.toContain(Buffer.from('lienthong-h52:sandbox').toString('base64'));
  });

  it('is refused with a wrong API key or password (UPSTREAM_AUTH)', async () => {
    for (const transport of [{ ...ndxp, apiKey: 'wrong' }, { ...ndxp, account: { username: 'lienthong-h52', password: 'wrong' } }]) {
      const client = build(transport);
      expect((await failure(client.exists(testContext(), { idNumber: living.idNumber }))).code).toBe('UPSTREAM_AUTH');
    }
    expect(received).toHaveLength(0);
  });
});

describe('an answer without WS-Security', () => {
  it('is read from its one Body only, and refused with anything outside the Envelope or a second Body', () => {
    const answer = (body: string) => ({ url: '', status: 200, contentType: 'text/xml', body });
    const envelope = `<?xml version="1.0"?><soap:Envelope xmlns:soap="${SOAP_NS}"><soap:Header/><soap:Body><x/></soap:Body></soap:Envelope>`;
    expect(readPlainEnvelope(answer(envelope)).localName).toBe('Body');
    const hostile = [
      `${envelope}<!-- <soap:Envelope/> -->`,
      envelope.replace('<soap:Body>', '<soap:Body><!--c-->'),
      envelope.replace('</soap:Envelope>', '<soap:Body><y/></soap:Body></soap:Envelope>'),
      envelope.replace('<?xml version="1.0"?>', '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY e "x">]>'),
    ];
    for (const xml of hostile) expect(() => readPlainEnvelope(answer(xml)), xml).toThrow(/population database/);
  });
});

describe('population simulator, per transport', () => {
  it('refuses a plain request on the direct service: WS-Security is required there', async () => {
    const client = build({ mode: 'direct' });
    expect((await failure(client.exists(testContext(), { idNumber: living.idNumber }))).code).toBe('UPSTREAM_AUTH');
  });
});

describe('the population adapter module', () => {
  it('speaks none through a platform and ws-security directly, and refuses the direct transport without it', async () => {
    const policy = createPolicy({ log, metrics: createMetrics({ defaultMetrics: false }) }, 'population', {
      timeoutMs: 1000,
      retryAfterSeconds: 3,
      breaker: { errorThresholdPercentage: 50, volumeThreshold: 5, resetTimeoutMs: 1000, rollingCountTimeoutMs: 10_000 },
    });
    const create = (messageSecurity: MessageSecurity | undefined, mode: 'direct' | 'lgsp' | 'ndxp') =>
      createAdapter(
        { log, policy, signing: testSigning('population') },
        { url: 'https://127.0.0.1:9', maxResponseBytes: 1_048_576, retryAfterSeconds: 3, gatewayAgency: 'H52', messageSecurity, section: { transport: { mode } } },
      );
    try {
      expect(population.messageSecurity).toEqual({ supported: ['none', 'ws-security'], default: 'none' });
      for (const [profile, mode] of [[undefined, 'direct'], ['ws-security', 'direct'], [undefined, 'lgsp'], ['none', 'lgsp'], ['ws-security', 'lgsp'], ['none', 'ndxp']] as const) {
        await create(profile, mode).close();
      }
      expect(() => create('none', 'direct')).toThrow(ConfigError);
      expect(() => create('none', 'direct')).toThrow('upstreams.population.messageSecurity: the direct transport needs ws-security');
      expect(() => create('jws', 'lgsp')).toThrow('upstreams.population.messageSecurity: "jws" is not spoken by the population adapter (supported: none, ws-security)');
    } finally {
      policy.shutdown();
    }
  });
});
