import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../config/load.ts';
import { loadSigningMaterial, sample } from './material.ts';

function problems(overrides: Record<string, unknown>): string[] {
  try {
    loadSigningMaterial(loadConfig({ NODE_ENV: 'production' }, { overrides }));
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('signing material in production', () => {
  it('names every sample certificate it is given, whatever the file is called', () => {
    const found = problems({
      'trust.roots': [sample('root-ca.pem')],
      'trust.intermediates': [sample('issuing-ca.pem')],
      'trust.crls': [sample('issuing-ca.crl.pem')],
      'signing.certificateFile': sample('gateway-ec.pem'),
      'signing.keyFile': sample('gateway-ec.key.pem'),
    });
    expect(found).toEqual([
      expect.stringMatching(/^trust\.roots: ".+" is from the sample PKI \(certs-sample\/root-ca\.pem\), refused when NODE_ENV=production$/),
      expect.stringMatching(/^trust\.intermediates: ".+" is from the sample PKI \(certs-sample\/issuing-ca\.pem\)/),
      expect.stringMatching(/^signing: "lienthong-gateway\.sandbox\.sonla\.gov\.vn" is from the sample PKI \(certs-sample\/gateway-ec\.pem\)/),
    ]);
  });

  it('does not fall back to the sample PKI: each missing file is a named problem', () => {
    expect(problems({})).toEqual([
      'signing.certificateFile: required when NODE_ENV=production',
      'signing.keyFile: required when NODE_ENV=production',
      'trust.roots: at least one root certificate is required',
    ]);
  });
});
