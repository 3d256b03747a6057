import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type { Request } from 'express';
import { exportBundle, planExport, type BundleCertificates } from '../../audit/bundle.ts';
import { OFFICER_SEAL_ALGORITHM, type OfficerRegistry } from '../../audit/officers.ts';
import { MAX_STORED_INDEX, type AuditStore, type EntryRecord } from '../../audit/store.ts';
import { answeredInstant, toVietnamIso } from '../../core/time.ts';
import { GatewayError } from '../../errors/gateway-error.ts';
import type { components } from '../../generated/gateway.ts';
import { parseTimestampResponse } from '../../signing/tsa.ts';
import type { RecordLocals } from '../exchange-recorder.ts';
import type { Handlers } from '../handlers.ts';

type AuditEntry = components['schemas']['AuditEntry'];

export interface AuditHandlerDeps {
  store: AuditStore;
  /** The keyed hash the exchange log applies to subject identifiers (HMAC-SHA-256, hex). */
  hashIdentifier(value: string): string;
  /** Certificates copied into export bundles. */
  certificates: BundleCertificates;
  /** A TSA is configured: bundles end at the newest timestamped checkpoint. */
  timestampedAnchor?: boolean | undefined;
  /** Acting officers sealed to the inspectorate's key; without it no officer is known. */
  officers?: Pick<OfficerRegistry, 'sealed'> | undefined;
}

const b64 = (hash: Buffer) => hash.toString('base64');

function invalid(field: string, message: string): GatewayError {
  return new GatewayError('VALIDATION_FAILED', { detail: `${field} ${message}`, errors: [{ field, message }] });
}

/** Query and path values arrive as strings (or already coerced by the validator). */
function integer(value: unknown): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function instant(value: unknown): string | undefined {
  const t = text(value);
  return t === undefined ? undefined : new Date(t).toISOString();
}

function entryJson(entry: EntryRecord): AuditEntry {
  const leaf = JSON.parse(entry.leaf) as Record<string, unknown>;
  // index first for readability; the stored index and hash win over anything in the leaf.
  // The entry's time as every time the gateway answers (+07:00); the leaf keeps it as written (UTC, `Z`).
  const time = typeof leaf.time === 'string' ? answeredInstant(leaf.time) : leaf.time;
  return Object.assign({ index: entry.index }, leaf, { index: entry.index, time, leafHash: b64(entry.leafHash) }) as AuditEntry;
}

/** The TimeStampToken out of the stored TimeStampResp (what the contract's `timestamp` holds). */
function tokenOf(reply: Buffer | null, req: Request): string | null {
  if (!reply) return null;
  try {
    const token = parseTimestampResponse(reply).token;
    return token ? b64(token) : null;
  } catch (err) {
    req.log.warn({ err: (err as Error).message }, 'stored checkpoint timestamp does not parse');
    return null;
  }
}

const noCheckpoint = () => new GatewayError('CHECKPOINT_NOT_FOUND', { detail: 'the exchange log has no signed checkpoint yet' });

/**
 * The auditor's operations (x-roles: auditor is enforced before these run). Sizes a proof may
 * name: any tree size from 1 up to the latest signed checkpoint's, checkpointed or not — the
 * roots returned let the caller compare with whichever signed checkpoint it holds.
 */
export function auditHandlers(deps: AuditHandlerDeps): Handlers {
  const { store } = deps;
  return {
    getAuditCheckpoint: async (req, res) => {
      const timestamped = String((req.query as Record<string, unknown>).timestamped) === 'true';
      const checkpoint = await (timestamped ? store.latestTimestampedCheckpoint() : store.latestCheckpoint());
      if (!checkpoint && timestamped) throw new GatewayError('CHECKPOINT_NOT_FOUND', { detail: 'the exchange log has no timestamped checkpoint yet' });
      if (!checkpoint) throw noCheckpoint();
      res.json({
        origin: checkpoint.origin,
        treeSize: checkpoint.treeSize,
        rootHash: b64(checkpoint.rootHash),
        checkpoint: checkpoint.body,
        signature: b64(checkpoint.signature),
        timestamp: tokenOf(checkpoint.timestampReply, req),
        timestampedAt: checkpoint.timestampedAt ? toVietnamIso(new Date(checkpoint.timestampedAt)) : null,
        signedAt: toVietnamIso(new Date(checkpoint.signedAt)),
        note: checkpoint.note,
        cosignatures: (await store.cosignatures(checkpoint.treeSize)).map((c) => ({ witness: c.witness, time: toVietnamIso(new Date(c.time * 1000)) })),
      } satisfies components['schemas']['AuditCheckpoint']);
    },

    listAuditEntries: async (req, res) => {
      const q = req.query as Record<string, unknown>;
      const from = integer(q.from) ?? 0;
      const limit = integer(q.limit) ?? 100;
      if (from > MAX_STORED_INDEX) {
        res.locals.resultCount = 0;
        res.json({ items: [], nextFrom: null });
        return;
      }
      const subject = text(q.subject);
      const page = await store.listEntries({
        from,
        limit,
        operation: text(q.operation),
        upstream: text(q.upstream),
        outcome: text(q.outcome),
        client: text(q.client),
        subjectHash: subject === undefined ? undefined : deps.hashIdentifier(subject),
        since: instant(q.since),
        until: instant(q.until),
      });
      // The search itself is an entry of the log (x-audit-record), with how many entries it answered.
      res.locals.resultCount = page.items.length;
      res.json({ items: page.items.map(entryJson), nextFrom: page.nextFrom } satisfies components['schemas']['AuditEntryPage']);
    },

    getAuditEntry: async (req, res) => {
      const index = integer(req.params.index) ?? -1;
      const entry = index >= 0 && index <= MAX_STORED_INDEX ? await store.entry(index) : undefined;
      if (!entry) throw new GatewayError('AUDIT_ENTRY_NOT_FOUND', { detail: `the exchange log has no entry ${String(req.params.index)}` });
      res.json({ ...entryJson(entry), leaf: entry.leaf } satisfies components['schemas']['AuditEntryWithLeaf']);
    },

    getAuditOfficer: async (req, res) => {
      const userHash = String(req.params.userHash);
      const officer = await deps.officers?.sealed(userHash);
      // Recorded (x-audit-record): which officer the inspector asked for, and whether one was found.
      Object.assign(res.locals as RecordLocals, { resultCount: officer ? 1 : 0 });
      if (!officer) throw new GatewayError('OFFICER_NOT_FOUND', { detail: `no officer ${userHash} is recorded` });
      res.json({
        userHash: officer.userHash,
        agency: officer.agency,
        sealed: b64(officer.sealed),
        algorithm: OFFICER_SEAL_ALGORITHM,
        firstSeen: toVietnamIso(new Date(officer.firstSeen)),
      } satisfies components['schemas']['AuditOfficer']);
    },

    getAuditInclusionProof: async (req, res) => {
      const index = integer(req.params.index) ?? -1;
      const checkpoint = await store.latestCheckpoint();
      if (!checkpoint || checkpoint.treeSize === 0) throw noCheckpoint();
      const treeSize = integer((req.query as Record<string, unknown>).treeSize) ?? checkpoint.treeSize;
      if (treeSize > checkpoint.treeSize) throw invalid('query.treeSize', `must not exceed the latest checkpoint's tree size (${checkpoint.treeSize})`);
      if (index >= treeSize) throw invalid('path.index', `must be below the tree size (${treeSize})`);
      const proof = await store.inclusionProof(index, treeSize);
      res.json({
        index,
        treeSize,
        leafHash: b64(proof.leafHash),
        auditPath: proof.auditPath.map(b64),
        rootHash: b64(proof.rootHash),
      } satisfies components['schemas']['InclusionProof']);
    },

    getAuditConsistencyProof: async (req, res) => {
      const q = req.query as Record<string, unknown>;
      const first = integer(q.first)!;
      const second = integer(q.second)!;
      const size = (await store.latestCheckpoint())?.treeSize ?? 0;
      if (first > second) throw invalid('query.first', `must not exceed second (${second})`);
      if (second > size) throw invalid('query.second', `must not exceed the latest checkpoint's tree size (${size})`);
      const proof = await store.consistencyProof(first, second);
      res.json({
        first,
        second,
        proof: proof.proof.map(b64),
        firstRoot: b64(proof.firstRoot),
        secondRoot: b64(proof.secondRoot),
      } satisfies components['schemas']['ConsistencyProof']);
    },

    exportAudit: async (req, res) => {
      const q = req.query as Record<string, unknown>;
      const plan = await planExport(store, { from: integer(q.from), to: integer(q.to) }, { timestampedAnchor: deps.timestampedAnchor ?? false });
      const tar = await exportBundle(store, plan, deps.certificates);
      res.status(200);
      // The export is an entry of the log (x-audit-record): who exported which range, recorded
      // before the first byte, since a streamed answer never passes through res.send.
      Object.assign(res.locals, { resultCount: plan.to - plan.from, criteria: { from: String(plan.from), to: String(plan.to) } } satisfies RecordLocals);
      await (res.locals as RecordLocals).commitRecord?.();
      res.setHeader('content-type', 'application/gzip');
      res.setHeader('content-disposition', `attachment; filename="${plan.name}.tar.gz"`);
      res.setHeader('cache-control', 'no-store');
      try {
        await pipeline(Readable.from(tar), createGzip(), res);
      } catch (err) {
        // Headers are gone: the client sees a cut-off download, never a partial "success".
        req.log.warn({ err: (err as Error).message }, 'audit export interrupted');
        res.destroy();
      }
    },
  };
}
