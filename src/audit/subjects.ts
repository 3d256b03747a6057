/**
 * Where each operation of the contract (openapi/gateway.yaml) carries identifiers of a person or
 * an enterprise, in its request and in its answer: the one table the exchange log reads subjects
 * from. A leaf records the keyed hash of every well-formed identifier found there, so an auditor's
 * search by any one of a person's identifiers (ID number, old card number, social insurance code,
 * personal tax code) or an enterprise's (enterprise code, tax code) finds every exchange about them.
 * The places are declared in the contract (`x-subjects` on each operation), beside the fields.
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

const KINDS = new Set(Object.keys(IDENTIFIER_SHAPES));
const SOURCES = /^(?:body|params|query|answer)(?:\.[A-Za-z0-9_]+)+$/;

/**
 * An operation's `x-subjects` from the contract: where it carries identifiers, in order of
 * preference for the primary subject (`subjectHash`: the first found in the request). Absent: the
 * operation carries no identifier of a person or enterprise. A malformed entry is an error in the
 * contract, thrown when the contract is loaded (at start).
 */
export function readSubjectPaths(operationId: string, declared: unknown): IdentifierPath[] {
  if (declared === undefined) return [];
  const where = `${operationId}: x-subjects`;
  if (!Array.isArray(declared)) throw new Error(`${where} must be a list`);
  return declared.map((entry: { path?: unknown; kind?: unknown } | null, i) => {
    if (typeof entry?.path !== 'string' || !SOURCES.test(entry.path)) throw new Error(`${where}[${i}].path must be body.…, params.…, query.… or answer.…`);
    if (typeof entry.kind !== 'string' || !KINDS.has(entry.kind)) throw new Error(`${where}[${i}].kind must be one of ${[...KINDS].join(', ')}`);
    return { path: entry.path, kind: entry.kind as IdentifierKind };
  });
}

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
 * The well-formed identifiers found at an operation's `paths`, in their order, without repeats;
 * values that do not have their kind's shape (a refused request's) are left out, never hashed.
 */
export function identifiersOf(paths: readonly IdentifierPath[], sources: IdentifierSources): string[] {
  const found: string[] = [];
  for (const { path, kind } of paths) {
    const value = valueAt(sources, path);
    if (typeof value === 'string' && IDENTIFIER_SHAPES[kind].test(value) && !found.includes(value)) found.push(value);
  }
  return found;
}

/** Whether the operation's answer carries identifiers (so the recorder reads its body). */
export function answerCarriesIdentifiers(paths: readonly IdentifierPath[]): boolean {
  return paths.some((p) => p.path.startsWith('answer.'));
}
