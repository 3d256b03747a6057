import type { ParseResult } from './tax-code.ts';

/**
 * Province codes of the birth-registration place in personal ID numbers (Circular 07/2016/TT-BCA,
 * still used after the 2025 mergers).
 */
export const PROVINCE_CODES: Readonly<Record<string, string>> = {
  '001': 'Hà Nội', '002': 'Hà Giang', '004': 'Cao Bằng', '006': 'Bắc Kạn', '008': 'Tuyên Quang',
  '010': 'Lào Cai', '011': 'Điện Biên', '012': 'Lai Châu', '014': 'Sơn La', '015': 'Yên Bái',
  '017': 'Hòa Bình', '019': 'Thái Nguyên', '020': 'Lạng Sơn', '022': 'Quảng Ninh', '024': 'Bắc Giang',
  '025': 'Phú Thọ', '026': 'Vĩnh Phúc', '027': 'Bắc Ninh', '030': 'Hải Dương', '031': 'Hải Phòng',
  '033': 'Hưng Yên', '034': 'Thái Bình', '035': 'Hà Nam', '036': 'Nam Định', '037': 'Ninh Bình',
  '038': 'Thanh Hóa', '040': 'Nghệ An', '042': 'Hà Tĩnh', '044': 'Quảng Bình', '045': 'Quảng Trị',
  '046': 'Thừa Thiên Huế', '048': 'Đà Nẵng', '049': 'Quảng Nam', '051': 'Quảng Ngãi', '052': 'Bình Định',
  '054': 'Phú Yên', '056': 'Khánh Hòa', '058': 'Ninh Thuận', '060': 'Bình Thuận', '062': 'Kon Tum',
  '064': 'Gia Lai', '066': 'Đắk Lắk', '067': 'Đắk Nông', '068': 'Lâm Đồng', '070': 'Bình Phước',
  '072': 'Tây Ninh', '074': 'Bình Dương', '075': 'Đồng Nai', '077': 'Bà Rịa - Vũng Tàu',
  '079': 'Hồ Chí Minh', '080': 'Long An', '082': 'Tiền Giang', '083': 'Bến Tre', '084': 'Trà Vinh',
  '086': 'Vĩnh Long', '087': 'Đồng Tháp', '089': 'An Giang', '091': 'Kiên Giang', '092': 'Cần Thơ',
  '093': 'Hậu Giang', '094': 'Sóc Trăng', '095': 'Bạc Liêu', '096': 'Cà Mau',
};

/**
 * What the first three digits say when they are not a province: the birth was registered abroad
 * and they are the code of that country (Law on Identity 2023, art. 12). *(inferred)* The
 * Ministry of Public Security's table of those country codes was not found in a public source, so
 * any code outside the province table is taken as a country code, not checked against a list.
 * This is the one place that decides it.
 */
export const ABROAD_UNVERIFIED = 'abroad (country code unverified)';

/** A 12-digit personal identification number, `PPP G YY NNNNNN`. */
export interface IdNumber {
  value: string;
  /** The first three digits: the province of birth registration, or the country of a birth registered abroad. */
  registrationCode: string;
  registeredIn: 'province' | 'abroad';
  /** The province's name, or `abroad (country code unverified)`. */
  registrationPlace: string;
  /** Null when the birth was registered abroad. */
  provinceCode: string | null;
  province: string | null;
  gender: 'male' | 'female';
  /** First year of the century the digit G names (1900, 2000, …). */
  century: number;
  /** Last two digits of the year of birth. */
  yearOfCentury: number;
}

export function parseIdNumber(input: string): ParseResult<IdNumber> {
  if (!/^\d{12}$/.test(input)) return { ok: false, reason: 'must be 12 digits' };
  const registrationCode = input.slice(0, 3);
  const province = PROVINCE_CODES[registrationCode] ?? null;
  const g = Number(input[3]);
  return {
    ok: true,
    value: {
      value: input,
      registrationCode,
      registeredIn: province ? 'province' : 'abroad',
      registrationPlace: province ?? ABROAD_UNVERIFIED,
      provinceCode: province ? registrationCode : null,
      province,
      gender: g % 2 === 0 ? 'male' : 'female',
      century: 1900 + Math.floor(g / 2) * 100,
      yearOfCentury: Number(input.slice(4, 6)),
    },
  };
}

/** Whether the number's gender/century digit and year agree with a date of birth (yyyy-MM-dd). */
export function checkBirthYear(id: IdNumber, dateOfBirth: string): ParseResult<true> {
  const year = Number(dateOfBirth.slice(0, 4));
  if (year < id.century || year >= id.century + 100) {
    return { ok: false, reason: `the 4th digit says born ${id.century}–${id.century + 99}, the date of birth says ${year}` };
  }
  if (year % 100 !== id.yearOfCentury) {
    return { ok: false, reason: `digits 5–6 say a year ending ${String(id.yearOfCentury).padStart(2, '0')}, the date of birth says ${year}` };
  }
  return { ok: true, value: true };
}

/** 12-digit personal ID, 9-digit old card (CMND): integrations tell them apart by length. */
export function isOldCardNumber(input: string): boolean {
  return /^\d{9}$/.test(input);
}

/** An old identity card number (CMND): 9 digits, no check digit and no structure to check. */
export function parseOldCardNumber(input: string): ParseResult<string> {
  return isOldCardNumber(input) ? { ok: true, value: input } : { ok: false, reason: 'must be 9 digits' };
}

/** A person's number as integrations receive it: the 12-digit ID or, told apart by length, the 9-digit old card. */
export type PersonalNumber = { kind: 'id_number'; idNumber: IdNumber } | { kind: 'old_card'; value: string };

export function parsePersonalNumber(input: string): ParseResult<PersonalNumber> {
  if (input.length === 9) {
    const old = parseOldCardNumber(input);
    return old.ok ? { ok: true, value: { kind: 'old_card', value: old.value } } : { ok: false, reason: `has 9 characters, so an old card number, and ${old.reason}` };
  }
  if (input.length === 12) {
    const id = parseIdNumber(input);
    return id.ok ? { ok: true, value: { kind: 'id_number', idNumber: id.value } } : id;
  }
  return { ok: false, reason: 'must be a 12-digit ID number or a 9-digit old card number' };
}

/**
 * For display: all but the first three and the last two characters hidden (`014*******34`). The
 * province code and two serial digits say nothing about who the person is on their own.
 */
export function maskIdentifier(value: string): string {
  if (value.length <= 5) return '*'.repeat(value.length);
  return value.slice(0, 3) + '*'.repeat(value.length - 5) + value.slice(-2);
}

/** Social-insurance code: 10 digits, no public check digit. */
export function parseInsuranceCode(input: string): ParseResult<string> {
  return /^\d{10}$/.test(input) ? { ok: true, value: input } : { ok: false, reason: 'must be 10 digits' };
}
