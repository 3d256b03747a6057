/**
 * Tax codes and enterprise codes (the same number): 10 digits whose 10th is a check digit, or a
 * dependent unit's 13-character `NNNNNNNNNN-NNN` whose first ten digits are the parent's code.
 */
import { parseIdNumber, type IdNumber } from './id-number.ts';

const WEIGHTS = [31, 29, 23, 19, 17, 13, 7, 5, 3] as const;

export type ParseResult<T> = { ok: true; value: T } | { ok: false; reason: string };

export interface EnterpriseCode {
  /** The full code as written, e.g. `5500123456` or `5500123456-001`. */
  code: string;
  /** The ten-digit code of the enterprise itself (the parent, for a branch). */
  parent: string;
  /** The branch suffix `001`–`999`, or null for the enterprise itself. */
  branch: string | null;
}

/** The check digit for nine digits, or null when the rule gives 10 (no valid code has them). */
export function taxCheckDigit(nineDigits: string): number | null {
  let sum = 0;
  for (let i = 0; i < 9; i++) sum += Number(nineDigits[i]) * WEIGHTS[i]!;
  const check = 10 - (sum % 11);
  return check === 10 ? null : check;
}

export function parseEnterpriseCode(input: string): ParseResult<EnterpriseCode> {
  const match = /^(\d{10})(?:-(\d{3}))?$/.exec(input);
  if (!match) return { ok: false, reason: 'must be 10 digits, or 10 digits, a dash and a 3-digit branch number' };
  const parent = match[1]!;
  const branch = match[2] ?? null;
  const expected = taxCheckDigit(parent.slice(0, 9));
  if (expected === null) return { ok: false, reason: 'no valid code starts with these nine digits (the check digit would be 10)' };
  if (Number(parent[9]) !== expected) return { ok: false, reason: `check digit is wrong: expected ${expected}` };
  if (branch === '000') return { ok: false, reason: 'branch number must be 001 to 999' };
  return { ok: true, value: { code: input, parent, branch } };
}

/** Completes nine digits into a valid ten-digit code, or null when none exists. */
export function withCheckDigit(nineDigits: string): string | null {
  const check = taxCheckDigit(nineDigits);
  return check === null ? null : nineDigits + String(check);
}

/**
 * A tax code: an enterprise's (or a branch's) code or, since 1 July 2025 (Circular 86/2024/TT-BTC),
 * an individual's or a household business's 12-digit personal ID number, which has no check digit.
 */
export type TaxCode = { kind: 'enterprise'; enterprise: EnterpriseCode } | { kind: 'personal'; idNumber: IdNumber };

export function parseTaxCode(input: string): ParseResult<TaxCode> {
  if (/^\d{12}$/.test(input)) {
    const id = parseIdNumber(input);
    return id.ok ? { ok: true, value: { kind: 'personal', idNumber: id.value } } : { ok: false, reason: `is 12 digits, so a personal ID number, and its ${id.reason}` };
  }
  const code = parseEnterpriseCode(input);
  return code.ok ? { ok: true, value: { kind: 'enterprise', enterprise: code.value } } : code;
}
