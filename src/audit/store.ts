import { sql, type Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';
import {
  consistencyProof,
  consistencyProofNodeIds,
  inclusionProof,
  inclusionProofNodeIds,
  nodeGetterFromNodes,
  rangeNodeIds,
  rangeRoot,
  type GetNode,
  type MerkleNode,
  type NodeId,
} from './merkle.ts';

/**
 * Read side of the exchange log, for auditors: checkpoints, entries with filters, and proofs
 * built from the persisted tree (exchange_entries holds level 0, merkle_nodes the levels above).
 * Entries and nodes below a tree size never change once written, so reads need no transaction.
 */

/** A signed checkpoint as stored. */
export interface CheckpointRecord {
  origin: string;
  treeSize: number;
  rootHash: Buffer;
  /** The C2SP checkpoint text, exactly the bytes signed and timestamped. */
  body: string;
  /** Detached CMS signature (DER). */
  signature: Buffer;
  signedAt: string;
  /** RFC 3161 TimeStampResp (DER) over `body`, once the TSA answered. */
  timestampReply: Buffer | null;
  timestampedAt: string | null;
  /** The checkpoint as a C2SP signed note (text, blank line, the log's signature line, witness cosignatures); null for checkpoints signed before notes. */
  note: string | null;
}

/** One leaf of the log: its index, the canonical JSON text hashed, and the leaf hash. */
export interface EntryRecord {
  index: number;
  leaf: string;
  leafHash: Buffer;
}

export interface EntryFilter {
  from: number;
  limit: number;
  operation?: string | undefined;
  upstream?: string | undefined;
  outcome?: string | undefined;
  client?: string | undefined;
  /** Keyed hash (hex) of an identifier of a data subject: entries that list it among their subjects. */
  subjectHash?: string | undefined;
  /** Instants as ISO 8601 UTC with milliseconds (the leaves' own format): since inclusive, until exclusive. */
  since?: string | undefined;
  until?: string | undefined;
}

export interface EntryPage {
  items: EntryRecord[];
  /** Index to continue from; null when nothing further matches. */
  nextFrom: number | null;
}

/** Entries about one subject, newest first: what getSubjectAccesses pages through. */
export interface SubjectEntryFilter {
  /** Keyed hash (hex) of an identifier of the data subject, as exchange_subjects holds it. */
  subjectHash: string;
  /** Only entries with an index below this one; the newest when absent. */
  before?: number | undefined;
  /** Only entries at or after this instant (ISO 8601 UTC with milliseconds, the leaves' format). */
  since?: string | undefined;
  limit: number;
}

export interface SubjectEntryPage {
  /** Newest first. */
  items: EntryRecord[];
  /** The `before` of the next (older) page; null when nothing older matches. */
  nextBefore: number | null;
}

export interface InclusionProofRecord {
  index: number;
  treeSize: number;
  leafHash: Buffer;
  auditPath: Buffer[];
  rootHash: Buffer;
}

export interface ConsistencyProofRecord {
  first: number;
  second: number;
  proof: Buffer[];
  firstRoot: Buffer;
  secondRoot: Buffer;
}

export interface CheckpointSummary {
  treeSize: number;
  timestamped: boolean;
}

export interface AuditStore {
  latestCheckpoint(): Promise<CheckpointRecord | undefined>;
  /** Sizes of the checkpoints with `min ≤ tree size ≤ max`, ascending. */
  checkpointSizes(min: number, max: number): Promise<CheckpointSummary[]>;
  checkpoints(sizes: readonly number[]): Promise<CheckpointRecord[]>;
  /** The smallest timestamped checkpoint with tree size ≥ `min`. */
  firstTimestampedCheckpoint(min: number): Promise<CheckpointRecord | undefined>;
  /** The largest timestamped checkpoint. */
  latestTimestampedCheckpoint(): Promise<CheckpointRecord | undefined>;
  listEntries(filter: EntryFilter): Promise<EntryPage>;
  /** Entries listing a subject among their subjects, newest first (see SubjectEntryFilter). */
  entriesAbout(filter: SubjectEntryFilter): Promise<SubjectEntryPage>;
  entry(index: number): Promise<EntryRecord | undefined>;
  /** Entries [from, to) in index order, read page by page. */
  entries(from: number, to: number): AsyncGenerator<EntryRecord>;
  /** Fetches the given nodes (level 0 = leaf hashes); throws if one is missing. */
  nodes(ids: readonly NodeId[]): Promise<GetNode>;
  /** The proof for a leaf in the tree of `treeSize` leaves; callers check index < treeSize ≤ the tree. */
  inclusionProof(index: number, treeSize: number): Promise<InclusionProofRecord>;
  /** The proof between two sizes with both roots; callers check 1 ≤ first ≤ second ≤ the tree. */
  consistencyProof(first: number, second: number): Promise<ConsistencyProofRecord>;
  /** Per witness, the newest tree size ≤ `max` it cosigned (one size per witness, unordered). */
  latestCosignedSizes(max: number): Promise<number[]>;
  /** The stored cosignatures of the checkpoint of `treeSize`, by witness name. */
  cosignatures(treeSize: number): Promise<CosignatureRecord[]>;
}

/** Largest value the integer columns hold on PostgreSQL: indexes beyond it cannot exist. */
export const MAX_STORED_INDEX = 2_147_483_647;
const PAGE = 1000;
/** Above this many nodes, fetch by index ranges per level instead of one query naming each node. */
const NAMED_NODES_MAX = 256;

type CheckpointRow = Database['checkpoints'];

function toCheckpoint(row: CheckpointRow): CheckpointRecord {
  return {
    origin: row.body.split('\n', 1)[0] ?? '',
    treeSize: Number(row.tree_size),
    rootHash: Buffer.from(row.root_hash, 'hex'),
    body: row.body,
    signature: Buffer.from(row.signature, 'base64'),
    signedAt: row.signed_at,
    timestampReply: row.timestamp_reply ? Buffer.from(row.timestamp_reply, 'base64') : null,
    timestampedAt: row.timestamped_at,
    note: row.note ?? null,
  };
}

/** A witness's cosignature of a checkpoint, as stored. */
export interface CosignatureRecord {
  treeSize: number;
  /** The witness's key name. */
  witness: string;
  /** POSIX seconds. */
  time: number;
  /** The cosignature/v1 signature line, with its newline. */
  line: string;
}

const toEntry = (row: { idx: number; leaf: string; leaf_hash: string }): EntryRecord => ({
  index: Number(row.idx),
  leaf: row.leaf,
  leafHash: Buffer.from(row.leaf_hash, 'hex'),
});

const nodeKey = (level: number, index: number) => `${level}:${index}`;

/** Sorted indexes grouped into runs without big gaps, each fetched with one BETWEEN. */
function clusters(indexes: number[]): [number, number][] {
  const sorted = [...new Set(indexes)].sort((a, b) => a - b);
  const runs: [number, number][] = [];
  for (const i of sorted) {
    const last = runs[runs.length - 1];
    if (last && i - last[1] <= 64) last[1] = i;
    else runs.push([i, i]);
  }
  return runs;
}

export function createAuditStore(deps: { db: Kysely<Database> }): AuditStore {
  const { db } = deps;

  /** One query for a few named nodes: leaves from exchange_entries, inner nodes from merkle_nodes. */
  async function namedNodes(ids: readonly NodeId[]): Promise<MerkleNode[]> {
    const leaves = [...new Set(ids.filter((n) => n.level === 0).map((n) => n.index))];
    const inner = ids.filter((n) => n.level > 0);
    const leafQuery = db
      .selectFrom('exchange_entries')
      .select([sql<number>`0`.as('level'), 'idx', 'leaf_hash as hash'])
      .where('idx', 'in', leaves.length > 0 ? leaves : [-1]);
    const innerQuery = db
      .selectFrom('merkle_nodes')
      .select(['level', 'idx', 'hash'])
      .where((eb) => eb.or(inner.map((n) => eb.and([eb('level', '=', n.level), eb('idx', '=', n.index)]))));
    const query = leaves.length === 0 ? innerQuery : inner.length === 0 ? leafQuery : leafQuery.unionAll(innerQuery);
    const rows = await query.execute();
    return rows.map((r) => ({ level: Number(r.level), index: Number(r.idx), hash: Buffer.from(r.hash, 'hex') }));
  }

  /** Many nodes (an export's proofs): per level, one query per run of nearby indexes. */
  async function nodesByRange(ids: readonly NodeId[]): Promise<MerkleNode[]> {
    const byLevel = new Map<number, number[]>();
    for (const { level, index } of ids) {
      const list = byLevel.get(level) ?? [];
      list.push(index);
      byLevel.set(level, list);
    }
    const wanted = new Set(ids.map((n) => nodeKey(n.level, n.index)));
    const nodes: MerkleNode[] = [];
    for (const [level, indexes] of byLevel) {
      for (const [lo, hi] of clusters(indexes)) {
        const rows =
          level === 0
            ? (await db.selectFrom('exchange_entries').select(['idx', 'leaf_hash as hash']).where('idx', '>=', lo).where('idx', '<=', hi).execute())
            : (await db.selectFrom('merkle_nodes').select(['idx', 'hash']).where('level', '=', level).where('idx', '>=', lo).where('idx', '<=', hi).execute());
        for (const row of rows) {
          const index = Number(row.idx);
          if (wanted.has(nodeKey(level, index))) nodes.push({ level, index, hash: Buffer.from(row.hash, 'hex') });
        }
      }
    }
    return nodes;
  }

  /** The checkpoints with every stored cosignature line appended to their notes. */
  async function cosigned(rows: CheckpointRow[]): Promise<CheckpointRecord[]> {
    const records = rows.map(toCheckpoint);
    const sizes = records.filter((r) => r.note !== null).map((r) => r.treeSize);
    if (sizes.length === 0) return records;
    const lines = new Map<number, string[]>();
    for (let i = 0; i < sizes.length; i += 500) {
      const found = await db
        .selectFrom('checkpoint_cosignatures')
        .select(['tree_size', 'line'])
        .where('tree_size', 'in', sizes.slice(i, i + 500))
        .orderBy('tree_size')
        .orderBy('witness')
        .execute();
      for (const row of found) lines.set(Number(row.tree_size), [...(lines.get(Number(row.tree_size)) ?? []), row.line]);
    }
    return records.map((r) => (r.note !== null && lines.has(r.treeSize) ? { ...r, note: r.note + lines.get(r.treeSize)!.join('') } : r));
  }

  async function nodes(ids: readonly NodeId[]): Promise<GetNode> {
    if (ids.length === 0) return nodeGetterFromNodes([]);
    return nodeGetterFromNodes(ids.length <= NAMED_NODES_MAX ? await namedNodes(ids) : await nodesByRange(ids));
  }

  return {
    async latestCheckpoint() {
      const row = await db.selectFrom('checkpoints').selectAll().orderBy('tree_size', 'desc').limit(1).executeTakeFirst();
      return row ? (await cosigned([row]))[0] : undefined;
    },

    async checkpointSizes(min, max) {
      const rows = await db
        .selectFrom('checkpoints')
        .select(['tree_size', 'timestamp_reply'])
        .where('tree_size', '>=', min)
        .where('tree_size', '<=', max)
        .orderBy('tree_size')
        .execute();
      return rows.map((r) => ({ treeSize: Number(r.tree_size), timestamped: r.timestamp_reply !== null }));
    },

    async checkpoints(sizes) {
      const found: CheckpointRecord[] = [];
      for (let i = 0; i < sizes.length; i += 500) {
        const rows = await db.selectFrom('checkpoints').selectAll().where('tree_size', 'in', sizes.slice(i, i + 500)).execute();
        found.push(...(await cosigned(rows)));
      }
      return found.sort((a, b) => a.treeSize - b.treeSize);
    },

    async firstTimestampedCheckpoint(min) {
      const row = await db
        .selectFrom('checkpoints')
        .selectAll()
        .where('tree_size', '>=', min)
        .where('timestamp_reply', 'is not', null)
        .orderBy('tree_size')
        .limit(1)
        .executeTakeFirst();
      return row ? (await cosigned([row]))[0] : undefined;
    },

    async latestTimestampedCheckpoint() {
      const row = await db.selectFrom('checkpoints').selectAll().where('timestamp_reply', 'is not', null).orderBy('tree_size', 'desc').limit(1).executeTakeFirst();
      return row ? (await cosigned([row]))[0] : undefined;
    },

    async listEntries(filter) {
      let query = db.selectFrom('exchange_entries').select(['idx', 'leaf', 'leaf_hash']).where('idx', '>=', filter.from);
      if (filter.operation !== undefined) query = query.where('operation', '=', filter.operation);
      if (filter.upstream !== undefined) query = query.where('upstream', '=', filter.upstream);
      if (filter.outcome !== undefined) query = query.where('outcome', '=', filter.outcome);
      if (filter.client !== undefined) query = query.where('client', '=', filter.client);
      // Any of the entry's subjects (every identifier of the people and enterprises it touched).
      if (filter.subjectHash !== undefined) {
        const subjectHash = filter.subjectHash;
        query = query.where('idx', 'in', (qb) => qb.selectFrom('exchange_subjects').select('idx').where('subject_hash', '=', subjectHash));
      }
      if (filter.since !== undefined) query = query.where('time', '>=', filter.since);
      if (filter.until !== undefined) query = query.where('time', '<', filter.until);
      // One row more than asked says whether there is a next page.
      const rows = await query.orderBy('idx').limit(filter.limit + 1).execute();
      const items = rows.slice(0, filter.limit).map(toEntry);
      return { items, nextFrom: rows.length > filter.limit ? items[items.length - 1]!.index + 1 : null };
    },

    async entriesAbout(filter) {
      // Driven by exchange_subjects' primary key (subject_hash, idx), read backwards from `before`:
      // a page costs its own rows however long the log or the person's history is. SQLite's
      // CROSS JOIN keeps that table outermost even with `since` (the planner could otherwise
      // walk the time index of the whole log); PostgreSQL treats it as a plain join.
      let query = db
        .selectFrom('exchange_subjects as s')
        .crossJoin('exchange_entries as e')
        .select(['e.idx', 'e.leaf', 'e.leaf_hash'])
        .whereRef('e.idx', '=', 's.idx')
        .where('s.subject_hash', '=', filter.subjectHash);
      if (filter.before !== undefined) query = query.where('s.idx', '<', filter.before);
      if (filter.since !== undefined) query = query.where('e.time', '>=', filter.since);
      const rows = await query.orderBy('s.idx', 'desc').limit(filter.limit + 1).execute();
      const items = rows.slice(0, filter.limit).map(toEntry);
      return { items, nextBefore: rows.length > filter.limit ? items[items.length - 1]!.index : null };
    },

    async entry(index) {
      const row = await db.selectFrom('exchange_entries').select(['idx', 'leaf', 'leaf_hash']).where('idx', '=', index).executeTakeFirst();
      return row ? toEntry(row) : undefined;
    },

    async *entries(from, to) {
      for (let cursor = from; cursor < to; ) {
        const rows = await db
          .selectFrom('exchange_entries')
          .select(['idx', 'leaf', 'leaf_hash'])
          .where('idx', '>=', cursor)
          .where('idx', '<', to)
          .orderBy('idx')
          .limit(PAGE)
          .execute();
        if (rows.length === 0) return;
        for (const row of rows) yield toEntry(row);
        cursor = Number(rows[rows.length - 1]!.idx) + 1;
      }
    },

    nodes,

    async inclusionProof(index, treeSize) {
      const ids = [{ level: 0, index }, ...inclusionProofNodeIds(index, treeSize), ...rangeNodeIds(0, treeSize)];
      const getNode = await nodes(ids);
      return {
        index,
        treeSize,
        leafHash: getNode(0, index),
        auditPath: inclusionProof(index, treeSize, getNode),
        rootHash: rangeRoot(0, treeSize, getNode),
      };
    },

    async consistencyProof(first, second) {
      const ids = [...consistencyProofNodeIds(first, second), ...rangeNodeIds(0, first), ...rangeNodeIds(0, second)];
      const getNode = await nodes(ids);
      return {
        first,
        second,
        proof: consistencyProof(first, second, getNode),
        firstRoot: rangeRoot(0, first, getNode),
        secondRoot: rangeRoot(0, second, getNode),
      };
    },

    async latestCosignedSizes(max) {
      const rows = await db
        .selectFrom('checkpoint_cosignatures')
        .select(['witness', (eb) => eb.fn.max('tree_size').as('tree_size')])
        .where('tree_size', '<=', max)
        .groupBy('witness')
        .execute();
      return rows.map((r) => Number(r.tree_size));
    },

    async cosignatures(treeSize) {
      const rows = await db.selectFrom('checkpoint_cosignatures').select(['tree_size', 'witness', 'time', 'line']).where('tree_size', '=', treeSize).orderBy('witness').execute();
      return rows.map((r) => ({ treeSize: Number(r.tree_size), witness: r.witness, time: Number(r.time), line: r.line }));
    },
  };
}
