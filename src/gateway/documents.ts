import { ConfigError } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import type { PopulationRegistry } from '../core/citizens-port.ts';
import type { DocumentStore, DossierDocuments } from '../core/documents/port.ts';
import { createDocumentService, type DocumentService } from '../core/documents/service.ts';
import type { BusinessRegistry } from '../core/enterprises.ts';
import type { Logger } from '../logging.ts';
import { createDocumentSealer } from '../signing/document-sealer.ts';
import { sample } from '../signing/material.ts';
import { loadPemCredentials, withChain, type Credentials, type TrustStore } from '../signing/trust-store.ts';
import type { Lifecycle } from './lifecycle.ts';

/**
 * The electronic document store as the gateway runs it: the store (filesystem beside SQLite, or
 * PostgreSQL), the agency's seal (documents.seal; the sample seal outside production), the TSA
 * its signatures are timestamped by (documents.tsaUrl, else the exchange log's, else the
 * sandbox's), and the content a crash left without its row removed as the gateway starts.
 */
export function composeDocuments(
  config: Config,
  deps: {
    log: Logger;
    /** The one document store of this process (pending content is known only to the store that wrote it). */
    store: DocumentStore;
    hashIdentifier: (value: string) => string;
    population: PopulationRegistry;
    registry: BusinessRegistry;
    dossiers?: DossierDocuments | undefined;
    /** The trust the gateway checks signatures against (material.signing.trust). */
    trust: TrustStore;
    /** The sandbox's TSA, when the sandbox runs. */
    sandboxTsaUrl: string | undefined;
    /** Where the national portal fetches a document's content (documents.publicBaseUrl, else the listening address). */
    documentUrl: (code: string) => string;
    lifecycle: Lifecycle;
  },
): DocumentService {
  const settings = config.documents;
  const sealFiles = settings.seal ?? (config.env.production ? undefined : { certificateFile: sample('document-seal.pem'), keyFile: sample('document-seal.key.pem') });
  // Production refuses to start without documents.seal (config/production.ts): this is a fault of the configuration.
  if (!sealFiles) throw new ConfigError(['documents.seal: required when NODE_ENV=production (the agency certificate that seals deposited results)']);
  let credentials: Credentials;
  try {
    credentials = withChain(loadPemCredentials(sealFiles.certificateFile, sealFiles.keyFile), deps.trust.intermediates);
    if (!credentials.certificate.checkPrivateKey(credentials.key)) throw new Error('the key does not belong to the certificate');
  } catch (err) {
    throw new ConfigError([`documents.seal: ${(err as Error).message}`]);
  }
  const log = deps.log.child({ component: 'documents' });
  // Production requires one (config/production.ts); elsewhere (a replica using another's sandbox) deposits of results answer 503.
  const tsaUrl = settings.tsaUrl ?? config.audit.tsaUrl ?? deps.sandboxTsaUrl;
  if (!tsaUrl) log.warn('no TSA configured (documents.tsaUrl, audit.tsaUrl): results cannot be sealed, their deposits answer 503 TIMESTAMP_UNAVAILABLE');

  const { store } = deps;
  const sealer = createDocumentSealer({ credentials, tsaUrl, trust: deps.trust });
  // Content a crash left without its row: removed as the gateway starts, awaited before it stops.
  const swept = store.sweep().then(
    (removed) => {
      if (removed > 0) log.info({ removed }, 'document content without a row removed');
    },
    (err: unknown) => log.error({ err }, 'document content left by a crash could not be swept'),
  );
  deps.lifecycle.defer(() => swept);

  return createDocumentService(
    { store, sealer, dossiers: deps.dossiers, population: deps.population, registry: deps.registry, hashIdentifier: deps.hashIdentifier },
    {
      maxBytes: settings.maxBytes,
      mediaTypes: settings.mediaTypes,
      checkSubject: settings.checkSubject,
      retention: settings.retention,
      contentUrl: deps.documentUrl,
    },
  );
}
