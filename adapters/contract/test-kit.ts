import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { CallContext } from '../../src/core/ports.ts';
import { isGatewayError, type GatewayError } from '../../src/errors/gateway-error.ts';
import { createLogger } from '../../src/logging.ts';
import type { UpstreamResponse } from '../../src/resilience/upstream-http.ts';
import type { SystemId } from '../../src/config/schema.ts';
import type { FaultBoard, FaultMode } from '../../src/sandbox/faults.ts';
import type { ErrorCode } from '../../src/errors/codes.ts';
import { simulatorSigning } from '../../src/sandbox/signing.ts';
import { sample, sandboxName, type UpstreamSigning } from '../../src/signing/material.ts';
import { createTrustStore, loadPemCredentials, readCertificates, withChain } from '../../src/signing/trust-store.ts';
import type { SimulatorDeps } from '../module.ts';

// Helpers shared by the adapters' tests and the contract suite.

const log = createLogger({ level: 'silent' });

/** The answer faults of a signing simulator, and the code the gateway refuses each answer with. */
export const MESSAGE_FAULT_CODES = {
  unsigned: 'UPSTREAM_SIGNATURE_INVALID',
  'bad-signature': 'UPSTREAM_SIGNATURE_INVALID',
  'revoked-cert': 'UPSTREAM_CERT_REVOKED',
  'expired-cert': 'UPSTREAM_CERT_EXPIRED',
} as const satisfies Partial<Record<FaultMode, ErrorCode>>;

export type MessageFault = keyof typeof MESSAGE_FAULT_CODES;

/** MESSAGE_FAULT_CODES as [mode, code] pairs, for a test per fault. */
export const MESSAGE_FAULTS = Object.entries(MESSAGE_FAULT_CODES) as [MessageFault, (typeof MESSAGE_FAULT_CODES)[MessageFault]][];

/**
 * A call as an officer of a Sơn La agency makes it, with fresh ids and a signal nobody aborts.
 * Pass what a test checks or varies as overrides (an override of `undefined` leaves a field unset).
 */
export function testContext(overrides: Partial<CallContext> = {}): CallContext {
  return {
    requestId: randomUUID(),
    exchangeId: randomUUID(),
    signal: new AbortController().signal,
    log,
    clientId: 'tests',
    agency: 'H52.101.114',
    purpose: '1.004616.000.00.00.H52',
    userId: 'officer-7',
    ...overrides,
  };
}

/** The GatewayError the promise rejects with; a success or any other error fails the test. */
export async function failure(promise: Promise<unknown>): Promise<GatewayError> {
  try {
    await promise;
  } catch (err) {
    if (isGatewayError(err)) return err;
    throw err;
  }
  throw new Error('expected the call to fail');
}

/** The GatewayError the function throws; a return or any other error fails the test. */
export function caught(fn: () => unknown): GatewayError {
  try {
    fn();
  } catch (err) {
    if (isGatewayError(err)) return err;
    throw err;
  }
  throw new Error('expected an error');
}

/** Reads recorded fixtures from `folder`, relative to the test module at `moduleUrl`. */
export function fixtureReader(moduleUrl: string, folder = './fixtures/'): (name: string) => Buffer {
  return (name) => readFileSync(new URL(folder + name, moduleUrl));
}

/** As fixtureReader, for text fixtures (UTF-8). */
export function fixtureTextReader(moduleUrl: string, folder = './fixtures/'): (name: string) => string {
  const read = fixtureReader(moduleUrl, folder);
  return (name) => read(name).toString('utf8');
}

/** Builds upstream answers as UpstreamHttp hands them to an adapter, of `defaultType` unless told. */
export function responder(defaultType: string): (status: number, body: Buffer | string, type?: string) => UpstreamResponse {
  return (status, body, type = defaultType) => ({
    status,
    headers: { 'content-type': type },
    body: Buffer.isBuffer(body) ? body : Buffer.from(body),
  });
}

/**
 * The gateway's signing as main.ts builds it for one upstream from the sample PKI: the gateway's
 * certificate, and the system's certificate pinned to its sandbox name.
 */
export function testSigning(system: SystemId): UpstreamSigning {
  const intermediates = readCertificates(sample('issuing-ca.pem'));
  const trust = createTrustStore({ roots: readCertificates(sample('root-ca.pem')), intermediates, crls: [readFileSync(sample('issuing-ca.crl.pem'))] });
  return {
    credentials: withChain(loadPemCredentials(sample('gateway.pem'), sample('gateway.key.pem')), intermediates),
    verifyPeer: (certificate, chain) => trust.verify(certificate, { chain, expectedName: sandboxName(system) }),
  };
}

/** What a simulator needs besides its fault board, as the sandbox gives it. */
export function simulatorDeps(system: SystemId, faults: FaultBoard): SimulatorDeps {
  return { faults, log, signing: simulatorSigning(system) };
}
