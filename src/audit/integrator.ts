import { sql, type Kysely } from 'kysely';
import type { Logger } from '../logging.ts';
import type { Database } from '../store/schema.ts';
import type { Dialect } from '../store/database.ts';
import { MerkleAccumulator, leafHash, type MerkleNode } from './merkle.ts';
import { leafSubjects } from './leaf.ts';

/** C2SP checkpoint text (tlog-checkpoint): origin, tree size, base64 root, each on its own line. */
export function checkpointText(origin: string, treeSize: number, root: Buffer): string {
  return `${origin}\n${treeSize}\n${root.toString('base64')}\n`;
}

export interface IntegratorDeps {
  db: Kysely<Database>;
  dialect: Dialect;
  log: Logger;
  /** Detached CMS signature (DER) of a checkpoint text, with the gateway certificate. */
  signCheckpoint(body: string): Promise<Buffer>;
  /** The log's note signature line(s) over a checkpoint text (src/audit/note.ts `logNoteSigner`); stored as the checkpoint's signed note. */
  signNote?: ((body: string) => string) | undefined;
  /** An RFC 3161 TimeStampResp (DER) for the checkpoint text; absent when no TSA is configured. */
  timestamp?: ((body: string) => Promise<Buffer>) | undefined;
  onTimestampLag?: ((seconds: number) => void) | undefined;
  onCheckpoint?: ((treeSize: number) => void) | undefined;
  /** A checkpoint got its timestamp. */
  onTimestamped?: ((treeSize: number) => void) | undefined;
}

export interface IntegratorOptions {
  origin: string;
  intervalMs: number;
  batchSize: number;
  /** A checkpoint is timestamped at least this often while entries arrive. */
  timestampEveryMs: number;
}

export interface Integrator {
  /** Appends what is queued (in batches) and signs a checkpoint; returns how many entries were appended. */
  runOnce(): Promise<number>;
  start(): void;
  stop(): Promise<void>;
  /** Seconds since the newest entry was first covered by a timestamped checkpoint lagged behind (0 when up to date). */
  timestampLagSeconds(): number;
}

/**
 * Arbitrary, fixed: with the schema's name, the PostgreSQL advisory lock that lets exactly one
 * process integrate a log. Advisory locks are per database, so the schema is part of the key:
 * installations in other schemas of the same database integrate their own logs meanwhile.
 */
const LOCK_CLASS = 714_205_201;
const CHUNK = 400;

/** exchange_subjects rows have two columns: more of them fit one statement. */
const SUBJECT_CHUNK = 2000;

async function insertChunks<T>(rows: T[], insert: (chunk: T[]) => Promise<unknown>, size = CHUNK): Promise<void> {
  for (let i = 0; i < rows.length; i += size) await insert(rows.slice(i, i + size));
}

/** The exchange_entries row of a leaf: its text and hash, and the columns auditors filter on. */
export function entryRow(index: number, exchangeId: string, text: string, hash: Buffer, parsed: unknown = JSON.parse(text)) {
  const leaf = parsed as { time: string; client: string; operation: string; upstream: string | null; outcome: string; subjectHash: string | null };
  return {
    idx: index,
    exchange_id: exchangeId,
    leaf: text,
    leaf_hash: hash.toString('hex'),
    time: leaf.time,
    client: leaf.client,
    operation: leaf.operation,
    upstream: leaf.upstream,
    outcome: leaf.outcome,
    subject_hash: leaf.subjectHash,
  };
}

/**
 * The integrator: the only writer of the Merkle tree. It moves queued leaves into the log in one
 * transaction per batch (entries, new tree nodes, the new frontier, the queue rows removed), so a
 * crash at any point leaves either the whole batch or none of it, and indexes without gaps.
 */
export function createIntegrator(deps: IntegratorDeps, options: IntegratorOptions): Integrator {
  const { db, log } = deps;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> = Promise.resolve();
  let stopped = false;
  let lastTimestampAt = 0;
  let oldestUntimestamped: number | undefined;

  async function appendBatch(): Promise<{ appended: number; size: number; root: Buffer } | undefined> {
    return db.transaction().execute(async (trx) => {
      if (deps.dialect === 'postgres') {
        const { rows } = await sql<{ locked: boolean }>`select pg_try_advisory_xact_lock(${LOCK_CLASS}, hashtext(current_schema())) as locked`.execute(trx);
        if (!rows[0]?.locked) return undefined; // another process is integrating
      }
      const state = await trx.selectFrom('exchange_log_state').selectAll().where('id', '=', 1).executeTakeFirst();
      const accumulator = state ? MerkleAccumulator.fromJSON(JSON.parse(state.frontier)) : new MerkleAccumulator();
      const queued = await trx.selectFrom('exchange_queue').select(['seq', 'exchange_id', 'leaf']).orderBy('seq').limit(options.batchSize).execute();
      if (queued.length === 0) return { appended: 0, size: accumulator.size, root: accumulator.root() };
      const entries = [];
      const subjects: { idx: number; subject_hash: string }[] = [];
      const nodes: MerkleNode[] = [];
      for (const row of queued) {
        const hash = leafHash(Buffer.from(row.leaf, 'utf8'));
        const index = accumulator.size;
        // Level 0 lives in exchange_entries; only inner nodes go to merkle_nodes.
        for (const node of accumulator.append(hash)) if (node.level > 0) nodes.push(node);
        const leaf = JSON.parse(row.leaf) as Record<string, unknown>;
        entries.push(entryRow(index, row.exchange_id, row.leaf, hash, leaf));
        for (const subject of leafSubjects(leaf)) subjects.push({ idx: index, subject_hash: subject });
      }
      await insertChunks(entries, (chunk) => trx.insertInto('exchange_entries').values(chunk).execute());
      // Every subject of each entry, in the same transaction: a search by any identifier finds it.
      // In key order: the b-tree takes them page by page rather than at random places.
      subjects.sort((a, b) => (a.subject_hash < b.subject_hash ? -1 : a.subject_hash > b.subject_hash ? 1 : a.idx - b.idx));
      await insertChunks(subjects, (chunk) => trx.insertInto('exchange_subjects').values(chunk).execute(), SUBJECT_CHUNK);
      await insertChunks(
        nodes.map((n) => ({ level: n.level, idx: n.index, hash: n.hash.toString('hex') })),
        (chunk) => trx.insertInto('merkle_nodes').values(chunk).execute(),
      );
      // Exactly the rows read: on PostgreSQL a lower seq can commit after a higher one, so
      // "everything up to the last seq" could delete a leaf this batch never saw.
      await insertChunks(queued.map((q) => q.seq), (seqs) => trx.deleteFrom('exchange_queue').where('seq', 'in', seqs).execute());
      const frontier = JSON.stringify(accumulator.toJSON());
      const now = new Date().toISOString();
      if (state) await trx.updateTable('exchange_log_state').set({ tree_size: accumulator.size, frontier, updated_at: now }).where('id', '=', 1).execute();
      else await trx.insertInto('exchange_log_state').values({ id: 1, tree_size: accumulator.size, frontier, updated_at: now }).execute();
      return { appended: queued.length, size: accumulator.size, root: accumulator.root() };
    });
  }

  async function checkpoint(size: number, root: Buffer): Promise<void> {
    const existing = await db.selectFrom('checkpoints').select(['tree_size', 'timestamp_reply']).orderBy('tree_size', 'desc').limit(1).executeTakeFirst();
    const body = checkpointText(options.origin, size, root);
    if (!existing || existing.tree_size < size) {
      const signature = await deps.signCheckpoint(body);
      const note = deps.signNote ? `${body}\n${deps.signNote(body)}` : null;
      await db
        .insertInto('checkpoints')
        .values({ tree_size: size, root_hash: root.toString('hex'), body, signature: signature.toString('base64'), signed_at: new Date().toISOString(), timestamp_reply: null, timestamped_at: null, note })
        .onConflict((oc) => oc.column('tree_size').doNothing())
        .execute();
      oldestUntimestamped ??= Date.now();
      deps.onCheckpoint?.(size);
    } else if (existing.timestamp_reply) {
      return;
    }
    if (!deps.timestamp || Date.now() - lastTimestampAt < options.timestampEveryMs) return;
    try {
      const reply = await deps.timestamp(body);
      await db.updateTable('checkpoints').set({ timestamp_reply: reply.toString('base64'), timestamped_at: new Date().toISOString() }).where('tree_size', '=', size).execute();
      lastTimestampAt = Date.now();
      oldestUntimestamped = undefined;
      deps.onTimestamped?.(size);
    } catch (err) {
      // Logging goes on without the TSA; the lag is visible in metrics and /readyz.
      log.warn({ err: (err as Error).message }, 'checkpoint timestamp failed');
    }
    deps.onTimestampLag?.(lagSeconds());
  }

  const lagSeconds = () => (oldestUntimestamped === undefined ? 0 : Math.round((Date.now() - oldestUntimestamped) / 1000));

  async function runOnce(): Promise<number> {
    let total = 0;
    for (;;) {
      const batch = await appendBatch();
      if (!batch) return total;
      total += batch.appended;
      if (batch.size > 0) await checkpoint(batch.size, batch.root);
      if (batch.appended < options.batchSize) return total;
    }
  }

  /** Runs never overlap: each waits for the one before, scheduled or asked for. */
  function serialised(): Promise<number> {
    const next = running.then(runOnce, runOnce);
    running = next.catch(() => undefined);
    return next;
  }

  function schedule(): void {
    if (stopped) return;
    timer = setTimeout(() => {
      serialised()
        .catch((err: unknown) => log.error({ err }, 'exchange log integration failed'))
        .finally(schedule);
    }, options.intervalMs);
    timer.unref();
  }

  return {
    runOnce: serialised,
    start() {
      stopped = false;
      schedule();
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
    timestampLagSeconds: lagSeconds,
  };
}
