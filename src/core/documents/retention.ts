import type { DocumentStore } from './port.ts';

/**
 * Retention (plan 128/KH-UBND section IV): once a document's retention period has ended its
 * content is destroyed by deleting its key and its bytes; the metadata, SHA-256 and signature
 * facts stay, so the record of what was issued still verifies. A document on legal hold is kept
 * whatever its period says.
 */

export interface PurgeResult {
  /** Codes destroyed now (or, with dryRun, that would be). */
  destroyed: string[];
  /** Codes listed as due that the store refused (put on legal hold, or destroyed by another process, meanwhile). */
  refused: string[];
}

export interface PurgeOptions {
  /** Codes asked for per query: a purge of many documents never holds them all at once. */
  batchSize?: number;
  /** List what is due without destroying anything. */
  dryRun?: boolean;
}

const DEFAULT_BATCH = 200;

/**
 * Every code due by `now`, for a dry run. Nothing is destroyed between queries, so the same first
 * codes would come back page after page: the limit is doubled until a query answers fewer codes
 * than it asked for (the store's own default limit would cut the list short).
 */
async function listDue(store: DocumentStore, now: Date, batchSize: number): Promise<string[]> {
  for (let limit = batchSize; ; limit *= 2) {
    const due = await store.dueForDestruction(now, limit);
    if (due.length < limit) return due;
  }
}

/**
 * Destroys the content of every document whose retention ended by `now` and that is not on legal
 * hold, one batch at a time. A code the store refuses is not asked for again; the run ends when a
 * query lists no code it has not seen (every query asks for a batch beyond those refused, so
 * the documents listed after refused ones are reached too).
 */
export async function purgeDue(store: DocumentStore, now: Date, options: PurgeOptions = {}): Promise<PurgeResult> {
  const batchSize = options.batchSize ?? DEFAULT_BATCH;
  if (options.dryRun) return { destroyed: await listDue(store, now, batchSize), refused: [] };
  const destroyed: string[] = [];
  const refused = new Set<string>();
  for (;;) {
    const due = (await store.dueForDestruction(now, batchSize + refused.size)).filter((code) => !refused.has(code));
    if (due.length === 0) break;
    for (const code of due) {
      if (await store.destroy(code, now)) {
        destroyed.push(code);
      } else {
        refused.add(code);
      }
    }
  }
  return { destroyed, refused: [...refused] };
}
