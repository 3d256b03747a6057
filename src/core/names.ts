/**
 * Names as the national databases compare them: Unicode NFC, single spaces, no surrounding
 * space. Comparison ignores letter case (Vietnamese rules: toLocaleLowerCase('vi')).
 */
export function normaliseName(name: string): string {
  return name.normalize('NFC').replace(/\s+/gu, ' ').trim();
}

export function sameName(a: string, b: string): boolean {
  return normaliseName(a).toLocaleLowerCase('vi') === normaliseName(b).toLocaleLowerCase('vi');
}

/** Diacritics (and đ) folded away, each letter keeping its case: "Đăng ký" → "Dang ky" (file names, PDFs in a standard font). */
export function withoutDiacritics(text: string): string {
  return text.normalize('NFD').replace(/\p{M}/gu, '').replace(/đ/g, 'd').replace(/Đ/g, 'D');
}

/** Folds diacritics away, for search (not for identity checks): "Đăng ký" → "dang ky". */
export function searchKey(text: string): string {
  return withoutDiacritics(text).toLocaleLowerCase('vi');
}
