import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { adapterModules } from '../../adapters/index.ts';
import { SANDBOX_ACCOUNT } from '../../adapters/dvcqg/index.ts';
import { ConfigError, loadConfig } from './load.ts';
import { messageSecurityProblems } from './message-security.ts';
import { logSignerProblems, productionProblems } from './production.ts';
import { LOG_SIGNING_POLICY_OID } from '../signing/log-signer.ts';
import { sample } from '../signing/material.ts';

/** Systems whose default profile signs answers: what the real systems do (DESIGN.md's adapter table). */
const signingByDefault = adapterModules.filter((m) => m.messageSecurity && m.messageSecurity.default !== 'none');

/** Every setting production asks for, as an operator would give them. */
function complete(): Record<string, unknown> {
  const settings: Record<string, unknown> = {
    'trust.crls': ['/etc/lienthong/national-ca.crl'],
    'audit.signer': { certificateFile: '/etc/lienthong/log-signer.pem', keyFile: '/etc/lienthong/log-signer.key.pem' },
    'audit.inspectorate': { publicKeyFile: '/etc/lienthong/trust/inspectorate.pub.pem' },
    'documents.seal': { certificateFile: '/etc/lienthong/document-seal.pem', keyFile: '/etc/lienthong/document-seal.key.pem' },
    'documents.tsaUrl': 'https://tsa.example.gov.vn/tsa',
    'documents.publicBaseUrl': 'https://lienthong.sonla.gov.vn',
  };
  for (const m of adapterModules) {
    settings[`upstreams.${m.id}.url`] = `https://${m.id}.example.gov.vn`;
    if (signingByDefault.includes(m)) settings[`upstreams.${m.id}.certificateName`] = `${m.id}.example.gov.vn`;
    if (m.sandboxAccount) settings[`upstreams.${m.id}.credentials`] = { username: 'lienthong-h52', password: `real-${m.id}-secret` };
  }
  settings['upstreams.population.integrationCode'] = '037';
  settings['upstreams.population.serviceCode'] = '037';
  settings['upstreams.population.transport'] = {
    mode: 'lgsp',
    platformKeys: { accessKey: 'real-access', secretKey: 'real-secret', appName: 'LIENTHONG', partnerCode: 'H52', partnerCodeCus: 'H52' },
    account: { username: 'lienthong-h52', password: 'real-population-secret' },
  };
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

  it('require a pinned certificate name for every system whose message security profile signs its answers', () => {
    expect(Object.fromEntries(adapterModules.map((m) => [m.id, m.messageSecurity?.default]))).toEqual({
      'business-registry': 'rfc9421',
      population: 'none',
      tax: 'xml-dsig',
      'social-insurance': 'jws',
      dvcqg: 'none',
      vneid: undefined,
      'civil-status': 'rfc9421',
    });
    for (const { id } of signingByDefault) {
      expect(problems(without(`upstreams.${id}.certificateName`)), id).toEqual([expect.stringMatching(new RegExp(`^upstreams\\.${id}\\.certificateName: required when NODE_ENV=production`))]);
    }
  });

  it('require the pinned name once a system is configured with a signing profile, and not with none', () => {
    // The national portal answers over TLS with its own login: nothing to pin by default.
    expect(problems(complete())).toEqual([]);
    expect(problems({ ...complete(), 'upstreams.dvcqg.messageSecurity': 'rfc9421' })).toEqual([
      expect.stringMatching(/^upstreams\.dvcqg\.certificateName: required when NODE_ENV=production with messageSecurity rfc9421/),
    ]);
    expect(problems({ ...complete(), 'upstreams.dvcqg.messageSecurity': 'rfc9421', 'upstreams.dvcqg.certificateName': 'dichvucong.example.gov.vn' })).toEqual([]);
  });

  it('refuse an upstream without TLS, whatever its profile', () => {
    for (const m of adapterModules) {
      expect(problems({ ...complete(), [`upstreams.${m.id}.url`]: `http://${m.id}.example.gov.vn` }), m.id).toEqual([
        expect.stringMatching(new RegExp(`^upstreams\\.${m.id}\\.url: an https:// URL is required when NODE_ENV=production`)),
      ]);
    }
    // Outside production the sandbox's simulators listen in clear on loopback.
    expect(problems({ 'upstreams.tax.url': 'http://127.0.0.1:8093' }, {})).toEqual([]);
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

  it('require the population database\'s codes and platform credentials for its transport, refusing the sandbox\'s', () => {
    const transport = complete()['upstreams.population.transport'] as Record<string, unknown>;
    expect(problems(without('upstreams.population.integrationCode'))).toEqual([expect.stringMatching(/^upstreams\.population\.integrationCode: required when NODE_ENV=production/)]);
    expect(problems(without('upstreams.population.serviceCode'))).toEqual([expect.stringMatching(/^upstreams\.population\.serviceCode: required/)]);
    expect(problems({ ...complete(), 'upstreams.population.transport': { mode: 'lgsp' } })).toEqual([
      expect.stringMatching(/^upstreams\.population\.transport\.account: required when NODE_ENV=production with transport lgsp/),
      expect.stringMatching(/^upstreams\.population\.transport\.platformKeys: required when NODE_ENV=production with transport lgsp/),
    ]);
    expect(problems({ ...complete(), 'upstreams.population.transport': { ...transport, tokenUrl: 'http://lgsp.example.gov.vn/token' } })).toEqual([
      expect.stringMatching(/^upstreams\.population\.transport\.tokenUrl: an https:\/\/ URL is required/),
    ]);
    expect(problems({ ...complete(), 'upstreams.population.transport': { ...transport, account: { username: 'x', password: 'sandbox' } } })).toEqual([
      "upstreams.population.transport.account: the sandbox account's password is refused when NODE_ENV=production",
    ]);
    expect(problems({ ...complete(), 'upstreams.population.transport': { mode: 'ndxp', account: transport.account } })).toEqual([
      expect.stringMatching(/^upstreams\.population\.transport\.client: required when NODE_ENV=production with transport ndxp/),
      expect.stringMatching(/^upstreams\.population\.transport\.apiKey: required/),
    ]);
    // Directly, WS-Security is the database's: its certificate name must be pinned.
    expect(problems({ ...complete(), 'upstreams.population.transport': { mode: 'direct' }, 'upstreams.population.messageSecurity': 'ws-security' })).toEqual([
      expect.stringMatching(/^upstreams\.population\.certificateName: required when NODE_ENV=production with messageSecurity ws-security/),
    ]);
  });

  it('refuse the direct transport to the population database without WS-Security when the configuration is read', () => {
    expect(() => loadConfig({}, { overrides: { 'upstreams.population.transport.mode': 'direct' } })).toThrow(/upstreams\.population\.messageSecurity: the direct transport needs messageSecurity: ws-security/);
  });

  it('require a log-signing certificate of its own', () => {
    expect(problems(without('audit.signer'))).toEqual([expect.stringMatching(/^audit\.signer: required when NODE_ENV=production/)]);
  });

  it('require the inspectorate key officers are sealed to', () => {
    expect(problems(without('audit.inspectorate'))).toEqual([expect.stringMatching(/^audit\.inspectorate\.publicKeyFile: required when NODE_ENV=production/)]);
  });

  it('require the agency seal deposited results are signed with', () => {
    expect(problems(without('documents.seal'))).toEqual([expect.stringMatching(/^documents\.seal: required when NODE_ENV=production/)]);
  });

  it('require the public address the national portal downloads documents from', () => {
    expect(problems(without('documents.publicBaseUrl'))).toEqual([expect.stringMatching(/^documents\.publicBaseUrl: required when NODE_ENV=production/)]);
  });

  it('require a TSA for the seal, of its own or the exchange log\'s', () => {
    expect(problems(without('documents.tsaUrl'))).toEqual([expect.stringMatching(/^documents\.tsaUrl: required when NODE_ENV=production/)]);
    expect(problems({ ...without('documents.tsaUrl'), 'audit.tsaUrl': 'https://tsa.example.gov.vn/tsa' })).toEqual([]);
  });

  it('require every upstream URL but an optional system\'s, and list every problem at once', () => {
    const found = problems({});
    const required = adapterModules.filter((m) => !m.optional);
    expect(required.length).toBeLessThan(adapterModules.length);
    for (const m of required) expect(found).toContain(`upstreams.${m.id}.url: required when NODE_ENV=production (the sandbox is for development only)`);
    expect(found.filter((p) => p.includes('.url:'))).toHaveLength(required.length);
    expect(found.filter((p) => p.includes('.certificateName:'))).toHaveLength(signingByDefault.filter((m) => !m.optional).length);
    expect(found.some((p) => p.startsWith('trust.crls:'))).toBe(true);
  });

  it('ask of an optional system, once given a URL, what every system needs', () => {
    const optional = adapterModules.filter((m) => m.optional);
    const settings = complete();
    for (const m of optional) {
      delete settings[`upstreams.${m.id}.url`];
      delete settings[`upstreams.${m.id}.certificateName`];
    }
    // Not connected: nothing required.
    expect(problems(settings)).toEqual([]);
    for (const m of optional) settings[`upstreams.${m.id}.url`] = `http://${m.id}.example.gov.vn`;
    const found = problems(settings);
    for (const m of optional) expect(found).toContain(`upstreams.${m.id}.url: an https:// URL is required when NODE_ENV=production (without TLS the messages and the gateway's account travel in clear)`);
    for (const m of optional.filter((o) => signingByDefault.includes(o))) expect(found.some((p) => p.startsWith(`upstreams.${m.id}.certificateName:`))).toBe(true);
  });
});

describe('message security settings', () => {
  const refusals = (overrides: Record<string, unknown>, env: Record<string, string> = {}) => messageSecurityProblems(loadConfig(env, { overrides }), adapterModules);

  it('accept each adapter\'s own profiles, in every environment', () => {
    expect(refusals({})).toEqual([]);
    for (const m of adapterModules) {
      for (const profile of m.messageSecurity?.supported ?? []) expect(refusals({ [`upstreams.${m.id}.messageSecurity`]: profile }), `${m.id} ${profile}`).toEqual([]);
    }
  });

  it('refuse a profile the adapter does not speak, naming the setting', () => {
    expect(refusals({ 'upstreams.tax.messageSecurity': 'jws' })).toEqual(['upstreams.tax.messageSecurity: "jws" is not spoken by the tax adapter (supported: xml-dsig)']);
    expect(refusals({ 'upstreams.business-registry.messageSecurity': 'none' }, { NODE_ENV: 'production' })).toEqual([
      'upstreams.business-registry.messageSecurity: "none" is not spoken by the business-registry adapter (supported: rfc9421)',
    ]);
    expect(refusals({ 'upstreams.social-insurance.messageSecurity': 'xml-dsig', 'upstreams.vneid.messageSecurity': 'jws' })).toEqual([
      'upstreams.social-insurance.messageSecurity: "xml-dsig" is not spoken by the social-insurance adapter (supported: jws)',
      expect.stringMatching(/^upstreams\.vneid\.messageSecurity: not applicable to vneid/),
    ]);
  });

  it('refuse a profile no adapter knows when the configuration is read', () => {
    expect(() => loadConfig({}, { overrides: { 'upstreams.tax.messageSecurity': 'xmldsig' } })).toThrow(ConfigError);
    try {
      loadConfig({}, { overrides: { 'upstreams.tax.messageSecurity': 'xmldsig' } });
    } catch (err) {
      expect((err as ConfigError).problems).toEqual([expect.stringMatching(/^upstreams\.tax\.messageSecurity: /)]);
    }
  });
});

describe('the log signer in production', () => {
  const production = loadConfig({ NODE_ENV: 'production' }, { overrides: complete() });
  const cert = (file: string) => new X509Certificate(readFileSync(file));

  /** A self-signed certificate made with openssl, outside the sample PKI, with these extensions. */
  /** A self-signed certificate with `extensions`, carrying the log-signing policy unless `policy` is false. */
  function selfSigned(extensions: string[], policy = true): X509Certificate {
    if (policy) extensions = [...extensions, `certificatePolicies=${LOG_SIGNING_POLICY_OID}`];
    const dir = mkdtempSync(join(tmpdir(), 'lienthong-log-signer-'));
    try {
      const args = ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'key.pem', '-days', '30', '-subj', '/CN=exchange-log signer'];
      return new X509Certificate(execFileSync('openssl', [...args, ...extensions.flatMap((e) => ['-addext', e])], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] }));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it('accept a signing certificate of its own', () => {
    const own = selfSigned(['keyUsage=critical,digitalSignature,nonRepudiation', 'extendedKeyUsage=codeSigning']);
    expect(logSignerProblems(production, own, [{ setting: 'signing', certificate: cert(sample('gateway.pem')) }])).toEqual([]);
  });

  it('refuse the sample log signer', () => {
    expect(logSignerProblems(production, cert(sample('log-signer.pem')), [])).toEqual([
      'audit.signer: the certificate is from the sample PKI (certs-sample/log-signer.pem), refused when NODE_ENV=production',
    ]);
  });

  it('refuse the message-signing or TLS certificate, and a TLS profile', () => {
    const gateway = cert(sample('gateway.pem'));
    const found = logSignerProblems(production, gateway, [
      { setting: 'signing', certificate: gateway },
      { setting: 'server.tls', certificate: gateway },
    ]);
    expect(found).toEqual([
      expect.stringMatching(/sample PKI/),
      'audit.signer: the same certificate as signing: the exchange log needs a signing certificate of its own',
      'audit.signer: the same certificate as server.tls: the exchange log needs a signing certificate of its own',
      'audit.signer: it is a TLS certificate (extended key usage serverAuth, clientAuth): the log needs a signing certificate of its own',
      expect.stringMatching(/does not carry the log-signing certificate policy/),
    ]);
    const tls = selfSigned(['keyUsage=critical,digitalSignature,nonRepudiation', 'extendedKeyUsage=serverAuth']);
    expect(logSignerProblems(production, tls, [])).toEqual(['audit.signer: it is a TLS certificate (extended key usage serverAuth): the log needs a signing certificate of its own']);
  });

  it('refuse a key usage without digitalSignature and nonRepudiation', () => {
    expect(logSignerProblems(production, selfSigned(['keyUsage=critical,digitalSignature,keyEncipherment']), [])).toEqual([
      'audit.signer: its key usage (digitalSignature, keyEncipherment) must include digitalSignature and nonRepudiation',
    ]);
    expect(logSignerProblems(production, selfSigned(['keyUsage=critical,nonRepudiation']), [])).toEqual([
      'audit.signer: its key usage (nonRepudiation) must include digitalSignature and nonRepudiation',
    ]);
  });

  it('refuse a signing certificate without the log-signing policy auditors require', () => {
    const own = selfSigned(['keyUsage=critical,digitalSignature,nonRepudiation'], false);
    expect(logSignerProblems(production, own, [])).toEqual([
      `audit.signer: it does not carry the log-signing certificate policy ${LOG_SIGNING_POLICY_OID}, which auditors require of the checkpoints' signer`,
    ]);
  });

  it('apply only in production', () => {
    const gateway = cert(sample('gateway.pem'));
    expect(logSignerProblems(loadConfig({}, {}), gateway, [{ setting: 'signing', certificate: gateway }])).toEqual([]);
  });
});
