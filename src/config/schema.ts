import { z } from 'zod';

export const ROLES = ['portal', 'agency', 'auditor', 'operator'] as const;

/** Citizen record fields a client can be allowed to see (CitizenField in the contract). */
export const CITIZEN_FIELD_NAMES = [
  'oldIdNumber', 'fullName', 'familyName', 'middleName', 'givenName', 'gender', 'dateOfBirth', 'ethnicity',
  'religion', 'nationality', 'maritalStatus', 'bloodType', 'birthRegistrationPlace', 'hometown',
  'permanentAddress', 'currentAddress', 'father', 'mother', 'spouse', 'householdHead',
] as const;
const citizenFields = z.array(z.enum(CITIZEN_FIELD_NAMES));
export type Role = (typeof ROLES)[number];

/** National systems the gateway talks to; the order is the order of the sandbox's ports. */
export const SYSTEM_IDS = ['business-registry', 'population', 'tax', 'social-insurance', 'dvcqg', 'vneid'] as const;
export type SystemId = (typeof SYSTEM_IDS)[number];

const rateLimit = z
  .object({
    points: z.number().int().positive(),
    durationSeconds: z.number().int().positive(),
  })
  .strict();

const client = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9-]{1,62}$/, 'lower-case letters, digits and dashes'),
    name: z.string().optional(),
    agency: z.string().regex(/^[A-Z][A-Z0-9.]{1,40}$/, 'an agency code such as H52 or H52.101.114'),
    roles: z.array(z.enum(ROLES)).min(1),
    /** operationIds this client may call; `*` means every operation its roles allow. */
    operations: z.array(z.string().min(1)).min(1).default(['*']),
    keyHash: z.string().regex(/^sha256:[0-9a-f]{64}$/, 'sha256:<64 hex digits>').optional(),
    /** Common name of the client's certificate, for mutual TLS (chained to the trusted roots). */
    certificateName: z.string().min(1).optional(),
    rateLimit: rateLimit.optional(),
    /**
     * Citizen fields this client may see in POST /v1/citizens/lookup, by purpose code (or
     * procedure code); `*` applies to any other purpose. Absent: citizenLookup.defaultFields.
     */
    citizenFields: z.record(z.string().min(1), citizenFields).optional(),
    disabled: z.boolean().default(false),
  })
  .strict();

const breaker = z
  .object({
    errorThresholdPercentage: z.number().min(1).max(100).default(50),
    volumeThreshold: z.number().int().min(1).default(5),
    resetTimeoutMs: z.number().int().min(100).default(10_000),
    rollingCountTimeoutMs: z.number().int().min(1000).default(10_000),
  })
  .strict();

const upstream = z
  .object({
    url: z.url().optional(),
    timeoutMs: z.number().int().min(10).max(120_000).default(5_000),
    /** Seconds suggested to callers in Retry-After when the system is down. */
    retryAfterSeconds: z.number().int().min(1).default(5),
    maxResponseBytes: z.number().int().min(1024).default(1_048_576),
    /** The common name the system's signing certificate must have (pinned); sandbox default `<id>.sandbox.lienthong.vn`. */
    certificateName: z.string().min(1).optional(),
    /** The gateway's own account, for systems that need a login (the national portal). */
    credentials: z.object({ username: z.string().min(1), password: z.string().min(1) }).strict().optional(),
    breaker: breaker.prefault({}),
  })
  .strict();

const upstreams = z
  .object({
    'business-registry': upstream.prefault({}),
    population: upstream.prefault({}),
    tax: upstream.prefault({}),
    'social-insurance': upstream.prefault({}),
    dvcqg: upstream.prefault({}),
    vneid: upstream.prefault({}),
  } satisfies Record<SystemId, unknown>)
  .strict();

export const configSchema = z
  .object({
    server: z
      .object({
        host: z.string().min(1).default('0.0.0.0'),
        port: z.number().int().min(0).max(65535).default(8080),
        bodyLimitBytes: z.number().int().min(1024).max(50 * 1024 * 1024).default(102_400),
        shutdownGraceMs: z.number().int().min(0).default(10_000),
        trustProxy: z.boolean().default(false),
        validateResponses: z.boolean().default(false),
        /** HTTPS beside HTTP, where clients may authenticate with a certificate (mutual TLS). */
        tls: z
          .object({
            enabled: z.boolean().default(false),
            port: z.number().int().min(0).max(65535).default(8443),
            /** Server certificate (PEM, leaf first) and key; the sample gateway certificate outside production. */
            certificateFile: z.string().min(1).optional(),
            keyFile: z.string().min(1).optional(),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    log: z
      .object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') })
      .strict()
      .prefault({}),
    database: z
      .object({
        url: z
          .string()
          .regex(/^postgres(ql)?:\/\//, 'a postgres:// URL')
          .optional(),
        sqlitePath: z.string().min(1).default('./data/lienthong.db'),
      })
      .strict()
      .prefault({}),
    redis: z
      .object({ url: z.string().regex(/^rediss?:\/\//, 'a redis:// URL').optional() })
      .strict()
      .prefault({}),
    gateway: z
      .object({
        /** The agency code the gateway calls national systems as (Sơn La: H52). */
        agency: z.string().min(1).default('H52'),
      })
      .strict()
      .prefault({}),
    /** Purpose codes accepted in X-Purpose besides procedure codes (MaTTHC). */
    purposes: z
      .array(z.object({ code: z.string().regex(/^[A-Z][A-Z0-9_]{1,63}$/), description: z.string() }).strict())
      .default([]),
    rateLimit: z
      .object({
        default: rateLimit.default({ points: 100, durationSeconds: 1 }),
        /** Failed authentications allowed per remote address before 429. */
        authFailures: rateLimit.default({ points: 20, durationSeconds: 60 }),
      })
      .strict()
      .prefault({}),
    clients: z.array(client).default([]),
    citizenLookup: z
      .object({ defaultFields: citizenFields.default(['fullName', 'dateOfBirth', 'permanentAddress']) })
      .strict()
      .prefault({}),
    catalogue: z
      .object({
        ttlSeconds: z.number().int().min(0).default(300),
        /** How old a cached copy may be and still be served while the national portal fails. */
        maxStaleSeconds: z.number().int().min(0).default(7 * 24 * 3600),
      })
      .strict()
      .prefault({}),
    signing: z
      .object({
        /** The gateway's certificate (PEM, leaf first, intermediates after); sample outside production. */
        certificateFile: z.string().min(1).optional(),
        keyFile: z.string().min(1).optional(),
        /** Or both in one PKCS#12 file. */
        pkcs12File: z.string().min(1).optional(),
        pkcs12Password: z.string().optional(),
        /** The `iss` of attestations. */
        issuer: z.string().min(1).default('https://lienthong.sonla.gov.vn'),
      })
      .strict()
      .prefault({}),
    trust: z
      .object({
        /** PEM files of the roots every signature must chain to (the national root CA). */
        roots: z.array(z.string().min(1)).optional(),
        intermediates: z.array(z.string().min(1)).optional(),
        /** PEM or DER CRLs, each signed by a trusted CA. */
        crls: z.array(z.string().min(1)).optional(),
      })
      .strict()
      .prefault({}),
    audit: z
      .object({
        /** The log's name in checkpoints (C2SP origin line). */
        origin: z.string().min(1).default('lienthong.sonla.gov.vn/exchange-log'),
        integrateIntervalMs: z.number().int().min(10).max(60_000).default(1000),
        batchSize: z.number().int().min(1).max(50_000).default(5000),
        /** RFC 3161 TSA; the sandbox's own TSA when unset outside production. */
        tsaUrl: z.url().optional(),
        timestampEverySeconds: z.number().int().min(1).default(60),
        /** Request and response bodies, kept encrypted apart from the tree, per retention period. */
        bodies: z
          .object({
            /** operationIds (of operations that reach a national system) whose bodies are kept. */
            operations: z.array(z.string().min(1)).default([]),
            /** `lienthong audit purge` refuses periods younger than this unless forced. */
            retentionDays: z.number().int().min(1).default(365),
            /** Keys rotate per calendar month (UTC). */
            period: z.literal('month').default('month'),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    privacy: z
      .object({
        /** Secret (32+ bytes) for keyed hashes of personal identifiers; generated here outside production. */
        hashKeyFile: z.string().min(1).default('./data/hash-key'),
      })
      .strict()
      .prefault({}),
    upstreams: upstreams.prefault({}),
    sandbox: z
      .object({
        host: z.string().default('127.0.0.1'),
        /** Control server port; simulators listen on the following ports (0: any free port). */
        port: z.number().int().min(0).max(65535).default(8090),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type Config = z.infer<typeof configSchema> & { readonly env: { production: boolean } };
export type ClientConfig = z.infer<typeof client>;
export type UpstreamConfig = z.infer<typeof upstream>;
