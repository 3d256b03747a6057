import { beforeAll, describe, expect, it } from 'vitest';
import type { AdapterFactory } from './module.ts';
import { ConfigError } from '../src/config/load.ts';
import { MESSAGE_SECURITY_PROFILES } from '../src/config/schema.ts';
import { createLogger } from '../src/logging.ts';
import { createMetrics } from '../src/metrics.ts';
import { createPolicy } from '../src/resilience/policy.ts';
import { businessRegistry } from './business-registry/index.ts';
import { civilStatus } from './civil-status/index.ts';
import { testSigning } from './contract/test-kit.ts';
import { socialInsurance } from './social-insurance/index.ts';
import { tax } from './tax/index.ts';

const log = createLogger({ level: 'silent' });
const breaker = { errorThresholdPercentage: 50, volumeThreshold: 5, resetTimeoutMs: 1000, rollingCountTimeoutMs: 10_000 };

describe.each([
  { id: businessRegistry.id, module: businessRegistry, own: 'rfc9421' },
  { id: tax.id, module: tax, own: 'xml-dsig' },
  { id: socialInsurance.id, module: socialInsurance, own: 'jws' },
  { id: civilStatus.id, module: civilStatus, own: 'rfc9421' },
] as const)('the $id adapter', ({ module, own }) => {
  let create: AdapterFactory<unknown>;
  beforeAll(async () => {
    create = await module.adapter();
  });
  const build = (messageSecurity: (typeof MESSAGE_SECURITY_PROFILES)[number] | undefined) => {
    const policy = createPolicy({ log, metrics: createMetrics({ defaultMetrics: false }) }, module.id, { timeoutMs: 1000, retryAfterSeconds: 3, breaker });
    try {
      return create({ log, policy, signing: testSigning(module.id) }, { url: 'https://127.0.0.1:9', maxResponseBytes: 1_048_576, retryAfterSeconds: 3, gatewayAgency: 'H52', messageSecurity });
    } finally {
      policy.shutdown();
    }
  };

  it(`speaks ${own}, the real system's profile, by default and when configured`, async () => {
    expect(module.messageSecurity).toEqual({ supported: [own], default: own });
    for (const profile of [undefined, own]) await build(profile).close();
  });

  it('refuses every other profile, naming the setting', () => {
    for (const profile of MESSAGE_SECURITY_PROFILES.filter((p) => p !== own)) {
      expect(() => build(profile), profile).toThrow(ConfigError);
      expect(() => build(profile), profile).toThrow(`upstreams.${module.id}.messageSecurity: "${profile}" is not spoken by the ${module.id} adapter (supported: ${own})`);
    }
  });
});
