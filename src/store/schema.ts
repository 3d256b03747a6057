import type { Generated } from 'kysely';

/** Table types for Kysely. One interface per table; migrations in migrations.ts create them. */
export interface GatewayMetaTable {
  key: string;
  value: string;
  updated_at: string;
}

/** Leaves written on the request path, waiting for the integrator. */
export interface ExchangeQueueTable {
  seq: Generated<number>;
  exchange_id: string;
  leaf: string;
  enqueued_at: string;
}

/** The log itself: leaf `idx` of the Merkle tree, with columns auditors filter on. */
export interface ExchangeEntriesTable {
  idx: number;
  exchange_id: string;
  leaf: string;
  leaf_hash: string;
  time: string;
  client: string;
  operation: string;
  upstream: string | null;
  outcome: string;
  subject_hash: string | null;
}

/** Perfect subtree hashes: node (level, idx) covers leaves [idx·2^level, (idx+1)·2^level). */
export interface MerkleNodesTable {
  level: number;
  idx: number;
  hash: string;
}

export interface ExchangeLogStateTable {
  id: number;
  tree_size: number;
  frontier: string;
  updated_at: string;
}

export interface CheckpointsTable {
  tree_size: number;
  root_hash: string;
  body: string;
  signature: string;
  signed_at: string;
  timestamp_reply: string | null;
  timestamped_at: string | null;
}

/** A retention period's body key (32 bytes), wrapped with AES-256-GCM: base64 of IV ‖ ciphertext ‖ tag. */
export interface BodyKeysTable {
  period: string;
  key: string;
  created_at: string;
}

/** An exchange's request and response, each AES-256-GCM under its period's key with its own IV. */
export interface ExchangeBodiesTable {
  exchange_id: string;
  period: string;
  /** base64 of the request IV (12 bytes) followed by the response IV (12 bytes). */
  iv: string;
  /** base64 of ciphertext ‖ 16-byte tag. */
  request: string;
  response: string;
  stored_at: string;
}

export interface Database {
  gateway_meta: GatewayMetaTable;
  exchange_queue: ExchangeQueueTable;
  exchange_entries: ExchangeEntriesTable;
  merkle_nodes: MerkleNodesTable;
  exchange_log_state: ExchangeLogStateTable;
  checkpoints: CheckpointsTable;
  body_keys: BodyKeysTable;
  exchange_bodies: ExchangeBodiesTable;
}
