import type { components } from '../generated/gateway.ts';
import { GatewayError, isGatewayError } from '../errors/gateway-error.ts';
import { CITIZEN_FIELD_NAMES } from './citizen-fields.ts';
import type { CitizenRecord, PopulationRegistry } from './citizens-port.ts';
import { checkBirthYear, parsePersonalNumber, type PersonalNumber } from './identifiers/id-number.ts';
import { normaliseName } from './names.ts';
import type { CallContext } from './ports.ts';
import { toVietnamIso } from './time.ts';

export type CitizenField = components['schemas']['CitizenField'];
export type Verification = components['schemas']['CitizenVerification'];
export type CitizenView = components['schemas']['CitizenRecord'];

/** Every citizen field, as the contract's CitizenField lists them (kept in one place, read by the config schema too). */
export const CITIZEN_FIELDS: readonly CitizenField[] = CITIZEN_FIELD_NAMES;
// And the other way round: the compiler refuses a contract field the list lacks.
const _everyFieldListed: Exclude<CitizenField, (typeof CITIZEN_FIELD_NAMES)[number]> extends never ? true : never = true;
void _everyFieldListed;

/** Signs the result of a verification; the gateway's attestation (a compact JWS). */
export interface Attester {
  attest(claims: Record<string, unknown>): Promise<string>;
}

/** Which citizen fields a client may see for a purpose. */
export type FieldPolicy = (clientId: string, purpose: string | undefined) => readonly CitizenField[];

export interface CitizenService {
  verify(ctx: CallContext, request: { idNumber: string; fullName: string; dateOfBirth: string }): Promise<Verification>;
  lookup(ctx: CallContext, request: { idNumber: string; fields?: CitizenField[] }): Promise<CitizenView>;
}

function parseOrRefuse(idNumber: string): PersonalNumber {
  const parsed = parsePersonalNumber(idNumber);
  if (!parsed.ok) {
    throw new GatewayError('INVALID_IDENTIFIER', { detail: `idNumber ${parsed.reason}`, errors: [{ field: 'body.idNumber', message: parsed.reason }] });
  }
  return parsed.value;
}

async function existsOrNotFound(ask: () => Promise<boolean>): Promise<boolean> {
  try {
    return await ask();
  } catch (err) {
    if (isGatewayError(err) && err.code === 'SUBJECT_NOT_FOUND') return false;
    throw err;
  }
}

export function createCitizenService(deps: {
  population: PopulationRegistry;
  attester: Attester;
  fieldPolicy: FieldPolicy;
  /** Keyed hash of an ID number: the attestation names who was checked without saying it. */
  hashSubject: (idNumber: string) => string;
  now?: () => Date;
}): CitizenService {
  const now = deps.now ?? (() => new Date());

  return {
    /**
     * Data minimisation: the gateway asks the population database only "does a person with these
     * fields exist?" (XacThucThongTinCongDan) and never fetches the record. One question when all
     * fields match; on a mismatch, three more in parallel tell which field differs.
     */
    async verify(ctx, request) {
      const id = parseOrRefuse(request.idNumber);
      // An old card number (CMND) says nothing about its holder's birth, so there is nothing to compare.
      const birth = id.kind === 'id_number' ? checkBirthYear(id.idNumber, request.dateOfBirth) : ({ ok: true } as const);
      if (!birth.ok) {
        // Refused before any upstream call: no person can have this number and this birth date.
        throw new GatewayError('INVALID_IDENTIFIER', {
          detail: `idNumber and dateOfBirth disagree: ${birth.reason}`,
          errors: [{ field: 'body.dateOfBirth', message: birth.reason }],
        });
      }
      const fullName = normaliseName(request.fullName);
      if (fullName.length === 0) {
        throw new GatewayError('VALIDATION_FAILED', { detail: 'fullName is blank', errors: [{ field: 'body.fullName', message: 'must not be blank' }] });
      }
      const { idNumber, dateOfBirth } = request;
      const ask = (query: Parameters<PopulationRegistry['exists']>[1]) => existsOrNotFound(() => deps.population.exists(ctx, query));

      let result: Verification['result'];
      let fields: Verification['fields'];
      if (await ask({ idNumber, fullName, dateOfBirth })) {
        result = 'match';
        fields = { fullName: 'match', dateOfBirth: 'match' };
      } else {
        const [known, nameMatches, birthMatches] = await Promise.all([ask({ idNumber }), ask({ idNumber, fullName }), ask({ idNumber, dateOfBirth })]);
        if (!known) result = 'not_found';
        else {
          result = 'mismatch';
          fields = { fullName: nameMatches ? 'match' : 'mismatch', dateOfBirth: birthMatches ? 'match' : 'mismatch' };
        }
      }
      const checkedAt = toVietnamIso(now());
      const attestation = await deps.attester.attest({
        jti: ctx.exchangeId,
        sub: deps.hashSubject(idNumber),
        aud: ctx.clientId,
        requestId: ctx.requestId,
        purpose: ctx.purpose,
        result,
        ...(fields ? { fields } : {}),
        checkedAt,
      });
      return { result, ...(fields ? { fields } : {}), checkedAt, attestation };
    },

    async lookup(ctx, request) {
      parseOrRefuse(request.idNumber);
      const permitted = new Set(deps.fieldPolicy(ctx.clientId, ctx.purpose));
      const requested = request.fields?.length ? [...new Set(request.fields)] : CITIZEN_FIELDS;
      const shown = requested.filter((f) => permitted.has(f));
      const redactedFields = requested.filter((f) => !permitted.has(f));
      if (shown.length === 0) {
        // Nothing this client may see for this purpose: no reason to touch the national database.
        throw new GatewayError('FORBIDDEN', {
          detail: `client ${ctx.clientId} may see none of the requested fields for purpose ${ctx.purpose ?? '(none)'}`,
        });
      }
      const record: CitizenRecord = await deps.population.lookup(ctx, request.idNumber);
      const view: Record<string, unknown> = { idNumber: record.idNumber };
      for (const field of shown) view[field] = record[field] ?? null;
      view.redactedFields = redactedFields;
      return view as CitizenView;
    },
  };
}
