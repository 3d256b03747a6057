import { describe, expect, it } from 'vitest';
import { isGatewayError } from '../errors/gateway-error.ts';
import { requireAssurance } from './level-of-assurance.ts';

const refusal = (acr: unknown, accepted: readonly string[]) => {
  try {
    requireAssurance(acr, accepted);
  } catch (err) {
    if (isGatewayError(err)) return err;
    throw err;
  }
  throw new Error(`${String(acr)} was accepted`);
};

describe('level of assurance of a national sign-on', () => {
  it('accepts a level the gateway asks for', () => {
    expect(requireAssurance('urn:vneid:loa:2', ['urn:vneid:loa:2'])).toBe('urn:vneid:loa:2');
    expect(requireAssurance('urn:vneid:loa:1', ['urn:vneid:loa:1', 'urn:vneid:loa:2'])).toBe('urn:vneid:loa:1');
  });

  it('refuses a lower level with 422, naming the level reached and those accepted', () => {
    const err = refusal('urn:vneid:loa:1', ['urn:vneid:loa:2']);
    expect(err).toMatchObject({ code: 'VERIFICATION_MISMATCH', status: 422, upstreamFailure: false, extensions: { acr: 'urn:vneid:loa:1', acrValues: ['urn:vneid:loa:2'] } });
    expect(err.detail).toMatch(/signed in at level of assurance urn:vneid:loa:1; the gateway accepts only urn:vneid:loa:2/);
  });

  it('refuses an ID token without acr, or with one that is not a string', () => {
    for (const acr of [undefined, null, '', 2, ['urn:vneid:loa:2']]) {
      expect(refusal(acr, ['urn:vneid:loa:2']), JSON.stringify(acr)).toMatchObject({ code: 'VERIFICATION_MISMATCH', detail: expect.stringMatching(/names no level of assurance/), extensions: { acr: null } });
    }
  });

  it('compares exactly: no prefix, case or whitespace leniency', () => {
    for (const acr of ['urn:vneid:loa:2 ', 'URN:VNEID:LOA:2', 'urn:vneid:loa:20', 'urn:vneid:loa']) expect(refusal(acr, ['urn:vneid:loa:2']).code, acr).toBe('VERIFICATION_MISMATCH');
  });
});
