import type { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { SystemId } from '../config/schema.ts';
import { GATEWAY_SANDBOX_NAME, sample } from '../signing/material.ts';
import { createTrustStore, loadPemCredentials, readCertificates, withChain, type Credentials } from '../signing/trust-store.ts';
import type { Fault } from './faults.ts';

/** How a simulator signs its answers and checks the gateway's requests, as the real system would. */
export interface SimulatorSigning {
  /** What to sign this answer with: the system's own certificate, or under the `revoked-cert` and `expired-cert` faults a revoked or expired one. */
  credentials(fault?: Fault): Credentials;
  /** Accepts the gateway's certificate (chain to the sample root, the gateway's name) or throws why not. */
  verifyClient(certificate: X509Certificate, chain?: X509Certificate[]): void;
}

const cache = new Map<SystemId, SimulatorSigning>();

/** The sample PKI's material for one simulator (certs-sample/<system>*.pem). */
export function simulatorSigning(system: SystemId): SimulatorSigning {
  const cached = cache.get(system);
  if (cached) return cached;
  const intermediates = readCertificates(sample('issuing-ca.pem'));
  const load = (name: string) => withChain(loadPemCredentials(sample(`${name}.pem`), sample(`${name}.key.pem`)), intermediates);
  const own = load(system);
  const revoked = load(`${system}-revoked`);
  const expired = load(`${system}-expired`);
  const trust = createTrustStore({ roots: readCertificates(sample('root-ca.pem')), intermediates, crls: [readFileSync(sample('issuing-ca.crl.pem'))] });
  const signing: SimulatorSigning = {
    credentials: (fault) => (fault?.mode === 'revoked-cert' ? revoked : fault?.mode === 'expired-cert' ? expired : own),
    verifyClient: (certificate, chain) => trust.verify(certificate, { chain, expectedName: GATEWAY_SANDBOX_NAME }),
  };
  cache.set(system, signing);
  return signing;
}
