import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { createOpensslCa } from '../../test/helpers/openssl-pki.ts';
import { isGatewayError } from '../errors/gateway-error.ts';
import { createLogger } from '../logging.ts';
import { createMetrics } from '../metrics.ts';
import { createCrlReloader } from './crl-reload.ts';
import { createTrustStore, readCertificates, type CrlStatus } from './trust-store.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const work = mkdtempSync(join(tmpdir(), 'lienthong-crl-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
afterEach(() => vi.useRealTimers());

const ca = createOpensslCa(join(work, 'ca'), 'Test national root');
const stranger = createOpensslCa(join(work, 'stranger'), 'Test national root');
const peer = ca.issue('peer', 'population.test.gov.vn');
const peerCertificate = readCertificates(peer.certificateFile)[0]!;

function outcome(fn: () => void): string {
  try {
    fn();
    return 'OK';
  } catch (err) {
    if (isGatewayError(err)) return `${err.code}: ${err.detail ?? ''}`;
    throw err;
  }
}

/** A trust store built from `file`, its reloader on an injected clock, and what they reported. */
function setUp(file: string) {
  const lines: string[] = [];
  const log = createLogger({ level: 'info' }, new Writable({ write: (chunk: Buffer, _e, done) => (lines.push(chunk.toString()), done()) }));
  const trust = createTrustStore({ roots: readCertificates(ca.certificateFile), crls: [readFileSync(file)] });
  const heard: CrlStatus[] = [];
  let now = Date.now();
  const reloader = createCrlReloader({ trust, log, onCrl: (crl) => heard.push(crl) }, { files: [file], marginMs: HOUR, now: () => now });
  reloader.check();
  return { trust, reloader, heard, lines, advance: (ms: number) => (now += ms), at: () => new Date(now) };
}

describe('CRL reload', () => {
  it('refuses a certificate revoked after start once the CRL file holds the new list, without a restart', () => {
    const file = ca.crl(join(work, 'revocation.crl.pem'));
    const { trust, reloader, heard, lines } = setUp(file);
    expect(outcome(() => trust.verify(peerCertificate, { expectedName: 'population.test.gov.vn' }))).toBe('OK');

    ca.revoke(peer.certificateFile);
    ca.crl(file, { thisUpdate: new Date(Date.now() - MINUTE), nextUpdate: new Date(Date.now() + 14 * 24 * HOUR) });
    // The earlier answer is remembered; the reload must not let it stand.
    expect(outcome(() => trust.verify(peerCertificate, { expectedName: 'population.test.gov.vn' }))).toBe('OK');
    reloader.check();

    expect(outcome(() => trust.verify(peerCertificate, { expectedName: 'population.test.gov.vn' }))).toMatch(/^UPSTREAM_CERT_REVOKED/);
    expect(heard.map((c) => c.revoked)).toEqual([0, 1]);
    expect(heard[1]!.issuer).toBe('Test national root');
    expect(heard[1]!.nextUpdate!.getTime()).toBeGreaterThan(Date.now() + 13 * 24 * HOUR);
    expect(lines.some((l) => l.includes('CRL reloaded'))).toBe(true);
    expect(trust.crls()).toHaveLength(1);
  });

  it('puts a renewed CRL in use before the old one runs out, even when the copy keeps the file date and size', () => {
    const other = ca.issue('other', 'tax.test.gov.vn');
    const certificate = readCertificates(other.certificateFile)[0]!;
    const file = join(work, 'due.crl.pem');
    const renewed = join(work, 'due-renewed.crl.pem');
    ca.crl(file, { thisUpdate: new Date(Date.now() - 2 * HOUR), nextUpdate: new Date(Date.now() + 3 * HOUR) });
    ca.crl(renewed, { thisUpdate: new Date(Date.now() - HOUR), nextUpdate: new Date(Date.now() + 3 * 24 * HOUR) });
    // Whole seconds, so that setting the date again gives the very same modification time.
    const date = Math.floor(Date.now() / 1000) - 600;
    utimesSync(file, date, date);
    const { trust, reloader, heard, lines, advance, at } = setUp(file);
    const before = statSync(file);
    copyFileSync(renewed, file);
    utimesSync(file, date, date);
    expect(statSync(file)).toMatchObject({ size: before.size, mtimeMs: before.mtimeMs });

    // Far from nextUpdate an unchanged-looking file is not read again.
    reloader.check();
    expect(heard).toHaveLength(1);
    // Within the margin it is, and the renewed CRL carries the gateway past the old nextUpdate.
    advance(2 * HOUR + 30 * MINUTE);
    reloader.check();
    expect(heard).toHaveLength(2);
    advance(HOUR);
    expect(outcome(() => trust.verify(certificate, { at: at() }))).toBe('OK');
    expect(lines.some((l) => l.includes('due for replacement'))).toBe(false);
  });

  it('warns while a CRL is due and refuses certificates once it is out of date, until a newer one arrives', () => {
    const other = ca.issue('late', 'dvcqg.test.gov.vn');
    const certificate = readCertificates(other.certificateFile)[0]!;
    const file = ca.crl(join(work, 'late.crl.pem'), { thisUpdate: new Date(Date.now() - HOUR), nextUpdate: new Date(Date.now() + 30 * MINUTE) });
    const { trust, reloader, lines, advance, at } = setUp(file);
    expect(lines.filter((l) => l.includes('due for replacement'))).toHaveLength(1);
    advance(HOUR);
    reloader.check();
    reloader.check();
    expect(lines.filter((l) => l.includes('out of date'))).toHaveLength(1);
    expect(outcome(() => trust.verify(certificate, { at: at() }))).toMatch(/^UPSTREAM_CERT_UNTRUSTED: the CRL of "Test national root" is out of date/);

    ca.crl(file);
    reloader.check();
    expect(outcome(() => trust.verify(certificate, { at: at() }))).toBe('OK');
  });

  it('keeps the CRL in use when the file holds an older CRL, one from another CA, or garbage', () => {
    const older = ca.crl(join(work, 'older.crl.pem'), { thisUpdate: new Date(Date.now() - 5 * HOUR), nextUpdate: new Date(Date.now() + 24 * HOUR) });
    const foreign = stranger.crl(join(work, 'foreign.crl.pem'));
    const file = ca.crl(join(work, 'kept.crl.pem'), { thisUpdate: new Date(Date.now() - HOUR), nextUpdate: new Date(Date.now() + 7 * 24 * HOUR) });
    const { trust, reloader, heard, lines } = setUp(file);
    const inUse = trust.crls()[0]!;
    for (const replacement of [older, foreign]) {
      copyFileSync(replacement, file);
      reloader.check();
      expect(trust.crls()).toEqual([inUse]);
    }
    expect(lines.some((l) => l.includes('is older than the one in use'))).toBe(true);
    expect(lines.some((l) => l.includes('not signed by any trusted CA'))).toBe(true);
    rmSync(file);
    reloader.check();
    expect(lines.some((l) => l.includes('cannot be read'))).toBe(true);
    expect(trust.crls()).toEqual([inUse]);
    expect(heard).toHaveLength(1);
  });

  it('looks at the files on its own once started, and feeds the next-update metric', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'Date'] });
    const file = ca.crl(join(work, 'timed.crl.pem'));
    const trust = createTrustStore({ roots: readCertificates(ca.certificateFile), crls: [readFileSync(file)] });
    const metrics = createMetrics({ defaultMetrics: false });
    const reloader = createCrlReloader(
      { trust, log: createLogger({ level: 'silent' }), onCrl: (crl) => metrics.crlNextUpdate.set({ issuer: crl.issuer }, Math.floor(crl.nextUpdate!.getTime() / 1000)) },
      { files: [file], intervalMs: MINUTE },
    );
    reloader.check();
    reloader.start();
    const next = new Date(Date.now() + 30 * 24 * HOUR);
    ca.crl(file, { thisUpdate: new Date(), nextUpdate: next });
    vi.advanceTimersByTime(MINUTE);
    reloader.stop();
    const text = await metrics.registry.metrics();
    expect(text).toContain(`lienthong_crl_next_update_timestamp_seconds{issuer="Test national root"} ${Math.floor(next.getTime() / 1000)}`);
  });
});
