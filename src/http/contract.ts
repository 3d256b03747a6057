import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import type { Role } from '../config/schema.ts';
import { readSubjectPaths, type IdentifierPath } from '../audit/subjects.ts';

export const CONTRACT_PATH = fileURLToPath(new URL('../../openapi/gateway.yaml', import.meta.url));

const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;
type Method = (typeof METHODS)[number];

/** One operation of openapi/gateway.yaml with the gateway's vendor extensions read out. */
export interface Operation {
  operationId: string;
  method: Method;
  /** The OpenAPI path, e.g. /v1/enterprises/{enterpriseCode}. */
  path: string;
  /** The same path for express, e.g. /v1/enterprises/:enterpriseCode. */
  expressPath: string;
  /** x-roles: roles that may call it; empty for public operational endpoints. */
  roles: Role[];
  /** x-personal-data: X-User-Id and X-Purpose are required. */
  personalData: boolean;
  /** Query parameters marked x-personal-data: when one is given, X-User-Id and X-Purpose are required. */
  personalDataParameters: string[];
  /** Parameters marked x-secret (a link token): never copied into an audit record's criteria. */
  secretParameters: string[];
  /** x-exchange: the operation calls a national system. */
  exchange: boolean;
  /**
   * x-audit-record: every call (by an authenticated client) is an entry of the exchange log, though
   * it reaches no national system: the auditors' own searches, exports and resolutions.
   */
  auditRecord: boolean;
  /** x-subjects: where the operation carries identifiers of a person or an enterprise, for the exchange log. */
  subjects: IdentifierPath[];
  /** False for operational endpoints (security: []). */
  authenticated: boolean;
  matcher: RegExp;
  /** Names of the path parameters, in the order the matcher captures them. */
  pathParameters: string[];
}

/** A request's operation and its path parameters, percent-decoded; `undefined` when one does not decode. */
export interface Match {
  operation: Operation;
  params: Record<string, string> | undefined;
}

export interface Contract {
  document: Record<string, unknown>;
  operations: Operation[];
  byId: Map<string, Operation>;
  /** The operation for a method and path; `allowed` lists methods when only the path matched. */
  match(method: string, path: string): Match | { allowed: string[] } | undefined;
}

interface RawOperation {
  operationId?: string;
  security?: unknown[];
  'x-roles'?: Role[];
  'x-personal-data'?: boolean;
  'x-exchange'?: boolean;
  'x-audit-record'?: boolean;
  'x-subjects'?: unknown;
  parameters?: RawParameter[];
}

interface RawParameter {
  $ref?: string;
  name?: string;
  in?: string;
  'x-personal-data'?: boolean;
  'x-secret'?: boolean;
}

/** Names of the query parameters marked x-personal-data (inline, or by reference to components). */
function personalDataParameters(document: Record<string, unknown>, raw: RawOperation): string[] {
  const components = ((document.components as Record<string, unknown> | undefined)?.parameters ?? {}) as Record<string, RawParameter>;
  return (raw.parameters ?? [])
    .map((p) => (p.$ref ? components[p.$ref.replace('#/components/parameters/', '')] ?? {} : p))
    .filter((p) => p.in === 'query' && p['x-personal-data'] === true && typeof p.name === 'string')
    .map((p) => p.name!);
}

/** Names of the parameters (any location) marked x-secret: a credential, never written to the log in clear. */
function secretParameters(document: Record<string, unknown>, raw: RawOperation): string[] {
  const components = ((document.components as Record<string, unknown> | undefined)?.parameters ?? {}) as Record<string, RawParameter>;
  return (raw.parameters ?? [])
    .map((p) => (p.$ref ? components[p.$ref.replace('#/components/parameters/', '')] ?? {} : p))
    .filter((p) => p['x-secret'] === true && typeof p.name === 'string')
    .map((p) => p.name!);
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function loadContract(path: string = CONTRACT_PATH): Contract {
  const document = parseYaml(readFileSync(path, 'utf8')) as Record<string, unknown>;
  const paths = (document.paths ?? {}) as Record<string, Record<string, RawOperation>>;
  const operations: Operation[] = [];
  for (const [p, item] of Object.entries(paths)) {
    for (const method of METHODS) {
      const raw = item[method];
      if (!raw) continue;
      if (!raw.operationId) throw new Error(`${method.toUpperCase()} ${p} has no operationId`);
      const segments = p.split(/(\{[^}]+\})/).filter(Boolean);
      const pattern = segments.map((s) => (s.startsWith('{') ? '([^/]+)' : escapeRegex(s))).join('');
      operations.push({
        operationId: raw.operationId,
        method,
        path: p,
        expressPath: p.replace(/\{([^}]+)\}/g, ':$1'),
        roles: raw['x-roles'] ?? [],
        personalData: raw['x-personal-data'] === true,
        personalDataParameters: personalDataParameters(document, raw),
        secretParameters: secretParameters(document, raw),
        exchange: raw['x-exchange'] === true,
        auditRecord: raw['x-audit-record'] === true,
        subjects: readSubjectPaths(raw.operationId, raw['x-subjects']),
        authenticated: !(Array.isArray(raw.security) && raw.security.length === 0),
        matcher: new RegExp(`^${pattern}/?$`),
        pathParameters: [...p.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!),
      });
    }
  }
  // Literal paths first, so /v1/accounts/links/x never shadows a literal sibling.
  operations.sort((a, b) => a.path.split('{').length - b.path.split('{').length);
  const byId = new Map(operations.map((o) => [o.operationId, o]));
  // Candidates by number of path segments (a trailing slash ignored), so a request is tried against
  // the few operations of its depth only, in the order above.
  const byDepth = new Map<number, Operation[]>();
  for (const operation of operations) {
    const depth = segmentCount(operation.path);
    byDepth.set(depth, [...(byDepth.get(depth) ?? []), operation]);
  }

  return {
    document,
    operations,
    byId,
    match(method, path) {
      const m = method.toLowerCase();
      const candidates = byDepth.get(segmentCount(path));
      if (!candidates) return undefined;
      let found: RegExpExecArray | null = null;
      let exact: Operation | undefined;
      let onPath: Operation[] | undefined;
      for (const operation of candidates) {
        const groups = operation.matcher.exec(path);
        if (!groups) continue;
        (onPath ??= []).push(operation);
        // A literal path (/v1/accounts/sso/start) beats a templated one on the same level: literal ones come first.
        if (!exact && operation.method === m) {
          exact = operation;
          found = groups;
        }
      }
      if (!onPath) return undefined;
      // HEAD is answered as GET.
      if (!exact && m === 'head') {
        exact = onPath.find((o) => o.method === 'get');
        if (exact) found = exact.matcher.exec(path);
      }
      if (exact) return { operation: exact, params: paramsOf(exact, found!) };
      return { allowed: [...new Set(onPath.map((o) => o.method.toUpperCase()))] };
    },
  };
}

/** The slashes of a path, a trailing one left out. */
function segmentCount(path: string): number {
  const end = path.length > 1 && path.charCodeAt(path.length - 1) === 47 ? path.length - 1 : path.length;
  let count = 0;
  for (let i = 0; i < end; i++) if (path.charCodeAt(i) === 47) count++;
  return count;
}

/** The captured path parameters, percent-decoded; undefined when one is not valid percent-encoding. */
function paramsOf(operation: Operation, groups: RegExpExecArray): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  for (let i = 0; i < operation.pathParameters.length; i++) {
    const raw = groups[i + 1]!;
    try {
      params[operation.pathParameters[i]!] = raw.includes('%') ? decodeURIComponent(raw) : raw;
    } catch {
      return undefined;
    }
  }
  return params;
}
