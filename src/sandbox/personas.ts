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

export interface Person {
  idNumber: string;
  oldIdNumber: string | null;
  fullName: string;
  familyName: string;
  middleName: string;
  givenName: string;
  gender: 'male' | 'female';
  dateOfBirth: string;
  ethnicity: string;
  religion: string;
  hometown: string;
  permanentAddress: PersonaAddress;
  insuranceCode: string | null;
}

/** An enterprise as the registry holds it: the API's record, with the representative by ID number. */
export interface EnterprisePersona extends Omit<Enterprise, 'headOffice' | 'legalRepresentative' | 'retrievedAt'> {
  headOffice: PersonaAddress;
  legalRepresentative: { idNumber: string; position: string };
}

const SON_LA = { province: 'Sơn La', provinceCode: '14' };

function address(detail: string, commune: string, communeCode: string, district: string | null = null, districtCode: string | null = null): PersonaAddress {
  return { detail, commune, district, districtCode, communeCode, ...SON_LA };
}

/** ID number: province 014, gender/century digit, two-digit year, six serial digits. */
function idNumber(gender: 'male' | 'female', dateOfBirth: string, serial: string): string {
  const year = Number(dateOfBirth.slice(0, 4));
  const century = Math.floor((year - 1900) / 100);
  const digit = century * 2 + (gender === 'female' ? 1 : 0);
  return `014${digit}${dateOfBirth.slice(2, 4)}${serial}`;
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
  extra: { oldIdNumber?: string; insuranceCode?: string; religion?: string; hometown?: string } = {},
): Person {
  return {
    idNumber: idNumber(gender, dateOfBirth, serial),
    oldIdNumber: extra.oldIdNumber ?? null,
    fullName: [familyName, middleName, givenName].filter(Boolean).join(' ').normalize('NFC'),
    familyName,
    middleName,
    givenName,
    gender,
    dateOfBirth,
    ethnicity,
    religion: extra.religion ?? 'Không',
    hometown: extra.hometown ?? `${permanentAddress.commune}, Sơn La`,
    permanentAddress,
    insuranceCode: extra.insuranceCode ?? null,
  };
}

export const people: readonly Person[] = [
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

export const enterprises: readonly EnterprisePersona[] = [
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
      insuranceCode: p.insuranceCode,
    })),
    enterprises: enterprises.map((e) => ({
      enterpriseCode: e.enterpriseCode,
      name: e.name,
      legalForm: e.legalForm,
      status: e.status,
    })),
    unknown: {
      note: 'valid identifiers that no simulator knows, for not-found paths',
      enterpriseCode: code('550099999'),
      idNumber: '014089999999',
    },
  };
}

export function findPerson(idNumber: string): Person | undefined {
  return people.find((p) => p.idNumber === idNumber);
}
