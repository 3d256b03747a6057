// A portal's first afternoon, in plain Node (no TypeScript, no loader): verify a citizen, link
// their portal account, hand a dossier over and wait until the national portal holds it.
//
//   npm install @lienthong/client
//   GATEWAY_URL=http://localhost:8080 node verify-link-dossier.mjs
//
// Against the sandbox (`npm start` in the gateway) it prints one JSON object with what each step
// answered. Any unexpected answer ends it with exit code 1 and the problem+json on stderr.
import { randomInt, randomUUID } from 'node:crypto';
import { createGatewayClient } from '@lienthong/client';

const baseUrl = process.env.GATEWAY_URL ?? 'http://localhost:8080';
const apiKey = process.env.GATEWAY_KEY ?? 'sandbox-agency-key';

// Who acts and why, set once: every call carries X-User-Id and X-Purpose.
const gateway = createGatewayClient({ baseUrl, apiKey, userId: 'officer-17', purpose: 'XAC_MINH_DANH_TINH' });

/** Stops with the gateway's problem+json when a call did not answer `status`. */
function expectStatus({ response, error }, status, step) {
  if (response.status === status) return;
  console.error(`${step}: expected ${status}, got ${response.status}`, JSON.stringify(error));
  process.exit(1);
}

// A sandbox person (see GET /personas on the sandbox control server).
const person = { idNumber: '014089001234', fullName: 'Lò Văn Thắng', dateOfBirth: '1989-04-17' };
const out = {};

// 1. Verify: the population database confirms (or not) what the citizen declared.
const verified = await gateway.POST('/v1/citizens/verify', { body: person });
expectStatus(verified, 200, 'verify');
out.verify = { result: verified.data.result, attested: typeof verified.data.attestation === 'string', exchangeId: verified.response.headers.get('x-exchange-id') };

// A wrong date of birth is not an error: the answer names the field that differs.
const mismatch = await gateway.POST('/v1/citizens/verify', { body: { ...person, dateOfBirth: '1989-04-18' } });
expectStatus(mismatch, 200, 'verify (mismatch)');
out.mismatch = { result: mismatch.data.result, fields: mismatch.data.fields };

// Errors are application/problem+json with a stable code and the fields at fault.
const invalid = await gateway.GET('/v1/enterprises/{enterpriseCode}', { params: { path: { enterpriseCode: '5500123458' } } });
expectStatus(invalid, 400, 'wrong check digit');
out.invalid = {
  status: invalid.response.status,
  contentType: invalid.response.headers.get('content-type'),
  code: invalid.error.code,
  fields: (invalid.error.errors ?? []).map((e) => e.field),
};

// 2. Link the portal account to the person, for another purpose: a per-call header wins.
const portalAccountId = 'portal-account-0001';
const link = await gateway.POST('/v1/accounts/links', {
  params: { header: { 'X-Purpose': 'LIEN_KET_TAI_KHOAN' } },
  body: {
    portalAccountId,
    subject: { type: 'person', idNumber: person.idNumber },
    evidence: { fullName: person.fullName, dateOfBirth: person.dateOfBirth },
  },
});
// 201 the first time, 200 when this account is already linked to this person (a safe retry).
if (link.response.status !== 200) expectStatus(link, 201, 'account link');
out.link = { status: link.response.status, id: link.data.id, state: link.data.state, maskedIdentifier: link.data.subject.maskedIdentifier };

// 3. Hand a dossier over for a procedure of the national catalogue.
const catalogue = await gateway.GET('/v1/procedures', { params: { query: { q: 'hộ kinh doanh' } } });
expectStatus(catalogue, 200, 'procedures');
const procedure = catalogue.data.items[0];
if (!procedure) {
  console.error('no procedure found for "hộ kinh doanh"');
  process.exit(1);
}

/** `date` in Vietnam time, as ISO 8601 with +07:00. */
const vietnam = (date) => `${new Date(date.getTime() + 7 * 3_600_000).toISOString().slice(0, 19)}+07:00`;
const now = new Date();
const day = vietnam(now).slice(2, 10).replaceAll('-', '');
const dueDay = new Date(now.getTime() + 5 * 86_400_000);
const code = `H52.101.114-${day}-${String(randomInt(10_000, 100_000))}`;
const dossier = await gateway.POST('/v1/dossiers', {
  params: { header: { 'X-Purpose': 'TIEP_NHAN_HO_SO', 'Idempotency-Key': randomUUID() } },
  body: {
    code,
    procedureCode: procedure.code,
    procedureName: procedure.name,
    field: { code: procedure.field.code, name: procedure.field.name },
    receiptNumber: `${code.slice(-5)}/BN-TH`,
    applicant: { type: 'citizen', identifier: person.idNumber, name: person.fullName, phone: '0912345678' },
    summary: `${procedure.name}: ${person.fullName}`,
    receivedAt: vietnam(new Date(now.getTime() - 60_000)),
    dueAt: `${vietnam(dueDay).slice(0, 10)}T17:00:00+07:00`,
    channel: 'online',
    handlingAgency: 'Ủy ban nhân dân phường Tô Hiệu',
    attachments: [
      { id: 'don-01', name: 'Giay-de-nghi.pdf', componentCode: 'TP01', url: 'https://motcua.example.vn/files/don-01.pdf', digitised: true, reused: false },
    ],
    fees: [{ name: 'Lệ phí', amount: 100000, paid: true }],
  },
});
expectStatus(dossier, 202, 'dossier');
out.dossier = { status: dossier.response.status, code, procedureCode: procedure.code };

// 202 means stored with its delivery job, not yet sent: wait until the national portal has it.
const deadline = Date.now() + 30_000;
for (;;) {
  const state = await gateway.GET('/v1/dossiers/{dossierCode}', {
    params: { path: { dossierCode: code }, header: { 'X-Purpose': 'TIEP_NHAN_HO_SO' } },
  });
  expectStatus(state, 200, 'dossier state');
  if (state.data.deliveryState === 'delivered') {
    out.delivered = {
      deliveryState: state.data.deliveryState,
      statusName: state.data.statusName,
      history: state.data.history.map((h) => ({ kind: h.kind, deliveryState: h.deliveryState, deliveredAt: h.deliveredAt })),
    };
    break;
  }
  if (state.data.deliveryState === 'dead' || Date.now() > deadline) {
    console.error('dossier not delivered', JSON.stringify(state.data));
    process.exit(1);
  }
  await new Promise((resolve) => setTimeout(resolve, 200));
}

console.log(JSON.stringify(out));
