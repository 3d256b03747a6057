import type { Taxpayer } from './registry.ts';
import { toVietnamIso, wireDateToIso } from '../../src/core/time.ts';
import { MappingError } from '../mapping-error.ts';
import { STATUSES, TAXPAYER_TYPES, type WireAddress, type WireTaxpayer } from './inferred.ts';

export { MappingError };

type Address = NonNullable<Taxpayer['address']>;

const text = (value: string | undefined): string | null => (value ? value.normalize('NFC') : null);

function toAddress(wire: WireAddress): Address {
  return {
    detail: wire.SoNhaDuong?.normalize('NFC') ?? '',
    commune: text(wire.TenPhuongXa),
    district: text(wire.TenQuanHuyen),
    province: wire.TenTinhThanh.normalize('NFC'),
    provinceCode: text(wire.MaTinhThanh),
    districtCode: text(wire.MaQuanHuyen),
    communeCode: text(wire.MaPhuongXa),
    country: wire.QuocGia || 'VN',
  };
}

/** The tax administration's record as our API returns it. Unknown codes are refused, not guessed. */
export function toTaxpayer(wire: WireTaxpayer, retrievedAt: Date): Taxpayer {
  const taxpayerType = TAXPAYER_TYPES.get(wire.LoaiNNT);
  if (!taxpayerType) throw new MappingError(`unknown taxpayer type code ${JSON.stringify(wire.LoaiNNT.slice(0, 10))}`);
  const status = STATUSES.get(wire.TrangThai);
  if (!status) throw new MappingError(`unknown status code ${JSON.stringify(wire.TrangThai.slice(0, 10))}`);
  const registrationDate = wireDateToIso(wire.NgayDangKy);
  if (!registrationDate) throw new MappingError('NgayDangKy is not a yyyyMMdd date');
  return {
    taxCode: wire.MaSoThue,
    name: wire.TenNNT.normalize('NFC'),
    taxpayerType,
    status,
    taxOffice: { code: wire.CoQuanThue.Ma, name: wire.CoQuanThue.Ten.normalize('NFC') },
    registrationDate,
    address: wire.DiaChi ? toAddress(wire.DiaChi) : null,
    retrievedAt: toVietnamIso(retrievedAt),
  };
}
