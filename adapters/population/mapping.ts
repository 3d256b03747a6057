import { DOMImplementation, XMLSerializer, type Element } from '@xmldom/xmldom';
import { z } from 'zod';
import type { CitizenRecord, IdentityQuery } from '../../src/core/citizens-port.ts';
import { isOldCardNumber } from '../../src/core/identifiers/id-number.ts';
import { isoDateToWire, wireDateToIso } from '../../src/core/time.ts';
import { MappingError } from '../mapping-error.ts';
import { ADMINISTRATIVE_UNITS, type AdministrativeUnits } from './administrative-units.ts';

export { MappingError };

/**
 * Wire format of the population database's CongDanService (see README.md and
 * congdan-service.wsdl). The only file, with the WSDL and fixtures, that knows the database's
 * field names: a real specification changes these three.
 *
 * The schemas below check the objects `wireObject` builds from the verified Body of an answer:
 * elements become properties, repeated `CongDan` always an array, empty elements `null`, `TonTai`
 * a boolean when it is an `xs:boolean`.
 */
/** Requests' namespace, as provinces send it (OpenCPS `QLCDIntegrationActionImpl`). */
export const REQUEST_NAMESPACE = 'http://dancuquocgia.bca';
/** Answers' namespace (QCVN 109 structures), which differs from the requests'. */
export const NAMESPACE = 'http://www.mic.gov.vn/dancu/1.0';

export const OPERATIONS = {
  verify: 'XacThucThongTinCongDan',
  lookup: 'TraCuuThongTinCongDan',
} as const;
export type Operation = (typeof OPERATIONS)[keyof typeof OPERATIONS];

/** Result codes (MaKetQua) of a successful answer. Failures are SOAP Faults, not codes. */
export const RESULT_OK = '00';
export const RESULT_NOT_FOUND = '04';

/** GioiTinh codes (inferred; QCVN 109 leaves the catalogue to the database). */
export const GENDERS: Record<string, NonNullable<CitizenRecord['gender']>> = { '1': 'male', '2': 'female', '3': 'other' };

/** TinhTrangHonNhan codes (inferred). */
export const MARITAL_STATUSES: Record<string, NonNullable<CitizenRecord['maritalStatus']>> = {
  '1': 'single',
  '2': 'married',
  '3': 'divorced',
  '4': 'widowed',
};

export const MARITAL_STATUS_NAMES: Record<string, string> = {
  '1': 'Chưa kết hôn',
  '2': 'Đã kết hôn',
  '3': 'Ly hôn',
  '4': 'Góa',
};

/** What every request carries besides the subject: who asks, for what, under which integration. */
export interface RequestHeader {
  /** Fresh per request, echoed in the answer. */
  MaYeuCau: string;
  /** Service code the database's operator assigned to this integration (configured). */
  MaDVC: string;
  /** Integration code the database's operator assigned (configured), constant per deployment. */
  MaTichHop: string;
  /** Calling agency (the API client's agency). */
  MaDonVi: string;
  /** Calling officer (the caller's X-User-Id). */
  MaCanBo: string;
}

/** The full date of birth, or the year alone when only the year is known. */
export type WireBirthDate = { NgayThangNam: string } | { Nam: string };

/** Who is asked about: the 12-digit ID number, or `SoCMND` alone for a 9-digit old card number. */
export type WireSubject = { SoDinhDanh: string; SoCMND?: never } | { SoCMND: string; SoDinhDanh?: never };

export type VerificationRequest = RequestHeader & WireSubject & {
  HoVaTen?: string;
  NgayThangNamSinh?: WireBirthDate;
};

export type LookupRequest = RequestHeader & WireSubject;

const optionalText = z.string().nullish();

/**
 * A boolean as `xs:boolean` allows it. `wireObject` leaves anything else as text, so that a
 * garbled answer is refused here instead of read as false.
 */
const wireBoolean = z.boolean();

/** Addresses come as codes only; their names are the administrative-unit catalogue's. */
export const wireAddress = z.object({
  MaTinhThanh: optionalText,
  MaQuanHuyen: optionalText,
  MaPhuongXa: optionalText,
  ChiTiet: optionalText,
  QuocGia: optionalText,
});

export const wireRelative = z.object({
  HoVaTen: z.string().min(1),
  SoDinhDanh: optionalText,
  SoCMND: optionalText,
});

export const wireCitizen = z.object({
  SoDinhDanh: z.string().regex(/^\d{12}$/),
  SoCMND: optionalText,
  HoVaTen: z.object({ Ho: z.string().min(1), ChuDem: optionalText, Ten: z.string().min(1) }),
  GioiTinh: z.string(),
  DanToc: optionalText,
  TonGiao: optionalText,
  TinhTrangHonNhan: optionalText,
  NhomMau: optionalText,
  NgayThangNamSinh: z.object({ Nam: z.string().regex(/^\d{4}$/), NgayThangNam: optionalText }),
  QuocTich: optionalText,
  NoiDangKyKhaiSinh: wireAddress.nullish(),
  QueQuan: wireAddress.nullish(),
  ThuongTru: wireAddress.nullish(),
  NoiOHienTai: wireAddress.nullish(),
  Cha: wireRelative.nullish(),
  Me: wireRelative.nullish(),
  VoChong: wireRelative.nullish(),
  NguoiDaiDien: wireRelative.nullish(),
  ChuHo: wireRelative.nullish(),
  NgayMat: optionalText,
});

export const wireVerificationAnswer = z.object({
  MaYeuCau: z.string().min(1),
  MaKetQua: z.string(),
  MoTa: optionalText,
  TonTai: wireBoolean,
});

export const wireLookupAnswer = z.object({
  MaYeuCau: z.string().min(1),
  MaKetQua: z.string(),
  MoTa: optionalText,
  // An empty collection element reaches us as null.
  CongdanCollection: z.object({ CongDan: z.array(wireCitizen).nullish() }).nullish(),
});

export type WireAddress = z.infer<typeof wireAddress>;
export type WireRelative = z.infer<typeof wireRelative>;
export type WireCitizen = z.infer<typeof wireCitizen>;
export type WireVerificationAnswer = z.infer<typeof wireVerificationAnswer>;
export type WireLookupAnswer = z.infer<typeof wireLookupAnswer>;

/** Names as the database holds them: NFC, single spaces, no surrounding space. */
export function normaliseText(text: string): string {
  return text.normalize('NFC').replace(/\s+/gu, ' ').trim();
}

const textOrNull = (value: string | null | undefined): string | null => {
  if (value === null || value === undefined) return null;
  const text = normaliseText(value);
  return text === '' ? null : text;
};

function wireDate(value: string, field: string): string {
  const iso = wireDateToIso(value);
  if (!iso) throw new MappingError(`${field} is not a yyyyMMdd date`);
  return iso;
}

// ---------------------------------------------------------------------------------------------
// Requests

/** XacThucThongTinCongDan: only the fields the caller gave, so only those are compared. */
export function toVerificationRequest(header: RequestHeader, query: IdentityQuery): VerificationRequest {
  return {
    ...header,
    ...toWireSubject(query.idNumber),
    ...(query.fullName !== undefined ? { HoVaTen: normaliseText(query.fullName) } : {}),
    ...(query.dateOfBirth !== undefined ? { NgayThangNamSinh: toWireBirthDate(query.dateOfBirth) } : {}),
  };
}

/** `yyyy-MM-dd` → `NgayThangNam` (yyyyMMdd); a year alone (`yyyy`) → `Nam`. */
export function toWireBirthDate(date: string): WireBirthDate {
  if (/^\d{4}$/.test(date)) return { Nam: date };
  return { NgayThangNam: isoDateToWire(date) };
}

export function toLookupRequest(header: RequestHeader, idNumber: string): LookupRequest {
  return { ...header, ...toWireSubject(idNumber) };
}

/** Integrations tell the numbers apart by length: 9 digits are an old card (CMND), sent as `SoCMND`. */
export function toWireSubject(idNumber: string): WireSubject {
  return isOldCardNumber(idNumber) ? { SoCMND: idNumber } : { SoDinhDanh: idNumber };
}

// ---------------------------------------------------------------------------------------------
// Answers

function toAddress(wire: WireAddress | null | undefined, units: AdministrativeUnits): NonNullable<CitizenRecord['permanentAddress']> | null {
  if (!wire) return null;
  const codes = { province: textOrNull(wire.MaTinhThanh), district: textOrNull(wire.MaQuanHuyen), commune: textOrNull(wire.MaPhuongXa) };
  const names = units.resolve(codes);
  return {
    detail: textOrNull(wire.ChiTiet) ?? '',
    commune: names.commune,
    district: names.district,
    // A code the catalogue does not know keeps its code; the province's name, a string in our
    // API, is then empty.
    province: names.province ?? '',
    provinceCode: codes.province,
    districtCode: codes.district,
    communeCode: codes.commune,
    country: textOrNull(wire.QuocGia) ?? 'VN',
  };
}

function toRelative(wire: WireRelative | null | undefined): NonNullable<CitizenRecord['father']> | null {
  if (!wire) return null;
  return { fullName: normaliseText(wire.HoVaTen), idNumber: textOrNull(wire.SoDinhDanh) };
}

/**
 * One `CongDan` as our API's citizen record. Unknown gender or marital codes and impossible dates
 * are refused; address codes are named from `units` (an unknown one keeps its code, unnamed).
 */
export function toCitizenRecord(wire: WireCitizen, units: AdministrativeUnits = ADMINISTRATIVE_UNITS): CitizenRecord {
  const gender = GENDERS[wire.GioiTinh];
  if (!gender) throw new MappingError(`unknown GioiTinh code ${wire.GioiTinh}`);
  const maritalCode = textOrNull(wire.TinhTrangHonNhan);
  const maritalStatus = maritalCode === null ? null : MARITAL_STATUSES[maritalCode];
  if (maritalStatus === undefined) throw new MappingError(`unknown TinhTrangHonNhan code ${maritalCode}`);

  const birth = wire.NgayThangNamSinh;
  // Old records may hold a birth year only; the API's dateOfBirth is a full date, so such a
  // record cannot be shown faithfully and is refused rather than given an invented day.
  if (!birth.NgayThangNam) throw new MappingError('NgayThangNamSinh carries a year only');
  const dateOfBirth = wireDate(birth.NgayThangNam, 'NgayThangNamSinh.NgayThangNam');
  if (!dateOfBirth.startsWith(birth.Nam)) throw new MappingError('NgayThangNamSinh.Nam disagrees with NgayThangNam');
  const deathDate = textOrNull(wire.NgayMat);
  if (deathDate !== null) wireDate(deathDate, 'NgayMat');

  const familyName = normaliseText(wire.HoVaTen.Ho);
  const middleName = textOrNull(wire.HoVaTen.ChuDem);
  const givenName = normaliseText(wire.HoVaTen.Ten);
  return {
    idNumber: wire.SoDinhDanh,
    oldIdNumber: textOrNull(wire.SoCMND),
    fullName: [familyName, middleName, givenName].filter(Boolean).join(' '),
    familyName,
    middleName,
    givenName,
    gender,
    dateOfBirth,
    ethnicity: textOrNull(wire.DanToc),
    religion: textOrNull(wire.TonGiao),
    nationality: textOrNull(wire.QuocTich),
    maritalStatus,
    bloodType: textOrNull(wire.NhomMau),
    birthRegistrationPlace: toAddress(wire.NoiDangKyKhaiSinh, units),
    hometown: toAddress(wire.QueQuan, units),
    permanentAddress: toAddress(wire.ThuongTru, units),
    currentAddress: toAddress(wire.NoiOHienTai, units),
    father: toRelative(wire.Cha),
    mother: toRelative(wire.Me),
    spouse: toRelative(wire.VoChong),
    householdHead: toRelative(wire.ChuHo),
    deceased: deathDate !== null,
  };
}

// ---------------------------------------------------------------------------------------------
// Envelopes

export const SOAP_NS = 'http://schemas.xmlsoap.org/soap/envelope/';

/**
 * A request envelope: the operation element in the requests' namespace, its fields in the order
 * the service description gives (`fieldOrder`); a field it does not name is a bug of ours, not
 * sent. A field that is an object (the date of birth) nests its children in property order.
 */
export function requestEnvelope(operation: Operation, request: object, fieldOrder: readonly string[]): string {
  const fields = request as Record<string, string | Record<string, string> | undefined>;
  const unknown = Object.keys(fields).filter((name) => !fieldOrder.includes(name));
  if (unknown.length > 0) throw new Error(`${operation} has no field ${unknown.join(', ')}`);
  const doc = new DOMImplementation().createDocument(SOAP_NS, 'soap:Envelope', null);
  const body = doc.createElementNS(SOAP_NS, 'soap:Body');
  doc.documentElement!.appendChild(body);
  const content = doc.createElementNS(REQUEST_NAMESPACE, `qldc:${operation}`);
  body.appendChild(content);
  const append = (parent: Element, name: string, value: string | Record<string, string>) => {
    const field = doc.createElementNS(REQUEST_NAMESPACE, `qldc:${name}`);
    if (typeof value === 'string') field.appendChild(doc.createTextNode(value));
    else for (const [child, text] of Object.entries(value)) append(field, child, text);
    parent.appendChild(field);
  };
  for (const name of fieldOrder) {
    const value = fields[name];
    if (value !== undefined) append(content, name, value);
  }
  return `<?xml version="1.0" encoding="utf-8"?>${new XMLSerializer().serializeToString(doc)}`;
}

const isElement = (node: { nodeType: number }): boolean => node.nodeType === 1;
const childElements = (element: Element): Element[] => {
  const children: Element[] = [];
  for (let child = element.firstChild; child; child = child.nextSibling) if (isElement(child)) children.push(child as Element);
  return children;
};

/** Elements that may repeat, always read as arrays (`maxOccurs="unbounded"` in the WSDL). */
const REPEATED = new Set(['CongDan']);
/** Elements typed `xs:boolean`. */
const BOOLEANS = new Set(['TonTai']);
const XSI_NS = 'http://www.w3.org/2001/XMLSchema-instance';

function xsBoolean(text: string): boolean | string {
  const value = text.trim();
  return value === 'true' || value === '1' ? true : value === 'false' || value === '0' ? false : text;
}

/**
 * One element of an answer as a plain object for the wire schemas. Everything must be in our
 * namespace; an element is either text or elements (no mixed content), and only `REPEATED`
 * elements may occur twice: anything else is an answer two readers could read differently.
 */
export function wireObject(element: Element): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  for (const child of childElements(element)) {
    const name = child.localName ?? '';
    if (child.namespaceURI !== NAMESPACE) throw new MappingError(`${name} is not in the service's namespace`);
    const value = wireValue(child);
    if (REPEATED.has(name)) ((result[name] ??= []) as unknown[]).push(value);
    else if (Object.hasOwn(result, name)) throw new MappingError(`${name} occurs twice`);
    else result[name] = value;
  }
  return result;
}

function wireValue(element: Element): unknown {
  if (element.getAttributeNS(XSI_NS, 'nil') === 'true' || element.getAttributeNS(XSI_NS, 'nil') === '1') return null;
  const name = element.localName ?? '';
  if (childElements(element).length > 0) {
    for (let child = element.firstChild; child; child = child.nextSibling) {
      if (!isElement(child) && (child.nodeValue ?? '').trim() !== '') throw new MappingError(`${name} mixes text and elements`);
    }
    return wireObject(element);
  }
  const text = element.textContent ?? '';
  // An empty element, or one holding only the indentation of an empty collection, is absent.
  if (text.trim() === '') return null;
  return BOOLEANS.has(name) ? xsBoolean(text) : text;
}

/** What a verified Body holds: the operation's answer or a SOAP 1.1 Fault. */
export type BodyContent = { kind: 'answer'; answer: Record<string, unknown> } | { kind: 'fault'; code: string; message: string };

/** Reads the one child of a verified Body: a Fault, or `<operation>Response` in our namespace. */
export function readBody(body: Element, operation: Operation): BodyContent {
  const [content, ...more] = childElements(body);
  if (!content || more.length > 0) throw new MappingError('the Body must hold exactly one element');
  if (content.namespaceURI === SOAP_NS && content.localName === 'Fault') {
    const part = (localName: string) => childElements(content).find((e) => e.localName === localName && !e.namespaceURI)?.textContent?.trim() ?? '';
    return { kind: 'fault', code: part('faultcode'), message: part('faultstring') };
  }
  if (content.namespaceURI !== NAMESPACE || content.localName !== `${operation}Response`) {
    throw new MappingError(`the Body holds ${content.localName ?? 'an element'} instead of ${operation}Response`);
  }
  return { kind: 'answer', answer: wireObject(content) };
}
