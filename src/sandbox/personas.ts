import { withCheckDigit } from '../core/identifiers/tax-code.ts';
import type { Enterprise, EnterpriseStatus, LegalForm } from '../core/enterprises.ts';

/**
 * The synthetic people, enterprises, taxpayers and insured persons every simulator knows. They
 * look like Sơn La's residents (Thái, Kinh, H'Mông, Mường, Dao names; ID numbers starting 014;
 * tax codes starting 55) and are invented: any likeness to a real person or business is chance.
 */
export interface PersonaAddress {
  detail: string;
  commune: string;
  /** Only on records made before the July 2025 reform. */
  district: string | null;
  province: string;
  provinceCode: string;
  communeCode: string;
  districtCode: string | null;
}

export interface Relative {
  fullName: string;
  idNumber: string | null;
}

export interface Person {
  idNumber: string;
  oldIdNumber: string | null;
  fullName: string;
  familyName: string;
  middleName: string;
  givenName: string;
  gender: 'male' | 'female';
  dateOfBirth: string;
  /** Set for people who have died: the population database still holds them. */
  dateOfDeath: string | null;
  ethnicity: string;
  religion: string;
  nationality: string;
  maritalStatus: 'single' | 'married' | 'divorced' | 'widowed';
  bloodType: string | null;
  birthRegistrationPlace: PersonaAddress;
  hometown: PersonaAddress;
  permanentAddress: PersonaAddress;
  currentAddress: PersonaAddress;
  father: Relative | null;
  mother: Relative | null;
  spouse: Relative | null;
  householdHead: Relative | null;
  insuranceCode: string | null;
}

/** An enterprise as the registry holds it: the API's record, with the representative by ID number. */
export interface EnterprisePersona extends Omit<Enterprise, 'headOffice' | 'legalRepresentative' | 'retrievedAt'> {
  headOffice: PersonaAddress;
  legalRepresentative: { idNumber: string; position: string };
}

export interface TaxpayerPersona {
  taxCode: string;
  name: string;
  taxpayerType: 'organization' | 'individual' | 'household_business';
  status: 'active' | 'ceased' | 'suspended' | 'not_at_address';
  taxOffice: { code: string; name: string };
  registrationDate: string;
  address: PersonaAddress | null;
  /** The person behind an individual or household-business tax code. */
  idNumber: string | null;
}

export interface InsuredPersona {
  insuranceCode: string;
  idNumber: string;
  fullName: string;
  participationStatus: 'participating' | 'suspended' | 'stopped';
  employer: { code: string; name: string } | null;
  healthInsuranceCard: { number: string; validFrom: string; validTo: string } | null;
}

export interface ProcedurePersona {
  code: string;
  name: string;
  field: { code: string; name: string };
  /** Codes of the implementing agencies, e.g. H52.20 (what `agency` filters on). */
  agencies: string[];
  implementingAgencies: string[];
  level: string | null;
  steps: string;
  channels: string;
  dossierComponents: { name: string; copies?: number }[];
  legalBasis: string[];
  results: string[];
  fees: string | null;
  processingTime: string | null;
}

const SON_LA = { province: 'Sơn La', provinceCode: '14' };

function address(detail: string, commune: string, communeCode: string, district: string | null = null, districtCode: string | null = null): PersonaAddress {
  return { detail, commune, district, districtCode, communeCode, ...SON_LA };
}

/** ID number: birth-registration province, gender/century digit, two-digit year, six serial digits. */
function idNumber(gender: 'male' | 'female', dateOfBirth: string, serial: string, province = '014'): string {
  const year = Number(dateOfBirth.slice(0, 4));
  const century = Math.floor((year - 1900) / 100);
  const digit = century * 2 + (gender === 'female' ? 1 : 0);
  return `${province}${digit}${dateOfBirth.slice(2, 4)}${serial}`;
}

/** A small seeded generator (mulberry32), so the sandbox is the same on every machine. */
export function createRandom(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (min: number, max: number) => min + Math.floor(next() * (max - min + 1));
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
  const digits = (n: number) => Array.from({ length: n }, () => String(int(0, 9))).join('');
  return { next, int, pick, digits, chance: (p: number) => next() < p };
}

/** The seed of every generated persona: the date of Plan 128/KH-UBND. */
const rng = createRandom(20210521);

const BLOOD_TYPES = ['O', 'A', 'B', 'AB'];
const PARENT_NAMES = {
  male: ['Lò Văn Pọm', 'Cầm Văn Ơn', 'Giàng A Chống', 'Nguyễn Văn Hòa', 'Quàng Văn Panh', 'Đinh Văn Khởi', 'Triệu Văn Phát', 'Tòng Văn Ún'],
  female: ['Lường Thị Xiêm', 'Vì Thị Lả', 'Sùng Thị Dợ', 'Trần Thị Nhung', 'Điêu Thị Ín', 'Bùi Thị Nhàn', 'Bàn Thị Chài', 'Hà Thị Ón'],
};

function ageOn(dateOfBirth: string, on = '2026-11-27'): number {
  const [y, m, d] = dateOfBirth.split('-').map(Number) as [number, number, number];
  const [Y, M, D] = on.split('-').map(Number) as [number, number, number];
  return Y - y - (M < m || (M === m && D < d) ? 1 : 0);
}

function person(
  familyName: string,
  middleName: string,
  givenName: string,
  gender: 'male' | 'female',
  dateOfBirth: string,
  serial: string,
  ethnicity: string,
  permanentAddress: PersonaAddress,
  extra: { oldIdNumber?: string; insuranceCode?: string; religion?: string; provinceCode?: string; dateOfDeath?: string } = {},
): Person {
  const fullName = [familyName, middleName, givenName].filter(Boolean).join(' ').normalize('NFC');
  const id = idNumber(gender, dateOfBirth, serial, extra.provinceCode);
  const adult = ageOn(dateOfBirth) >= 20;
  const maritalStatus = !adult ? 'single' : rng.chance(0.75) ? 'married' : rng.pick(['single', 'divorced', 'widowed'] as const);
  const spouseGender = gender === 'male' ? 'female' : 'male';
  const birthProvince = extra.provinceCode ?? '014';
  return {
    idNumber: id,
    oldIdNumber: extra.oldIdNumber ?? null,
    fullName,
    familyName,
    middleName,
    givenName,
    gender,
    dateOfBirth,
    dateOfDeath: extra.dateOfDeath ?? null,
    ethnicity,
    religion: extra.religion ?? 'Không',
    nationality: 'VN',
    maritalStatus,
    bloodType: rng.chance(0.8) ? rng.pick(BLOOD_TYPES) : null,
    birthRegistrationPlace:
      birthProvince === '014'
        ? permanentAddress
        : { detail: '', commune: '', district: null, districtCode: null, communeCode: '', province: PROVINCES[birthProvince] ?? 'Hà Nội', provinceCode: birthProvince.slice(1) },
    hometown: permanentAddress,
    permanentAddress,
    currentAddress: rng.chance(0.9) ? permanentAddress : rng.pick(COMMUNES).address('Tổ dân phố 2'),
    father: { fullName: rng.pick(PARENT_NAMES.male).replace(/^\S+/, familyName), idNumber: null },
    mother: { fullName: rng.pick(PARENT_NAMES.female), idNumber: null },
    spouse: maritalStatus === 'married' ? { fullName: rng.pick(PARENT_NAMES[spouseGender]), idNumber: null } : null,
    householdHead: { fullName, idNumber: id },
    insuranceCode: extra.insuranceCode ?? null,
  };
}

/** Province names of the birth-registration codes used in generated ID numbers. */
const PROVINCES: Record<string, string> = {
  '001': 'Hà Nội',
  '010': 'Lào Cai',
  '011': 'Điện Biên',
  '012': 'Lai Châu',
  '014': 'Sơn La',
  '015': 'Yên Bái',
  '017': 'Hòa Bình',
  '038': 'Thanh Hóa',
};

/** Communes and wards of Sơn La after the 2025 reform (codes are the sandbox's own). */
const COMMUNES = [
  ['Phường Tô Hiệu', '04054', 'Thành phố Sơn La', '116'],
  ['Phường Chiềng Lề', '04060', 'Thành phố Sơn La', '116'],
  ['Phường Chiềng Sinh', '04069', 'Thành phố Sơn La', '116'],
  ['Phường Chiềng An', '04072', 'Thành phố Sơn La', '116'],
  ['Xã Mường Bú', '04198', 'Huyện Mường La', '120'],
  ['Xã Mường La', '04189', 'Huyện Mường La', '120'],
  ['Xã Thuận Châu', '04222', 'Huyện Thuận Châu', '121'],
  ['Xã Quỳnh Nhai', '04135', 'Huyện Quỳnh Nhai', '119'],
  ['Xã Mai Sơn', '04243', 'Huyện Mai Sơn', '123'],
  ['Xã Chiềng Mung', '04261', 'Huyện Mai Sơn', '123'],
  ['Xã Yên Châu', '04312', 'Huyện Yên Châu', '124'],
  ['Phường Mộc Châu', '04285', 'Huyện Mộc Châu', '118'],
  ['Phường Thảo Nguyên', '04291', 'Huyện Mộc Châu', '118'],
  ['Xã Vân Hồ', '04384', 'Huyện Vân Hồ', '128'],
  ['Xã Chiềng Sơn', '04366', 'Huyện Mộc Châu', '118'],
  ['Xã Sông Mã', '04408', 'Huyện Sông Mã', '127'],
  ['Xã Sốp Cộp', '04432', 'Huyện Sốp Cộp', '129'],
  ['Xã Bắc Yên', '04510', 'Huyện Bắc Yên', '126'],
  ['Xã Tà Xùa', '04516', 'Huyện Bắc Yên', '126'],
  ['Xã Phù Yên', '04480', 'Huyện Phù Yên', '125'],
  ['Xã Tà Hộc', '04276', 'Huyện Mai Sơn', '123'],
].map(([commune, communeCode, district, districtCode]) => ({
  commune: commune!,
  /** An address in this commune; a quarter of the records still name the old district. */
  address: (detail: string) =>
    rng.chance(0.25) ? address(detail, commune!, communeCode!, district!, districtCode!) : address(detail, commune!, communeCode!),
}));

const namedPeople: Person[] = [
  person('Lò', 'Văn', 'Thắng', 'male', '1989-04-17', '001234', 'Thái', address('Bản Hụm, tổ 3', 'Phường Tô Hiệu', '04054'), {
    oldIdNumber: '050712345',
    insuranceCode: '1410023456',
  }),
  person('Cầm', 'Thị', 'Hoa', 'female', '1994-11-02', '002871', 'Thái', address('Bản Cang', 'Xã Mường Bú', '04198', 'Huyện Mường La', '120'), {
    insuranceCode: '1410078123',
  }),
  person('Giàng', 'A', 'Páo', 'male', '2001-06-30', '000415', "H'Mông", address('Bản Hua Tạt', 'Xã Vân Hồ', '04384'), {
    religion: 'Tin Lành',
  }),
  person('Sùng', 'Thị', 'Mỷ', 'female', '2003-01-21', '003302', "H'Mông", address('Bản Pá Hang', 'Xã Chiềng Sơn', '04366'), {
    insuranceCode: '1421034567',
  }),
  person('Nguyễn', 'Thị Thu', 'Trang', 'female', '1978-09-08', '004512', 'Kinh', address('Số 12, đường Chu Văn Thịnh', 'Phường Chiềng Lề', '04060'), {
    oldIdNumber: '050398765',
    insuranceCode: '1409012345',
  }),
  person('Quàng', 'Văn', 'Hải', 'male', '1985-02-14', '006730', 'Thái', address('Bản Nà Sản', 'Xã Chiềng Mung', '04261', 'Huyện Mai Sơn', '123')),
  person('Đinh', 'Thị', 'Lan', 'female', '1990-07-25', '001199', 'Mường', address('Bản Suối Tấc', 'Xã Phù Yên', '04480'), {
    insuranceCode: '1410065432',
  }),
  person('Triệu', 'Văn', 'Sinh', 'male', '1999-12-03', '005054', 'Dao', address('Bản Suối Lìn', 'Xã Tà Hộc', '04276')),
  person('Tòng', 'Văn', 'Bun', 'male', '1967-03-11', '002460', 'Thái', address('Bản Mé', 'Xã Thuận Châu', '04222', 'Huyện Thuận Châu', '121'), {
    oldIdNumber: '050123456',
  }),
  person('Vì', 'Thị', 'Ngọc Ánh', 'female', '2005-05-19', '007781', 'Thái', address('Tiểu khu 4', 'Phường Mộc Châu', '04285'), {
    insuranceCode: '1423045678',
  }),
  person('Trần', 'Đức', 'Minh', 'male', '1982-10-30', '003618', 'Kinh', address('Tiểu khu 19/5', 'Xã Yên Châu', '04312'), {
    insuranceCode: '1409087654',
  }),
  person('Mùa', 'A', 'Chứ', 'male', '1996-08-08', '004407', "H'Mông", address('Bản Huổi Một', 'Xã Sông Mã', '04408', 'Huyện Sông Mã', '127')),
];

/** Names by ethnic group: Sơn La is mostly Thái, then Kinh, H'Mông, Mường, Dao, Khơ Mú. */
const ETHNIC_GROUPS: { name: string; weight: number; family: string[]; middle: { male: string[]; female: string[] }; given: { male: string[]; female: string[] } }[] = [
  {
    name: 'Thái',
    weight: 53,
    family: ['Lò', 'Lường', 'Quàng', 'Cầm', 'Tòng', 'Vì', 'Hà', 'Lèo', 'Điêu', 'Mè'],
    middle: { male: ['Văn'], female: ['Thị'] },
    given: {
      male: ['Thắng', 'Hải', 'Bun', 'Khăm', 'Panh', 'Xôm', 'Ón', 'Tuân', 'Piềng', 'Duẩn', 'Ươn', 'Chiến'],
      female: ['Hoa', 'Ánh', 'Lả', 'Ơn', 'Xuân', 'Bích', 'Hương', 'Lan', 'Ngọc', 'Thoa', 'Ín', 'Xiêm'],
    },
  },
  {
    name: 'Kinh',
    weight: 17,
    family: ['Nguyễn', 'Trần', 'Lê', 'Phạm', 'Hoàng', 'Vũ', 'Đặng', 'Bùi', 'Đỗ', 'Ngô'],
    middle: { male: ['Văn', 'Đức', 'Minh', 'Hữu', 'Quang'], female: ['Thị', 'Thu', 'Ngọc', 'Thanh'] },
    given: {
      male: ['Minh', 'Hùng', 'Dũng', 'Tuấn', 'Nam', 'Quang', 'Hiếu', 'Đức', 'Long', 'Phong'],
      female: ['Trang', 'Hằng', 'Lan', 'Thảo', 'Ngọc', 'Huyền', 'Yến', 'Hà', 'Linh', 'Nhung'],
    },
  },
  {
    name: "H'Mông",
    weight: 16,
    family: ['Giàng', 'Sùng', 'Mùa', 'Thào', 'Vàng', 'Lầu', 'Hờ'],
    middle: { male: ['A'], female: ['Thị'] },
    given: {
      male: ['Páo', 'Chứ', 'Dế', 'Súa', 'Chơ', 'Tủa', 'Lử', 'Pó', 'Sềnh', 'Khua'],
      female: ['Mỷ', 'Dua', 'Mai', 'Pà', 'Sua', 'Chua', 'Dợ', 'Ly', 'Chứ'],
    },
  },
  {
    name: 'Mường',
    weight: 7,
    family: ['Đinh', 'Bùi', 'Quách', 'Hà', 'Xa'],
    middle: { male: ['Văn'], female: ['Thị'] },
    given: { male: ['Khải', 'Hưng', 'Sơn', 'Thuận', 'Mạnh'], female: ['Lan', 'Hiền', 'Nga', 'Thơm', 'Hường'] },
  },
  {
    name: 'Dao',
    weight: 4,
    family: ['Triệu', 'Bàn', 'Đặng', 'Lý'],
    middle: { male: ['Văn', 'Tiến'], female: ['Thị'] },
    given: { male: ['Sinh', 'Quý', 'Phúc', 'Lở', 'Chàn'], female: ['Mai', 'Chài', 'Liên', 'Xiêm'] },
  },
  {
    name: 'Khơ Mú',
    weight: 3,
    family: ['Lò', 'Cà', 'Quàng', 'Vi'],
    middle: { male: ['Văn'], female: ['Thị'] },
    given: { male: ['Tiến', 'Sáng', 'Bình', 'Khun'], female: ['Hoa', 'Pấng', 'Nhan'] },
  },
];

function weighted<T extends { weight: number }>(items: readonly T[]): T {
  const total = items.reduce((sum, i) => sum + i.weight, 0);
  let r = rng.next() * total;
  for (const item of items) {
    r -= item.weight;
    if (r < 0) return item;
  }
  return items[items.length - 1]!;
}

const VILLAGES = ['Bản Hụm', 'Bản Cang', 'Bản Nà Sản', 'Bản Mé', 'Bản Pá Hang', 'Bản Hua Tạt', 'Bản Mòng', 'Tiểu khu 3', 'Tổ 5', 'Bản Bó', 'Bản Huổi Một', 'Bản Co Muông', 'Bản Phiêng Luông'];
const OTHER_PROVINCES = ['001', '010', '011', '012', '015', '017', '038'];

function generatePeople(count: number, taken: Set<string>): Person[] {
  const out: Person[] = [];
  while (out.length < count) {
    const group = weighted(ETHNIC_GROUPS);
    const gender = rng.chance(0.5) ? 'male' : 'female';
    // Mostly born 1945–2008; a few in the 2010s, so both centuries appear.
    const year = rng.chance(0.12) ? rng.int(2000, 2012) : rng.int(1945, 1999);
    const dateOfBirth = `${year}-${String(rng.int(1, 12)).padStart(2, '0')}-${String(rng.int(1, 28)).padStart(2, '0')}`;
    const province = rng.chance(0.88) ? '014' : rng.pick(OTHER_PROVINCES);
    const serial = rng.digits(6);
    const id = idNumber(gender, dateOfBirth, serial, province);
    if (taken.has(id)) continue;
    taken.add(id);
    const commune = rng.pick(COMMUNES);
    const deceased = year < 1960 ? rng.chance(0.3) : rng.chance(0.01);
    const p = person(
      rng.pick(group.family),
      rng.pick(group.middle[gender]),
      rng.pick(group.given[gender]),
      gender,
      dateOfBirth,
      serial,
      group.name,
      commune.address(`${rng.pick(VILLAGES)}`),
      {
        provinceCode: province,
        ...(year < 1996 && rng.chance(0.4) ? { oldIdNumber: `05${rng.digits(7)}` } : {}),
        ...(!deceased && ageOn(dateOfBirth) >= 15 && rng.chance(0.6) ? { insuranceCode: `14${rng.digits(8)}` } : {}),
        ...(deceased ? { dateOfDeath: `20${String(rng.int(10, 25)).padStart(2, '0')}-0${rng.int(1, 9)}-1${rng.int(0, 9)}` } : {}),
        ...(group.name === "H'Mông" && rng.chance(0.3) ? { religion: 'Tin Lành' } : {}),
      },
    );
    out.push(p);
  }
  return out;
}

/** Everyone the population database knows: the named people first (stable for docs and tests). */
export const people: readonly Person[] = [...namedPeople, ...generatePeople(200, new Set(namedPeople.map((p) => p.idNumber)))];

function code(nine: string): string {
  const full = withCheckDigit(nine);
  if (!full) throw new Error(`no valid tax code starts with ${nine}`);
  return full;
}

function personByName(fullName: string): Person {
  const found = people.find((p) => p.fullName === fullName);
  if (!found) throw new Error(`no persona ${fullName}`);
  return found;
}

function enterprise(
  nine: string,
  name: string,
  legalForm: LegalForm,
  status: EnterpriseStatus,
  registrationDate: string,
  headOffice: PersonaAddress,
  representative: string,
  position: string,
  charterCapital: number | null,
  names: { foreignName?: string; abbreviatedName?: string } = {},
): EnterprisePersona {
  return {
    enterpriseCode: code(nine),
    name,
    foreignName: names.foreignName ?? null,
    abbreviatedName: names.abbreviatedName ?? null,
    legalForm,
    status,
    registrationDate,
    headOffice,
    legalRepresentative: { idNumber: personByName(representative).idNumber, position },
    charterCapital,
  };
}

const teaCompany = enterprise(
  '550012345',
  'CÔNG TY CỔ PHẦN CHÈ MỘC CHÂU XANH',
  'joint_stock',
  'active',
  '2015-03-12',
  address('Tiểu khu 40', 'Phường Mộc Châu', '04285', 'Huyện Mộc Châu', '118'),
  'Trần Đức Minh',
  'Tổng giám đốc',
  45_000_000_000,
  { foreignName: 'MOC CHAU GREEN TEA JOINT STOCK COMPANY', abbreviatedName: 'MOC CHAU GREEN TEA JSC' },
);

const namedEnterprises: EnterprisePersona[] = [
  teaCompany,
  {
    ...teaCompany,
    enterpriseCode: `${teaCompany.enterpriseCode}-001`,
    name: 'CHI NHÁNH CÔNG TY CỔ PHẦN CHÈ MỘC CHÂU XANH TẠI VÂN HỒ',
    foreignName: null,
    abbreviatedName: null,
    legalForm: 'branch',
    registrationDate: '2019-08-20',
    headOffice: address('Bản Bó Nhàng', 'Xã Vân Hồ', '04384'),
    charterCapital: null,
  },
  enterprise(
    '550034567',
    'CÔNG TY HỢP DANH KIỂM TOÁN VÀ TƯ VẤN TÂY BẮC',
    'partnership',
    'active',
    '2018-06-01',
    address('Số 5, đường Tô Hiệu', 'Phường Tô Hiệu', '04054', 'Thành phố Sơn La', '116'),
    'Cầm Thị Hoa',
    'Thành viên hợp danh',
    800_000_000,
  ),
  enterprise(
    '550045678',
    'CÔNG TY TNHH MỘT THÀNH VIÊN XOÀI YÊN CHÂU',
    'single_member_llc',
    'active',
    '2020-01-15',
    address('Tiểu khu 2', 'Xã Yên Châu', '04312'),
    'Lò Văn Thắng',
    'Giám đốc',
    5_000_000_000,
    { foreignName: 'YEN CHAU MANGO COMPANY LIMITED' },
  ),
  enterprise(
    '550056789',
    'CÔNG TY TNHH VẬN TẢI TÂY BẮC SƠN LA',
    'multi_member_llc',
    'suspended',
    '2012-09-09',
    address('Số 88, đường Lê Duẩn', 'Phường Chiềng Sinh', '04069', 'Thành phố Sơn La', '116'),
    'Quàng Văn Hải',
    'Giám đốc',
    12_000_000_000,
    { abbreviatedName: 'VAN TAI TAY BAC' },
  ),
  enterprise(
    '550067891',
    'DOANH NGHIỆP TƯ NHÂN CÀ PHÊ MAI SƠN',
    'private_enterprise',
    'dissolving',
    '2010-04-22',
    address('Tiểu khu 7', 'Xã Mai Sơn', '04243', 'Huyện Mai Sơn', '123'),
    'Tòng Văn Bun',
    'Chủ doanh nghiệp',
    2_000_000_000,
  ),
  enterprise(
    '550078901',
    'CÔNG TY CỔ PHẦN DU LỊCH SINH THÁI TÀ XÙA',
    'joint_stock',
    'dissolved',
    '2016-11-30',
    address('Bản Bẹ', 'Xã Tà Xùa', '04516', 'Huyện Bắc Yên', '126'),
    'Giàng A Páo',
    'Chủ tịch hội đồng quản trị',
    20_000_000_000,
  ),
  enterprise(
    '550089012',
    'CÔNG TY TNHH XÂY DỰNG THUẬN CHÂU',
    'multi_member_llc',
    'bankrupt',
    '2008-02-18',
    address('Tiểu khu 1', 'Xã Thuận Châu', '04222', 'Huyện Thuận Châu', '121'),
    'Nguyễn Thị Thu Trang',
    'Giám đốc',
    9_500_000_000,
  ),
];

const TRADES = [
  ['NÔNG SẢN', 'AGRICULTURAL PRODUCTS'],
  ['CHÈ', 'TEA'],
  ['CÀ PHÊ', 'COFFEE'],
  ['XÂY DỰNG', 'CONSTRUCTION'],
  ['VẬN TẢI', 'TRANSPORT'],
  ['DU LỊCH', 'TOURISM'],
  ['THƯƠNG MẠI', 'TRADING'],
  ['THỦY ĐIỆN', 'HYDROPOWER'],
  ['DƯỢC LIỆU', 'MEDICINAL HERBS'],
  ['BÒ SỮA', 'DAIRY'],
  ['MẬN HẬU', 'PLUM'],
  ['CHĂN NUÔI', 'LIVESTOCK'],
  ['VẬT LIỆU XÂY DỰNG', 'BUILDING MATERIALS'],
  ['CƠ KHÍ', 'ENGINEERING'],
] as const;
const PLACES = ['MỘC CHÂU', 'MAI SƠN', 'YÊN CHÂU', 'THUẬN CHÂU', 'SÔNG MÃ', 'PHÙ YÊN', 'BẮC YÊN', 'QUỲNH NHAI', 'VÂN HỒ', 'SỐP CỘP', 'TÂY BẮC', 'SƠN LA'];
const FORMS: { form: LegalForm; weight: number; prefix: string; english: string; position: string }[] = [
  { form: 'single_member_llc', weight: 35, prefix: 'CÔNG TY TNHH MỘT THÀNH VIÊN', english: 'ONE MEMBER COMPANY LIMITED', position: 'Giám đốc' },
  { form: 'multi_member_llc', weight: 25, prefix: 'CÔNG TY TNHH', english: 'COMPANY LIMITED', position: 'Giám đốc' },
  { form: 'joint_stock', weight: 20, prefix: 'CÔNG TY CỔ PHẦN', english: 'JOINT STOCK COMPANY', position: 'Tổng giám đốc' },
  { form: 'private_enterprise', weight: 15, prefix: 'DOANH NGHIỆP TƯ NHÂN', english: '', position: 'Chủ doanh nghiệp' },
  { form: 'partnership', weight: 5, prefix: 'CÔNG TY HỢP DANH', english: 'PARTNERSHIP', position: 'Thành viên hợp danh' },
];
const STATUS_WEIGHTS: { status: EnterpriseStatus; weight: number }[] = [
  { status: 'active', weight: 80 },
  { status: 'suspended', weight: 7 },
  { status: 'dissolving', weight: 5 },
  { status: 'dissolved', weight: 5 },
  { status: 'bankrupt', weight: 3 },
];

function generateEnterprises(count: number, taken: Set<string>): EnterprisePersona[] {
  const adults = people.filter((p) => !p.dateOfDeath && ageOn(p.dateOfBirth) >= 22);
  const out: EnterprisePersona[] = [];
  const names = new Set<string>();
  while (out.length < count) {
    const full = withCheckDigit(`55${rng.digits(7)}`);
    if (!full || taken.has(full)) continue;
    const form = weighted(FORMS);
    const [trade, tradeEn] = rng.pick(TRADES);
    const place = rng.pick(PLACES);
    const name = `${form.prefix} ${trade} ${place}`;
    if (names.has(name)) continue;
    names.add(name);
    taken.add(full);
    const year = rng.int(2005, 2025);
    out.push({
      enterpriseCode: full,
      name,
      foreignName: form.english && rng.chance(0.6) ? `${place.normalize('NFD').replace(/[\u0300-\u036f]/g, '').replace(/Đ/g, 'D')} ${tradeEn} ${form.english}` : null,
      abbreviatedName: null,
      legalForm: form.form,
      status: weighted(STATUS_WEIGHTS).status,
      registrationDate: `${year}-${String(rng.int(1, 12)).padStart(2, '0')}-${String(rng.int(1, 28)).padStart(2, '0')}`,
      headOffice: rng.pick(COMMUNES).address(`${rng.pick(['Tiểu khu', 'Tổ', 'Số'])} ${rng.int(1, 40)}`),
      legalRepresentative: { idNumber: rng.pick(adults).idNumber, position: form.position },
      charterCapital: form.form === 'private_enterprise' ? rng.int(1, 20) * 100_000_000 : rng.int(1, 200) * 500_000_000,
    });
  }
  // Some enterprises run branches: dependent units with the parent's code and a 3-digit suffix.
  for (const parent of out.filter((e) => e.status === 'active').slice(0, 5)) {
    const commune = rng.pick(COMMUNES);
    out.push({
      ...parent,
      enterpriseCode: `${parent.enterpriseCode}-001`,
      name: `CHI NHÁNH ${parent.name} TẠI ${commune.commune.replace(/^(Xã|Phường) /, '').toUpperCase()}`,
      foreignName: null,
      legalForm: 'branch',
      headOffice: commune.address(`Tổ ${rng.int(1, 20)}`),
      charterCapital: null,
    });
  }
  return out;
}

/** Every enterprise the business registry knows: the named ones first, then generated ones (50 in all). */
export const enterprises: readonly EnterprisePersona[] = [
  ...namedEnterprises,
  ...generateEnterprises(37, new Set(namedEnterprises.map((e) => e.enterpriseCode))),
];

const TAX_OFFICES = [
  { code: '14100', name: 'Thuế tỉnh Sơn La' },
  { code: '14101', name: 'Thuế cơ sở 1 tỉnh Sơn La' },
  { code: '14102', name: 'Thuế cơ sở 2 tỉnh Sơn La' },
  { code: '14103', name: 'Thuế cơ sở 3 tỉnh Sơn La' },
];
const TAX_STATUS: Record<EnterpriseStatus, TaxpayerPersona['status']> = {
  active: 'active',
  suspended: 'suspended',
  dissolving: 'active',
  dissolved: 'ceased',
  bankrupt: 'ceased',
};

function generateTaxpayers(): TaxpayerPersona[] {
  const organizations: TaxpayerPersona[] = enterprises.map((e) => ({
    taxCode: e.enterpriseCode,
    name: e.name,
    taxpayerType: 'organization',
    status: e.status === 'active' && rng.chance(0.05) ? 'not_at_address' : TAX_STATUS[e.status],
    taxOffice: e.legalForm === 'joint_stock' ? TAX_OFFICES[0]! : rng.pick(TAX_OFFICES.slice(1)),
    registrationDate: e.registrationDate,
    address: e.headOffice,
    idNumber: null,
  }));
  // Since 1 July 2025 individuals and household businesses use their personal ID number as tax code.
  const living = people.filter((p) => !p.dateOfDeath && ageOn(p.dateOfBirth) >= 18);
  const individuals = living.slice(0, 24).map(
    (p, i): TaxpayerPersona => ({
      taxCode: p.idNumber,
      name: i % 3 === 2 ? `HỘ KINH DOANH ${p.fullName.toUpperCase()}` : p.fullName,
      taxpayerType: i % 3 === 2 ? 'household_business' : 'individual',
      status: i === 7 ? 'not_at_address' : i === 11 ? 'ceased' : 'active',
      taxOffice: rng.pick(TAX_OFFICES.slice(1)),
      registrationDate: `20${String(rng.int(15, 25)).padStart(2, '0')}-${String(rng.int(1, 12)).padStart(2, '0')}-${String(rng.int(1, 28)).padStart(2, '0')}`,
      address: p.permanentAddress,
      idNumber: p.idNumber,
    }),
  );
  return [...organizations, ...individuals];
}

/** Everyone the tax administration knows: every enterprise and branch, individuals, household businesses. */
export const taxpayers: readonly TaxpayerPersona[] = generateTaxpayers();

function generateInsured(): InsuredPersona[] {
  // Cards run for the current calendar year (Vietnam time), or ended with the last one, whatever year the sandbox runs in.
  const year = new Date(Date.now() + 7 * 3_600_000).getUTCFullYear();
  const employers = enterprises.filter((e) => e.status === 'active' && e.legalForm !== 'branch');
  return people
    .filter((p): p is Person & { insuranceCode: string } => p.insuranceCode !== null)
    .map((p) => {
      const age = ageOn(p.dateOfBirth);
      const status = rng.chance(0.8) ? 'participating' : rng.pick(['suspended', 'stopped'] as const);
      const employed = age >= 18 && age < 60 && rng.chance(0.6);
      const employer = employed ? rng.pick(employers) : null;
      // Card: beneficiary group (2 letters), benefit level, province of issue, social-insurance code.
      const group = employer ? 'DN' : age < 18 ? 'HS' : age >= 60 ? 'HT' : 'GD';
      const level = group === 'HT' ? '2' : group === 'HS' ? '3' : '4';
      const current = status !== 'stopped';
      return {
        insuranceCode: p.insuranceCode,
        idNumber: p.idNumber,
        fullName: p.fullName,
        participationStatus: status,
        employer: employer ? { code: employer.enterpriseCode, name: employer.name } : null,
        healthInsuranceCard: rng.chance(0.9)
          ? { number: `${group}${level}14${p.insuranceCode}`, validFrom: `${current ? year : year - 1}-01-01`, validTo: `${current ? year : year - 1}-12-31` }
          : null,
      };
    });
}

/** Everyone Vietnam Social Security knows, by social-insurance code (and ID number). */
export const insured: readonly InsuredPersona[] = generateInsured();

const AGENCIES: Record<string, string> = {
  H52: 'Ủy ban nhân dân tỉnh Sơn La',
  'H52.16': 'Sở Tài chính tỉnh Sơn La',
  'H52.19': 'Sở Xây dựng tỉnh Sơn La',
  'H52.20': 'Sở Tư pháp tỉnh Sơn La',
  'H52.21': 'Sở Y tế tỉnh Sơn La',
  'H52.22': 'Sở Giáo dục và Đào tạo tỉnh Sơn La',
  'H52.23': 'Sở Nội vụ tỉnh Sơn La',
  'H52.24': 'Sở Văn hóa, Thể thao và Du lịch tỉnh Sơn La',
  'H52.25': 'Sở Nông nghiệp và Môi trường tỉnh Sơn La',
  'H52.101.114': 'Ủy ban nhân dân phường Tô Hiệu',
  'H52.118.101': 'Ủy ban nhân dân phường Mộc Châu',
  'H52.128.101': 'Ủy ban nhân dân xã Vân Hồ',
};
const COMMUNE_AGENCIES = ['H52.101.114', 'H52.118.101', 'H52.128.101'];

/** [name, field code, field name, agency codes ('*' = every commune), level, processing time, fee, result] */
const PROCEDURE_TABLE: [string, string, string, string[], string, string, string | null, string][] = [
  ['Đăng ký khai sinh', 'HT', 'Hộ tịch', ['*'], 'Toàn trình', 'Ngay trong ngày làm việc', null, 'Giấy khai sinh'],
  ['Đăng ký kết hôn', 'HT', 'Hộ tịch', ['*'], 'Một phần', 'Ngay trong ngày làm việc', null, 'Giấy chứng nhận kết hôn'],
  ['Đăng ký khai tử', 'HT', 'Hộ tịch', ['*'], 'Toàn trình', 'Ngay trong ngày làm việc', null, 'Trích lục khai tử'],
  ['Cấp bản sao trích lục hộ tịch', 'HT', 'Hộ tịch', ['*', 'H52.20'], 'Toàn trình', 'Ngay trong ngày làm việc', '8.000 đồng/bản', 'Bản sao trích lục hộ tịch'],
  ['Đăng ký thay đổi, cải chính, bổ sung thông tin hộ tịch', 'HT', 'Hộ tịch', ['*'], 'Một phần', '03 ngày làm việc', '15.000 đồng', 'Trích lục thay đổi hộ tịch'],
  ['Cấp Phiếu lý lịch tư pháp', 'LLTP', 'Lý lịch tư pháp', ['H52.20'], 'Toàn trình', '10 ngày', '200.000 đồng/lần', 'Phiếu lý lịch tư pháp'],
  ['Chứng thực bản sao từ bản chính', 'CT', 'Chứng thực', ['*'], 'Một phần', 'Trong ngày', '2.000 đồng/trang', 'Bản sao có chứng thực'],
  ['Chứng thực chữ ký', 'CT', 'Chứng thực', ['*'], 'Một phần', 'Trong ngày', '10.000 đồng/trường hợp', 'Giấy tờ có chứng thực chữ ký'],
  ['Cấp giấy phép xây dựng nhà ở riêng lẻ', 'XD', 'Hoạt động xây dựng', ['*'], 'Một phần', '15 ngày', '75.000 đồng/giấy phép', 'Giấy phép xây dựng'],
  ['Cấp giấy phép xây dựng mới đối với công trình cấp III', 'XD', 'Hoạt động xây dựng', ['H52.19'], 'Một phần', '20 ngày', '150.000 đồng/giấy phép', 'Giấy phép xây dựng'],
  ['Đăng ký đất đai, tài sản gắn liền với đất lần đầu', 'DD', 'Đất đai', ['H52.25'], 'Một phần', '20 ngày làm việc', 'Theo quy định của Hội đồng nhân dân tỉnh', 'Giấy chứng nhận quyền sử dụng đất'],
  ['Đăng ký biến động quyền sử dụng đất do chuyển nhượng', 'DD', 'Đất đai', ['H52.25'], 'Một phần', '10 ngày làm việc', 'Theo quy định của Hội đồng nhân dân tỉnh', 'Giấy chứng nhận đã cập nhật biến động'],
  ['Đăng ký thành lập hộ kinh doanh', 'HKD', 'Thành lập và hoạt động của hộ kinh doanh', ['*'], 'Toàn trình', '03 ngày làm việc', '100.000 đồng', 'Giấy chứng nhận đăng ký hộ kinh doanh'],
  ['Đăng ký thay đổi nội dung đăng ký hộ kinh doanh', 'HKD', 'Thành lập và hoạt động của hộ kinh doanh', ['*'], 'Toàn trình', '03 ngày làm việc', '50.000 đồng', 'Giấy chứng nhận đăng ký hộ kinh doanh'],
  ['Đăng ký thành lập công ty trách nhiệm hữu hạn một thành viên', 'DKKD', 'Thành lập và hoạt động doanh nghiệp', ['H52.16'], 'Toàn trình', '03 ngày làm việc', '50.000 đồng (nộp trực tuyến miễn phí)', 'Giấy chứng nhận đăng ký doanh nghiệp'],
  ['Đăng ký thành lập công ty cổ phần', 'DKKD', 'Thành lập và hoạt động doanh nghiệp', ['H52.16'], 'Toàn trình', '03 ngày làm việc', '50.000 đồng (nộp trực tuyến miễn phí)', 'Giấy chứng nhận đăng ký doanh nghiệp'],
  ['Đăng ký hoạt động chi nhánh, văn phòng đại diện', 'DKKD', 'Thành lập và hoạt động doanh nghiệp', ['H52.16'], 'Toàn trình', '03 ngày làm việc', '50.000 đồng', 'Giấy chứng nhận đăng ký hoạt động chi nhánh'],
  ['Thông báo tạm ngừng kinh doanh', 'DKKD', 'Thành lập và hoạt động doanh nghiệp', ['H52.16'], 'Toàn trình', '03 ngày làm việc', null, 'Giấy xác nhận tạm ngừng kinh doanh'],
  ['Cấp giấy phép hoạt động khám bệnh, chữa bệnh', 'KCB', 'Khám bệnh, chữa bệnh', ['H52.21'], 'Một phần', '60 ngày', '4.300.000 đồng', 'Giấy phép hoạt động'],
  ['Cấp giấy chứng nhận cơ sở đủ điều kiện an toàn thực phẩm', 'ATTP', 'An toàn thực phẩm', ['H52.21', 'H52.25'], 'Một phần', '20 ngày làm việc', '1.000.000 đồng', 'Giấy chứng nhận cơ sở đủ điều kiện an toàn thực phẩm'],
  ['Chuyển trường đối với học sinh trung học cơ sở', 'GD', 'Giáo dục và Đào tạo', ['H52.22', '*'], 'Toàn trình', '03 ngày làm việc', null, 'Quyết định tiếp nhận học sinh'],
  ['Công nhận tốt nghiệp trung học cơ sở', 'GD', 'Giáo dục và Đào tạo', ['H52.22'], 'Một phần', '05 ngày làm việc', null, 'Bằng tốt nghiệp trung học cơ sở'],
  ['Xét tặng danh hiệu Lao động tiên tiến', 'TDKT', 'Thi đua, khen thưởng', ['H52.23', '*'], 'Một phần', '20 ngày làm việc', null, 'Quyết định công nhận danh hiệu'],
  ['Trợ cấp xã hội hằng tháng đối với đối tượng bảo trợ xã hội', 'BTXH', 'Bảo trợ xã hội', ['*'], 'Toàn trình', '22 ngày làm việc', null, 'Quyết định trợ cấp xã hội'],
  ['Hỗ trợ chi phí mai táng cho đối tượng bảo trợ xã hội', 'BTXH', 'Bảo trợ xã hội', ['*'], 'Toàn trình', '05 ngày làm việc', null, 'Quyết định hỗ trợ chi phí mai táng'],
  ['Cấp giấy phép kinh doanh dịch vụ lữ hành nội địa', 'DL', 'Du lịch', ['H52.24'], 'Toàn trình', '10 ngày làm việc', '3.000.000 đồng', 'Giấy phép kinh doanh dịch vụ lữ hành nội địa'],
  ['Công nhận điểm du lịch', 'DL', 'Du lịch', ['H52.24'], 'Một phần', '30 ngày', null, 'Quyết định công nhận điểm du lịch'],
  ['Cấp giấy chứng nhận đủ điều kiện buôn bán thuốc bảo vệ thực vật', 'TT', 'Trồng trọt và bảo vệ thực vật', ['H52.25'], 'Toàn trình', '20 ngày làm việc', '500.000 đồng', 'Giấy chứng nhận đủ điều kiện buôn bán thuốc bảo vệ thực vật'],
  ['Cấp giấy chứng nhận mã số vùng trồng', 'TT', 'Trồng trọt và bảo vệ thực vật', ['H52.25'], 'Một phần', '30 ngày', null, 'Mã số vùng trồng'],
  ['Đăng ký khai thác nước mặt quy mô nhỏ', 'TNN', 'Tài nguyên nước', ['*'], 'Một phần', '10 ngày làm việc', null, 'Xác nhận đăng ký khai thác'],
  ['Cấp giấy phép môi trường', 'MT', 'Môi trường', ['H52.25', 'H52'], 'Một phần', '30 ngày', 'Theo quy định của Hội đồng nhân dân tỉnh', 'Giấy phép môi trường'],
  ['Đăng ký thường trú', 'CT', 'Đăng ký, quản lý cư trú', ['*'], 'Toàn trình', '07 ngày làm việc', '20.000 đồng (nộp trực tuyến 10.000 đồng)', 'Thông báo kết quả đăng ký thường trú'],
];

const FIELD_LAW: Record<string, string> = {
  HT: 'Luật Hộ tịch số 60/2014/QH13',
  LLTP: 'Luật Lý lịch tư pháp số 28/2009/QH12',
  CT: 'Nghị định số 23/2015/NĐ-CP về chứng thực',
  XD: 'Luật Xây dựng số 50/2014/QH13, sửa đổi năm 2020',
  DD: 'Luật Đất đai số 31/2024/QH15',
  HKD: 'Nghị định số 168/2025/NĐ-CP về đăng ký doanh nghiệp',
  DKKD: 'Luật Doanh nghiệp số 59/2020/QH14',
  KCB: 'Luật Khám bệnh, chữa bệnh số 15/2023/QH15',
  ATTP: 'Luật An toàn thực phẩm số 55/2010/QH12',
  GD: 'Luật Giáo dục số 43/2019/QH14',
  TDKT: 'Luật Thi đua, khen thưởng số 06/2022/QH15',
  BTXH: 'Nghị định số 20/2021/NĐ-CP về chính sách trợ giúp xã hội',
  DL: 'Luật Du lịch số 09/2017/QH14',
  TT: 'Luật Trồng trọt số 31/2018/QH14',
  TNN: 'Luật Tài nguyên nước số 28/2023/QH15',
  MT: 'Luật Bảo vệ môi trường số 72/2020/QH14',
};

function generateProcedures(): ProcedurePersona[] {
  const codes = new Set<string>();
  return PROCEDURE_TABLE.map(([name, fieldCode, fieldName, agencyCodes, level, processingTime, fees, result]) => {
    let code: string;
    do code = `1.00${rng.digits(4)}.000.00.00.H52`;
    while (codes.has(code));
    codes.add(code);
    const agencies = [...new Set(agencyCodes.flatMap((a) => (a === '*' ? COMMUNE_AGENCIES : [a])))];
    return {
      code,
      name,
      field: { code: fieldCode, name: fieldName },
      agencies,
      implementingAgencies: agencies.map((a) => AGENCIES[a]!),
      level,
      steps:
        'Bước 1: Tổ chức, cá nhân nộp hồ sơ tại Bộ phận Một cửa hoặc trên Cổng Dịch vụ công. ' +
        'Bước 2: Cán bộ tiếp nhận kiểm tra, tiếp nhận hồ sơ. Bước 3: Cơ quan có thẩm quyền giải quyết. ' +
        'Bước 4: Trả kết quả tại Bộ phận Một cửa, qua bưu chính hoặc trực tuyến.',
      channels: level === 'Toàn trình' ? 'Trực tiếp; Trực tuyến; Dịch vụ bưu chính' : 'Trực tiếp; Dịch vụ bưu chính; Trực tuyến (một phần)',
      dossierComponents: [{ name: `Tờ khai ${name.charAt(0).toLowerCase()}${name.slice(1)} (theo mẫu)`, copies: 1 }, { name: 'Giấy tờ tùy thân của người yêu cầu' }],
      legalBasis: [FIELD_LAW[fieldCode] ?? 'Nghị định số 118/2025/NĐ-CP', 'Nghị định số 118/2025/NĐ-CP về thực hiện thủ tục hành chính theo cơ chế một cửa, một cửa liên thông'],
      results: [result],
      fees,
      processingTime,
    };
  });
}

/** The national procedure catalogue as it stands for Sơn La (30+ procedures). */
export const procedures: readonly ProcedurePersona[] = generateProcedures();

export const agencyNames: Readonly<Record<string, string>> = AGENCIES;

/** What `GET /personas` on the sandbox control server shows. */
export function personasSummary() {
  return {
    people: people.map((p) => ({
      idNumber: p.idNumber,
      oldIdNumber: p.oldIdNumber,
      fullName: p.fullName,
      dateOfBirth: p.dateOfBirth,
      gender: p.gender,
      ethnicity: p.ethnicity,
      commune: p.permanentAddress.commune,
      deceased: p.dateOfDeath !== null,
      insuranceCode: p.insuranceCode,
    })),
    enterprises: enterprises.map((e) => ({
      enterpriseCode: e.enterpriseCode,
      name: e.name,
      legalForm: e.legalForm,
      status: e.status,
    })),
    taxpayers: taxpayers.map((t) => ({ taxCode: t.taxCode, name: t.name, taxpayerType: t.taxpayerType, status: t.status })),
    insured: insured.map((i) => ({
      insuranceCode: i.insuranceCode,
      idNumber: i.idNumber,
      fullName: i.fullName,
      participationStatus: i.participationStatus,
    })),
    procedures: procedures.map((p) => ({ code: p.code, name: p.name, field: p.field.code, agencies: p.agencies })),
    unknown: UNKNOWN,
  };
}

/** Valid identifiers that no simulator knows, for not-found paths. */
export const UNKNOWN = {
  note: 'valid identifiers that no simulator knows, for not-found paths',
  enterpriseCode: code('550099999'),
  idNumber: '014089999999',
  insuranceCode: '1499999999',
  procedureCode: '1.009999.000.00.00.H52',
} as const;

export function findPerson(idNumber: string): Person | undefined {
  return people.find((p) => p.idNumber === idNumber);
}
