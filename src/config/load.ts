import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { parse as parseYaml } from 'yaml';
import { configSchema, PURPOSE_CODE, SYSTEM_IDS, type Config } from './schema.ts';

/** A setting that stops start-up; the CLI prints `message` and exits with code 2. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** The keys of the sample clients in config/sandbox.yaml; refused in production. */
export const SANDBOX_KEYS = ['sandbox-portal-key', 'sandbox-agency-key', 'sandbox-auditor-key', 'sandbox-operator-key'];

export function hashApiKey(key: string): string {
  return 'sha256:' + createHash('sha256').update(key, 'utf8').digest('hex');
}

type Env = Record<string, string | undefined>;
type Kind = 'string' | 'int' | 'bool';

/** Environment variables and the config path each one sets. */
const ENV_SETTINGS: [string, string[], Kind][] = [
  ['HOST', ['server', 'host'], 'string'],
  ['PORT', ['server', 'port'], 'int'],
  ['BODY_LIMIT_BYTES', ['server', 'bodyLimitBytes'], 'int'],
  ['SHUTDOWN_GRACE_MS', ['server', 'shutdownGraceMs'], 'int'],
  ['TRUST_PROXY', ['server', 'trustProxy'], 'bool'],
  ['TLS_ENABLED', ['server', 'tls', 'enabled'], 'bool'],
  ['TLS_PORT', ['server', 'tls', 'port'], 'int'],
  ['VALIDATE_RESPONSES', ['server', 'validateResponses'], 'bool'],
  ['LOG_LEVEL', ['log', 'level'], 'string'],
  ['DATABASE_URL', ['database', 'url'], 'string'],
  ['DATABASE_SCHEMA', ['database', 'schema'], 'string'],
  ['SQLITE_PATH', ['database', 'sqlitePath'], 'string'],
  ['REDIS_URL', ['redis', 'url'], 'string'],
  ['GATEWAY_AGENCY', ['gateway', 'agency'], 'string'],
  ['SIGNING_CERT_FILE', ['signing', 'certificateFile'], 'string'],
  ['SIGNING_KEY_FILE', ['signing', 'keyFile'], 'string'],
  ['HASH_KEY_FILE', ['privacy', 'hashKeyFile'], 'string'],
  ['TSA_URL', ['audit', 'tsaUrl'], 'string'],
  ['CATALOGUE_TTL_SECONDS', ['catalogue', 'ttlSeconds'], 'int'],
  ['SANDBOX_HOST', ['sandbox', 'host'], 'string'],
  ['SANDBOX_PORT', ['sandbox', 'port'], 'int'],
  ...SYSTEM_IDS.map(
    (id) => [`UPSTREAM_${id.toUpperCase().replaceAll('-', '_')}_URL`, ['upstreams', id, 'url'], 'string'] as [string, string[], Kind],
  ),
];

/** Every environment variable the gateway reads (deployment files are checked against this list). */
export const ENVIRONMENT_VARIABLES: readonly string[] = ['LIENTHONG_CONFIG', 'NODE_ENV', ...ENV_SETTINGS.map(([name]) => name)];

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1]!] = value;
}

function coerce(name: string, raw: string, kind: Kind, problems: string[]): unknown {
  if (kind === 'int') {
    if (!/^\d+$/.test(raw.trim())) problems.push(`${name}: expected a whole number, got "${raw}"`);
    return Number(raw);
  }
  if (kind === 'bool') {
    if (!['true', 'false', '1', '0'].includes(raw)) problems.push(`${name}: expected true or false, got "${raw}"`);
    return raw === 'true' || raw === '1';
  }
  return raw;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

export interface LoadOptions {
  /** A YAML config file; LIENTHONG_CONFIG in the environment is used when absent. */
  file?: string;
  /** Settings applied over the file and the environment (tests, the CLI). */
  overrides?: Record<string, unknown>;
}

/**
 * Reads the optional YAML file, applies environment variables over it, validates the result
 * once and returns it frozen. Nothing else in the gateway reads process.env.
 */
export function loadConfig(env: Env, options: LoadOptions = {}): Config {
  const problems: string[] = [];
  let raw: Record<string, unknown> = {};
  const file = options.file ?? env.LIENTHONG_CONFIG;
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError([`config file ${file}: ${(err as Error).message}`]);
    }
    try {
      const parsed: unknown = parseYaml(text);
      if (parsed !== null && parsed !== undefined) {
        if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('expected a mapping at the top level');
        raw = parsed as Record<string, unknown>;
      }
    } catch (err) {
      throw new ConfigError([`config file ${file}: ${(err as Error).message}`]);
    }
  }
  const envNames = new Map<string, string>();
  for (const [name, path, kind] of ENV_SETTINGS) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    setPath(raw, path, coerce(name, value, kind, problems));
    envNames.set(path.join('.'), name);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  for (const [key, value] of Object.entries(options.overrides ?? {})) setPath(raw, key.split('.'), value);

  const result = configSchema.safeParse(raw);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((issue) => {
        const path = issue.path.join('.');
        const fromEnv = envNames.get(path);
        return `${path || '(root)'}${fromEnv ? ` (from ${fromEnv})` : ''}: ${issue.message}`;
      }),
    );
  }
  const production = env.NODE_ENV === 'production';
  const config: Config = { ...result.data, env: { production } };

  const ids = new Set<string>();
  const pins = new Map<string, string>();
  for (const c of config.clients) {
    if (ids.has(c.id)) problems.push(`clients: duplicate client id "${c.id}"`);
    ids.add(c.id);
    if (!c.keyHash && !c.certificate) problems.push(`clients.${c.id}: give keyHash, certificate or both`);
    if (c.certificate) {
      // One certificate identifies one client: the same subject and issuer twice would pick one at random.
      const pin = JSON.stringify([c.certificate.subject, c.certificate.issuer].map((name) => Object.entries(name).sort(([a], [b]) => a.localeCompare(b))));
      if (pins.has(pin)) problems.push(`clients.${c.id}.certificate: the same subject and issuer as client "${pins.get(pin)}"`);
      pins.set(pin, c.id);
    }
    for (const p of c.purposes) {
      if (PURPOSE_CODE.test(p) && !config.purposes.some((known) => known.code === p)) problems.push(`clients.${c.id}.purposes: ${p} is not in the purposes list`);
    }
  }
  if (production) {
    const sandboxHashes = new Set(SANDBOX_KEYS.map(hashApiKey));
    for (const c of config.clients) {
      if (c.keyHash && sandboxHashes.has(c.keyHash)) problems.push(`clients.${c.id}: sample sandbox keys are refused when NODE_ENV=production`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return deepFreeze(config);
}
