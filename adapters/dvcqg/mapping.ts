import { z } from 'zod';
import type { Procedure, ProcedureSummary } from '../../src/core/procedures-port.ts';
import { toVietnamIso, wireDateTimeToIso } from '../../src/core/time.ts';
import { MappingError } from '../mapping-error.ts';

export { MappingError };

/**
 * Wire format of the national public-service portal (see README.md). The only file that knows
 * the portal's field names: a real specification changes this file and its fixtures.
 */

/** Some portal services write `error_code` as a number; it is compared as text. */
const wireCode = z.union([z.string(), z.number()]).transform(String);

export const wireLoginAnswer = z.object({
  error_code: wireCode,
  message: z.string().nullish(),
  session: z.string().nullish(),
});

/** Every service answer: a code, a message for people, and the service's data. */
export const wireServiceAnswer = z.object({
  error_code: wireCode,
  message: z.string().nullish(),
  data: z.unknown().optional(),
});

const wireAgency = z.object({
  MACOQUAN: z.string().min(1),
  TENCOQUAN: z.string().min(1),
});

export const wireSummary = z.object({
  MATTHC: z.string().min(1),
  TENTTHC: z.string().min(1),
  MALINHVUC: z.string().min(1),
  TENLINHVUC: z.string().min(1),
  COQUANTHUCHIEN: z.array(wireAgency),
  MUCDO: z.union([z.string(), z.number()]).nullish(),
});

export const wireSummaryList = z.array(wireSummary);

/** Some catalogue exports write the number of copies as text ("01"). */
const wireCopies = z.union([z.number(), z.string().regex(/^\d+$/).transform(Number)]).nullish();

export const wireProcedure = z.object({
  MATTHC: z.string().min(1),
  TENTTHC: z.string().min(1),
  LINHVUCTHUCHIEN: z.object({ MALINHVUC: z.string().min(1), TENLINHVUC: z.string().min(1) }),
  TRINHTUTHUCHIEN: z.string(),
  CACHTHUCTHUCHIEN: z.string(),
  THANHPHANHOSO: z.array(z.object({ TENGIAYTO: z.string().min(1), SOBAN: wireCopies })),
  CANCUPHAPLY: z.array(z.object({ TENVANBAN: z.string().min(1) })),
  COQUANTHUCHIEN: z.array(wireAgency),
  KETQUATHUCHIEN: z.array(z.object({ TENKETQUA: z.string().min(1) })),
  LEPHI: z.string().nullish(),
  THOIHANGIAIQUYET: z.string().nullish(),
  NGAYCAPNHAT: z.string().nullish(),
});

export type WireLoginAnswer = z.infer<typeof wireLoginAnswer>;
export type WireServiceAnswer = z.infer<typeof wireServiceAnswer>;
export type WireAgency = z.infer<typeof wireAgency>;
export type WireSummary = z.infer<typeof wireSummary>;
export type WireProcedure = z.infer<typeof wireProcedure>;

/** Success codes: the portal writes "0" on some services and "00" on others. */
export function isSuccessCode(code: string): boolean {
  return code === '0' || code === '00';
}

/**
 * Older catalogue entries still carry the service levels of Decree 43/2011 (1-4); Decree 42/2022
 * replaced them with "Toàn trình" (the old level 4) and "Một phần" (the old level 3). Levels 1 and
 * 2 only published information and forms: no online service level. Text levels pass unchanged.
 */
const LEGACY_LEVELS: Record<string, string | null> = {
  '1': null,
  '2': null,
  '3': 'Một phần',
  '4': 'Toàn trình',
};

export function toLevel(wire: string | number | null | undefined): string | null {
  if (wire === null || wire === undefined) return null;
  const value = String(wire).trim().normalize('NFC');
  if (value === '') return null;
  if (/^\d+$/.test(value)) {
    if (!(value in LEGACY_LEVELS)) throw new MappingError(`unknown service level ${value}`);
    return LEGACY_LEVELS[value]!;
  }
  return value;
}

/** The portal does not promise NFC; our API does. */
const text = (value: string): string => value.normalize('NFC');

const optionalText = (value: string | null | undefined): string | null => {
  const trimmed = value?.trim();
  return trimmed ? text(trimmed) : null;
};

const unique = (values: string[]): string[] => [...new Set(values)];

/** A catalogue entry as `GET /v1/procedures` lists it: agencies by code, which the gateway filters on. */
export function toProcedureSummary(wire: WireSummary): ProcedureSummary {
  return {
    code: wire.MATTHC,
    name: text(wire.TENTTHC),
    field: { code: wire.MALINHVUC, name: text(wire.TENLINHVUC) },
    agencies: unique(wire.COQUANTHUCHIEN.map((a) => a.MACOQUAN)),
    level: toLevel(wire.MUCDO),
  };
}

/**
 * One procedure in full, agencies by name. `retrievedAt` is when the gateway fetched it, not the
 * portal's NGAYCAPNHAT (when the catalogue entry last changed), which is only checked.
 */
export function toProcedure(wire: WireProcedure, retrievedAt: Date): Procedure {
  if (wire.NGAYCAPNHAT && !wireDateTimeToIso(wire.NGAYCAPNHAT)) throw new MappingError('NGAYCAPNHAT is not a yyyyMMddHHmmss date');
  return {
    code: wire.MATTHC,
    name: text(wire.TENTTHC),
    field: { code: wire.LINHVUCTHUCHIEN.MALINHVUC, name: text(wire.LINHVUCTHUCHIEN.TENLINHVUC) },
    steps: text(wire.TRINHTUTHUCHIEN),
    channels: text(wire.CACHTHUCTHUCHIEN),
    dossierComponents: wire.THANHPHANHOSO.map((d) => {
      if (d.SOBAN === null || d.SOBAN === undefined || d.SOBAN === 0) return { name: text(d.TENGIAYTO) };
      if (!Number.isInteger(d.SOBAN) || d.SOBAN < 0) throw new MappingError(`SOBAN ${d.SOBAN} is not a number of copies`);
      return { name: text(d.TENGIAYTO), copies: d.SOBAN };
    }),
    legalBasis: wire.CANCUPHAPLY.map((l) => text(l.TENVANBAN)),
    implementingAgencies: unique(wire.COQUANTHUCHIEN.map((a) => text(a.TENCOQUAN))),
    results: wire.KETQUATHUCHIEN.map((r) => text(r.TENKETQUA)),
    fees: optionalText(wire.LEPHI),
    processingTime: optionalText(wire.THOIHANGIAIQUYET),
    retrievedAt: toVietnamIso(retrievedAt),
  };
}
