import { z } from 'zod';
import { adapterModules, SYSTEM_IDS, type RegisteredModule, type SystemId } from '../../adapters/index.ts';
import { CITIZEN_FIELD_NAMES } from '../core/citizen-fields.ts';

export const ROLES = ['portal', 'agency', 'auditor', 'operator'] as const;

const citizenFields = z.array(z.enum(CITIZEN_FIELD_NAMES));
export type Role = (typeof ROLES)[number];

/** National systems the gateway talks to, as adapters/index.ts registers them. */
export { SYSTEM_IDS, type SystemId };

/**
 * How the messages exchanged with a national system are secured beyond TLS: `none` (TLS and the
 * system's own login), HTTP message signatures (`rfc9421`), SOAP WS-Security (`ws-security`), an
 * enveloped XML signature (`xml-dsig`) or compact JWS bodies (`jws`). Every profile but `none`
 * signs both directions, with the gateway's certificate and the system's pinned one.
 */
export const MESSAGE_SECURITY_PROFILES = ['none', 'rfc9421', 'ws-security', 'xml-dsig', 'jws'] as const;
export type MessageSecurity = (typeof MESSAGE_SECURITY_PROFILES)[number];

const rateLimit = z
  .object({
    points: z.number().int().positive(),
    durationSeconds: z.number().int().positive(),
  })
  .strict();

const agencyCode = z.string().regex(/^[A-Z][A-Z0-9.]{1,40}$/, 'an agency code such as H52 or H52.101.114');

/**
 * A distinguished name as its attributes (short names as OpenSSL prints them: CN, O, OU, C, L,
 * ST, serialNumber...), each with its value or, when the name repeats it, its values in order.
 */
const distinguishedName = z
  .record(z.string().regex(/^[A-Za-z][A-Za-z0-9.]{0,63}$/, 'an attribute short name such as CN or O'), z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]))
  .refine((name) => Object.keys(name).length > 0, 'at least one attribute (CN, O...)');
export type DistinguishedName = z.infer<typeof distinguishedName>;

/**
 * What X-Purpose a client may claim: a purpose code of the top-level `purposes` list, a procedure
 * code (MaTTHC), or a procedure-code pattern where `*` stands for any characters (`*` alone: any
 * procedure code; `*.H52`: the province's procedures). Patterns never match purpose codes.
 */
export const PURPOSE_CODE = /^[A-Z][A-Z0-9_]{1,63}$/;
const clientPurpose = z.string().regex(/^(?:[A-Z][A-Z0-9_]{1,63}|[0-9*][0-9A-Z.*]{0,99})$/, 'a purpose code, a procedure code or a procedure-code pattern with *');

const client = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9-]{1,62}$/, 'lower-case letters, digits and dashes'),
    name: z.string().optional(),
    agency: agencyCode,
    /**
     * Other agencies this client acts for: it also sees and changes the dossiers handed over by,
     * and sees the account links made by, clients of these agencies. None by default.
     */
    actsFor: z.array(agencyCode).default([]),
    roles: z.array(z.enum(ROLES)).min(1),
    /** operationIds this client may call; `*` means every operation its roles allow. */
    operations: z.array(z.string().min(1)).min(1).default(['*']),
    keyHash: z.string().regex(/^sha256:[0-9a-f]{64}$/, 'sha256:<64 hex digits>').optional(),
    /**
     * The client's certificate for mutual TLS: it must chain to server.tls.clientRoots, allow
     * client authentication (extendedKeyUsage clientAuth), and have exactly this subject and
     * this issuer. A common name alone is not enough: any CA under the roots could issue it.
     */
    certificate: z.object({ subject: distinguishedName, issuer: distinguishedName }).strict().optional(),
    certificateName: z.never({ error: 'replaced by certificate: { subject, issuer } (a common name alone identifies no one)' }).optional(),
    /** Purposes this client may claim in X-Purpose (see clientPurpose); none by default. */
    purposes: z.array(clientPurpose).default([]),
    rateLimit: rateLimit.optional(),
    /**
     * Citizen fields this client may see in POST /v1/citizens/lookup, by purpose code (or
     * procedure code); `*` applies to any other purpose. Absent: citizenLookup.defaultFields.
     */
    citizenFields: z.record(z.string().min(1), citizenFields).optional(),
    disabled: z.boolean().default(false),
  })
  .strict();

/** A whole number of milliseconds in a range, with a message that says what is wrong. */
const millis = (min: number, max: number) =>
  z
    .number()
    .int('a whole number of milliseconds')
    .min(min, `at least ${min} ms`)
    .max(max, `at most ${max} ms`);
const count = (min: number, max: number) => z.number().int('a whole number').min(min, `at least ${min}`).max(max, `at most ${max}`);

const breaker = z
  .object({
    /** Share of failed calls (timeouts included) in the rolling window that opens the breaker. */
    errorThresholdPercentage: z.number().min(1, 'a percentage from 1 to 100').max(100, 'a percentage from 1 to 100').default(50),
    /** Calls the window must hold before the breaker may open. */
    volumeThreshold: count(1, 1_000_000).default(5),
    /** How long an open breaker rejects before letting one probe through (half-open). */
    resetTimeoutMs: millis(100, 3_600_000).default(10_000),
    rollingCountTimeoutMs: millis(1000, 3_600_000).default(10_000),
  })
  .strict();

/** Bulkhead: how many calls may be under way to one system, and how many may wait for a slot. */
export const upstreamConcurrency = z
  .object({
    maxInFlight: count(1, 10_000).default(32),
    /** Calls waiting for a slot; more are refused at once with UPSTREAM_BUSY (0: no queue). */
    maxQueued: count(0, 100_000).default(64),
    /** How long a call may wait for a slot before it is refused with UPSTREAM_BUSY. */
    queueTimeoutMs: millis(1, 120_000).default(1000),
  })
  .strict();

/** Retries of idempotent reads that failed in transit, with jittered exponential backoff. */
export const upstreamRetry = z
  .object({
    /** Further attempts after the first (0: never retry). */
    maxRetries: count(0, 10).default(2),
    baseDelayMs: millis(1, 60_000).default(50),
    maxDelayMs: millis(1, 60_000).default(1000),
  })
  .strict()
  .refine((r) => r.maxDelayMs >= r.baseDelayMs, { message: 'maxDelayMs must be at least baseDelayMs', path: ['maxDelayMs'] });

const upstream = z
  .object({
    url: z.url().optional(),
    /** The longest one call may take, retries included (the caller's deadline, when shorter, wins). */
    timeoutMs: millis(10, 120_000).default(5_000),
    /** Seconds suggested to callers in Retry-After when the system is down. */
    retryAfterSeconds: z.number().int().min(1).default(5),
    maxResponseBytes: z.number().int().min(1024).default(1_048_576),
    /**
     * How messages with this system are secured (see MESSAGE_SECURITY_PROFILES); unset: what the
     * real system does (the adapter's default). A profile the adapter does not speak is refused at start.
     */
    messageSecurity: z.enum(MESSAGE_SECURITY_PROFILES).optional(),
    /** The common name the system's signing certificate must have (pinned); sandbox default `<id>.sandbox.lienthong.vn`. */
    certificateName: z.string().min(1).optional(),
    /** The gateway's own account, for systems that need a login (the national portal). */
    credentials: z.object({ username: z.string().min(1), password: z.string().min(1) }).strict().optional(),
    breaker: breaker.prefault({}),
    concurrency: upstreamConcurrency.prefault({}),
    retry: upstreamRetry.prefault({}),
  })
  .strict();

/**
 * A system's `upstreams.<id>` section: the settings every upstream has, with those its module
 * adds (`config.shape`) and checks across them (`config.refine`).
 */
function upstreamSection(module: RegisteredModule) {
  const { config } = module;
  if (!config) return upstream.prefault({});
  const section = upstream
    .extend(config.shape)
    .strict()
    .superRefine((parsed, ctx) => config.refine?.(parsed as UpstreamConfig & Record<string, unknown>, ctx))
    .prefault({});
  // Typed as the common section: the module's own settings are read by its own code, with its own schema's type.
  return section as unknown as z.ZodPrefault<typeof upstream>;
}

const upstreams = z
  .object(Object.fromEntries(adapterModules.map((module) => [module.id, upstreamSection(module)])) as Record<SystemId, z.ZodPrefault<typeof upstream>>)
  .strict();

/** The levels of assurance national sign-on asks for unless configured: the module that offers sign-on declares them. */
const defaultAcrValues = adapterModules.flatMap((module) => module.signOn?.acrValues ?? []);

/**
 * The system the outbox delivers dossiers to, and how many calls one delivery makes at most: the
 * outbox lease must outlast them (see the `outbox` check below).
 */
const deliverers = adapterModules.flatMap((module) => (module.deliversDossiers ? [{ id: module.id, calls: module.deliversDossiers.calls }] : []));
if (deliverers.length > 1) throw new Error(`one system delivers dossiers, and ${deliverers.map((d) => d.id).join(', ')} all declare deliversDossiers (adapters/index.ts)`);
const dossierDelivery = deliverers[0];

/** What the document store accepts, judged by content (file-type's names). */
export const documentMediaTypes = ['application/pdf', 'image/png', 'image/jpeg', 'image/tiff'] as const;
/** A retention period: whole years, or kept for ever. */
const retentionPeriod = z.union([z.number().int().min(1).max(500), z.literal('permanent')]);

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
        /**
         * Browser origins allowed to call the API (CORS). None by default: the portal calls the
         * gateway server to server. `*` allows any origin, and is refused with credentials.
         */
        cors: z
          .object({
            origins: z.array(z.union([z.literal('*'), z.string().regex(/^https?:\/\/[^/\s?#*]+$/, 'an origin such as https://dichvucong.sonla.gov.vn (scheme, host, port; no path)')])).default([]),
            /** Let browsers send cookies or client certificates along (Access-Control-Allow-Credentials). */
            credentials: z.boolean().default(false),
            /** How long a browser may cache a preflight answer. */
            maxAgeSeconds: z.number().int().min(0).max(86_400).default(600),
          })
          .strict()
          .superRefine((cors, ctx) => {
            if (cors.credentials && cors.origins.includes('*')) {
              ctx.addIssue({ code: 'custom', path: ['origins'], message: 'a wildcard origin cannot be combined with credentials: list the origins' });
            }
          })
          .prefault({}),
        /** HTTPS beside HTTP, where clients may authenticate with a certificate (mutual TLS). */
        tls: z
          .object({
            enabled: z.boolean().default(false),
            port: z.number().int().min(0).max(65535).default(8443),
            /** Server certificate (PEM, leaf first) and key; the sample gateway certificate outside production. */
            certificateFile: z.string().min(1).optional(),
            keyFile: z.string().min(1).optional(),
            /**
             * PEM files of the CAs that issue client certificates, apart from the national roots
             * that upstream signatures chain to; outside production the sample issuing CA.
             */
            clientRoots: z.array(z.string().min(1)).min(1).optional(),
            clientIntermediates: z.array(z.string().min(1)).optional(),
            /** CRLs (PEM or DER) of the client CAs; outside production the sample CA's CRL. */
            clientCrls: z.array(z.string().min(1)).optional(),
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
        /** PostgreSQL schema for the gateway's tables (default public), so installations can share one server. */
        schema: z
          .string()
          .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'a lower-case PostgreSQL schema name')
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
    /**
     * Purpose codes accepted in X-Purpose besides procedure codes (MaTTHC). `audit: true` marks an
     * audit purpose: the only kind a client with the auditor role may claim, and one no other may.
     */
    purposes: z
      .array(z.object({ code: z.string().regex(/^[A-Z][A-Z0-9_]{1,63}$/), description: z.string(), audit: z.boolean().default(false) }).strict())
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
        /**
         * The log-signing certificate (PEM, chain after the leaf allowed) and its key (PEM) that sign
         * checkpoints: a certificate of its own, not the TLS or message-signing one (key usage
         * digitalSignature/nonRepudiation, no TLS extended key usage). certs-sample/log-signer.pem and
         * .key.pem when unset outside production; required in production.
         */
        signer: z.object({ certificateFile: z.string().min(1), keyFile: z.string().min(1) }).strict().optional(),
        /**
         * The inspectorate's RSA public key (SPKI PEM) that officer identifiers are encrypted to, so
         * that only the inspectorate can resolve who asked; certs-sample/inspectorate.pub.pem when
         * unset outside production.
         */
        inspectorate: z.object({ publicKeyFile: z.string().min(1) }).strict().optional(),
        /** RFC 3161 TSA; the sandbox's own TSA when unset outside production. */
        tsaUrl: z.url().optional(),
        /**
         * Witnesses (c2sp.org/tlog-witness) the gateway submits each new checkpoint to: the URL
         * prefix of their add-checkpoint endpoint and their verifier key (a C2SP vkey, or a file
         * holding one). Outside production without any, the sandbox runs one.
         */
        witnesses: z
          .array(z.object({ url: z.url(), vkey: z.string().min(1), timeoutMs: z.number().int().min(100).max(60_000).default(5000) }).strict())
          .default([]),
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
        /**
         * Secret (32+ bytes) for keyed hashes of personal identifiers, from which the keys of encrypted
         * exchange bodies and of dossiers' personal data are derived; generated here outside production.
         */
        hashKeyFile: z.string().min(1).default('./data/hash-key'),
      })
      .strict()
      .prefault({}),
    /** Account links and national single sign-on (the client id and secret are the sign-on system's upstreams.<id>.credentials). */
    accounts: z
      .object({
        /** How long a link offered by national sign-on (an ID-number match) waits for the person to confirm it. */
        pendingLinkTtlSeconds: z.number().int().min(60).max(7 * 86_400).default(900),
      })
      .strict()
      .prefault({}),
    sso: z
      .object({
        /**
         * The gateway's callback as registered with the national service. Unset: the listening
         * address + /v1/accounts/sso/callback (right for the sandbox, not behind a proxy).
         */
        redirectUri: z.url().optional(),
        /** Where sign-on results may be sent: a returnTo's origin and path must equal one of these. */
        returnToAllowList: z.array(z.url()).default([]),
        /**
         * Levels of assurance asked for (`acr_values`, in this order) and the only ones accepted in
         * the ID token's `acr`. The default is the one the sign-on system's module declares.
         */
        acrValues: z
          .array(z.string().regex(/^[\x21-\x7e]{1,200}$/, 'must be one level name without spaces'))
          .min(1)
          .refine((levels) => new Set(levels).size === levels.length, 'must not repeat a level')
          .default(defaultAcrValues),
        /** How long a started sign-on may take before its callback is refused. */
        flowTtlSeconds: z.number().int().min(30).max(3600).default(600),
        /** Lifetime of the signed result handed to returnTo, and how long its sign-on waits for the portal's confirmation. */
        resultTtlSeconds: z.number().int().min(10).max(600).default(120),
      })
      .strict()
      .prefault({}),
    /** The electronic document store (src/core/documents): sealed results and digitised submissions per person or organisation. */
    documents: z
      .object({
        /** Where the encrypted content is kept with the embedded database; with PostgreSQL (database.url) it is kept there. */
        directory: z.string().min(1).default('./data/documents'),
        /** Largest file accepted (413 beyond). */
        maxBytes: z.number().int().min(1024).max(1024 * 1024 * 1024).default(20 * 1024 * 1024),
        /** Media types accepted, judged by the content, never by the name. */
        mediaTypes: z.array(z.enum(documentMediaTypes)).min(1).default([...documentMediaTypes]),
        /**
         * The agency's sealing certificate (PEM, chain after the leaf allowed) and key (PEM) that sign
         * every deposited result: certs-sample/document-seal.pem and .key.pem when unset outside production.
         */
        seal: z.object({ certificateFile: z.string().min(1), keyFile: z.string().min(1) }).strict().optional(),
        /** RFC 3161 TSA for document signatures: audit.tsaUrl when unset, else the sandbox's own. */
        tsaUrl: z.url().optional(),
        /**
         * Where the national portal reaches this gateway to fetch a document (DuongDanTaiTepTin,
         * DuongDanTepTinKetQua): this base + /v1/documents/{code}/shared/{token}; also the base of
         * `contentUrl` in answers. The listening address when unset; required in production.
         */
        publicBaseUrl: z.url().optional(),
        /** A deposit's subject must exist in the national database (population or business registry). */
        checkSubject: z.boolean().default(true),
        /**
         * How long content is kept, counted from the document's issue date (its deposit when not
         * given): whole years, or `permanent`. Per document type code, else the default.
         */
        retention: z
          .object({
            default: retentionPeriod.default('permanent'),
            byType: z.record(z.string().min(1), retentionPeriod).default({}),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    /** The console at /console: staff sessions (createConsoleSession). */
    console: z
      .object({
        /** Off: /console and the session operations answer 404; API keys work as ever. */
        enabled: z.boolean().default(true),
        /** A session unused this long ends. */
        sessionIdleSeconds: z.number().int().min(60).max(24 * 3600).default(900),
        /** A session ends this long after sign-in, however much it is used. */
        sessionMaxSeconds: z.number().int().min(300).max(7 * 24 * 3600).default(4 * 3600),
      })
      .strict()
      .refine((c) => c.sessionMaxSeconds >= c.sessionIdleSeconds, { message: 'sessionMaxSeconds must be at least sessionIdleSeconds', path: ['sessionMaxSeconds'] })
      .prefault({}),
    /** What getSubjectAccesses tells a person about the exchanges about them. */
    subjectAccesses: z
      .object({
        /** `pseudonym`: each access names the officer's keyed hash (resolvable by the inspectorate only); `hidden`: never. */
        officer: z.enum(['hidden', 'pseudonym']).default('hidden'),
      })
      .strict()
      .prefault({}),
    /** Delivery of dossiers and their changes to the national portal (see src/core/dossiers/outbox.ts). */
    outbox: z
      .object({
        /** Off: changes are accepted and queued, but this process delivers nothing (another may). */
        enabled: z.boolean().default(true),
        /** How often an idle worker looks for due deliveries (it is also woken by every accepted change). */
        pollIntervalMs: z.number().int().min(10).max(60_000).default(1000),
        /** Deliveries under way at once, each to a different dossier. */
        concurrency: z.number().int().min(1).max(256).default(8),
        /** Most jobs claimed in one query. */
        batchSize: z.number().int().min(1).max(1000).default(50),
        /** Retry delays: exponential from the base, capped, with full jitter. */
        backoffBaseMs: z.number().int().min(1).max(3_600_000).default(1000),
        backoffMaxMs: z.number().int().min(1).max(86_400_000).default(300_000),
        /** A delivery still failing this long after it was queued is given up (dead) until an operator redelivers it. */
        maxAgeSeconds: z.number().int().min(1).default(3 * 24 * 3600),
        /** How long a claimed job is reserved for its worker; longer than one delivery can take. */
        leaseSeconds: z.number().int().min(1).max(3600).default(60),
      })
      .strict()
      .refine((o) => o.backoffMaxMs >= o.backoffBaseMs, { message: 'backoffMaxMs must be at least backoffBaseMs', path: ['backoffMaxMs'] })
      .prefault({}),
    upstreams: upstreams.prefault({}),
    sandbox: z
      .object({
        host: z.string().default('127.0.0.1'),
        /** Control server port; simulators listen on the ports after it (each module's offset; 0: any free port). */
        port: z.number().int().min(0).max(65535).default(8090),
        /** Hand the sample dossiers over on the first start (src/sandbox/sample-dossiers.ts), for the service index and the reports. */
        sampleDossiers: z.boolean().default(false),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((config, ctx) => {
    // A lease shorter than one delivery (each of its calls up to the system's timeout, and each
    // possibly waiting for a call slot in the bulkhead's queue) would let a second worker send the
    // same change while the first still waits; the worker still cuts a delivery short before its lease ends.
    if (!dossierDelivery) return;
    const portal = config.upstreams[dossierDelivery.id];
    const budgetMs = dossierDelivery.calls * (portal.timeoutMs + portal.concurrency.queueTimeoutMs);
    if (config.outbox.leaseSeconds * 1000 < budgetMs) {
      ctx.addIssue({
        code: 'custom',
        path: ['outbox', 'leaseSeconds'],
        message: `must be at least ${dossierDelivery.calls} times upstreams.${dossierDelivery.id}.timeoutMs plus its concurrency.queueTimeoutMs (${Math.ceil(budgetMs / 1000)} s)`,
      });
    }
  });

export type Config = z.infer<typeof configSchema> & { readonly env: { production: boolean } };
export type ClientConfig = z.infer<typeof client>;
export type UpstreamConfig = z.infer<typeof upstream>;
