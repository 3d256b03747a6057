import { execSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { adapterModules } from '../adapters/index.ts';
import { ENVIRONMENT_VARIABLES, loadConfig } from '../src/config/load.ts';
import { productionProblems } from '../src/config/production.ts';
import { loadHashKey } from '../src/signing/attestation.ts';

interface Service {
  image?: string;
  build?: string;
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  depends_on?: Record<string, { condition: string }>;
}

/** compose.yaml as Docker Compose reads it (YAML merge keys on); Docker itself is not needed. */
const compose = parse(readFileSync('compose.yaml', 'utf8'), { merge: true }) as { services: Record<string, Service> };
const gateways = Object.entries(compose.services).filter(([, s]) => s.build === '.');

/** Compose's `${NAME:?message}` / `${NAME}` interpolation, with stand-in values. */
const interpolate = (value: string) => value.replace(/\$\{([A-Z_]+)(:\?[^}]*)?\}/g, (_, name: string) => `sample-${name.toLowerCase()}`);

describe('compose.yaml', () => {
  it('runs two gateway replicas beside one PostgreSQL and one Redis', () => {
    expect(gateways.map(([name]) => name).sort()).toEqual(['gateway-1', 'gateway-2']);
    expect(compose.services.postgres?.image).toMatch(/^postgres:/);
    expect(compose.services.redis?.image).toMatch(/^redis:/);
    for (const [, service] of gateways) {
      expect(Object.keys(service.depends_on ?? {})).toEqual(expect.arrayContaining(['postgres', 'redis']));
    }
    // Each replica on its own host port.
    expect(new Set(gateways.map(([, s]) => s.ports?.[0]?.split(':')[0])).size).toBe(2);
  });

  it('sets only environment variables the gateway reads, the same for every replica', () => {
    const [first, ...others] = gateways.map(([, s]) => s.environment ?? {});
    for (const name of Object.keys(first!)) expect(ENVIRONMENT_VARIABLES, `${name} is not read by the config loader`).toContain(name);
    for (const env of others) expect(env).toEqual(first);
    // What makes replicas one installation: shared database, Redis and hash key.
    expect(first).toMatchObject({ NODE_ENV: 'production', REDIS_URL: expect.stringMatching(/^redis:\/\/redis:/), DATABASE_URL: expect.stringMatching(/^postgres:\/\/.*@postgres:5432\//) });
    expect(first!.HASH_KEY_FILE).toBeTruthy();
  });

  it('gives values the config loader accepts', () => {
    const { LIENTHONG_CONFIG: _file, NODE_ENV: _env, ...env } = gateways[0]![1].environment!;
    const config = loadConfig(Object.fromEntries(Object.entries(env).map(([k, v]) => [k, interpolate(v)])));
    expect(config.database.url).toMatch(/^postgres:\/\/lienthong:sample-postgres_password@postgres:5432\/lienthong$/);
    expect(config.redis.url).toBe('redis://redis:6379');
    expect(config.server.port).toBe(8080);
  });

  it('mounts every file a variable names', () => {
    const env = gateways[0]![1].environment!;
    const mounted = (gateways[0]![1].volumes ?? []).map((v) => v.split(':')[1]);
    for (const name of ['LIENTHONG_CONFIG', 'HASH_KEY_FILE', 'SIGNING_CERT_FILE', 'SIGNING_KEY_FILE']) expect(mounted, name).toContain(env[name]);
  });

  it('mounts the trust roots and CRLs the production example names, and the example has every setting production requires', () => {
    const mounts = (gateways[0]![1].volumes ?? []).map((v) => v.split(':')[1]!);
    const config = loadConfig({ NODE_ENV: 'production' }, { file: 'config/production.example.yaml' });
    expect(productionProblems(config, adapterModules)).toEqual([]);
    const files = [...(config.trust.roots ?? []), ...(config.trust.intermediates ?? []), ...(config.trust.crls ?? [])];
    const volumes = (gateways[0]![1].volumes ?? []).map((v) => v.split(':')[1]!);
    for (const file of [config.audit.signer?.certificateFile, config.audit.signer?.keyFile]) expect(volumes, `audit.signer ${file}`).toContain(file);
    expect(config.trust.crls?.length).toBeGreaterThan(0);
    for (const file of files) expect(mounts.some((m) => file.startsWith(`${m}/`)), file).toBe(true);
    expect(gateways[0]![1].environment!.LIENTHONG_CONFIG).toBe('/etc/lienthong/lienthong.yaml');
  });

  it('states the hash key format the gateway accepts', () => {
    const header = readFileSync('compose.yaml', 'utf8');
    const command = /`(openssl rand [^`>]+)> secrets\/hash-key`/.exec(header)?.[1];
    expect(command).toBeDefined();
    const dir = mkdtempSync(join(tmpdir(), 'lienthong-hash-key-'));
    writeFileSync(join(dir, 'hash-key'), execSync(command!));
    expect(loadHashKey(join(dir, 'hash-key'), { create: false }).length).toBeGreaterThanOrEqual(32);
    // What "32 random bytes" alone suggests, raw, is refused: the header says so.
    writeFileSync(join(dir, 'raw'), randomBytes(32));
    expect(() => loadHashKey(join(dir, 'raw'), { create: false })).toThrow(/at least 32 bytes \(hex or base64\)/);
    expect(header).toMatch(/raw binary is\s*#?\s*refused/);
  });
});
