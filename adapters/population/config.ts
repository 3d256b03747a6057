import { z } from 'zod';
import type { SystemConfig } from '../module.ts';

// The population database's own settings under `upstreams.population`, read by the configuration
// schema: zod and nothing heavier.

/** The sandbox's platform accounts, used when the configuration leaves them unset (refused in production). */
export const SANDBOX_TRANSPORT = {
  platformKeys: { accessKey: 'sandbox-access-key', secretKey: 'sandbox-secret-key', appName: 'LIENTHONG', partnerCode: 'H52', partnerCodeCus: 'H52' },
  account: { username: 'lienthong-h52', password: 'sandbox' },
  client: 'VN/GOV/000.00.00.H52/LIENTHONG',
  apiKey: 'sandbox-ndxp-api-key',
} as const;

/**
 * How the population database is reached: `direct` (SOAP with WS-Security both ways), or through
 * the provincial integration platform (`lgsp`: a JSON wrapper with the platform's access tokens)
 * or the national data-sharing platform (`ndxp`: X-Road-style client headers). Unset credentials
 * mean the sandbox's, refused in production.
 */
export const populationTransport = z
  .object({
    mode: z.enum(['direct', 'lgsp', 'ndxp']).default('lgsp'),
    /** Path of the exchange service under `url`; unset: the sandbox's path for the mode. */
    servicePath: z.string().regex(/^\//).optional(),
    /** LGSP: the platform's token endpoint; unset: `<url>/lgsp/token`. */
    tokenUrl: z.url().optional(),
    /** LGSP: the application's platform keys (sent base64-encoded as `lgspAccessToken`). */
    platformKeys: z
      .object({ accessKey: z.string().min(1), secretKey: z.string().min(1), appName: z.string().min(1), partnerCode: z.string().min(1), partnerCodeCus: z.string().min(1) })
      .strict()
      .optional(),
    /** LGSP `AuthHash` and NDXP basic auth: the account the database's operator issued. */
    account: z.object({ username: z.string().min(1), password: z.string().min(1) }).strict().optional(),
    /** NDXP: `X-Road-Client` (the member's client identifier) and the API key. */
    client: z.string().min(1).optional(),
    apiKey: z.string().min(1).optional(),
  })
  .strict();
export type PopulationTransport = z.infer<typeof populationTransport>;

const shape = {
  transport: populationTransport.prefault({}),
  /** MaTichHop and MaDVC as the database's operator assigned them; unset: the sandbox's. */
  integrationCode: z.string().min(1).optional(),
  serviceCode: z.string().min(1).optional(),
};

/** The population settings of `upstreams.population`, as parsed. */
export type PopulationSettings = z.infer<z.ZodObject<typeof shape>>;

const REQUIRED = 'required when NODE_ENV=production';

/**
 * What a production gateway needs to reach the population database by the configured transport:
 * the codes the database's operator assigned, the platform's credentials (the sandbox's are
 * published, so refused), and TLS for the platform's token endpoint, which receives the
 * application's keys.
 */
function productionProblems(population: PopulationSettings, setting: string): string[] {
  const { transport } = population;
  const problems: string[] = [];
  if (!population.integrationCode) problems.push(`${setting}.integrationCode: ${REQUIRED} (MaTichHop, assigned by the database's operator)`);
  if (!population.serviceCode) problems.push(`${setting}.serviceCode: ${REQUIRED} (MaDVC, assigned by the database's operator)`);
  const needs = (present: boolean, name: string, why: string) => {
    if (!present) problems.push(`${setting}.transport.${name}: ${REQUIRED} with transport ${transport.mode} (${why})`);
  };
  if (transport.mode !== 'direct') {
    needs(!!transport.account, 'account', 'the database account the operator issued');
    if (transport.account?.password === SANDBOX_TRANSPORT.account.password) problems.push(`${setting}.transport.account: the sandbox account's password is refused when NODE_ENV=production`);
  }
  if (transport.mode === 'lgsp') {
    needs(!!transport.platformKeys, 'platformKeys', "the application's keys on the integration platform");
    if (transport.platformKeys?.secretKey === SANDBOX_TRANSPORT.platformKeys.secretKey) problems.push(`${setting}.transport.platformKeys: the sandbox's keys are refused when NODE_ENV=production`);
    if (transport.tokenUrl && new URL(transport.tokenUrl).protocol !== 'https:') {
      problems.push(`${setting}.transport.tokenUrl: an https:// URL is ${REQUIRED} (the platform keys would travel in clear)`);
    }
  }
  if (transport.mode === 'ndxp') {
    needs(!!transport.client, 'client', 'the X-Road-Client identifier the platform registered');
    needs(!!transport.apiKey, 'apiKey', "the platform's API key");
    if (transport.apiKey === SANDBOX_TRANSPORT.apiKey) problems.push(`${setting}.transport.apiKey: the sandbox's key is refused when NODE_ENV=production`);
  }
  return problems;
}

/** The section's population settings: the parsed section carries them (the schema added them). */
export const populationSettings = (section: unknown): PopulationSettings => section as PopulationSettings;

export const populationConfig: SystemConfig = {
  shape,
  refine: (section, ctx) => {
    if (populationSettings(section).transport.mode === 'direct' && section.messageSecurity !== 'ws-security') {
      ctx.addIssue({ code: 'custom', path: ['messageSecurity'], message: 'the direct transport needs messageSecurity: ws-security (the database signs and checks every message)' });
    }
  },
  productionProblems: (section, setting) => productionProblems(populationSettings(section), setting),
};
