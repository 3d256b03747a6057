import { createHash } from 'node:crypto';
import type { Kysely, Selectable, Transaction } from 'kysely';
import { LinkConflictError, type AccountLinkStore, type LinkConflictKind, type LinkEvent, type LinkRecord, type SubjectType } from '../core/account-links.ts';
import type { PendingSignOn, SsoFlowStore } from '../core/national-sso.ts';
import type { Database, AccountLinksTable } from './schema.ts';
import { isUniqueViolation } from './unique.ts';

/** The unique column a violation names, on SQLite ("account_links.active_account") and PostgreSQL ("account_links_active_account_key"). */
function conflictKind(err: unknown): LinkConflictKind | undefined {
  if (!isUniqueViolation(err)) return undefined;
  const e = err as { message?: string; constraint?: string };
  const text = `${e.constraint ?? ''} ${e.message ?? ''}`;
  if (text.includes('active_account')) return 'account';
  if (text.includes('active_subject')) return 'subject';
  if (text.includes('active_national')) return 'national';
  return undefined;
}

const subjectKey = (type: SubjectType, hash: string) => `${type}:${hash}`;

function activeColumns(record: Pick<LinkRecord, 'portalAccountId' | 'subjectType' | 'subjectHash' | 'nationalAccountId'>) {
  return {
    active_account: record.portalAccountId,
    active_subject: subjectKey(record.subjectType, record.subjectHash),
    active_national: record.nationalAccountId,
  };
}

const INACTIVE = { active_account: null, active_subject: null, active_national: null };

function toRecord(row: Selectable<AccountLinksTable>): LinkRecord {
  return {
    id: row.id,
    portalAccountId: row.portal_account_id,
    subjectType: row.subject_type,
    subjectHash: row.subject_hash,
    subjectMasked: row.subject_masked,
    nationalAccountId: row.national_account_id,
    state: row.state,
    verificationMethod: row.verification_method,
    verifiedAt: new Date(row.verified_at),
    exchangeId: row.exchange_id,
    createdBy: row.created_by,
    createdAt: new Date(row.created_at),
    supersedes: row.supersedes,
    expiresAt: row.expires_at ? new Date(row.expires_at) : null,
  };
}

async function appendEvent(db: Kysely<Database> | Transaction<Database>, linkId: string, event: Omit<LinkEvent, 'linkId'>) {
  await db
    .insertInto('account_link_events')
    .values({ link_id: linkId, event: event.event, client: event.client, user_hash: event.userHash, reason: event.reason, exchange_id: event.exchangeId, at: event.at.toISOString() })
    .execute();
}

/**
 * Account links on SQLite or PostgreSQL. Every change and its event are one transaction; the
 * UNIQUE active_* columns decide races between processes, and a violation becomes LinkConflictError.
 */
export function createAccountLinkStore(deps: { db: Kysely<Database> }): AccountLinkStore {
  const { db } = deps;
  const guarded = async <T>(work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } catch (err) {
      const kind = conflictKind(err);
      if (kind) throw new LinkConflictError(kind);
      throw err;
    }
  };

  return {
    insert: (record, event) =>
      guarded(() =>
        db.transaction().execute(async (tx) => {
          await tx
            .insertInto('account_links')
            .values({
              id: record.id,
              portal_account_id: record.portalAccountId,
              subject_type: record.subjectType,
              subject_hash: record.subjectHash,
              subject_masked: record.subjectMasked,
              national_account_id: record.nationalAccountId,
              state: record.state,
              ...(record.state === 'active' ? activeColumns(record) : INACTIVE),
              verification_method: record.verificationMethod,
              verified_at: record.verifiedAt.toISOString(),
              exchange_id: record.exchangeId,
              created_by: record.createdBy,
              created_at: record.createdAt.toISOString(),
              supersedes: record.supersedes,
              expires_at: record.expiresAt?.toISOString() ?? null,
              ended_at: null,
            })
            .execute();
          await appendEvent(tx, record.id, event);
        }),
      ),

    get: async (id) => {
      const row = await db.selectFrom('account_links').selectAll().where('id', '=', id).executeTakeFirst();
      return row ? toRecord(row) : undefined;
    },

    findActive: async (by) => {
      let query = db.selectFrom('account_links').selectAll();
      if ('subject' in by) query = query.where('active_subject', '=', subjectKey(by.subject.type, by.subject.hash));
      else if ('account' in by) query = query.where('active_account', '=', by.account);
      else query = query.where('active_national', '=', by.national);
      const row = await query.executeTakeFirst();
      return row ? toRecord(row) : undefined;
    },

    list: async (by, now, createdBy) => {
      if (createdBy?.length === 0) return [];
      let query = db
        .selectFrom('account_links')
        .selectAll()
        .where('account' in by ? 'portal_account_id' : 'subject_hash', '=', 'account' in by ? by.account : by.subjectHash)
        .where((eb) => eb.or([eb('state', '=', 'active'), eb.and([eb('state', '=', 'pending'), eb('expires_at', '>', now.toISOString())])]));
      if (createdBy) query = query.where('created_by', 'in', [...createdBy]);
      const rows = await query.orderBy('created_at').execute();
      return rows.map(toRecord);
    },

    end: (id, event) =>
      db.transaction().execute(async (tx) => {
        const result = await tx
          .updateTable('account_links')
          .set({ state: 'deleted', ...INACTIVE, ended_at: event.at.toISOString() })
          .where('id', '=', id)
          .where('state', 'in', ['active', 'pending'])
          .executeTakeFirst();
        if (Number(result.numUpdatedRows) !== 1) return false;
        await appendEvent(tx, id, event);
        return true;
      }),

    activate: (id, event, verifiedAt) =>
      guarded(() =>
        db.transaction().execute(async (tx) => {
          const row = await tx.selectFrom('account_links').selectAll().where('id', '=', id).where('state', '=', 'pending').executeTakeFirst();
          if (!row) return false;
          const record = toRecord(row);
          if (record.supersedes) {
            const ended = await tx
              .updateTable('account_links')
              .set({ state: 'superseded', ...INACTIVE, ended_at: event.at.toISOString() })
              .where('id', '=', record.supersedes)
              .where('state', '=', 'active')
              .executeTakeFirst();
            if (Number(ended.numUpdatedRows) === 1) await appendEvent(tx, record.supersedes, { ...event, event: 'superseded', reason: `confirmed national sign-on link ${id}` });
          }
          const updated = await tx
            .updateTable('account_links')
            .set({ state: 'active', ...activeColumns(record), verified_at: verifiedAt.toISOString(), expires_at: null })
            .where('id', '=', id)
            .where('state', '=', 'pending')
            .executeTakeFirst();
          if (Number(updated.numUpdatedRows) !== 1) return false;
          await appendEvent(tx, id, event);
          // Other offers for the same identity are answered by this one.
          const others = await tx
            .selectFrom('account_links')
            .select('id')
            .where('subject_type', '=', record.subjectType)
            .where('subject_hash', '=', record.subjectHash)
            .where('state', '=', 'pending')
            .execute();
          for (const other of others) {
            await tx.updateTable('account_links').set({ state: 'superseded', ended_at: event.at.toISOString() }).where('id', '=', other.id).where('state', '=', 'pending').execute();
            await appendEvent(tx, other.id, { ...event, event: 'superseded', reason: `offer answered by confirmed link ${id}` });
          }
          return true;
        }),
      ),

    events: async (id) => {
      const rows = await db.selectFrom('account_link_events').selectAll().where('link_id', '=', id).orderBy('seq').execute();
      return rows.map((r) => ({ linkId: r.link_id, event: r.event, client: r.client, userHash: r.user_hash, reason: r.reason, exchangeId: r.exchange_id, at: new Date(r.at) }));
    },
  };
}

/** The state and a sign-on's id are bearer secrets: only their SHA-256 is stored. */
const stateHash = (state: string) => createHash('sha256').update(state, 'utf8').digest('hex');

export function createSsoFlowStore(deps: { db: Kysely<Database> }): SsoFlowStore {
  const { db } = deps;
  return {
    save: async (state, flow, now) => {
      await db
        .insertInto('sso_flows')
        .values({
          state_hash: stateHash(state),
          nonce: flow.nonce,
          code_verifier: flow.codeVerifier,
          client_id: flow.clientId,
          agency: flow.agency,
          user_id: flow.userId,
          purpose: flow.purpose,
          portal_account_id: flow.portalAccountId,
          return_to: flow.returnTo,
          created_at: now.toISOString(),
          expires_at: flow.expiresAt.toISOString(),
          used_at: null,
        })
        .execute();
      // Flows older than a day are of no use to anyone.
      await db.deleteFrom('sso_flows').where('expires_at', '<', new Date(now.getTime() - 86_400_000).toISOString()).execute();
    },
    take: async (state, now) => {
      const hash = stateHash(state);
      const claimed = await db
        .updateTable('sso_flows')
        .set({ used_at: now.toISOString() })
        .where('state_hash', '=', hash)
        .where('used_at', 'is', null)
        .where('expires_at', '>', now.toISOString())
        .executeTakeFirst();
      if (Number(claimed.numUpdatedRows) !== 1) return undefined;
      const row = await db.selectFrom('sso_flows').selectAll().where('state_hash', '=', hash).executeTakeFirstOrThrow();
      return {
        nonce: row.nonce,
        codeVerifier: row.code_verifier,
        clientId: row.client_id,
        agency: row.agency,
        userId: row.user_id,
        purpose: row.purpose,
        portalAccountId: row.portal_account_id,
        returnTo: row.return_to,
        expiresAt: new Date(row.expires_at),
      };
    },
    savePending: async (id, pending, now) => {
      await db
        .insertInto('sso_sign_ons')
        .values({
          sign_on_hash: stateHash(id),
          client_id: pending.clientId,
          portal_account_id: pending.portalAccountId,
          return_to: pending.returnTo,
          national_account_id: pending.account.sub,
          subject_type: pending.account.subjectType,
          subject_hash: pending.account.subjectHash,
          subject_masked: pending.account.subjectMasked,
          acr: pending.account.acr,
          exchange_id: pending.account.exchangeId,
          created_at: now.toISOString(),
          expires_at: pending.expiresAt.toISOString(),
          used_at: null,
        })
        .execute();
      // Unconfirmed sign-ons older than a day are of no use to anyone.
      await db.deleteFrom('sso_sign_ons').where('expires_at', '<', new Date(now.getTime() - 86_400_000).toISOString()).execute();
    },
    claimPending: async (id, clientId, now) => {
      const hash = stateHash(id);
      const claimed = await db
        .updateTable('sso_sign_ons')
        .set({ used_at: now.toISOString() })
        .where('sign_on_hash', '=', hash)
        .where('client_id', '=', clientId)
        .where('used_at', 'is', null)
        .where('expires_at', '>', now.toISOString())
        .executeTakeFirst();
      const row = await db.selectFrom('sso_sign_ons').selectAll().where('sign_on_hash', '=', hash).where('client_id', '=', clientId).executeTakeFirst();
      if (!row) return { refused: 'unknown' };
      if (Number(claimed.numUpdatedRows) !== 1) return { refused: row.used_at !== null ? 'used' : 'lapsed' };
      const pending: PendingSignOn = {
        clientId: row.client_id,
        portalAccountId: row.portal_account_id,
        returnTo: row.return_to,
        account: {
          sub: row.national_account_id,
          subjectType: row.subject_type,
          subjectHash: row.subject_hash,
          subjectMasked: row.subject_masked,
          acr: row.acr,
          exchangeId: row.exchange_id,
        },
        expiresAt: new Date(row.expires_at),
      };
      return { pending };
    },
  };
}
