import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';
import { leafText, type ExchangeLeaf } from './leaf.ts';

/** The request path's side of the exchange log: make a leaf durable, nothing more. */
export interface ExchangeLog {
  /** Resolves once the leaf is committed to the queue; the integrator appends it to the tree later. */
  enqueue(leaf: ExchangeLeaf): Promise<void>;
}

export function createExchangeLog(deps: { db: Kysely<Database> }): ExchangeLog {
  return {
    async enqueue(leaf) {
      await deps.db
        .insertInto('exchange_queue')
        .values({ exchange_id: leaf.id, leaf: leafText(leaf), enqueued_at: new Date().toISOString() })
        .execute();
    },
  };
}
