import { describe, expect, it } from 'vitest';
import { normaliseName, sameName, searchKey } from './names.ts';

describe('names', () => {
  it('treats NFD, NFC, spacing and letter case as the same name', () => {
    const nfc = 'Lò Văn Thắng';
    expect(sameName(nfc, nfc.normalize('NFD'))).toBe(true);
    expect(sameName(nfc, '  LÒ   VĂN THẮNG ')).toBe(true);
    expect(sameName(nfc, 'lò văn thắng'.normalize('NFD'))).toBe(true);
    expect(normaliseName(' Cầm  Thị Hoa ')).toBe('Cầm Thị Hoa');
  });

  it('keeps diacritics significant in identity checks', () => {
    expect(sameName('Lò Văn Thắng', 'Lo Van Thang')).toBe(false);
    expect(sameName('Đinh Thị Lan', 'Dinh Thi Lan')).toBe(false);
  });

  it('folds diacritics for search only', () => {
    expect(searchKey('Đăng ký khai sinh')).toBe('dang ky khai sinh');
  });
});
