import { readFileSync } from 'node:fs';
import { z } from 'zod';

/**
 * The administrative-unit catalogue that turns the codes of the population database's addresses
 * (it sends codes only) into names. It knows both organisations of the country: the three levels
 * before 1 July 2025 (province, district, commune) and the two levels since (province, commune or
 * ward), because records made before the reform still carry a district.
 */

const code = z.string().regex(/^\d{2,5}$/);
const catalogueSchema = z
  .object({
    note: z.string().optional(),
    threeLevel: z.object({
      validUntil: z.string(),
      provinces: z.record(code, z.string().min(1)),
      districts: z.record(code, z.object({ name: z.string().min(1), province: code })),
      communes: z.record(code, z.object({ name: z.string().min(1), district: code })),
    }),
    twoLevel: z.object({
      validFrom: z.string(),
      provinces: z.record(code, z.string().min(1)),
      communes: z.record(code, z.object({ name: z.string().min(1), province: code })),
    }),
  })
  .strict();
export type AdministrativeUnitCatalogue = z.infer<typeof catalogueSchema>;

export interface AddressCodes {
  province: string | null;
  district: string | null;
  commune: string | null;
}

/** Names for the codes; a code the catalogue does not know gets null, never an invented name. */
export interface AddressNames {
  province: string | null;
  district: string | null;
  commune: string | null;
}

export interface AdministrativeUnits {
  resolve(codes: AddressCodes): AddressNames;
}

const lookup = <T>(table: Record<string, T>, key: string | null): T | undefined => (key !== null && Object.hasOwn(table, key) ? table[key] : undefined);

/**
 * An address with a district code is read in the three-level catalogue (a record made before the
 * reform); one without in the two-level catalogue, falling back to the three-level one for a
 * province or commune the current catalogue does not hold (a unit merged away).
 */
export function createAdministrativeUnits(catalogue: AdministrativeUnitCatalogue): AdministrativeUnits {
  const { threeLevel: old, twoLevel: current } = catalogue;
  return {
    resolve({ province, district, commune }) {
      if (district !== null) {
        return {
          province: lookup(old.provinces, province) ?? null,
          district: lookup(old.districts, district)?.name ?? null,
          commune: lookup(old.communes, commune)?.name ?? null,
        };
      }
      return {
        province: lookup(current.provinces, province) ?? lookup(old.provinces, province) ?? null,
        district: null,
        commune: lookup(current.communes, commune)?.name ?? lookup(old.communes, commune)?.name ?? null,
      };
    },
  };
}

/** Reads and checks a catalogue file (JSON, the shape of `administrative-units.json`). */
export function readAdministrativeUnits(file: URL | string): AdministrativeUnits {
  return createAdministrativeUnits(catalogueSchema.parse(JSON.parse(readFileSync(file, 'utf8'))));
}

/** The catalogue shipped with the adapter, read once. */
export const ADMINISTRATIVE_UNITS: AdministrativeUnits = readAdministrativeUnits(new URL('./administrative-units.json', import.meta.url));
