import type { Kysely, Transaction } from 'kysely';
import type { IdempotentWrite, StoredAnswer } from '../core/idempotency.ts';
import { GatewayError } from '../errors/gateway-error.ts';
import type { Database } from './schema.ts';
import { isBusy, isUniqueViolation } from './unique.ts';

const ATTEMPTS = 10;

/**
 * Runs a write in one transaction and keeps its answer under the client's Idempotency-Key in that
 * same transaction: the write and the key are committed together or not at all. The same key
 * with the same request gets the kept answer again; with another request, 422
 * IDEMPOTENCY_KEY_REUSED. When a concurrent writer wins (a unique constraint on the key or on the
 * rows the write inserts, or a refusal decided against the state the winner left), the loser
 * looks again: it answers with the key's kept answer, or runs again against the winner's state.
 * Only accepted answers are kept; a refusal is decided again. `check` runs once, after the key
 * is found to hold no answer and before the transaction.
 */
export async function idempotent(db: Kysely<Database>, write: IdempotentWrite, work: (trx: Transaction<Database>) => Promise<StoredAnswer>, check?: () => Promise<void>): Promise<StoredAnswer> {
  const keptAnswer = async (): Promise<StoredAnswer | undefined> => {
    if (write.key === undefined) return undefined;
    const kept = await db
      .selectFrom('idempotency_keys')
      .selectAll()
      .where('client_id', '=', write.clientId)
      .where('key', '=', write.key)
      .executeTakeFirst();
    if (!kept) return undefined;
    if (kept.request_hash !== write.requestHash || kept.operation !== write.operation) {
      throw new GatewayError('IDEMPOTENCY_KEY_REUSED', {
        detail: 'this Idempotency-Key was already used with a different request',
        errors: [{ field: 'header.idempotency-key', message: 'already used with a different request' }],
      });
    }
    return { status: kept.status, body: JSON.parse(kept.response) as unknown };
  };
  for (let attempt = 1; ; attempt++) {
    const before = await keptAnswer();
    if (before) return before;
    // Checks against other systems, outside the transaction: only for a request not answered yet.
    if (attempt === 1) await check?.();
    try {
      return await db.transaction().execute(async (trx) => {
        const answer = await work(trx);
        if (write.key !== undefined) {
          await trx
            .insertInto('idempotency_keys')
            .values({
              client_id: write.clientId,
              key: write.key,
              operation: write.operation,
              request_hash: write.requestHash,
              status: answer.status,
              response: JSON.stringify(answer.body),
              created_at: new Date().toISOString(),
            })
            .execute();
        }
        return answer;
      });
    } catch (err) {
      // A concurrent request with the same key may have committed while this one waited for the
      // dossier's lock, and this one was then refused against the state the other left: the
      // answer is the other's.
      const after = await keptAnswer();
      if (after) return after;
      if (!(isUniqueViolation(err) || isBusy(err)) || attempt >= ATTEMPTS) throw err;
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * attempt));
    }
  }
}
