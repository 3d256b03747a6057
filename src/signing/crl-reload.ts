import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import type { Logger } from '../logging.ts';
import type { CrlStatus, TrustStore } from './trust-store.ts';

export interface CrlReloadOptions {
  /** The CRL files the trust store was built from (PEM or DER), kept current by the operator. */
  files: readonly string[];
  /** How often the files are looked at. */
  intervalMs?: number;
  /**
   * From how long before a CRL's nextUpdate its file is read on every look, even when it seems
   * unchanged (a copy that keeps the modification time still counts).
   */
  marginMs?: number;
  now?: () => number;
}

/** Keeps a trust store's CRLs current from their files, without a restart. */
export interface CrlReloader {
  /** Looks at every file once: a changed or due file is read, and a newer CRL put in use. */
  check(): void;
  start(): void;
  stop(): void;
}

interface Seen {
  mtimeMs: number;
  size: number;
  digest: string;
  crl: CrlStatus | undefined;
  /** The last warning given for this file, so one condition is logged once. */
  warned: string;
}

/**
 * Watches the CRL files: a file replaced by a newer CRL is put in use at the next look; a CRL
 * that is not signed by a trusted CA, cannot be read, or is older than the one in use is
 * refused and the previous one kept. `onCrl` hears of every CRL in use (for the
 * next-update metric), first at the first check.
 */
export function createCrlReloader(deps: { trust: TrustStore; log: Logger; onCrl?: (crl: CrlStatus) => void }, options: CrlReloadOptions): CrlReloader {
  const intervalMs = options.intervalMs ?? 60_000;
  const marginMs = options.marginMs ?? 6 * 3600_000;
  const now = options.now ?? Date.now;
  const seen = new Map<string, Seen>();
  let timer: NodeJS.Timeout | undefined;

  const warnOnce = (file: string, entry: Seen, level: 'warn' | 'error', message: string, details: Record<string, unknown> = {}) => {
    const key = `${message} ${String(details.err ?? '')}`;
    if (entry.warned === key) return;
    entry.warned = key;
    deps.log[level]({ file, ...details }, message);
  };

  function look(file: string): void {
    const entry = seen.get(file) ?? { mtimeMs: -1, size: -1, digest: '', crl: undefined, warned: '' };
    seen.set(file, entry);
    let stat: { mtimeMs: number; size: number };
    try {
      stat = statSync(file);
    } catch (err) {
      warnOnce(file, entry, 'error', 'the CRL file cannot be read; the CRL in use is kept', { err: (err as Error).message });
      return;
    }
    const due = entry.crl?.nextUpdate !== undefined && entry.crl.nextUpdate.getTime() - marginMs <= now();
    if (stat.mtimeMs !== entry.mtimeMs || stat.size !== entry.size || due) {
      entry.mtimeMs = stat.mtimeMs;
      entry.size = stat.size;
      let data: Buffer;
      try {
        data = readFileSync(file);
      } catch (err) {
        warnOnce(file, entry, 'error', 'the CRL file cannot be read; the CRL in use is kept', { err: (err as Error).message });
        return;
      }
      const digest = createHash('sha256').update(data).digest('hex');
      if (digest !== entry.digest) {
        entry.digest = digest;
        try {
          const previous = entry.crl;
          entry.crl = deps.trust.replaceCrl(data);
          entry.warned = '';
          deps.onCrl?.(entry.crl);
          if (previous) deps.log.info({ file, issuer: entry.crl.issuer, thisUpdate: entry.crl.thisUpdate, nextUpdate: entry.crl.nextUpdate, revoked: entry.crl.revoked }, 'CRL reloaded');
        } catch (err) {
          warnOnce(file, entry, 'error', 'the new CRL file is refused; the CRL in use is kept', { err: (err as Error).message });
          return;
        }
      }
    }
    const next = entry.crl?.nextUpdate;
    if (next && next.getTime() <= now()) {
      warnOnce(file, entry, 'error', 'the CRL is out of date: certificates of its CA are refused until the file holds a newer one', { issuer: entry.crl!.issuer, nextUpdate: next });
    } else if (next && next.getTime() - marginMs <= now()) {
      warnOnce(file, entry, 'warn', 'the CRL is due for replacement', { issuer: entry.crl!.issuer, nextUpdate: next });
    }
  }

  const check = () => {
    for (const file of options.files) look(file);
  };
  return {
    check,
    start() {
      if (timer) return;
      timer = setInterval(check, intervalMs);
      timer.unref();
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
  };
}
