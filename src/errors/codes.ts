/**
 * The error catalogue: every error the gateway can answer with. Each code has one HTTP status,
 * one title and one problem `type` URI. A path no operation serves is ROUTE_NOT_FOUND; an
 * operation's resource that does not exist (or that the client may not see) has a code of its own
 * (DOSSIER_NOT_FOUND, LINK_NOT_FOUND, …), and a record the national system does not hold is
 * SUBJECT_NOT_FOUND. `openapi/gateway.yaml` (schema `ErrorCode`) lists exactly
 * these codes; a test fails when the two disagree.
 */
export const PROBLEM_BASE = 'https://lienthong.sonla.gov.vn/problems/';

interface CodeSpec {
  status: number;
  title: string;
}

export const ERROR_CODES = {
  VALIDATION_FAILED: { status: 400, title: 'The request is not valid' },
  INVALID_IDENTIFIER: { status: 400, title: 'The identifier is not valid' },
  ACCOUNTABILITY_REQUIRED: { status: 400, title: 'Acting user and purpose are required' },
  UNAUTHENTICATED: { status: 401, title: 'Authentication is required' },
  FORBIDDEN: { status: 403, title: 'The client may not call this operation' },
  CSRF_REJECTED: { status: 403, title: "The request's origin is not proven" },
  PURPOSE_NOT_ALLOWED: { status: 403, title: 'The client may not claim this purpose' },
  ROUTE_NOT_FOUND: { status: 404, title: 'No such route' },
  SUBJECT_NOT_FOUND: { status: 404, title: 'The national system holds no such record' },
  DOSSIER_NOT_FOUND: { status: 404, title: 'No such dossier' },
  LINK_NOT_FOUND: { status: 404, title: 'No such account link' },
  SIGN_ON_NOT_FOUND: { status: 404, title: 'No such sign-on awaits confirmation' },
  AUDIT_ENTRY_NOT_FOUND: { status: 404, title: 'The exchange log has no such entry' },
  OFFICER_NOT_FOUND: { status: 404, title: 'No such officer is recorded' },
  CHECKPOINT_NOT_FOUND: { status: 404, title: 'The exchange log has no such checkpoint yet' },
  DOCUMENT_NOT_FOUND: { status: 404, title: 'No such document' },
  METHOD_NOT_ALLOWED: { status: 405, title: 'Method not allowed on this resource' },
  CONFLICT: { status: 409, title: 'The request conflicts with the current state' },
  INVALID_TRANSITION: { status: 409, title: 'The status change is not allowed' },
  DOCUMENT_DESTROYED: { status: 410, title: "The document's content was destroyed at the end of its retention" },
  PAYLOAD_TOO_LARGE: { status: 413, title: 'The request body is too large' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported content type' },
  IDEMPOTENCY_KEY_REUSED: { status: 422, title: 'The idempotency key was used with another request' },
  VERIFICATION_MISMATCH: { status: 422, title: 'The national system does not confirm the evidence' },
  DOCUMENT_CONTENT_INVALID: { status: 422, title: 'The file is not what it claims to be' },
  DOCUMENT_SIGNATURE_INVALID: { status: 422, title: 'A signature the document carries does not verify' },
  DOCUMENT_NOT_REUSABLE: { status: 422, title: 'The document cannot be reused here' },
  RATE_LIMITED: { status: 429, title: 'Too many requests' },
  INTERNAL_ERROR: { status: 500, title: 'Internal error' },
  NOT_IMPLEMENTED: { status: 501, title: 'Not built yet in this release' },
  UPSTREAM_BAD_RESPONSE: { status: 502, title: 'The national system answered with an invalid response' },
  UPSTREAM_AUTH: { status: 502, title: "The national system refused the gateway's credentials" },
  UPSTREAM_SIGNATURE_INVALID: { status: 502, title: "The national system's answer is unsigned or its signature does not verify" },
  UPSTREAM_CERT_UNTRUSTED: { status: 502, title: "The national system's certificate is not trusted" },
  UPSTREAM_CERT_EXPIRED: { status: 502, title: "The national system's certificate has expired" },
  UPSTREAM_CERT_REVOKED: { status: 502, title: "The national system's certificate is revoked" },
  UPSTREAM_UNAVAILABLE: { status: 503, title: 'The national system is unavailable' },
  UPSTREAM_CIRCUIT_OPEN: { status: 503, title: 'Calls to the national system are suspended' },
  UPSTREAM_BUSY: { status: 503, title: 'Too many calls to the national system are under way' },
  TIMESTAMP_UNAVAILABLE: { status: 503, title: 'The timestamping authority did not answer' },
  UPSTREAM_TIMEOUT: { status: 503, title: 'The national system did not answer in time' },
} as const satisfies Record<string, CodeSpec>;

export type ErrorCode = keyof typeof ERROR_CODES;

export function problemType(code: ErrorCode): string {
  return PROBLEM_BASE + code.toLowerCase().replaceAll('_', '-');
}
