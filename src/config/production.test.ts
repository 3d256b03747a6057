import { describe, expect, it } from 'vitest';
import { adapterModules } from '../../adapters/index.ts';
import { SANDBOX_ACCOUNT } from '../../adapters/dvcqg/index.ts';
import { loadConfig } from './load.ts';
import { productionProblems } from './production.ts';

/** Every setting production asks for, as an operator would give them. */
function complete(): Record<string, unknown> {
  const settings: Record<string, unknown> = { 'trust.crls': ['/etc/lienthong/national-ca.crl'] };
  for (const m of adapterModules) {
    settings[`upstreams.${m.id}.url`] = `https://${m.id}.example.gov.vn`;
    if (m.signsAnswers) settings[`upstreams.${m.id}.certificateName`] = `${m.id}.example.gov.vn`;
    if (m.sandboxAccount) settings[`upstreams.${m.id}.credentials`] = { username: 'lienthong-h52', password: `real-${m.id}-secret` };
  }
  return settings;
}

const problems = (overrides: Record<string, unknown>, env: Record<string, string> = { NODE_ENV: 'production' }) =>
  productionProblems(loadConfig(env, { overrides }), adapterModules);

const without = (key: string) => Object.fromEntries(Object.entries(complete()).filter(([k]) => k !== key));

describe('production refusals', () => {
  it('accept a configuration that names everything', () => {
    expect(problems(complete())).toEqual([]);
  });

  it('do not apply outside production', () => {
    expect(problems({}, {})).toEqual([]);
  });

  it('require a pinned certificate name for every system that signs its answers', () => {
    const signing = adapterModules.filter((m) => m.signsAnswers).map((m) => m.id);
    expect(signing).toEqual(expect.arrayContaining(['population', 'business-registry', 'tax', 'social-insurance', 'dvcqg']));
    for (const id of signing) {
      expect(problems(without(`upstreams.${id}.certificateName`)), id).toEqual([expect.stringMatching(new RegExp(`^upstreams\\.${id}\\.certificateName: required when NODE_ENV=production`))]);
    }
  });

  it('require at least one CRL', () => {
    expect(problems(without('trust.crls'))).toEqual([expect.stringMatching(/^trust\.crls: at least one CRL is required when NODE_ENV=production/)]);
    expect(problems({ ...complete(), 'trust.crls': [] })).toEqual([expect.stringMatching(/^trust\.crls:/)]);
  });

  it('require the national portal account, and refuse the sandbox one', () => {
    expect(problems(without('upstreams.dvcqg.credentials'))).toEqual([expect.stringMatching(/^upstreams\.dvcqg\.credentials: required when NODE_ENV=production/)]);
    expect(problems({ ...complete(), 'upstreams.dvcqg.credentials': { ...SANDBOX_ACCOUNT } })).toEqual([
      'upstreams.dvcqg.credentials: the sandbox account\'s password is refused when NODE_ENV=production',
    ]);
    expect(problems(without('upstreams.vneid.credentials'))).toEqual([expect.stringMatching(/^upstreams\.vneid\.credentials: required/)]);
  });

  it('require the HTTPS listener\'s own certificate and key instead of the sample one', () => {
    expect(problems({ ...complete(), 'server.tls.enabled': true })).toEqual([
      expect.stringMatching(/^server\.tls\.certificateFile: required when NODE_ENV=production/),
      expect.stringMatching(/^server\.tls\.keyFile: required when NODE_ENV=production/),
    ]);
    expect(problems({ ...complete(), 'server.tls.enabled': true, 'server.tls.certificateFile': '/etc/lienthong/tls.pem', 'server.tls.keyFile': '/etc/lienthong/tls.key.pem' })).toEqual([]);
  });

  it('require every upstream URL, and list every problem at once', () => {
    const found = problems({});
    for (const m of adapterModules) expect(found).toContain(`upstreams.${m.id}.url: required when NODE_ENV=production (the sandbox is for development only)`);
    expect(found.filter((p) => p.includes('.certificateName:'))).toHaveLength(adapterModules.filter((m) => m.signsAnswers).length);
    expect(found.some((p) => p.startsWith('trust.crls:'))).toBe(true);
  });
});
