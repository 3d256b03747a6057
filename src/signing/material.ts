import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Config, SystemId } from '../config/schema.ts';
import { ConfigError } from '../config/load.ts';
import { sampleOrigin } from './sample-pki.ts';
import { commonName, createTrustStore, loadPemCredentials, loadPkcs12Credentials, readCertificates, withChain, type Credentials, type TrustStore } from './trust-store.ts';

/** The sample PKI shipped for the sandbox and tests (never for production). */
export const SAMPLE_DIR = fileURLToPath(new URL('../../certs-sample/', import.meta.url));
export const sample = (file: string) => SAMPLE_DIR + file;

/** The name each sandbox simulator's certificate carries, which the gateway pins by default. */
export const sandboxName = (system: SystemId) => `${system}.sandbox.lienthong.vn`;
export const GATEWAY_SANDBOX_NAME = 'lienthong-gateway.sandbox.sonla.gov.vn';

/** What an adapter needs to sign its requests and believe its system's answers. */
export interface UpstreamSigning {
  /** The gateway's key and certificate chain. */
  credentials: Credentials;
  /** Accepts the certificate an answer was signed with (chain, dates, CRL, pinned name) or throws why not. */
  verifyPeer(certificate: X509Certificate, chain?: X509Certificate[]): void;
  /** The certificate the system last signed with and the gateway accepted. */
  lastPeer?(): X509Certificate | undefined;
}

export interface SigningMaterial {
  credentials: Credentials;
  trust: TrustStore;
  /** The files the trust store's CRLs came from, to be watched for newer ones. */
  crlFiles: readonly string[];
  forUpstream(id: SystemId): UpstreamSigning;
}

/**
 * Loads the gateway's signing credentials and the trust store from config, defaulting to the
 * sample PKI outside production and refusing it in production. Production never reads
 * certs-sample/ (the image does not hold it): sample certificates are recognised by their
 * embedded fingerprints.
 */
export function loadSigningMaterial(config: Config, options: { onPeer?: (id: SystemId, certificate: X509Certificate) => void } = {}): SigningMaterial {
  const { signing, trust } = config;
  const problems: string[] = [];
  const production = config.env.production;
  // Outside production a missing setting means the sample PKI; in production it is a problem.
  const orSample = (value: string | undefined, file: string, setting: string) => {
    if (value) return value;
    if (production) problems.push(`${setting}: required when NODE_ENV=production`);
    return production ? undefined : sample(file);
  };
  const orSamples = (value: string[] | undefined, file: string) => value ?? (production ? [] : [sample(file)]);
  let credentials: Credentials | undefined;
  let store: TrustStore | undefined;
  const crlFiles = orSamples(trust.crls, 'issuing-ca.crl.pem');
  try {
    const certificateFile = signing.pkcs12File ? undefined : orSample(signing.certificateFile, 'gateway.pem', 'signing.certificateFile');
    const keyFile = signing.pkcs12File ? undefined : orSample(signing.keyFile, 'gateway.key.pem', 'signing.keyFile');
    if (signing.pkcs12File) credentials = loadPkcs12Credentials(signing.pkcs12File, signing.pkcs12Password ?? '');
    else if (certificateFile && keyFile) credentials = loadPemCredentials(certificateFile, keyFile);
    if (credentials && !credentials.certificate.checkPrivateKey(credentials.key)) problems.push('signing: the key does not belong to the certificate');
  } catch (err) {
    problems.push(`signing: ${(err as Error).message}`);
  }
  try {
    const roots = orSamples(trust.roots, 'root-ca.pem').flatMap(readCertificates);
    const intermediates = orSamples(trust.intermediates, 'issuing-ca.pem').flatMap(readCertificates);
    // Peers need the whole chain in x5c and security tokens, not only the leaf.
    if (credentials) credentials = withChain(credentials, intermediates);
    // Before the CRLs are checked against them: a sample root is the problem to name.
    if (production) {
      const refused = (setting: string, certificates: X509Certificate[]) => {
        for (const certificate of certificates) {
          const origin = sampleOrigin(certificate);
          if (origin) problems.push(`${setting}: "${commonName(certificate)}" is from the sample PKI (certs-sample/${origin}), refused when NODE_ENV=production`);
        }
      };
      refused('trust.roots', roots);
      refused('trust.intermediates', intermediates);
      if (credentials) refused('signing', [credentials.certificate]);
    }
    if (roots.length === 0) problems.push('trust.roots: at least one root certificate is required');
    else store = createTrustStore({ roots, intermediates, crls: crlFiles.map((f) => readFileSync(f)) });
  } catch (err) {
    problems.push(`trust: ${(err as Error).message}`);
  }
  if (problems.length > 0 || !credentials || !store) throw new ConfigError(problems);
  const trustStore = store;
  const own = credentials;
  return {
    credentials: own,
    trust: trustStore,
    crlFiles,
    forUpstream: (id) => {
      const expectedName = config.upstreams[id].certificateName ?? (production ? undefined : sandboxName(id));
      let last: X509Certificate | undefined;
      return {
        credentials: own,
        verifyPeer: (certificate, chain) => {
          trustStore.verify(certificate, { chain, ...(expectedName ? { expectedName } : {}) });
          if (last !== certificate && last?.fingerprint256 !== certificate.fingerprint256) {
            last = certificate;
            options.onPeer?.(id, certificate);
          }
        },
        lastPeer: () => last,
      };
    },
  };
}

/** A certificate's name, for logs and problem details. */
export { commonName };
