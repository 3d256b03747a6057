import { toVietnamIso, wireDateToIso } from '../../src/core/time.ts';
import { MappingError } from '../mapping-error.ts';
import { toAddress } from '../signed-json/address.ts';
import { GENDERS, type WireBirth, type WireParent } from './inferred.ts';
import type { BirthRegistration } from './registry.ts';

export { MappingError };

function date(value: string, field: string): string {
  const iso = wireDateToIso(value);
  if (!iso) throw new MappingError(`${field} is not a yyyyMMdd date`);
  return iso;
}

const parent = (wire: WireParent | null | undefined) =>
  wire ? { fullName: wire.HoTen.normalize('NFC'), idNumber: wire.SoDinhDanh && /^\d{12}$/.test(wire.SoDinhDanh) ? wire.SoDinhDanh : null } : null;

/** The database's record as our API returns it. Unknown codes and impossible dates are refused, not guessed. */
export function toBirthRegistration(wire: WireBirth, retrievedAt: Date): BirthRegistration {
  const gender = GENDERS[wire.GioiTinh as keyof typeof GENDERS];
  if (!gender) throw new MappingError(`unknown gender code ${wire.GioiTinh}`);
  const dateOfBirth = date(wire.NgaySinh, 'NgaySinh');
  const registered = date(wire.NgayDangKy, 'NgayDangKy');
  if (registered < dateOfBirth) throw new MappingError('NgayDangKy is before NgaySinh');
  return {
    idNumber: wire.SoDinhDanh,
    fullName: wire.HoTen.normalize('NFC'),
    gender,
    dateOfBirth,
    placeOfBirth: toAddress(wire.NoiSinh),
    ethnicity: wire.DanToc.normalize('NFC'),
    nationality: wire.QuocTich,
    father: parent(wire.Cha),
    mother: parent(wire.Me),
    registration: { number: wire.SoDangKy, book: wire.QuyenSo ?? null, date: registered, authority: wire.CoQuanDangKy.normalize('NFC') },
    retrievedAt: toVietnamIso(retrievedAt),
  };
}
