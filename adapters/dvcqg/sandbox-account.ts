/**
 * The account the sandbox portal accepts, used when `upstreams.dvcqg.credentials` is not
 * configured. A real portal refuses it (UPSTREAM_AUTH), so a missing setting cannot go unnoticed.
 */
export const SANDBOX_ACCOUNT = Object.freeze({ username: 'lienthong-h52', password: 'sandbox-password' });

/** The agency the sandbox account belongs to: the portal accepts `madonvi` H52 and its sub-agencies. */
export const SANDBOX_ACCOUNT_AGENCY = 'H52';
