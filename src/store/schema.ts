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

/** Every subject (keyed hash) of each entry: what an auditor's search by subject reads. */
export interface ExchangeSubjectsTable {
  idx: number;
  subject_hash: string;
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
  note: string | null;
}

/** A witness's cosignature (cosignature/v1 signature line) of the checkpoint of `tree_size`. */
export interface CheckpointCosignaturesTable {
  tree_size: number;
  /** The witness's key name. */
  witness: string;
  /** The cosignature's time, POSIX seconds. */
  time: number;
  line: string;
  received_at: string;
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

/** A link between a portal account and a national identity; active_* are set only while it is active. */
export interface AccountLinksTable {
  id: string;
  portal_account_id: string;
  subject_type: 'person' | 'organization';
  /** Keyed hash (HMAC-SHA-256, hex) of the ID number or enterprise code. */
  subject_hash: string;
  subject_masked: string;
  /** The national sign-on account (`sub`), once known. */
  national_account_id: string | null;
  state: 'active' | 'pending' | 'superseded' | 'deleted';
  active_account: string | null;
  active_subject: string | null;
  active_national: string | null;
  verification_method: 'population_database' | 'business_registry' | 'national_sso';
  verified_at: string;
  exchange_id: string | null;
  created_by: string;
  created_at: string;
  /** A pending link: the active link it replaces once confirmed. */
  supersedes: string | null;
  /** A pending link: when the offer lapses. */
  expires_at: string | null;
  ended_at: string | null;
}

/** Append-only: every change to a link, by whom and why. */
export interface AccountLinkEventsTable {
  seq: Generated<number>;
  link_id: string;
  event: 'created' | 'offered' | 'confirmed' | 'superseded' | 'deleted';
  client: string;
  user_hash: string | null;
  reason: string | null;
  exchange_id: string | null;
  at: string;
}

/** A national sign-on in progress (keyed by SHA-256 of its state); used once. */
export interface SsoFlowsTable {
  state_hash: string;
  nonce: string;
  code_verifier: string;
  client_id: string;
  agency: string;
  user_id: string;
  purpose: string;
  portal_account_id: string | null;
  return_to: string;
  created_at: string;
  expires_at: string;
  used_at: string | null;
}

/**
 * A completed national sign-on waiting for the portal that started it to confirm it (keyed by
 * SHA-256 of its id); nothing is linked or signed in before that. Used once.
 */
export interface SsoSignOnsTable {
  sign_on_hash: string;
  client_id: string;
  portal_account_id: string | null;
  /** The returnTo bound at start, the portal's session value included; the confirmation must carry it. */
  return_to: string;
  national_account_id: string;
  subject_type: 'person' | 'organization';
  /** Keyed hash of the ID number or enterprise code, as account_links keeps it. */
  subject_hash: string;
  subject_masked: string;
  acr: string;
  exchange_id: string;
  created_at: string;
  expires_at: string;
  used_at: string | null;
}

/** A dossier handed over by the portal: its document as received, its lifecycle and on-time state. */
export interface DossiersTable {
  code: string;
  procedure_code: string;
  status: number;
  /** As the portal sent them (ISO 8601 with offset). */
  received_at: string;
  /** Null for a procedure with no deadline. */
  due_at: string | null;
  /** The dossier as received (JSON, encrypted: src/store/dossier-sealer.ts), and the SHA-256 of its canonical form. */
  document: string;
  content_hash: string;
  /** The on-time rule's memory (OnTimeClock, JSON), and the columns `overdue` filters on. */
  clock: string;
  on_time_state: string;
  deadline_at: string;
  supplement_since: string | null;
  /** Sequence of the newest change (the dossier itself is 1). */
  last_sequence: number;
  /** 1 once the national portal confirmed it holds the dossier. */
  portal_known: number;
  client_id: string;
  agency: string;
  purpose: string | null;
  /** Keyed hash of the applicant's identifier, for the exchange log. */
  subject_hash: string;
  created_at: string;
  updated_at: string;
  /** The agency handling the dossier (no personal data), for the digitisation figures. */
  handling_agency: string | null;
  /** 1 when an attachment was digitised or names a stored submission. */
  digitised_submission: Generated<number>;
  /** 1 when an attachment was reused or names a stored document. */
  reused_document: Generated<number>;
  /**
   * What the national service index counts (migration 0014, src/store/service-index.ts); null on
   * dossiers stored before it: not known, and reported as such. The month of receipt (yyyy-MM,
   * Vietnam time); the submission channel; 0/1 flags: paid online, some fee above 0, population
   * data used, an electronic result listed by the one-stop system.
   */
  received_month: string | null;
  channel: string | null;
  online_payment: number | null;
  fee_due: number | null;
  population_data: number | null;
  result_listed: number | null;
  /** From the clock (indexColumns), UTC ISO 8601: accepted, processing ended (and by which status), second supplement request. */
  accepted_at: string | null;
  processing_ended_at: string | null;
  processing_end_status: number | null;
  second_supplement_at: string | null;
}

/** A change to a dossier (sequence 1 is the dossier itself). */
export interface DossierEventsTable {
  id: string;
  dossier_code: string;
  sequence: number;
  kind: string;
  status: number | null;
  at: string;
  /** The change as received (JSON, encrypted: src/store/dossier-sealer.ts). */
  payload: string;
  client_id: string;
  agency: string;
  user_hash: string;
  created_at: string;
}

/** One delivery to the national portal per change: pending, delivered or dead. */
export interface OutboxJobsTable {
  id: string;
  dossier_code: string;
  sequence: number;
  service: string;
  state: string;
  attempts: number;
  /** When the job was queued (or requeued); its age decides when it gives up. */
  enqueued_at: string;
  next_attempt_at: string;
  /** The last failed try: its code and cause (text since migration 0011; up to 300 characters are written). */
  last_error: string | null;
  delivered_at: string | null;
  /** The worker holding the job, until lease_expires_at. */
  lease_owner: string | null;
  lease_expires_at: string | null;
}

/** The first answer given to a client's Idempotency-Key, kept to be given again. */
export interface IdempotencyKeysTable {
  client_id: string;
  key: string;
  operation: string;
  request_hash: string;
  status: number;
  response: string;
  created_at: string;
}

/** Acting officers, once each: the identifier sealed to the inspectorate's key (src/audit/officers.ts). */
export interface OfficerRegistryTable {
  /** The leaf's userHash. */
  user_hash: string;
  agency: string;
  /** RSA-OAEP-SHA256 ciphertext, base64. */
  sealed: string;
  first_seen: string;
}

/**
 * A stored document (src/store/documents.ts): metadata in clear except personal data, which is
 * sealed (AES-256-GCM, bound to the code, base64 of IV ‖ ciphertext ‖ tag).
 */
export interface DocumentsTable {
  /** `<issuingAgency>.<documentType>.<yyyy>.<NNNNNN>`. */
  code: string;
  kind: 'submission' | 'result';
  subject_type: 'citizen' | 'enterprise';
  /** Keyed hash of the subject's identifier: what lists filter on. */
  subject_hash: string;
  subject_sealed: string;
  document_type: string;
  name_sealed: string;
  media_type: string;
  procedure_code: string | null;
  dossier_code: string | null;
  issuing_agency: string;
  /** yyyy-MM-dd. */
  issued_on: string | null;
  valid_until: string | null;
  /** SHA-256 (hex) and size of the plaintext content. */
  sha256: string;
  size: number;
  /** SignatureFacts[] as JSON. */
  signatures: string;
  /** The gateway's CMS SignedData (DER), base64. */
  seal_cms: string | null;
  deposited_at: string;
  client_id: string;
  agency: string;
  user_hash: string;
  /** When the content may be destroyed; null: permanent. */
  retain_until: string | null;
  legal_hold: number;
  destroyed_at: string | null;
  /** The document key and content id, sealed under the document-key wrapping key (AAD: the code); null once destroyed. */
  wrapped_key: string | null;
  /** SHA-256 (hex) of the stored encrypted bytes; null once destroyed. */
  content_address: string | null;
}

/** The last sequence number given out for a code prefix. */
export interface DocumentSequencesTable {
  prefix: string;
  last: number;
}

/** Encrypted document content on PostgreSQL: chunk `idx` of the blob at `address` (a temporary name while written). */
export interface DocumentChunksTable {
  address: string;
  idx: number;
  data: Buffer;
  /** When the chunk was written (or the blob got its final address): sweep spares recent content. */
  created_at: string;
}

/**
 * A console session (src/store/console-sessions.ts): `id` is the SHA-256 (hex) of the cookie's
 * token, `user_hash` the officer's keyed hash (the exchange log's userHash), `user_sealed` their
 * identifier under a key derived from the token (AES-256-GCM, bound to the id, base64 of IV ‖
 * ciphertext ‖ tag). Times ISO 8601, UTC; idle_expires_at never after expires_at.
 */
export interface ConsoleSessionsTable {
  id: string;
  client_id: string;
  user_hash: string;
  user_sealed: string;
  key_fingerprint: string;
  created_at: string;
  last_used_at: string;
  idle_expires_at: string;
  expires_at: string;
  ended_at: string | null;
}

export interface Database {
  gateway_meta: GatewayMetaTable;
  exchange_queue: ExchangeQueueTable;
  exchange_entries: ExchangeEntriesTable;
  exchange_subjects: ExchangeSubjectsTable;
  merkle_nodes: MerkleNodesTable;
  exchange_log_state: ExchangeLogStateTable;
  checkpoints: CheckpointsTable;
  checkpoint_cosignatures: CheckpointCosignaturesTable;
  body_keys: BodyKeysTable;
  exchange_bodies: ExchangeBodiesTable;
  account_links: AccountLinksTable;
  account_link_events: AccountLinkEventsTable;
  sso_flows: SsoFlowsTable;
  sso_sign_ons: SsoSignOnsTable;
  dossiers: DossiersTable;
  dossier_events: DossierEventsTable;
  outbox_jobs: OutboxJobsTable;
  idempotency_keys: IdempotencyKeysTable;
  officer_registry: OfficerRegistryTable;
  documents: DocumentsTable;
  document_sequences: DocumentSequencesTable;
  document_chunks: DocumentChunksTable;
  console_sessions: ConsoleSessionsTable;
}
