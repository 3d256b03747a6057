/**
 * Dossier codes (mã hồ sơ, Circular 01/2018/TT-VPCP): `<agency code>-<YYMMDD>-<sequence>`, where
 * the agency code comes from the national catalogue of QCVN 102 (`000.00.01.H52`, which may begin
 * with digits, or local forms such as `H52.101.114`), YYMMDD is the day the dossier was received
 * and the sequence, 4 or 5 digits, numbers that day's dossiers.
 */
import type { ParseResult } from './tax-code.ts';

export interface DossierCode {
  code: string;
  /** The receiving agency, e.g. `000.00.01.H52` or `H52.101.114`. */
  agency: string;
  /** The day of receipt as `yyyy-MM-dd` (YY read as 20YY). */
  receivedOn: string;
  sequence: string;
}

const SHAPE = /^([0-9A-Z]+(?:\.[0-9A-Z]+)*)-(\d{2})(\d{2})(\d{2})-(\d{4,5})$/;

export function parseDossierCode(input: string): ParseResult<DossierCode> {
  const match = SHAPE.exec(input);
  if (!match) return { ok: false, reason: 'must be <agency code>-<YYMMDD>-<4 or 5 digit sequence>, e.g. 000.00.01.H52-261127-0001' };
  const [, agency, yy, mm, dd, sequence] = match as unknown as [string, string, string, string, string, string];
  // Every QCVN 102 code carries the letter-led code of a ministry or province (G01, H52).
  if (!/[A-Z]/.test(agency)) return { ok: false, reason: `the agency code ${agency} names no ministry or province (e.g. H52)` };
  const receivedOn = `20${yy}-${mm}-${dd}`;
  const date = new Date(`${receivedOn}T00:00:00Z`);
  if (Number.isNaN(date.getTime()) || !date.toISOString().startsWith(receivedOn)) {
    return { ok: false, reason: `${yy}${mm}${dd} is not a calendar date (YYMMDD)` };
  }
  if (/^0+$/.test(sequence)) return { ok: false, reason: 'the sequence starts at 1' };
  return { ok: true, value: { code: input, agency, receivedOn, sequence } };
}
