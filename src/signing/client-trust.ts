import { readFileSync } from 'node:fs';
import { ConfigError } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import { sample } from './material.ts';
import { sampleOrigin } from './sample-pki.ts';
import { commonName, createTrustStore, readCertificates, type TrustStore } from './trust-store.ts';

/**
 * The CAs that client certificates (mutual TLS) must chain to: `server.tls.clientRoots`, kept
 * apart from the national roots that upstream signatures chain to, so that a certificate a
 * national CA issued to anyone else never opens a client's door. Outside production, unset, the
 * sample issuing CA (which issued certs-sample/portal-client.pem) and its CRL. In production,
 * unset, no certificate is asked for, and a client registered with one is a configuration error;
 * a sample CA is refused there (recognised by fingerprint: the image holds no certs-sample/).
 */
export function loadClientTrust(config: Config): TrustStore | undefined {
  const tls = config.server.tls;
  if (!tls.enabled) return undefined;
  const production = config.env.production;
  if (!tls.clientRoots && production) {
    const withCertificate = config.clients.filter((c) => c.certificate).map((c) => c.id);
    if (withCertificate.length > 0) {
      throw new ConfigError([`server.tls.clientRoots: required when NODE_ENV=production and a client has a certificate (${withCertificate.join(', ')})`]);
    }
    return undefined;
  }
  try {
    const roots = (tls.clientRoots ?? [sample('issuing-ca.pem')]).flatMap(readCertificates);
    const intermediates = (tls.clientIntermediates ?? []).flatMap(readCertificates);
    const crls = (tls.clientCrls ?? (tls.clientRoots ? [] : [sample('issuing-ca.crl.pem')])).map((file) => readFileSync(file));
    if (production) {
      for (const certificate of [...roots, ...intermediates]) {
        const origin = sampleOrigin(certificate);
        if (origin) throw new Error(`"${commonName(certificate)}" is from the sample PKI (certs-sample/${origin}), refused when NODE_ENV=production`);
      }
    }
    return createTrustStore({ roots, intermediates, crls });
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError([`server.tls.clientRoots: ${(err as Error).message}`]);
  }
}
