import { randomUUID } from 'node:crypto';
import type { components } from '../generated/gateway.ts';
import { GatewayError, isGatewayError } from '../errors/gateway-error.ts';
import type { CitizenService } from './citizens.ts';
import type { EnterpriseService } from './enterprises.ts';
import { checkBirthYear, maskIdentifier, parseIdNumber } from './identifiers/id-number.ts';
import { parseEnterpriseCode } from './identifiers/tax-code.ts';
import type { NationalAccount } from './national-sign-on-port.ts';
import { sameName } from './names.ts';
import type { CallContext } from './ports.ts';
import { toVietnamIso } from './time.ts';

export type AccountLink = components['schemas']['AccountLink'];
export type LinkRequest = components['schemas']['AccountLinkRequest'];
export type SubjectType = 'person' | 'organization';
export type VerificationMethod = 'population_database' | 'business_registry' | 'national_sso';

/** A link as stored: the identifier only as a keyed hash and a masked form. */
export interface LinkRecord {
  id: string;
  portalAccountId: string;
  subjectType: SubjectType;
  subjectHash: string;
  subjectMasked: string;
  nationalAccountId: string | null;
  state: 'active' | 'pending' | 'superseded' | 'deleted';
  verificationMethod: VerificationMethod;
  verifiedAt: Date;
  exchangeId: string | null;
  createdBy: string;
  createdAt: Date;
  supersedes: string | null;
  expiresAt: Date | null;
}

/** One append-only entry of a link's history. */
export interface LinkEvent {
  linkId: string;
  event: 'created' | 'offered' | 'confirmed' | 'superseded' | 'deleted';
  client: string;
  userHash: string | null;
  reason: string | null;
  exchangeId: string | null;
  at: Date;
}

/** Which uniqueness rule a write broke. */
export type LinkConflictKind = 'account' | 'subject' | 'national';

export class LinkConflictError extends Error {
  readonly kind: LinkConflictKind;
  constructor(kind: LinkConflictKind) {
    super(`an active link already holds this ${kind}`);
    this.name = 'LinkConflictError';
    this.kind = kind;
  }
}

/**
 * Port: where links live. Uniqueness of active links (one identity ↔ one account ↔ one national
 * account) is the store's to enforce atomically; a write that breaks it throws LinkConflictError.
 */
export interface AccountLinkStore {
  insert(record: LinkRecord, event: Omit<LinkEvent, 'linkId'>): Promise<void>;
  get(id: string): Promise<LinkRecord | undefined>;
  findActive(by: { subject: { type: SubjectType; hash: string } } | { account: string } | { national: string }): Promise<LinkRecord | undefined>;
  /** Active links and pending ones not yet lapsed; only those made by `createdBy` when given. */
  list(by: { account: string } | { subjectHash: string }, now: Date, createdBy?: readonly string[]): Promise<LinkRecord[]>;
  /** Ends an active or pending link; false when there was none to end. */
  end(id: string, event: Omit<LinkEvent, 'linkId'>): Promise<boolean>;
  /** Makes a pending link active, ending the link it supersedes, in one transaction; false when not pending. */
  activate(id: string, event: Omit<LinkEvent, 'linkId'>, verifiedAt: Date): Promise<boolean>;
  events(id: string): Promise<LinkEvent[]>;
}

/** Who is acting: the calling client and the person on whose behalf (X-User-Id). */
export interface Actor {
  clientId: string;
  roles: readonly string[];
  userId: string | undefined;
}

/**
 * Whose links a caller may see: all (operators), or those made by `clients` (itself and the
 * clients of the agencies it acts for). Another portal's links do not exist for it.
 */
export interface LinkScope {
  all: boolean;
  clients: readonly string[];
}

export type SsoOutcome =
  | { outcome: 'signed_in'; link: AccountLink }
  | { outcome: 'confirmation_required'; link: AccountLink }
  | { outcome: 'linked'; link: AccountLink }
  | { outcome: 'not_linked'; link: null }
  | { outcome: 'conflict'; link: null; detail: string };

/**
 * A national account that completed sign-on, as it is kept until the starting portal confirms the
 * sign-on: the identifier only as the keyed hash and the masked form.
 */
export interface SignedOnAccount {
  /** The stable national account id (`sub`). */
  sub: string;
  subjectType: SubjectType;
  subjectHash: string;
  subjectMasked: string;
  /** The level of assurance reached. */
  acr: string;
  /** The exchange of the callback that verified the sign-on. */
  exchangeId: string;
}

export interface AccountLinkService {
  /** Verifies the evidence with the national database, then links; `created` false when this very link existed. */
  link(ctx: CallContext, actor: Actor, request: LinkRequest): Promise<{ link: AccountLink; created: boolean }>;
  /** The links `scope` may see (absent: every link, for callers inside the gateway). */
  list(query: { portalAccountId?: string | undefined; idNumber?: string | undefined }, scope?: LinkScope): Promise<AccountLink[]>;
  /**
   * Who the account's active link names, when `scope` may see that link: the keyed hash (the
   * exchange log's) and the masked identifier. Pending links name no one yet.
   */
  linkedSubject(portalAccountId: string, scope: LinkScope): Promise<{ type: SubjectType; hash: string; masked: string } | undefined>;
  remove(actor: Actor, id: string, reason: string): Promise<void>;
  confirm(actor: Actor, id: string): Promise<AccountLink>;
  /** The national account of a verified sign-on, at level of assurance `acr`, in the form it waits for confirmation. */
  signedOn(national: NationalAccount, acr: string, exchangeId: string): SignedOnAccount;
  /** What resolving the sign-on would give now, read only: nothing is linked, offered or signed in. */
  previewSignOn(account: SignedOnAccount, portalAccountId: string | null): Promise<{ outcome: SsoOutcome['outcome']; detail?: string }>;
  /** What a confirmed national sign-on means for the portal (see SsoOutcome): links or offers as it says. */
  resolveSignOn(actor: Actor, account: SignedOnAccount, portalAccountId: string | null): Promise<SsoOutcome>;
}

export function toAccountLink(record: LinkRecord): AccountLink {
  return {
    id: record.id,
    portalAccountId: record.portalAccountId,
    state: record.state === 'pending' ? 'pending' : 'active',
    subject: { type: record.subjectType, maskedIdentifier: record.subjectMasked },
    verification: { method: record.verificationMethod, verifiedAt: toVietnamIso(record.verifiedAt) },
    nationalAccountLinked: record.nationalAccountId !== null,
    createdAt: toVietnamIso(record.createdAt),
    exchangeId: record.exchangeId,
    ...(record.state === 'pending' && record.expiresAt ? { expiresAt: toVietnamIso(record.expiresAt) } : {}),
  };
}

/** How a link made by national sign-on records the level of assurance reached, in its event. */
const signedInAt = (acr: string) => `national sign-on at level of assurance ${acr}`;

function invalid(field: string, reason: string): never {
  throw new GatewayError('INVALID_IDENTIFIER', { detail: `${field.replace(/^body\./, '')} ${reason}`, errors: [{ field, message: reason }] });
}

export function createAccountLinkService(
  deps: {
    store: AccountLinkStore;
    citizens: CitizenService;
    enterprises: EnterpriseService;
    /** The keyed hash the exchange log uses for identifiers and users. */
    hashIdentifier: (value: string) => string;
    now?: () => Date;
  },
  options: { pendingTtlMs: number },
): AccountLinkService {
  const now = deps.now ?? (() => new Date());
  const userHash = (actor: Actor) => (actor.userId ? deps.hashIdentifier(`user:${actor.userId}`) : null);
  const event = (actor: Actor, kind: LinkEvent['event'], extra: { reason?: string; exchangeId?: string | null } = {}) => ({
    event: kind,
    client: actor.clientId,
    userHash: userHash(actor),
    reason: extra.reason ?? null,
    exchangeId: extra.exchangeId ?? null,
    at: now(),
  });

  /** 409, naming the rule; the other account only for operators. */
  const conflict = async (actor: Actor, kind: LinkConflictKind, subject: { type: SubjectType; hash: string } | null, account: string): Promise<never> => {
    const label = subject?.type === 'organization' ? 'enterprise' : 'person';
    if (kind === 'account') {
      throw new GatewayError('CONFLICT', { detail: `portal account ${account} is already linked to another national identity; remove that link first` });
    }
    let holder = '';
    if (actor.roles.includes('operator') && subject) {
      const other = await deps.store.findActive({ subject });
      if (other) holder = ` (${other.portalAccountId})`;
    }
    throw new GatewayError('CONFLICT', {
      detail: kind === 'subject' ? `this ${label} is already linked to another portal account${holder}` : 'this national account is already linked to another portal account',
    });
  };

  const insertActive = async (actor: Actor, record: LinkRecord, subject: { type: SubjectType; hash: string }, reason?: string) => {
    try {
      await deps.store.insert(record, event(actor, 'created', { exchangeId: record.exchangeId, ...(reason ? { reason } : {}) }));
    } catch (err) {
      if (err instanceof LinkConflictError) return conflict(actor, err.kind, subject, record.portalAccountId);
      throw err;
    }
  };

  /** Verifies a person with the population database (XacThucThongTinCongDan, through the citizens service). */
  async function verifyPerson(ctx: CallContext, idNumber: string, evidence: { fullName?: string; dateOfBirth?: string }) {
    if (evidence.fullName === undefined || evidence.dateOfBirth === undefined) {
      throw new GatewayError('VALIDATION_FAILED', { detail: 'a person is verified with evidence.fullName and evidence.dateOfBirth', errors: [{ field: 'body.evidence', message: 'must have fullName and dateOfBirth for a person' }] });
    }
    const id = parseIdNumber(idNumber);
    if (!id.ok) invalid('body.subject.idNumber', id.reason);
    const birth = checkBirthYear(id.value, evidence.dateOfBirth);
    if (!birth.ok) invalid('body.evidence.dateOfBirth', `disagrees with the ID number: ${birth.reason}`);
    const result = await deps.citizens.verify(ctx, { idNumber, fullName: evidence.fullName, dateOfBirth: evidence.dateOfBirth });
    if (result.result === 'not_found') {
      throw new GatewayError('VERIFICATION_MISMATCH', { detail: 'the population database holds no living person with this ID number; nothing was linked' });
    }
    if (result.result === 'mismatch') {
      const wrong = Object.entries(result.fields ?? {}).filter(([, v]) => v === 'mismatch').map(([k]) => k);
      throw new GatewayError('VERIFICATION_MISMATCH', {
        detail: `the population database does not confirm ${wrong.join(' and ')}; nothing was linked`,
        errors: wrong.map((f) => ({ field: `body.evidence.${f}`, message: 'does not match the population database' })),
      });
    }
  }

  /** Verifies an enterprise with the business registry: the registered name must be the declared one. */
  async function verifyOrganization(ctx: CallContext, enterpriseCode: string, evidence: { name?: string }) {
    if (evidence.name === undefined) {
      throw new GatewayError('VALIDATION_FAILED', { detail: 'an organisation is verified with evidence.name', errors: [{ field: 'body.evidence', message: 'must have name for an organisation' }] });
    }
    const code = parseEnterpriseCode(enterpriseCode);
    if (!code.ok) invalid('body.subject.enterpriseCode', code.reason);
    let enterprise;
    try {
      enterprise = await deps.enterprises.get(ctx, enterpriseCode);
    } catch (err) {
      if (isGatewayError(err) && err.code === 'SUBJECT_NOT_FOUND') {
        throw new GatewayError('VERIFICATION_MISMATCH', { detail: 'the business registry holds no enterprise with this code; nothing was linked' });
      }
      throw err;
    }
    if (!sameName(enterprise.name, evidence.name)) {
      throw new GatewayError('VERIFICATION_MISMATCH', {
        detail: 'the business registry does not confirm the name; nothing was linked',
        errors: [{ field: 'body.evidence.name', message: 'does not match the registered name' }],
      });
    }
    if (enterprise.status === 'dissolved' || enterprise.status === 'bankrupt') {
      throw new GatewayError('VERIFICATION_MISMATCH', { detail: `the business registry records the enterprise as ${enterprise.status}; nothing was linked` });
    }
  }

  const subjectOf = (request: LinkRequest) => {
    const s = request.subject as { type: SubjectType; idNumber?: string; enterpriseCode?: string };
    const identifier = s.type === 'person' ? s.idNumber! : s.enterpriseCode!;
    return { type: s.type, identifier, hash: deps.hashIdentifier(identifier) };
  };

  return {
    async link(ctx, actor, request) {
      const subject = subjectOf(request);
      const existing = await deps.store.findActive({ account: request.portalAccountId });
      // A retry of a link that was made: the same answer, no second verification.
      if (existing && existing.subjectType === subject.type && existing.subjectHash === subject.hash) return { link: toAccountLink(existing), created: false };
      // The caller's own account is linked to someone else: nothing to ask the national database.
      if (existing) return conflict(actor, 'account', subject, request.portalAccountId);
      const evidence = request.evidence as { fullName?: string; dateOfBirth?: string; name?: string };
      if (subject.type === 'person') await verifyPerson(ctx, subject.identifier, evidence);
      else await verifyOrganization(ctx, subject.identifier, evidence);
      const at = now();
      const record: LinkRecord = {
        id: randomUUID(),
        portalAccountId: request.portalAccountId,
        subjectType: subject.type,
        subjectHash: subject.hash,
        subjectMasked: maskIdentifier(subject.identifier),
        nationalAccountId: null,
        state: 'active',
        verificationMethod: subject.type === 'person' ? 'population_database' : 'business_registry',
        verifiedAt: at,
        exchangeId: ctx.exchangeId,
        createdBy: actor.clientId,
        createdAt: at,
        supersedes: null,
        expiresAt: null,
      };
      await insertActive(actor, record, subject);
      return { link: toAccountLink(record), created: true };
    },

    async list(query, scope) {
      if ((query.portalAccountId === undefined) === (query.idNumber === undefined)) {
        throw new GatewayError('VALIDATION_FAILED', { detail: 'give exactly one of portalAccountId and idNumber', errors: [{ field: 'query', message: 'give exactly one of portalAccountId and idNumber' }] });
      }
      if (query.idNumber !== undefined) {
        const id = parseIdNumber(query.idNumber);
        if (!id.ok) invalid('query.idNumber', id.reason);
      }
      const by = query.portalAccountId !== undefined ? { account: query.portalAccountId } : { subjectHash: deps.hashIdentifier(query.idNumber!) };
      const records = await deps.store.list(by, now(), scope && !scope.all ? scope.clients : undefined);
      return records.map(toAccountLink);
    },

    async linkedSubject(portalAccountId, scope) {
      const records = await deps.store.list({ account: portalAccountId }, now(), scope.all ? undefined : scope.clients);
      const active = records.find((r) => r.state === 'active');
      return active ? { type: active.subjectType, hash: active.subjectHash, masked: active.subjectMasked } : undefined;
    },

    async remove(actor, id, reason) {
      // A portal removes only the links it made; operators any. To another portal the link does not exist.
      if (!actor.roles.includes('operator')) {
        const record = await deps.store.get(id);
        if (record && record.createdBy !== actor.clientId) throw new GatewayError('LINK_NOT_FOUND', { detail: `no active or pending account link ${id}` });
      }
      if (!(await deps.store.end(id, event(actor, 'deleted', { reason })))) {
        throw new GatewayError('LINK_NOT_FOUND', { detail: `no active or pending account link ${id}` });
      }
    },

    async confirm(actor, id) {
      const record = await deps.store.get(id);
      // Only the client that was offered the link may confirm it; to any other it does not exist.
      if (!record || record.state !== 'pending' || record.createdBy !== actor.clientId) {
        throw new GatewayError('LINK_NOT_FOUND', { detail: `no pending account link ${id}` });
      }
      if (record.expiresAt && record.expiresAt.getTime() <= now().getTime()) {
        throw new GatewayError('VERIFICATION_MISMATCH', { detail: 'the offer to link has lapsed; sign in with the national account again' });
      }
      // The link the offer would replace was removed meanwhile (by the person or an operator): the offer went with it.
      if (record.supersedes) {
        const replaced = await deps.store.get(record.supersedes);
        if (replaced?.state !== 'active') {
          await deps.store.end(id, event(actor, 'deleted', { reason: 'the link this offer would replace was removed' }));
          throw new GatewayError('VERIFICATION_MISMATCH', { detail: 'the link this offer would replace has been removed; sign in with the national account again' });
        }
      }
      try {
        if (!(await deps.store.activate(id, event(actor, 'confirmed'), now()))) throw new GatewayError('LINK_NOT_FOUND', { detail: `no pending account link ${id}` });
      } catch (err) {
        if (err instanceof LinkConflictError) return conflict(actor, err.kind, { type: record.subjectType, hash: record.subjectHash }, record.portalAccountId);
        throw err;
      }
      return toAccountLink((await deps.store.get(id))!);
    },

    signedOn(national, acr, exchangeId) {
      const identifier = national.accountType === 'person' ? national.idNumber! : national.enterpriseCode!;
      return { sub: national.sub, subjectType: national.accountType, subjectHash: deps.hashIdentifier(identifier), subjectMasked: maskIdentifier(identifier), acr, exchangeId };
    },

    async previewSignOn(account, portalAccountId) {
      if (await deps.store.findActive({ national: account.sub })) return { outcome: 'signed_in' };
      if (await deps.store.findActive({ subject: { type: account.subjectType, hash: account.subjectHash } })) return { outcome: 'confirmation_required' };
      if (!portalAccountId) return { outcome: 'not_linked' };
      // Neither the identity nor the national account is linked: an active link of this account is another identity's.
      if (await deps.store.findActive({ account: portalAccountId })) return { outcome: 'conflict', detail: `portal account ${portalAccountId} is already linked to another national identity; remove that link first` };
      return { outcome: 'linked' };
    },

    async resolveSignOn(actor, account, portalAccountId) {
      const known = await deps.store.findActive({ national: account.sub });
      if (known) return { outcome: 'signed_in', link: toAccountLink(known) };
      const subject = { type: account.subjectType, hash: account.subjectHash };
      const at = now();
      const base = {
        subjectType: subject.type,
        subjectHash: subject.hash,
        subjectMasked: account.subjectMasked,
        nationalAccountId: account.sub,
        verificationMethod: 'national_sso' as const,
        verifiedAt: at,
        exchangeId: account.exchangeId,
        createdBy: actor.clientId,
        createdAt: at,
      };
      const matching = await deps.store.findActive({ subject });
      if (matching) {
        // The identity is linked already, but never signed in nationally: the person must say the account is theirs.
        const pending: LinkRecord = {
          ...base,
          id: randomUUID(),
          portalAccountId: matching.portalAccountId,
          state: 'pending',
          supersedes: matching.id,
          expiresAt: new Date(at.getTime() + options.pendingTtlMs),
        };
        await deps.store.insert(pending, event(actor, 'offered', { exchangeId: account.exchangeId, reason: signedInAt(account.acr) }));
        return { outcome: 'confirmation_required', link: toAccountLink(pending) };
      }
      if (!portalAccountId) return { outcome: 'not_linked', link: null };
      const record: LinkRecord = { ...base, id: randomUUID(), portalAccountId, state: 'active', supersedes: null, expiresAt: null };
      try {
        await insertActive(actor, record, subject, signedInAt(account.acr));
      } catch (err) {
        if (isGatewayError(err) && err.code === 'CONFLICT') return { outcome: 'conflict', link: null, detail: err.detail ?? 'already linked' };
        throw err;
      }
      return { outcome: 'linked', link: toAccountLink(record) };
    },
  };
}
