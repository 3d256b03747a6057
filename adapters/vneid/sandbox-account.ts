/**
 * The gateway's registration at the sandbox sign-on service, used when `sso.clientId` and
 * `sso.clientSecret` are not configured. The national service knows nothing of it.
 */
export const SANDBOX_CLIENT_ID = 'lienthong-sonla';
export const SANDBOX_CLIENT_SECRET = 'sandbox-sso-secret';

/**
 * The levels of assurance the sandbox service offers, lowest first: a national account of
 * level 1 (registered on the app) and of level 2 (identity checked in person). The names are the
 * sandbox's own; the national service's are not public.
 */
export const ASSURANCE_LEVELS = ['urn:vneid:loa:1', 'urn:vneid:loa:2'] as const;

/** Every sandbox persona's password at the sandbox sign-on service. */
export const SANDBOX_PASSWORD = 'sandbox';

/** The national account's claims, as public integrations receive them from userinfo. */
export const CLAIMS = ['TechID', 'LoaiTaiKhoan', 'SoDinhDanh', 'HoVaTen', 'NgayThangNamSinh', 'MaSoThue', 'MaSoDoanhNghiep'] as const;

/** Where the gateway's callback may be: any loopback port (RFC 8252 native-client rule), this path. */
export const SANDBOX_CLIENT = {
  client_id: SANDBOX_CLIENT_ID,
  client_secret: SANDBOX_CLIENT_SECRET,
  client_name: 'Liên thông — Sơn La (sandbox)',
  application_type: 'native' as const,
  redirect_uris: ['http://127.0.0.1/v1/accounts/sso/callback', 'http://localhost/v1/accounts/sso/callback'],
  grant_types: ['authorization_code'],
  response_types: ['code' as const],
  token_endpoint_auth_method: 'client_secret_basic' as const,
};
