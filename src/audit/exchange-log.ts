import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';
import type { SealedBody } from './bodies.ts';
import { leafText, type ExchangeLeaf } from './leaf.ts';

/** The request path's side of the exchange log: make a leaf durable, nothing more. */
export interface ExchangeLog {
  /**
   * Resolves once the leaf is committed to the queue; the integrator appends it to the tree later.
   * With `body` (sealed by the body vault), the leaf and the body are committed in one transaction:
   * both or neither.
   */
  enqueue(leaf: ExchangeLeaf, body?: SealedBody): Promise<void>;
}

export function createExchangeLog(deps: { db: Kysely<Database> }): ExchangeLog {
  return {
    async enqueue(leaf, body) {
      const row = { exchange_id: leaf.id, leaf: leafText(leaf), enqueued_at: new Date().toISOString() };
      if (!body) {
        await deps.db.insertInto('exchange_queue').values(row).execute();
        return;
      }
      if (body.exchange_id !== leaf.id) throw new Error(`the body is of exchange ${body.exchange_id}, the leaf of ${leaf.id}`);
      await deps.db.transaction().execute(async (trx) => {
        await trx.insertInto('exchange_queue').values(row).execute();
        await trx.insertInto('exchange_bodies').values(body).execute();
      });
    },
  };
}
