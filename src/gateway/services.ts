import type { Adapters } from '../../adapters/index.ts';
import type { AppDeps } from '../app.ts';
import { exchangeRecorder, type ExchangeLog } from '../audit/exchange-log.ts';
import type { Config } from '../config/schema.ts';
import { createAccountLinkService } from '../core/account-links.ts';
import { createCitizenService, type CitizenField } from '../core/citizens.ts';
import { createOutbox } from '../core/dossiers/outbox.ts';
import { createDossierService } from '../core/dossiers/service.ts';
import { documentContentPath, sharedDocumentPath } from '../core/documents/codes.ts';
import { createDocumentLinks } from '../signing/document-links.ts';
import { createEnterpriseService } from '../core/enterprises.ts';
import { createSsoService } from '../core/national-sso.ts';
import { createProcedureService } from '../core/procedures.ts';
import type { Logger } from '../logging.ts';
import type { Metrics } from '../metrics.ts';
import type { createAttestationSigner } from '../signing/attestation.ts';
import { backoffMs } from '../resilience/policy.ts';
import { createAccountLinkStore, createSsoFlowStore } from '../store/account-links.ts';
import { createDossierSealer } from '../store/dossier-sealer.ts';
import { createDossierStore } from '../store/dossiers.ts';
import { createDocumentStore } from '../store/documents.ts';
import { createDocumentFigures } from '../store/document-figures.ts';
import { createServiceIndexCounts, currentServiceIndex } from '../store/service-index.ts';
import { createOutboxStore } from '../store/outbox.ts';
import type { Store } from '../store/store.ts';
import type { Lifecycle } from './lifecycle.ts';
import type { TrustStore } from '../signing/trust-store.ts';
import { composeDocuments } from './documents.ts';

export interface ServiceDeps {
  log: Logger;
  metrics: Metrics;
  store: Store;
  adapters: Adapters;
  exchangeLog: ExchangeLog;
  attester: Awaited<ReturnType<typeof createAttestationSigner>>;
  hashKey: Buffer;
  hashIdentifier: (value: string) => string;
  /** The gateway's own address once it listens, for the sign-on callback when none is configured. */
  listeningUrl: () => string;
  lifecycle: Lifecycle;
  /** The trust signatures are checked against (material.signing.trust): documents signed elsewhere are checked with it. */
  signingTrust: TrustStore;
  /** The sandbox's TSA, when the sandbox runs: documents are timestamped by it when no TSA is configured. */
  sandboxTsaUrl?: string | undefined;
}

/** Which citizen fields a client gets for a purpose: its own list for the purpose, its default, the gateway's. */
function citizenFieldPolicy(config: Config): (clientId: string, purpose: string | undefined) => readonly CitizenField[] {
  const clientFields = new Map(config.clients.map((c) => [c.id, c.citizenFields]));
  return (clientId, purpose) => {
    const byPurpose = clientFields.get(clientId);
    return (purpose ? byPurpose?.[purpose] : undefined) ?? byPurpose?.['*'] ?? config.citizenLookup.defaultFields;
  };
}

/**
 * The use-case composition: each use case of src/core gets the national systems it needs by port
 * (citizens, enterprises, account links, sign-on, procedures, dossiers and their delivery). The
 * one place under src/ that names individual national systems. A use case one system serves alone
 * (taxpayers, insurance records, births) is its module's own routes, registered with the module.
 */
export function composeServices(config: Config, deps: ServiceDeps): AppDeps['services'] {
  const { adapters, store, attester, lifecycle } = deps;
  const hashSubject = deps.hashIdentifier;

  const enterprises = createEnterpriseService({ registry: adapters['business-registry'].ops });
  const citizens = createCitizenService({ population: adapters.population.ops, attester, fieldPolicy: citizenFieldPolicy(config), hashSubject });
  const accountLinks = createAccountLinkService(
    { store: createAccountLinkStore({ db: store.db }), citizens, enterprises, hashIdentifier: hashSubject },
    { pendingTtlMs: config.accounts.pendingLinkTtlSeconds * 1000 },
  );
  // The callback address is known once the gateway listens, unless configured (behind a proxy).
  const redirectUri = () => config.sso.redirectUri ?? `${deps.listeningUrl()}/v1/accounts/sso/callback`;
  const sso = createSsoService(
    { signOn: adapters.vneid.ops, flows: createSsoFlowStore({ db: store.db }), links: accountLinks, attester },
    { redirectUri, returnToAllowList: config.sso.returnToAllowList, acrValues: config.sso.acrValues, flowTtlMs: config.sso.flowTtlSeconds * 1000, resultTtlSeconds: config.sso.resultTtlSeconds },
  );

  // The outbox lease outlasts one delivery to the portal: checked when the configuration loads (config/schema.ts).
  // Dossiers' personal data is kept encrypted, under a key derived from the privacy key (as exchange bodies' keys are).
  const dossierSealer = createDossierSealer(deps.hashKey);
  // Dossiers read the document store (attachments naming stored documents, results deposited for
  // them) and give the portal a document's content by its public address.
  const documentStore = createDocumentStore({ db: store.db, dialect: store.dialect, directory: config.documents.directory, masterKey: deps.hashKey });
  const publicBase = () => {
    const base = (config.documents.publicBaseUrl ?? deps.listeningUrl()).replace(/\/+$/, '');
    // Before the gateway listens (a delivery right after a start): retried, never sent with a relative address.
    if (!base) throw new Error('the gateway has no public address yet (documents.publicBaseUrl unset, not listening yet)');
    return base;
  };
  // API clients download with their key (contentUrl); the national portal has none: it gets the document's shared address.
  const documentLinks = createDocumentLinks(deps.hashKey);
  const documentUrl = (code: string) => `${publicBase()}${documentContentPath(code)}`;
  const sharedUrl = (code: string) => `${publicBase()}${sharedDocumentPath(code, documentLinks.token(code))}`;
  const dossierDocuments = { documents: documentStore, documentUrl: sharedUrl };
  // Dossier changes are accepted into the outbox; this process's worker delivers them (so may others on PostgreSQL).
  const outbox = createOutbox(
    {
      store: createOutboxStore(store.db, store.dialect),
      portal: adapters.dvcqg.ops,
      upstream: adapters.dvcqg.id,
      sealer: dossierSealer,
      exchangeLog: exchangeRecorder(deps.exchangeLog),
      log: deps.log.child({ component: 'outbox' }),
      metrics: deps.metrics,
      backoffMs,
      ...dossierDocuments,
    },
    config.outbox,
  );
  const dossiers = createDossierService({ store: createDossierStore(store.db), hashIdentifier: hashSubject, sealer: dossierSealer, onQueued: () => outbox.wake(), documents: documentStore });
  if (config.outbox.enabled) {
    outbox.start();
    // Runs before the integrator's and the store's cleanups: attempts under way are settled or released first.
    lifecycle.defer(() => outbox.stop(Math.min(config.server.shutdownGraceMs, 5000)));
  }

  // The document and digitisation gauges read the same figures the operators' report does.
  const figures = createDocumentFigures(store.db, store.dialect);
  deps.metrics.watchDocuments(figures);
  // The service index's gauges read the same counts as its report, for the current month and quarter.
  const serviceIndex = createServiceIndexCounts(store.db, store.dialect);
  deps.metrics.watchServiceIndex((now) => currentServiceIndex(serviceIndex, now));
  return {
    enterprises,
    citizens,
    procedures: createProcedureService({ catalogue: adapters.dvcqg.ops }, { ttlMs: config.catalogue.ttlSeconds * 1000, maxStaleMs: config.catalogue.maxStaleSeconds * 1000 }),
    dossiers,
    accountLinks,
    sso: { service: sso, redirectUri },
    documents: composeDocuments(config, {
      log: deps.log,
      store: documentStore,
      hashIdentifier: hashSubject,
      population: adapters.population.ops,
      registry: adapters['business-registry'].ops,
      // What documents need of dossiers (a deposit for a dossier, a result to send with it).
      dossiers,
      trust: deps.signingTrust,
      sandboxTsaUrl: deps.sandboxTsaUrl,
      documentUrl,
      lifecycle,
    }),
    documentLinks,
    figures,
    serviceIndex,
  };
}
