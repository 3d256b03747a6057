import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/load.ts';
import { enterprises } from '../src/sandbox/personas.ts';
import { BIN, run } from './helpers/cli.ts';
import { startTestGateway } from './helpers/gateway.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'lienthong-cli-'));

describe('lienthong: bad configuration stops start-up with exit code 2', () => {
  it('names a bad environment variable', async () => {
    const r = await run(['serve'], { PORT: 'eighty' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('PORT: expected a whole number, got "eighty"');
  });

  it('names a bad setting in the file', async () => {
    const file = join(tmp(), 'bad.yaml');
    writeFileSync(file, 'upstreams:\n  business-registry:\n    timeoutMs: -5\n');
    const r = await run(['serve', '--config', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('upstreams.business-registry.timeoutMs');
  });

  it('names out-of-range resilience policies', async () => {
    const file = join(tmp(), 'bad-policy.yaml');
    writeFileSync(file, 'upstreams:\n  population:\n    concurrency:\n      maxInFlight: 0\n    breaker:\n      errorThresholdPercentage: 120\n');
    const r = await run(['serve', '--config', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('upstreams.population.concurrency.maxInFlight: at least 1');
    expect(r.stderr).toContain('upstreams.population.breaker.errorThresholdPercentage: a percentage from 1 to 100');
  });

  it('refuses the sandbox and its sample keys in production', async () => {
    const r = await run(['serve', '--config', 'config/sandbox.yaml'], { NODE_ENV: 'production' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/sandbox keys are refused when NODE_ENV=production/);
  });

  it('answers an unknown command or option with usage and exit code 2', async () => {
    const unknown = await run(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('Usage: lienthong');
    expect((await run(['serve', '--colour'])).code).toBe(2);
    expect((await run(['--help'])).code).toBe(0);
  });
});

describe('lienthong clients add', () => {
  it('stores only a hash, prints the key once, and the gateway then accepts it', async () => {
    const dir = tmp();
    const file = join(dir, 'lienthong.yaml');
    writeFileSync(file, '# Mộc Châu one-stop desk\npurposes:\n  - code: XAC_MINH_DANH_TINH\n    description: identity checks\n');
    const r = await run(['clients', 'add', '--id', 'moc-chau-desk', '--agency', 'H52.101.114', '--roles', 'agency', '--name', 'Bộ phận một cửa Mộc Châu', '--config', file]);
    expect(r.code, r.stderr).toBe(0);
    const key = r.stdout.trim().split('\n').pop()!;
    expect(key).toMatch(/^lt_[A-Za-z0-9_-]{43}$/);
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain(key);
    expect(text).toContain('# Mộc Châu one-stop desk'); // comments survive
    const config = loadConfig({}, { file });
    expect(config.clients).toEqual([expect.objectContaining({ id: 'moc-chau-desk', agency: 'H52.101.114', roles: ['agency'] })]);

    const again = await run(['clients', 'add', '--id', 'moc-chau-desk', '--agency', 'H52', '--roles', 'agency', '--config', file]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('duplicate client id');
    const badRole = await run(['clients', 'add', '--id', 'other', '--agency', 'H52', '--roles', 'emperor', '--config', file]);
    expect(badRole.code).toBe(2);
    expect(readFileSync(file, 'utf8')).toBe(text); // a refused change leaves the file as it was

    const gw = await startTestGateway({ clients: config.clients });
    try {
      const ok = await gw.fetch(`/v1/enterprises/${enterprises[0]!.enterpriseCode}`, { key });
      expect(ok.status).toBe(200);
      expect((await gw.fetch('/v1/enterprises/5500123457', { key: 'sandbox-portal-key' })).status).toBe(401);
    } finally {
      await gw.close();
    }
  });
});

describe('lienthong serve', () => {
  it('serves the sandbox-wired gateway as npm start does, and stops cleanly on SIGTERM', async () => {
    const dir = tmp();
    const child = spawn(process.execPath, [BIN, 'serve', '--config', 'config/sandbox.yaml'], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', HOST: '127.0.0.1', PORT: '0', TLS_PORT: '0', SANDBOX_PORT: '0', SQLITE_PATH: join(dir, 'g.db'), HASH_KEY_FILE: join(dir, 'hash-key'), LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "gateway listening" line:\n${out}\n${err}`)), 20_000);
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const line = out.split('\n').find((l) => l.includes('"gateway listening"'));
        if (line) {
          clearTimeout(timer);
          resolve((JSON.parse(line) as { url: string }).url);
        }
      });
    });
    const res = await fetch(`${url}/v1/enterprises/${enterprises[0]!.enterpriseCode}`, { headers: { authorization: 'Bearer sandbox-portal-key' } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { name: string }).name).toBe(enterprises[0]!.name);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(out).toContain('"msg":"stopped"');
  });
});
