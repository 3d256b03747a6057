import type { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { SystemId } from '../config/schema.ts';
import { GATEWAY_SANDBOX_NAME, sample } from '../signing/material.ts';
import { createTrustStore, loadPemCredentials, readCertificates, withChain, type Credentials } from '../signing/trust-store.ts';
import type { Fault } from './faults.ts';

/** How a simulator signs its answers and checks the gateway's requests, as the real system would. */
export interface SimulatorSigning {
  /**
   * What to sign this answer with: the system's own certificate, or under the `revoked-cert` and
   * `expired-cert` faults a revoked or expired one, under the `unknown-key` attack a look-alike
   * with the system's name from a root nobody trusts.
   */
  credentials(fault?: Fault): Credentials;
  /** Accepts the gateway's certificate (chain to the sample root, the gateway's name) or throws why not. */
  verifyClient(certificate: X509Certificate, chain?: X509Certificate[]): void;
}

const cache = new Map<SystemId, SimulatorSigning>();

/** The sample PKI's material for one simulator (certs-sample/<system>*.pem). */
export function simulatorSigning(system: SystemId): SimulatorSigning {
  const cached = cache.get(system);
  if (cached) return cached;
  // Loaded on first use: a system that signs with keys of its own (national sign-on publishes a JWKS) has no files here.
  let loaded: { own: Credentials; revoked: Credentials; expired: Credentials; impostor: Credentials; trust: ReturnType<typeof createTrustStore> } | undefined;
  const material = () => {
    if (loaded) return loaded;
    const intermediates = readCertificates(sample('issuing-ca.pem'));
    const load = (name: string) => withChain(loadPemCredentials(sample(`${name}.pem`), sample(`${name}.key.pem`)), intermediates);
    loaded = {
      own: load(system),
      revoked: load(`${system}-revoked`),
      expired: load(`${system}-expired`),
      impostor: withChain(loadPemCredentials(sample(`${system}-impostor.pem`), sample(`${system}-impostor.key.pem`)), readCertificates(sample('impostor-ca.pem'))),
      trust: createTrustStore({ roots: readCertificates(sample('root-ca.pem')), intermediates, crls: [readFileSync(sample('issuing-ca.crl.pem'))] }),
    };
    return loaded;
  };
  const signing: SimulatorSigning = {
    credentials: (fault) => {
      const m = material();
      if (fault?.mode === 'attack' && fault.variant === 'unknown-key') return m.impostor;
      return fault?.mode === 'revoked-cert' ? m.revoked : fault?.mode === 'expired-cert' ? m.expired : m.own;
    },
    verifyClient: (certificate, chain) => material().trust.verify(certificate, { chain, expectedName: GATEWAY_SANDBOX_NAME }),
  };
  cache.set(system, signing);
  return signing;
}
