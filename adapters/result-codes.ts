/**
 * Success as the national systems write it in their result codes (MaLoi, error_code): "0" on
 * some services and "00" on others, sometimes within one system.
 */
export function isSuccessCode(code: string): boolean {
  return code === '0' || code === '00';
}
