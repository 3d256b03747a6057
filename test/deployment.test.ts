import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { ENVIRONMENT_VARIABLES, loadConfig } from '../src/config/load.ts';

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
});
