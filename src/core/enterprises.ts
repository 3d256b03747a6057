import { GatewayError } from '../errors/gateway-error.ts';
import { parseEnterpriseCode, type EnterpriseCode } from './identifiers/tax-code.ts';
import type { CallContext } from './ports.ts';

export type LegalForm =
  | 'private_enterprise'
  | 'single_member_llc'
  | 'multi_member_llc'
  | 'joint_stock'
  | 'partnership'
  | 'branch'
  | 'representative_office';

export type EnterpriseStatus = 'active' | 'suspended' | 'dissolving' | 'dissolved' | 'bankrupt';

/** An address before or after the July 2025 reform: districts are optional (legacy records). */
export interface Address {
  detail: string;
  commune: string | null;
  district: string | null;
  province: string;
  provinceCode: string | null;
  districtCode: string | null;
  communeCode: string | null;
  country: string;
}

/** What the business registry says of an enterprise, as the public API returns it. */
export interface Enterprise {
  enterpriseCode: string;
  name: string;
  foreignName: string | null;
  abbreviatedName: string | null;
  legalForm: LegalForm;
  status: EnterpriseStatus;
  registrationDate: string;
  headOffice: Address;
  legalRepresentative: { fullName: string; position: string | null };
  charterCapital: number | null;
  retrievedAt: string;
}

/** Port: the national business registry. Throws SUBJECT_NOT_FOUND for an unknown code. */
export interface BusinessRegistry {
  getEnterprise(ctx: CallContext, code: EnterpriseCode): Promise<Enterprise>;
}

export interface EnterpriseService {
  get(ctx: CallContext, rawCode: string): Promise<Enterprise>;
}

export function createEnterpriseService(deps: { registry: BusinessRegistry }): EnterpriseService {
  return {
    async get(ctx, rawCode) {
      const parsed = parseEnterpriseCode(rawCode);
      if (!parsed.ok) {
        // Refused before any upstream call: a wrong check digit cannot name an enterprise.
        throw new GatewayError('INVALID_IDENTIFIER', {
          detail: `enterpriseCode ${parsed.reason}`,
          errors: [{ field: 'path.enterpriseCode', message: parsed.reason }],
        });
      }
      return deps.registry.getEnterprise(ctx, parsed.value);
    },
  };
}
