import type { Enterprise } from '../../src/core/enterprises.ts';
import { toAddress } from '../signed-json/address.ts';
import { toVietnamIso, wireDateToIso } from '../../src/core/time.ts';
import { MappingError } from '../mapping-error.ts';
import { LEGAL_FORMS, STATUSES, type WireEnterprise } from './inferred.ts';

export { MappingError };

/** The registry's record as our API returns it. Unknown codes are refused, not guessed. */
export function toEnterprise(wire: WireEnterprise, retrievedAt: Date): Enterprise {
  const legalForm = LEGAL_FORMS[wire.MaLoaiHinh];
  if (!legalForm) throw new MappingError(`unknown legal form code ${wire.MaLoaiHinh}`);
  const status = STATUSES[wire.MaTinhTrang];
  if (!status) throw new MappingError(`unknown status code ${wire.MaTinhTrang}`);
  const registrationDate = wireDateToIso(wire.NgayThanhLap);
  if (!registrationDate) throw new MappingError('NgayThanhLap is not a yyyyMMdd date');
  const representative = wire.NguoiDaiDienPhapLuat[0]!;
  return {
    enterpriseCode: wire.MaSoDoanhNghiep,
    name: wire.TenDoanhNghiep.normalize('NFC'),
    foreignName: wire.TenNuocNgoai ?? null,
    abbreviatedName: wire.TenVietTat ?? null,
    legalForm,
    status,
    registrationDate,
    headOffice: toAddress(wire.DiaChiTruSo),
    legalRepresentative: { fullName: representative.HoTen.normalize('NFC'), position: representative.ChucDanh ?? null },
    charterCapital: wire.VonDieuLe ?? null,
    retrievedAt: toVietnamIso(retrievedAt),
  };
}
