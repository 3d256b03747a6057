import { parseArgs } from 'node:util';
import { periodStart, PERIOD_PATTERN, purgeBodies } from '../audit/bodies.ts';
import { loadConfig } from '../config/load.ts';
import { openStore } from '../store/store.ts';
import { AuditUsageError } from './audit.ts';

export const PURGE_USAGE = `  audit purge --before YYYY-MM [--force] [--config FILE]
                                 delete the body keys and encrypted bodies of every period
                                 before YYYY-MM; periods that end within audit.bodies.retentionDays
                                 are refused unless --force. The exchange log is not touched.
`;

const DAY_MS = 86_400_000;

/** Whether every period before `before` ended at least `retentionDays` ago. */
export function outsideRetention(before: string, retentionDays: number, now: Date): boolean {
  return periodStart(before).getTime() <= now.getTime() - retentionDays * DAY_MS;
}

/** Runs `lienthong audit purge ...`; returns the exit code. */
export async function runPurge(args: string[], env: NodeJS.ProcessEnv, out: (line: string) => void, now: Date = new Date()): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { before: { type: 'string' }, force: { type: 'boolean', default: false }, config: { type: 'string' } },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length > 0) throw new AuditUsageError(`audit purge takes no arguments besides options, got "${positionals.join(' ')}"`);
  const before = values.before;
  if (!before || !PERIOD_PATTERN.test(before)) throw new AuditUsageError('audit purge needs --before YYYY-MM (the first period kept)');
  const config = loadConfig(env, { file: values.config });
  const { retentionDays } = config.audit.bodies;
  if (!values.force && !outsideRetention(before, retentionDays, now)) {
    throw new AuditUsageError(`periods before ${before} are not all older than the retention of ${retentionDays} days (audit.bodies.retentionDays); add --force to purge them anyway`);
  }
  const store = await openStore({ url: config.database.url, sqlitePath: config.database.sqlitePath });
  try {
    const result = await purgeBodies(store.db, before);
    out(
      result.periods.length === 0
        ? `${store.location}: no body keys or bodies before ${before}`
        : `${store.location}: deleted the keys and ${result.bodies} exchange bodies of ${result.periods.join(', ')}; the exchange log is untouched`,
    );
    return 0;
  } finally {
    await store.close();
  }
}
