import { z } from 'zod';
import type { Address } from '../../src/core/enterprises.ts';

/** An address as the signed REST/JSON systems write it (two-level since July 2025; district on older records). */
export const wireAddress = z.object({
  SoNhaDuong: z.string(),
  MaPhuongXa: z.string().nullish(),
  TenPhuongXa: z.string().nullish(),
  MaQuanHuyen: z.string().nullish(),
  TenQuanHuyen: z.string().nullish(),
  MaTinhThanh: z.string().nullish(),
  TenTinhThanh: z.string(),
  QuocGia: z.string().nullish(),
});

export type WireAddress = z.infer<typeof wireAddress>;

export function toAddress(wire: WireAddress): Address {
  return {
    detail: wire.SoNhaDuong,
    commune: wire.TenPhuongXa ?? null,
    district: wire.TenQuanHuyen ?? null,
    province: wire.TenTinhThanh,
    provinceCode: wire.MaTinhThanh ?? null,
    districtCode: wire.MaQuanHuyen ?? null,
    communeCode: wire.MaPhuongXa ?? null,
    country: wire.QuocGia ?? 'VN',
  };
}
