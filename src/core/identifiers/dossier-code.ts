/**
 * Dossier codes (mã hồ sơ, Circular 01/2018/TT-VPCP): `<agency code>-<YYMMDD>-<sequence>`, where
 * the agency code comes from the national catalogue (`H52`, `H52.101.114`), YYMMDD is the day the
 * dossier was received and the sequence numbers that day's dossiers.
 */
import type { ParseResult } from './tax-code.ts';

export interface DossierCode {
  code: string;
  /** The receiving agency, e.g. `H52.101.114`. */
  agency: string;
  /** The day of receipt as `yyyy-MM-dd` (YY read as 20YY). */
  receivedOn: string;
  sequence: string;
}

const SHAPE = /^([A-Z][A-Z0-9]*(?:\.[0-9A-Z]+)*)-(\d{2})(\d{2})(\d{2})-(\d{1,10})$/;

export function parseDossierCode(input: string): ParseResult<DossierCode> {
  const match = SHAPE.exec(input);
  if (!match) return { ok: false, reason: 'must be <agency code>-<YYMMDD>-<sequence>, e.g. H52.101.114-261127-0001' };
  const [, agency, yy, mm, dd, sequence] = match as unknown as [string, string, string, string, string, string];
  const receivedOn = `20${yy}-${mm}-${dd}`;
  const date = new Date(`${receivedOn}T00:00:00Z`);
  if (Number.isNaN(date.getTime()) || !date.toISOString().startsWith(receivedOn)) {
    return { ok: false, reason: `${yy}${mm}${dd} is not a calendar date (YYMMDD)` };
  }
  if (/^0+$/.test(sequence)) return { ok: false, reason: 'the sequence starts at 1' };
  return { ok: true, value: { code: input, agency, receivedOn, sequence } };
}
