/**
 * Whether a write failed on a UNIQUE or PRIMARY KEY constraint: the way concurrent writers learn
 * that another one got there first (PostgreSQL 23505, SQLite SQLITE_CONSTRAINT_UNIQUE/PRIMARYKEY).
 */
export function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/**
 * Whether SQLite refused a write because another connection holds the database (SQLITE_BUSY,
 * "database is locked"): two deferred transactions that both read and then write cannot both
 * go on, and SQLite fails one at once without waiting. Running it again is the remedy.
 */
export function isBusy(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'SQLITE_BUSY' || code === 'SQLITE_BUSY_SNAPSHOT';
}
