import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../errors/gateway-error.ts';
import { LAST_ERROR_CHARS, describeFailure } from './outbox.ts';
import { DossierDataError } from './sealed.ts';

const refused = new GatewayError('UPSTREAM_BAD_RESPONSE', { detail: 'national portal: refused the item as invalid (HTTP 200, code 400)', permanent: true, upstreamReason: '400 Mã thủ tục hành chính không tồn tại', cause: new Error('HTTP 200, error_code 400: Mã thủ tục hành chính không tồn tại') });
const failing = new GatewayError('UPSTREAM_UNAVAILABLE', { detail: 'the national public-service portal is failing', upstreamFailure: true, cause: new Error('HTTP 503: <html>Service Unavailable at node-7.dvcqg.internal</html>') });
const unreachable = new GatewayError('UPSTREAM_UNAVAILABLE', { detail: 'the national system could not be reached', upstreamFailure: true, cause: new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED 10.20.0.5:443'), { code: 'ECONNREFUSED' }) }) });
const open = new GatewayError('UPSTREAM_CIRCUIT_OPEN', { detail: 'calls to dvcqg are suspended after repeated failures', retryAfter: 30 });

describe('the last error a delivery job keeps', () => {
  it("names a refusal as invalid with the portal's code and message", () => {
    expect(describeFailure('UPSTREAM_BAD_RESPONSE', refused)).toBe('UPSTREAM_BAD_RESPONSE: 400 Mã thủ tục hành chính không tồn tại');
  });

  it("names what failed underneath, without the national system's own text or addresses", () => {
    expect(describeFailure('UPSTREAM_UNAVAILABLE', failing)).toBe('UPSTREAM_UNAVAILABLE: the national public-service portal is failing (HTTP 503)');
    expect(describeFailure('UPSTREAM_UNAVAILABLE', unreachable)).toBe('UPSTREAM_UNAVAILABLE: the national system could not be reached (ECONNREFUSED)');
    expect(describeFailure('INTERNAL_ERROR', new Error('select * from dossiers failed'))).toBe('INTERNAL_ERROR');
    expect(describeFailure('INTERNAL_ERROR', new DossierDataError('the stored data of dossier X does not authenticate'))).toBe('INTERNAL_ERROR: stored data cannot be read');
  });

  it('names the failure behind an open breaker: its cause, else the last one the worker saw, else the previous one of the job, never nested', () => {
    const suspended = 'UPSTREAM_CIRCUIT_OPEN: calls to dvcqg are suspended after repeated failures';
    const withCause = new GatewayError('UPSTREAM_CIRCUIT_OPEN', { detail: 'calls to dvcqg are suspended after repeated failures', cause: unreachable });
    expect(describeFailure('UPSTREAM_CIRCUIT_OPEN', withCause, { lastUpstreamFailure: 'UPSTREAM_TIMEOUT' })).toBe(`${suspended}; last failure: UPSTREAM_UNAVAILABLE (ECONNREFUSED)`);
    // The breaker's cause may be another client's dossier: only its kind is shown, never its detail.
    const othersDossier = new GatewayError('UPSTREAM_BAD_RESPONSE', { detail: 'national portal: DongBoHoSoMC refused dossier H52.101.114-261124-0001 as already held', upstreamFailure: true, cause: new Error('HTTP 200, error_code 409') });
    const shown = describeFailure('UPSTREAM_CIRCUIT_OPEN', new GatewayError('UPSTREAM_CIRCUIT_OPEN', { detail: 'calls to dvcqg are suspended after repeated failures', cause: othersDossier }));
    expect(shown).toBe(`${suspended}; last failure: UPSTREAM_BAD_RESPONSE (HTTP 200, error_code 409)`);
    expect(describeFailure('UPSTREAM_CIRCUIT_OPEN', open, { lastUpstreamFailure: 'UPSTREAM_TIMEOUT: dvcqg did not answer within 5000 ms', previous: 'UPSTREAM_UNAVAILABLE: x' })).toBe(
      `${suspended}; last failure: UPSTREAM_TIMEOUT: dvcqg did not answer within 5000 ms`,
    );
    const once = describeFailure('UPSTREAM_CIRCUIT_OPEN', open, { previous: 'UPSTREAM_UNAVAILABLE: the national public-service portal is failing (HTTP 503)' });
    expect(once).toBe(`${suspended}; last failure: UPSTREAM_UNAVAILABLE: the national public-service portal is failing (HTTP 503)`);
    // Refused again by the breaker: the failure behind it is carried over, not wrapped again.
    expect(describeFailure('UPSTREAM_CIRCUIT_OPEN', open, { previous: once })).toBe(once);
    expect(describeFailure('UPSTREAM_CIRCUIT_OPEN', open)).toBe(suspended);
  });

  it('fits the column, trimmed with an ellipsis', () => {
    const long = new GatewayError('UPSTREAM_BAD_RESPONSE', { permanent: true, upstreamReason: `400 ${'Dữ liệu hồ sơ không hợp lệ '.repeat(20)}` });
    const text = describeFailure('UPSTREAM_BAD_RESPONSE', long);
    expect(text).toHaveLength(LAST_ERROR_CHARS);
    expect(text.endsWith('…')).toBe(true);
  });
});
