import { randomUUID } from 'node:crypto';
import { decodeProtectedHeader } from 'jose';
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../errors/gateway-error.ts';
import { createLogger } from '../logging.ts';
import { createAttestationSigner, createSubjectHasher, verifyAttestation } from '../signing/attestation.ts';
import { sample } from '../signing/material.ts';
import { createTrustStore, loadPemCredentials, readCertificates, withChain } from '../signing/trust-store.ts';
import { createCitizenService, type CitizenField } from './citizens.ts';
import type { CitizenRecord, IdentityQuery, PopulationRegistry } from './citizens-port.ts';
import { sameName } from './names.ts';
import type { CallContext } from './ports.ts';

const ctx: CallContext = {
  requestId: 'r',
  exchangeId: randomUUID(),
  signal: new AbortController().signal,
  log: createLogger({ level: 'silent' }),
  clientId: 'desk',
  agency: 'H52.101.114',
  purpose: 'XAC_MINH_DANH_TINH',
  userId: 'officer-7',
};

const thang: CitizenRecord = {
  idNumber: '014089001234',
  oldIdNumber: '050712345',
  fullName: 'Lò Văn Thắng',
  familyName: 'Lò',
  middleName: 'Văn',
  givenName: 'Thắng',
  gender: 'male',
  dateOfBirth: '1989-04-17',
  ethnicity: 'Thái',
  permanentAddress: { detail: 'Bản Hụm', commune: 'Phường Tô Hiệu', district: null, province: 'Sơn La', provinceCode: '14', districtCode: null, communeCode: '04054', country: 'VN' },
};

/** The population port over one record, recording every question asked. */
function fakePopulation() {
  const asked: IdentityQuery[] = [];
  let lookups = 0;
  const population: PopulationRegistry = {
    exists: async (_ctx, q) => {
      asked.push(q);
      return (q.idNumber === thang.idNumber || q.idNumber === thang.oldIdNumber) && (q.fullName === undefined || sameName(q.fullName, thang.fullName)) && (q.dateOfBirth === undefined || q.dateOfBirth === thang.dateOfBirth);
    },
    lookup: async (_ctx, idNumber) => {
      lookups++;
      if (idNumber !== thang.idNumber && idNumber !== thang.oldIdNumber) throw new GatewayError('SUBJECT_NOT_FOUND');
      return thang;
    },
  };
  return { population, asked, lookups: () => lookups };
}

const hashSubject = createSubjectHasher(Buffer.alloc(32, 7));

async function service(fields: CitizenField[] = ['fullName', 'dateOfBirth', 'permanentAddress'], credentials = 'gateway') {
  const loaded = withChain(loadPemCredentials(sample(`${credentials}.pem`), sample(`${credentials}.key.pem`)), readCertificates(sample('issuing-ca.pem')));
  const attester = await createAttestationSigner(loaded, { issuer: 'https://lienthong.test' });
  const fake = fakePopulation();
  return { ...fake, attester, citizens: createCitizenService({ population: fake.population, attester, fieldPolicy: () => fields, hashSubject }) };
}

/** What an agency holds: the root certificate only. */
const rootOnly = createTrustStore({ roots: readCertificates(sample('root-ca.pem')) });

describe('citizen verification', () => {
  it('matches with one question, whatever the form of the name', async () => {
    const { citizens, asked } = await service();
    for (const fullName of ['Lò Văn Thắng', 'Lò Văn Thắng'.normalize('NFD'), 'LÒ  VĂN THẮNG']) {
      const r = await citizens.verify(ctx, { idNumber: thang.idNumber, fullName, dateOfBirth: thang.dateOfBirth });
      expect(r.result).toBe('match');
      expect(r.fields).toEqual({ fullName: 'match', dateOfBirth: 'match' });
    }
    expect(asked).toHaveLength(3);
    // The name is sent NFC and tidied, never as the caller typed it.
    expect(asked.every((q) => q.fullName === q.fullName!.normalize('NFC') && !q.fullName!.includes('  '))).toBe(true);
  });

  it('names the field that differs, and never fetches the record', async () => {
    const { citizens, lookups } = await service();
    expect((await citizens.verify(ctx, { idNumber: thang.idNumber, fullName: 'Lò Văn Thắm', dateOfBirth: thang.dateOfBirth })).fields).toEqual({ fullName: 'mismatch', dateOfBirth: 'match' });
    expect((await citizens.verify(ctx, { idNumber: thang.idNumber, fullName: thang.fullName, dateOfBirth: '1989-04-18' })).fields).toEqual({ fullName: 'match', dateOfBirth: 'mismatch' });
    const both = await citizens.verify(ctx, { idNumber: thang.idNumber, fullName: 'Lo Van Thang', dateOfBirth: '1989-05-17' });
    expect(both).toMatchObject({ result: 'mismatch', fields: { fullName: 'mismatch', dateOfBirth: 'mismatch' } });
    const missing = await citizens.verify(ctx, { idNumber: '014089999999', fullName: thang.fullName, dateOfBirth: thang.dateOfBirth });
    expect(missing.result).toBe('not_found');
    expect(missing.fields).toBeUndefined();
    expect(lookups()).toBe(0);
  });

  it('refuses contradictory or impossible numbers before asking anyone', async () => {
    const { citizens, asked } = await service();
    await expect(citizens.verify(ctx, { idNumber: '014089001234', fullName: 'X', dateOfBirth: '1990-01-01' })).rejects.toMatchObject({ code: 'INVALID_IDENTIFIER', errors: [{ field: 'body.dateOfBirth' }] });
    await expect(citizens.verify(ctx, { idNumber: '01408900123X', fullName: 'X', dateOfBirth: '1989-01-01' })).rejects.toMatchObject({ code: 'INVALID_IDENTIFIER', errors: [{ field: 'body.idNumber' }] });
    await expect(citizens.verify(ctx, { idNumber: '014289001234', fullName: 'X', dateOfBirth: '1989-01-01' })).rejects.toMatchObject({ code: 'INVALID_IDENTIFIER' });
    expect(asked).toHaveLength(0);
  });

  it('takes a 9-digit old card number, with no birth-year check to make, and attests it by its keyed hash', async () => {
    const { citizens, asked } = await service();
    const oldCard = thang.oldIdNumber!;
    const r = await citizens.verify(ctx, { idNumber: oldCard, fullName: thang.fullName, dateOfBirth: thang.dateOfBirth });
    expect(r.result).toBe('match');
    expect((await verifyAttestation(r.attestation, rootOnly)).sub).toBe(hashSubject(oldCard));
    // A year no 12-digit number could agree with is still asked about: an old card says nothing of it.
    const other = await citizens.verify(ctx, { idNumber: oldCard, fullName: thang.fullName, dateOfBirth: '2001-04-17' });
    expect(other).toMatchObject({ result: 'mismatch', fields: { fullName: 'match', dateOfBirth: 'mismatch' } });
    expect(asked.every((q) => q.idNumber === oldCard)).toBe(true);
    expect((await citizens.verify(ctx, { idNumber: '999999999', fullName: 'X', dateOfBirth: '1989-01-01' })).result).toBe('not_found');
    const before = asked.length;
    for (const idNumber of ['0507123456', '05071234567', '05071234X']) {
      await expect(citizens.verify(ctx, { idNumber, fullName: 'X', dateOfBirth: '1989-01-01' })).rejects.toMatchObject({ code: 'INVALID_IDENTIFIER', errors: [{ field: 'body.idNumber' }] });
    }
    expect(asked).toHaveLength(before);
  });

  it('signs an attestation that verifies with only the root certificate and holds no personal data', async () => {
    for (const [credentials, alg] of [['gateway', 'RS256'], ['gateway-ec', 'ES256']] as const) {
      const { citizens, attester } = await service(undefined, credentials);
      const r = await citizens.verify(ctx, { idNumber: thang.idNumber, fullName: thang.fullName, dateOfBirth: thang.dateOfBirth });
      const payload = await verifyAttestation(r.attestation, rootOnly, { issuer: 'https://lienthong.test' });
      expect(payload).toMatchObject({ result: 'match', jti: ctx.exchangeId, aud: 'desk', purpose: 'XAC_MINH_DANH_TINH', requestId: 'r', checkedAt: r.checkedAt });
      // Who was checked, as a keyed hash only.
      expect(payload.sub).toBe(hashSubject(thang.idNumber));
      expect(decodeProtectedHeader(r.attestation)).toMatchObject({ alg, kid: attester.kid, x5c: expect.any(Array) });
      const text = JSON.stringify(payload);
      expect(text).not.toContain(thang.idNumber);
      expect(text).not.toContain('Thắng');
      // A changed result does not verify.
      const [h, , s] = r.attestation.split('.');
      const forged = `${h}.${Buffer.from(JSON.stringify({ ...payload, result: 'mismatch' })).toString('base64url')}.${s}`;
      await expect(verifyAttestation(forged, rootOnly)).rejects.toThrow();
    }
    // Signed under another root: refused.
    const { citizens } = await service();
    const r = await citizens.verify(ctx, { idNumber: thang.idNumber, fullName: thang.fullName, dateOfBirth: thang.dateOfBirth });
    await expect(verifyAttestation(r.attestation, createTrustStore({ roots: readCertificates(sample('tsa.pem')) }))).rejects.toMatchObject({ code: 'UPSTREAM_CERT_UNTRUSTED' });
  });
});

describe('citizen lookup', () => {
  it('finds the record by a 9-digit old card number and refuses 10 or 11 digits without asking', async () => {
    const { citizens, lookups } = await service(['fullName', 'oldIdNumber']);
    expect(await citizens.lookup(ctx, { idNumber: thang.oldIdNumber!, fields: ['fullName', 'oldIdNumber'] })).toEqual({ idNumber: thang.idNumber, fullName: thang.fullName, oldIdNumber: thang.oldIdNumber, redactedFields: [] });
    await expect(citizens.lookup(ctx, { idNumber: '999999999' })).rejects.toMatchObject({ code: 'SUBJECT_NOT_FOUND' });
    for (const idNumber of ['0507123456', '05071234567']) await expect(citizens.lookup(ctx, { idNumber })).rejects.toMatchObject({ code: 'INVALID_IDENTIFIER' });
    expect(lookups()).toBe(2);
  });

  it('returns only the fields the client may see for the purpose and names the rest', async () => {
    const { citizens } = await service(['fullName', 'dateOfBirth']);
    const all = await citizens.lookup(ctx, { idNumber: thang.idNumber });
    expect(Object.keys(all).sort()).toEqual(['dateOfBirth', 'fullName', 'idNumber', 'redactedFields']);
    expect(all.redactedFields).toContain('ethnicity');
    expect(all.redactedFields).not.toContain('fullName');
    const asked = await citizens.lookup(ctx, { idNumber: thang.idNumber, fields: ['fullName', 'ethnicity'] });
    expect(asked).toEqual({ idNumber: thang.idNumber, fullName: thang.fullName, redactedFields: ['ethnicity'] });
  });

  it('does not ask the database when no requested field is allowed', async () => {
    const { citizens, lookups } = await service(['fullName']);
    await expect(citizens.lookup(ctx, { idNumber: thang.idNumber, fields: ['father'] })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect(lookups()).toBe(0);
  });
});
