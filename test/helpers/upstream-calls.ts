import { enterprises, insured, people, procedures, taxpayers } from '../../src/sandbox/personas.ts';
import { KEYS, type TestGateway } from './gateway.ts';

/** The national systems the gateway calls in the sandbox, each with a simulator of its own. */
export const UPSTREAM_SYSTEMS = ['business-registry', 'population', 'tax', 'social-insurance', 'dvcqg', 'civil-status'] as const;
export type UpstreamSystem = (typeof UPSTREAM_SYSTEMS)[number];

/** Accountability headers for a personal-data call. */
export const ACCOUNTABLE = { 'content-type': 'application/json', 'x-user-id': 'officer-17', 'x-purpose': 'XAC_MINH_DANH_TINH' } as const;

/** One public call per national system, as a portal or a desk would make it; each answers 200 with no fault set. */
export function upstreamCalls(gw: TestGateway): Record<UpstreamSystem, () => Promise<Response>> {
  const person = people.find((p) => !p.dateOfDeath)!;
  const headers = ACCOUNTABLE;
  return {
    'business-registry': () => gw.fetch(`/v1/enterprises/${enterprises[0]!.enterpriseCode}`),
    population: () => gw.fetch('/v1/citizens/lookup', { method: 'POST', key: KEYS.agency, headers, body: JSON.stringify({ idNumber: person.idNumber }) }),
    tax: () => gw.fetch(`/v1/taxpayers/${taxpayers[0]!.taxCode}`, { headers }),
    'social-insurance': () => gw.fetch('/v1/social-insurance/lookup', { method: 'POST', headers, body: JSON.stringify({ insuranceCode: insured[0]!.insuranceCode }) }),
    dvcqg: () => gw.fetch(`/v1/procedures/${procedures[0]!.code}`),
    'civil-status': () => gw.fetch(`/v1/civil-status/births/${person.idNumber}`, { headers }),
  };
}
