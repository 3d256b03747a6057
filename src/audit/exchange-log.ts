import type { Kysely } from 'kysely';
import type { ExchangeRecord, ExchangeRecorder } from '../core/exchanges.ts';
import { createKeyedDigest, type KeyedDigest } from '../signing/attestation.ts';
import type { Database } from '../store/schema.ts';
import type { SealedBody } from './bodies.ts';
import { exchangeLeaf, leafText, type ExchangeLeaf } from './leaf.ts';

/** The request path's side of the exchange log: make a leaf durable, nothing more. */
export interface ExchangeLog {
  /**
   * Resolves once the leaf is committed to the queue; the integrator appends it to the tree later.
   * With `body` (sealed by the body vault), the leaf and the body are committed in one transaction:
   * both or neither.
   */
  enqueue(leaf: ExchangeLeaf, body?: SealedBody): Promise<void>;
  /**
   * The keyed digest leaves hold for request and response bodies (format 2): HMAC-SHA-256 under
   * a key derived from the privacy key, so an exported leaf cannot be reversed by trying ID numbers.
   */
  readonly digest: KeyedDigest;
}

type QueueRow = { exchange_id: string; leaf: string; enqueued_at: string };

interface Waiting {
  row: QueueRow;
  resolve(): void;
  reject(err: unknown): void;
}

/** Rows per INSERT: well under SQLite's and PostgreSQL's bound-parameter limits (3 per row). */
const MAX_GROUP = 500;

/** `masterKey`: the privacy key (`privacy.hashKeyFile`), from which the digest key is derived. */
export function createExchangeLog(deps: { db: Kysely<Database>; masterKey: Buffer }): ExchangeLog {
  const digest = createKeyedDigest(deps.masterKey, 'exchange-bodies');
  // Group commit: leaves enqueued while the event loop is busy are inserted together, one
  // statement and one commit for all of them, once the current turn of the loop ends. Each
  // caller still waits for its own leaf to be committed.
  const waiting: Waiting[] = [];

  const insert = (rows: QueueRow[]) => deps.db.insertInto('exchange_queue').values(rows).execute();

  async function flush(): Promise<void> {
    const group = waiting.splice(0, MAX_GROUP);
    if (waiting.length > 0) setImmediate(() => void flush());
    try {
      await insert(group.map((w) => w.row));
      for (const w of group) w.resolve();
    } catch {
      // One bad row must not fail the others: each on its own, with its own outcome.
      await Promise.all(
        group.map((w) =>
          insert([w.row]).then(
            () => w.resolve(),
            (err: unknown) => w.reject(err),
          ),
        ),
      );
    }
  }

  async function enqueue(leaf: ExchangeLeaf, body?: SealedBody): Promise<void> {
    const row = { exchange_id: leaf.id, leaf: leafText(leaf), enqueued_at: new Date().toISOString() };
    if (!body) {
      return new Promise<void>((resolve, reject) => {
        if (waiting.push({ row, resolve, reject }) === 1) setImmediate(() => void flush());
      });
    }
    if (body.exchange_id !== leaf.id) throw new Error(`the body is of exchange ${body.exchange_id}, the leaf of ${leaf.id}`);
    await deps.db.transaction().execute(async (trx) => {
      await trx.insertInto('exchange_queue').values(row).execute();
      await trx.insertInto('exchange_bodies').values(body).execute();
    });
  }

  return { digest, enqueue };
}

/** Writes exchanges to the exchange log. */
export interface ExchangeLogRecorder extends ExchangeRecorder {
  /** With `body` (sealed by the body vault), the leaf and the body are committed together. */
  record(exchange: ExchangeRecord, body?: SealedBody): Promise<void>;
}

/**
 * Records exchanges in `log`, each as its leaf built by exchangeLeaf: the one way in for the
 * request path and for the outbox's delivery attempts.
 */
export function exchangeRecorder(log: ExchangeLog): ExchangeLogRecorder {
  return { record: (exchange, body) => log.enqueue(exchangeLeaf(exchange, log.digest), body) };
}
