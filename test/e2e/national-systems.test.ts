import { createLocalJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UNKNOWN, agencyNames, enterprises, insured, people, procedures, taxpayers } from '../../src/sandbox/personas.ts';
import { KEYS, auditEntry, clearFaults, setFault, startTestGateway, type TestGateway } from '../helpers/gateway.ts';

const living = people.filter((p) => !p.dateOfDeath);
const accountable = (purpose = 'XAC_MINH_DANH_TINH') => ({ 'content-type': 'application/json', 'x-user-id': 'officer-17', 'x-purpose': purpose });

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway();
});
afterAll(async () => {
  await gw?.close();
});

const post = (path: string, body: unknown, key: string = KEYS.agency, purpose?: string) =>
  gw.fetch(path, { method: 'POST', key, headers: accountable(purpose), body: JSON.stringify(body) });
const get = (path: string, key: string = KEYS.agency, purpose?: string) => gw.fetch(path, { key, headers: accountable(purpose) });

async function json<T = Record<string, unknown>>(res: Response, status = 200): Promise<T> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  return JSON.parse(text) as T;
}

describe('POST /v1/citizens/verify', () => {
  it('matches people from the personas, whatever the Unicode form or letter case of the name', async () => {
    for (const p of living.slice(0, 8)) {
      for (const fullName of [p.fullName, p.fullName.normalize('NFD'), p.fullName.toLocaleUpperCase('vi')]) {
        const r = await json<{ result: string; fields: object }>(await post('/v1/citizens/verify', { idNumber: p.idNumber, fullName, dateOfBirth: p.dateOfBirth }));
        expect(r, `${p.idNumber} ${fullName}`).toMatchObject({ result: 'match', fields: { fullName: 'match', dateOfBirth: 'match' } });
      }
    }
  });

  it('reports which field mismatched, and not_found for an unknown number', async () => {
    const p = living[3]!;
    const wrongName = await json(await post('/v1/citizens/verify', { idNumber: p.idNumber, fullName: `${p.fullName}h`, dateOfBirth: p.dateOfBirth }));
    expect(wrongName).toMatchObject({ result: 'mismatch', fields: { fullName: 'mismatch', dateOfBirth: 'match' } });
    const day = p.dateOfBirth.slice(8) === '01' ? '02' : '01';
    const wrongDay = await json(await post('/v1/citizens/verify', { idNumber: p.idNumber, fullName: p.fullName, dateOfBirth: `${p.dateOfBirth.slice(0, 8)}${day}` }));
    expect(wrongDay).toMatchObject({ result: 'mismatch', fields: { fullName: 'match', dateOfBirth: 'mismatch' } });
    const unknown = await json(await post('/v1/citizens/verify', { idNumber: UNKNOWN.idNumber, fullName: p.fullName, dateOfBirth: '1989-01-01' }));
    expect(unknown).toMatchObject({ result: 'not_found' });
    expect(unknown.fields).toBeUndefined();
  });

  it('refuses a number whose province or birth year is impossible, with 400 naming the field', async () => {
    const p = living[0]!;
    // 392 is no province: a birth registered abroad is asked about, not refused...
    const abroad = await json<{ result: string }>(await post('/v1/citizens/verify', { idNumber: `392${p.idNumber.slice(3)}`, fullName: p.fullName, dateOfBirth: p.dateOfBirth }), 200);
    expect(abroad.result).toBe('not_found');
    // ...but its century digit must still agree with the date of birth.
    const century = await json(await post('/v1/citizens/verify', { idNumber: `392${(Number(p.idNumber[3]) + 2) % 10}${p.idNumber.slice(4)}`, fullName: p.fullName, dateOfBirth: p.dateOfBirth }), 400);
    expect(century).toMatchObject({ code: 'INVALID_IDENTIFIER', errors: [{ field: 'body.dateOfBirth' }] });
    const year = Number(p.dateOfBirth.slice(0, 4)) + 1;
    const contradiction = await json(await post('/v1/citizens/verify', { idNumber: p.idNumber, fullName: p.fullName, dateOfBirth: `${year}${p.dateOfBirth.slice(4)}` }), 400);
    expect(contradiction).toMatchObject({ code: 'INVALID_IDENTIFIER', errors: [{ field: 'body.dateOfBirth' }] });
  });

  it('returns an attestation that verifies with the gateway keys', async () => {
    const p = living[1]!;
    const res = await post('/v1/citizens/verify', { idNumber: p.idNumber, fullName: p.fullName, dateOfBirth: p.dateOfBirth });
    const body = await json<{ attestation: string; checkedAt: string }>(res);
    const jwks = await json<{ keys: object[] }>(await gw.fetch('/.well-known/jwks.json', { key: null }));
    const { payload } = await jwtVerify(body.attestation, createLocalJWKSet(jwks as never));
    expect(payload).toMatchObject({ result: 'match', jti: res.headers.get('x-exchange-id'), aud: 'sandbox-agency', checkedAt: body.checkedAt });
    expect(JSON.stringify(payload)).not.toContain(p.idNumber);
  });
});

describe('POST /v1/citizens/lookup', () => {
  it('gives the agency only the fields configured for its purpose', async () => {
    const p = living[0]!;
    const record = await json<Record<string, unknown>>(await post('/v1/citizens/lookup', { idNumber: p.idNumber }));
    expect(Object.keys(record).sort()).toEqual(['dateOfBirth', 'fullName', 'gender', 'idNumber', 'permanentAddress', 'redactedFields']);
    expect(record).toMatchObject({ idNumber: p.idNumber, fullName: p.fullName, dateOfBirth: p.dateOfBirth, gender: p.gender });
    expect(record.redactedFields).toEqual(expect.arrayContaining(['ethnicity', 'father', 'oldIdNumber']));

    const forDossier = await json<Record<string, unknown>>(await post('/v1/citizens/lookup', { idNumber: p.idNumber, fields: ['oldIdNumber', 'father'] }, KEYS.agency, 'TIEP_NHAN_HO_SO'));
    expect(forDossier).toEqual({ idNumber: p.idNumber, oldIdNumber: p.oldIdNumber, redactedFields: ['father'] });
  });

  it('gives other clients the default fields, and 404 for an unknown person', async () => {
    const p = living[2]!;
    const record = await json<Record<string, unknown>>(await post('/v1/citizens/lookup', { idNumber: p.idNumber }, KEYS.portal));
    expect(Object.keys(record).sort()).toEqual(['dateOfBirth', 'fullName', 'idNumber', 'permanentAddress', 'redactedFields']);
    expect(await json(await post('/v1/citizens/lookup', { idNumber: UNKNOWN.idNumber }), 404)).toMatchObject({ code: 'SUBJECT_NOT_FOUND' });
  });
});

describe('GET /v1/taxpayers/{taxCode}', () => {
  it('returns organisations, branches, individuals and household businesses', async () => {
    const kinds = [
      taxpayers.find((t) => t.taxpayerType === 'organization' && !t.taxCode.includes('-'))!,
      taxpayers.find((t) => t.taxCode.includes('-'))!,
      taxpayers.find((t) => t.taxpayerType === 'individual')!,
      taxpayers.find((t) => t.taxpayerType === 'household_business')!,
    ];
    for (const t of kinds) {
      const body = await json(await get(`/v1/taxpayers/${t.taxCode}`));
      expect(body).toMatchObject({ taxCode: t.taxCode, name: t.name, taxpayerType: t.taxpayerType, status: t.status, taxOffice: t.taxOffice, registrationDate: t.registrationDate });
    }
  });

  it('refuses a wrong check digit or an impossible personal number, and 404s an unknown code', async () => {
    const code = enterprises[0]!.enterpriseCode;
    const wrong = `${code.slice(0, 9)}${(Number(code[9]) + 1) % 10}`;
    expect(await json(await get(`/v1/taxpayers/${wrong}`), 400)).toMatchObject({ code: 'INVALID_IDENTIFIER', errors: [{ field: 'path.taxCode' }] });
    // 392 is no province: the personal number of a birth registered abroad, asked for, not refused.
    expect(await json(await get('/v1/taxpayers/392089001234'), 404)).toMatchObject({ code: 'SUBJECT_NOT_FOUND' });
    expect(await json(await get('/v1/taxpayers/01408900123X'), 400)).toMatchObject({ errors: [{ field: 'path.taxCode' }] });
    expect(await json(await get(`/v1/taxpayers/${UNKNOWN.enterpriseCode}`), 404)).toMatchObject({ code: 'SUBJECT_NOT_FOUND' });
  });
});

describe('POST /v1/social-insurance/lookup', () => {
  it('finds a person by insurance code and by ID number', async () => {
    const person = insured.find((i) => i.healthInsuranceCard && i.employer)!;
    const byCode = await json<Record<string, unknown>>(await post('/v1/social-insurance/lookup', { insuranceCode: person.insuranceCode }));
    expect(byCode).toMatchObject({ insuranceCode: person.insuranceCode, fullName: person.fullName, participationStatus: person.participationStatus, employer: person.employer });
    expect(byCode.healthInsuranceCard).toMatchObject({ number: person.healthInsuranceCard!.number, validTo: person.healthInsuranceCard!.validTo });
    const byId = await json(await post('/v1/social-insurance/lookup', { idNumber: person.idNumber }));
    expect(byId).toMatchObject({ insuranceCode: person.insuranceCode });
  });

  it('refuses both or neither identifier, and 404s an unknown code', async () => {
    const person = insured[0]!;
    expect((await post('/v1/social-insurance/lookup', { insuranceCode: person.insuranceCode, idNumber: person.idNumber })).status).toBe(400);
    expect((await post('/v1/social-insurance/lookup', {})).status).toBe(400);
    expect(await json(await post('/v1/social-insurance/lookup', { insuranceCode: UNKNOWN.insuranceCode }), 404)).toMatchObject({ code: 'SUBJECT_NOT_FOUND' });
  });
});

describe('GET /v1/civil-status/births/{idNumber}', () => {
  it('returns the birth registration of a sandbox person, and records the exchange with its subject', async () => {
    const p = people[2]!;
    const res = await get(`/v1/civil-status/births/${p.idNumber}`);
    const birth = await json<Record<string, unknown>>(res);
    expect(birth).toMatchObject({ idNumber: p.idNumber, fullName: p.fullName, gender: p.gender, dateOfBirth: p.dateOfBirth, nationality: p.nationality });
    expect(birth.registration).toMatchObject({ number: expect.stringMatching(/^\d+\/\d{4}$/), authority: expect.stringMatching(/^Ủy ban nhân dân /) });
    expect(String(birth.retrievedAt)).toMatch(/\+07:00$/);
    const entry = (await auditEntry(gw, res.headers.get('x-exchange-id')!, 'civil-status')) as unknown as { outcome: string; subjectHash: string | null; subjects: string[] };
    expect(entry.outcome).toBe('success');
    expect(entry.subjectHash).toMatch(/^[0-9a-f]{64}$/);
    // The person and each parent the answer names with an ID number (x-subjects in the contract), once each.
    const parents = [birth.father, birth.mother].filter((parent) => (parent as { idNumber?: string | null } | null)?.idNumber);
    expect(entry.subjects[0]).toBe(entry.subjectHash);
    expect(entry.subjects).toHaveLength(1 + parents.length);
    expect(new Set(entry.subjects).size).toBe(entry.subjects.length);
  });

  it('refuses an impossible ID number with 400 naming it, before any call, and 404s an unknown one', async () => {
    expect(await json(await get('/v1/civil-status/births/01408900123'), 400)).toMatchObject({ errors: [{ field: expect.stringMatching(/idNumber/) }] });
    // Century digit 4: born in the 2100s.
    expect(await json(await get(`/v1/civil-status/births/${people[0]!.idNumber.slice(0, 3)}4${people[0]!.idNumber.slice(4)}`), 400)).toMatchObject({ code: 'INVALID_IDENTIFIER', errors: [{ field: 'path.idNumber' }] });
    expect(await json(await get(`/v1/civil-status/births/${UNKNOWN.idNumber}`), 404)).toMatchObject({ code: 'SUBJECT_NOT_FOUND' });
  });

  it('requires the accountability headers', async () => {
    const res = await gw.fetch(`/v1/civil-status/births/${people[0]!.idNumber}`, { key: KEYS.agency });
    expect(res.status).toBe(400);
  });

  it('is listed among the upstreams, with the certificate it signs with', async () => {
    const { items } = await json<{ items: { id: string; breaker: string; certificateExpiresAt: string | null }[] }>(await gw.fetch('/v1/upstreams', { key: KEYS.operator }));
    expect(items.find((i) => i.id === 'civil-status')).toMatchObject({ breaker: 'closed', certificateExpiresAt: expect.stringMatching(/\+07:00$/) });
  });

  it('refuses answers signed with a revoked certificate, and answers 503 while the civil-status database is down', async () => {
    try {
      await setFault(gw.controlUrl, { system: 'civil-status', mode: 'revoked-cert' });
      expect(await json(await get(`/v1/civil-status/births/${people[1]!.idNumber}`), 502)).toMatchObject({ code: 'UPSTREAM_CERT_REVOKED' });
      await setFault(gw.controlUrl, { system: 'civil-status', mode: 'down' });
      const down = await json<{ code: string }>(await get(`/v1/civil-status/births/${people[1]!.idNumber}`), 503);
      // Down, or already suspended by the breaker after these failures.
      expect(['UPSTREAM_UNAVAILABLE', 'UPSTREAM_CIRCUIT_OPEN']).toContain(down.code);
    } finally {
      await clearFaults(gw.controlUrl);
    }
  });
});

describe('procedure catalogue', () => {
  it('lists, searches, filters and pages the national catalogue', async () => {
    const all = await json<{ items: { code: string }[]; total: number }>(await get('/v1/procedures?pageSize=100', KEYS.portal));
    expect(all.total).toBe(procedures.length);
    expect(all.items.map((p) => p.code).sort()).toEqual(procedures.map((p) => p.code).sort());

    const search = await json<{ items: { name: string }[] }>(await get(`/v1/procedures?q=${encodeURIComponent('khai sinh')}`, KEYS.portal));
    expect(search.items.map((p) => p.name)).toContain('Đăng ký khai sinh');

    const justice = await json<{ items: { agencies: string[] }[]; total: number }>(await get('/v1/procedures?agency=H52.20&pageSize=100', KEYS.portal));
    expect(justice.total).toBe(procedures.filter((p) => p.agencies.includes('H52.20')).length);
    expect(justice.items.every((p) => p.agencies.includes('H52.20'))).toBe(true);

    const civil = await json<{ total: number }>(await get('/v1/procedures?field=HT', KEYS.portal));
    expect(civil.total).toBe(procedures.filter((p) => p.field.code === 'HT').length);

    const page2 = await json<{ items: unknown[]; page: number; total: number }>(await get('/v1/procedures?page=2&pageSize=10', KEYS.portal));
    expect(page2).toMatchObject({ page: 2, total: procedures.length });
    expect(page2.items).toHaveLength(10);
  });

  it('returns one procedure in full, and 404 for an unknown code', async () => {
    const p = procedures[0]!;
    const body = await json(await get(`/v1/procedures/${p.code}`, KEYS.portal));
    expect(body).toMatchObject({ code: p.code, name: p.name, field: p.field, implementingAgencies: p.implementingAgencies, results: p.results });
    expect(await json(await get(`/v1/procedures/${UNKNOWN.procedureCode}`, KEYS.portal), 404)).toMatchObject({ code: 'SUBJECT_NOT_FOUND' });
  });

  it('maps the portal\'s nested LayThuTuc: steps, channels with times and fees, agencies with codes, forms, legal bases, results', async () => {
    const p = procedures.find((x) => x.fees === '20.000 đồng (nộp trực tuyến 10.000 đồng)')!;
    type Full = {
      stepsByCase: { case: string | null; steps: string[] }[];
      channelOptions: { channel: string; durations: { amount: number | null; unit: string | null; fees: { amount: number | null }[] }[] }[];
      implementingAgencyDetails: { code: string; name: string }[];
      dossierComponents: { name: string; formUrl?: string | null }[];
      legalDocuments: { number: string | null; title: string }[];
      resultDocuments: { code: string | null; name: string }[];
      fees: string | null;
    };
    const body = await json<Full>(await get(`/v1/procedures/${p.code}`, KEYS.portal));
    expect(body.stepsByCase).toEqual([{ case: null, steps: [expect.stringMatching(/^Bước 1:/), expect.stringMatching(/^Bước 2:/), expect.stringMatching(/^Bước 3:/), expect.stringMatching(/^Bước 4:/)] }]);
    const feeOn = (channel: string) => body.channelOptions.find((c) => c.channel === channel)!.durations[0]!.fees.map((f) => f.amount);
    expect(feeOn('in_person')).toEqual([20000]);
    expect(feeOn('online')).toEqual([10000]);
    expect(body.channelOptions.find((c) => c.channel === 'online')!.durations[0]).toMatchObject({ amount: 7, unit: 'Ngày làm việc' });
    expect(body.implementingAgencyDetails.map((a) => a.code)).toEqual(p.agencies);
    expect(body.dossierComponents[0]!.formUrl).toMatch(/^https:\/\//);
    expect(body.legalDocuments.map((l) => l.title)).toEqual(p.legalBasis);
    expect(body.resultDocuments.map((r) => r.name)).toEqual(p.results);
    expect(body.fees).toBe('20.000 Đồng; 10.000 Đồng');
  });
});

describe('the catalogue while the national portal is down', () => {
  it('is served stale with Warning 110 instead of failing', async () => {
    const stale = await startTestGateway({ 'catalogue.ttlSeconds': 0 });
    try {
      const fresh = await stale.fetch('/v1/procedures');
      expect(fresh.status).toBe(200);
      expect(fresh.headers.get('x-cache')).toBe('miss');
      await setFault(stale.controlUrl, { system: 'dvcqg', mode: 'down' });
      const res = await stale.fetch('/v1/procedures');
      expect(res.status).toBe(200);
      expect(res.headers.get('x-cache')).toBe('stale');
      expect(res.headers.get('warning')).toBe('110 - "Response is stale"');
      expect(((await res.json()) as { total: number }).total).toBe(procedures.length);
      // Nothing cached for this one: the failure shows.
      const uncached = await stale.fetch(`/v1/procedures/${procedures[5]!.code}`);
      expect(uncached.status).toBe(503);
      expect(uncached.headers.get('retry-after')).toBeTruthy();
    } finally {
      await clearFaults(stale.controlUrl);
      await stale.close();
    }
  });
});

describe('population checks over each transport', () => {
  /** Verify and lookup through `target`; returns the lookup's exchange id. */
  async function checks(target: TestGateway): Promise<string> {
    const p = living[2]!;
    const send = (path: string, body: unknown) => target.fetch(path, { method: 'POST', key: KEYS.agency, headers: accountable(), body: JSON.stringify(body) });
    expect(await json(await send('/v1/citizens/verify', { idNumber: p.idNumber, fullName: p.fullName, dateOfBirth: p.dateOfBirth }))).toMatchObject({ result: 'match' });
    expect(await json(await send('/v1/citizens/verify', { idNumber: p.idNumber, fullName: `${p.fullName}h`, dateOfBirth: p.dateOfBirth }))).toMatchObject({ result: 'mismatch' });
    const res = await send('/v1/citizens/lookup', { idNumber: p.idNumber });
    expect(await json(res.clone())).toMatchObject({ idNumber: p.idNumber, fullName: p.fullName });
    expect(await json(await send('/v1/citizens/lookup', { idNumber: UNKNOWN.idNumber }), 404)).toMatchObject({ code: 'SUBJECT_NOT_FOUND' });
    return res.headers.get('x-exchange-id')!;
  }

  it('pass over lgsp, the sandbox default, without WS-Security (an unsigned answer is what the platform sends)', async () => {
    const exchange = await checks(gw);
    const entry = await auditEntry(gw, exchange, 'population');
    expect(entry.upstreamCalls).toMatchObject([{ upstream: 'population', outcome: 'success', messageSecurity: 'none' }]);
    await setFault(gw.controlUrl, { system: 'population', mode: 'unsigned' });
    try {
      const p = living[2]!;
      expect(await json(await post('/v1/citizens/verify', { idNumber: p.idNumber, fullName: p.fullName, dateOfBirth: p.dateOfBirth }))).toMatchObject({ result: 'match' });
    } finally {
      await clearFaults(gw.controlUrl);
    }
  });

  it('pass over direct with WS-Security both ways, and an unsigned answer is refused there', async () => {
    const direct = await startTestGateway({ 'upstreams.population.transport.mode': 'direct', 'upstreams.population.messageSecurity': 'ws-security' });
    try {
      const exchange = await checks(direct);
      const entry = await auditEntry(direct, exchange, 'population');
      expect(entry.upstreamCalls).toMatchObject([{ upstream: 'population', outcome: 'success', messageSecurity: 'ws-security' }]);
      await setFault(direct.controlUrl, { system: 'population', mode: 'unsigned' });
      const p = living[2]!;
      const refused = await direct.fetch('/v1/citizens/verify', { method: 'POST', key: KEYS.agency, headers: accountable(), body: JSON.stringify({ idNumber: p.idNumber, fullName: p.fullName, dateOfBirth: p.dateOfBirth }) });
      expect(await json(refused, 502)).toMatchObject({ code: 'UPSTREAM_SIGNATURE_INVALID' });
    } finally {
      await clearFaults(direct.controlUrl);
      await direct.close();
    }
  });

  it('refuses to start with the direct transport and no WS-Security', async () => {
    await expect(startTestGateway({ 'upstreams.population.transport.mode': 'direct', 'upstreams.population.messageSecurity': 'none' })).rejects.toThrow(/direct transport needs messageSecurity: ws-security/);
  });
});

describe('the agency and field catalogues', () => {
  type Entries = { items: { code: string; name: string }[] };

  it('lists the national catalogue\'s agencies and fields, whose codes filter the procedures', async () => {
    const agencies = await json<Entries>(await get('/v1/procedures/agencies', KEYS.portal));
    expect(agencies.items).toEqual(Object.entries(agencyNames).map(([code, name]) => ({ code, name })));
    const fields = await json<Entries>(await get('/v1/procedures/fields', KEYS.operator));
    expect(fields.items.map((f) => f.code).sort()).toEqual([...new Set(procedures.map((p) => p.field.code))].sort());
    for (const field of fields.items) {
      const filtered = await json<{ total: number }>(await get(`/v1/procedures?field=${encodeURIComponent(field.code)}`, KEYS.portal));
      expect(filtered.total, field.code).toBe(procedures.filter((p) => p.field.code === field.code).length);
    }
    const again = await get('/v1/procedures/agencies', KEYS.agency);
    expect(again.status).toBe(200);
    expect(again.headers.get('x-cache')).toBe('hit');
  });

  it('is served stale with Warning 110 while the national portal is down', async () => {
    const stale = await startTestGateway({ 'catalogue.ttlSeconds': 0 });
    try {
      expect((await stale.fetch('/v1/procedures/agencies')).headers.get('x-cache')).toBe('miss');
      await setFault(stale.controlUrl, { system: 'dvcqg', mode: 'down' });
      const res = await stale.fetch('/v1/procedures/agencies');
      expect(res.status).toBe(200);
      expect(res.headers.get('x-cache')).toBe('stale');
      expect(res.headers.get('warning')).toBe('110 - "Response is stale"');
      expect(((await res.json()) as Entries).items).toContainEqual({ code: 'H52.20', name: agencyNames['H52.20'] });
      // The field catalogue was never fetched: the failure shows.
      const uncached = await stale.fetch('/v1/procedures/fields');
      expect(uncached.status).toBe(503);
      expect(uncached.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    } finally {
      await clearFaults(stale.controlUrl);
      await stale.close();
    }
  });
});

describe('old 9-digit identity card numbers (CMND) through the population database', () => {
  const holder = living.find((p) => p.oldIdNumber !== null)!;
  const oldCard = holder.oldIdNumber!;

  it('verifies a person by their old card number, and logs the keyed hash of that number', async () => {
    const res = await post('/v1/citizens/verify', { idNumber: oldCard, fullName: holder.fullName, dateOfBirth: holder.dateOfBirth });
    expect(await json(res)).toMatchObject({ result: 'match', fields: { fullName: 'match', dateOfBirth: 'match' } });
    // The log names the subject by a keyed hash of the number given: the same for every exchange
    // about the old card, another than the 12-digit number's.
    const hashOf = async (r: Response) => ((await auditEntry(gw, r.headers.get('x-exchange-id')!, 'population')) as unknown as { subjectHash: string | null }).subjectHash;
    const byOldCard = await hashOf(res);
    expect(byOldCard).toMatch(/^[0-9a-f]{64}$/);
    expect(await hashOf(await post('/v1/citizens/lookup', { idNumber: oldCard }))).toBe(byOldCard);
    expect(await hashOf(await post('/v1/citizens/verify', { idNumber: holder.idNumber, fullName: holder.fullName, dateOfBirth: holder.dateOfBirth }))).not.toBe(byOldCard);
    const wrongName = await json(await post('/v1/citizens/verify', { idNumber: oldCard, fullName: `${holder.fullName}h`, dateOfBirth: holder.dateOfBirth }));
    expect(wrongName).toMatchObject({ result: 'mismatch', fields: { fullName: 'mismatch', dateOfBirth: 'match' } });
  });

  it('looks the record up by the old card number: the record names the 12-digit ID number', async () => {
    const record = await json(await post('/v1/citizens/lookup', { idNumber: oldCard, fields: ['oldIdNumber', 'fullName'] }, KEYS.agency, 'TIEP_NHAN_HO_SO'));
    expect(record).toEqual({ idNumber: holder.idNumber, oldIdNumber: oldCard, fullName: holder.fullName, redactedFields: [] });
  });

  it('answers not_found and 404 for a 9-digit number nobody holds', async () => {
    const held = new Set(people.map((p) => p.oldIdNumber));
    const nobody = ['999999999', '123456789'].find((n) => !held.has(n))!;
    expect(await json(await post('/v1/citizens/verify', { idNumber: nobody, fullName: holder.fullName, dateOfBirth: holder.dateOfBirth }))).toMatchObject({ result: 'not_found' });
    expect(await json(await post('/v1/citizens/lookup', { idNumber: nobody }), 404)).toMatchObject({ code: 'SUBJECT_NOT_FOUND' });
  });

  it('still refuses 10 or 11 digits with 400 naming idNumber', async () => {
    for (const idNumber of [`${oldCard}1`, `${oldCard}12`]) {
      const verify = await json(await post('/v1/citizens/verify', { idNumber, fullName: holder.fullName, dateOfBirth: holder.dateOfBirth }), 400);
      expect(verify, idNumber).toMatchObject({ errors: [expect.objectContaining({ field: expect.stringContaining('idNumber') })] });
      const lookup = await json(await post('/v1/citizens/lookup', { idNumber }), 400);
      expect(lookup, idNumber).toMatchObject({ errors: [expect.objectContaining({ field: expect.stringContaining('idNumber') })] });
    }
  });
});
