/**
 * Where each operation of the contract (openapi/gateway.yaml) carries identifiers of a person or
 * an enterprise, in its request and in its answer: the one table the exchange log reads subjects
 * from. A leaf records the keyed hash of every well-formed identifier found there, so an auditor's
 * search by any one of a person's identifiers (ID number, old card number, social insurance code,
 * personal tax code) or an enterprise's (enterprise code, tax code) finds every exchange about them.
 */

/** The kinds of identifier, each with the shape the contract gives it. */
export const IDENTIFIER_SHAPES = {
  /** Personal ID number (12 digits) or old identity card number (CMND, 9 digits): PersonalNumber. */
  personal: /^(?:[0-9]{12}|[0-9]{9})$/,
  /** Personal ID number only: IdNumber, Relative.idNumber. */
  idNumber: /^[0-9]{12}$/,
  /** Old identity card number: CitizenRecord.oldIdNumber. */
  oldIdNumber: /^[0-9]{9}$/,
  /** Social insurance code (mã số BHXH). */
  insuranceCode: /^[0-9]{10}$/,
  /** Tax code: an organisation's (10 digits, -NNN for a dependent unit) or a person's (the 12-digit ID number). */
  taxCode: /^(?:[0-9]{10}(?:-[0-9]{3})?|[0-9]{12})$/,
  /** Enterprise code, -NNN for a dependent unit. */
  enterpriseCode: /^[0-9]{10}(?:-[0-9]{3})?$/,
  /** Any of the above (a dossier applicant's identifier, the subject an auditor searches for). */
  any: /^(?:[0-9]{9}|[0-9]{10}(?:-[0-9]{3})?|[0-9]{12})$/,
} as const;

export type IdentifierKind = keyof typeof IDENTIFIER_SHAPES;

/**
 * A place an identifier is found: `body.…`, `params.…` or `query.…` of the request, or `answer.…`
 * of the JSON answer the client receives (dot-separated property names).
 */
export interface IdentifierPath {
  path: string;
  kind: IdentifierKind;
}

const at = (path: string, kind: IdentifierKind): IdentifierPath => ({ path, kind });

/**
 * Per operationId, in order of preference for the primary subject (`subjectHash`, the first found
 * in the request). Operations not listed carry no identifier of a person or enterprise.
 */
export const IDENTIFIER_PATHS: Readonly<Record<string, readonly IdentifierPath[]>> = {
  verifyCitizen: [at('body.idNumber', 'personal')],
  lookupCitizen: [
    at('body.idNumber', 'personal'),
    at('answer.idNumber', 'idNumber'),
    at('answer.oldIdNumber', 'oldIdNumber'),
    // Relatives the answer names are people the exchange told about too.
    at('answer.father.idNumber', 'idNumber'),
    at('answer.mother.idNumber', 'idNumber'),
    at('answer.spouse.idNumber', 'idNumber'),
    at('answer.householdHead.idNumber', 'idNumber'),
  ],
  getEnterprise: [at('params.enterpriseCode', 'enterpriseCode'), at('answer.enterpriseCode', 'enterpriseCode')],
  getTaxpayer: [at('params.taxCode', 'taxCode'), at('answer.taxCode', 'taxCode')],
  lookupSocialInsurance: [
    at('body.idNumber', 'idNumber'),
    at('body.insuranceCode', 'insuranceCode'),
    at('answer.insuranceCode', 'insuranceCode'),
    at('answer.idNumber', 'idNumber'),
  ],
  createAccountLink: [at('body.subject.idNumber', 'personal'), at('body.subject.enterpriseCode', 'enterpriseCode')],
  listAccountLinks: [at('query.idNumber', 'personal')],
  createDossier: [at('body.applicant.identifier', 'any')],
  listAuditEntries: [at('query.subject', 'any')],
};

/** What the table reads from: the request as parsed, and the answer's JSON body (when the answer is JSON). */
export interface IdentifierSources {
  body?: unknown;
  params?: Record<string, unknown>;
  query?: Record<string, unknown>;
  answer?: unknown;
}

function valueAt(sources: IdentifierSources, path: string): unknown {
  const [source, ...keys] = path.split('.');
  let value: unknown = sources[source as keyof IdentifierSources];
  for (const key of keys) {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/**
 * The well-formed identifiers of an operation, in the table's order, without repeats; values that
 * do not have their kind's shape (a refused request's) are left out, never hashed.
 */
export function identifiersOf(operationId: string, sources: IdentifierSources): string[] {
  const found: string[] = [];
  for (const { path, kind } of IDENTIFIER_PATHS[operationId] ?? []) {
    const value = valueAt(sources, path);
    if (typeof value === 'string' && IDENTIFIER_SHAPES[kind].test(value) && !found.includes(value)) found.push(value);
  }
  return found;
}

/** Whether the operation's answer carries identifiers (so the recorder reads its body). */
export function answerCarriesIdentifiers(operationId: string): boolean {
  return (IDENTIFIER_PATHS[operationId] ?? []).some((p) => p.path.startsWith('answer.'));
}
