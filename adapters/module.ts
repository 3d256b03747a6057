import type { RequestListener } from 'node:http';
import type { Adapter, SystemId } from '../src/core/ports.ts';
import type { Logger } from '../src/logging.ts';
import type { UpstreamPolicy } from '../src/resilience/policy.ts';
import type { FaultBoard } from '../src/sandbox/faults.ts';
import type { SimulatorSigning } from '../src/sandbox/signing.ts';
import type { UpstreamSigning } from '../src/signing/material.ts';
import { ConfigError } from '../src/config/load.ts';
import type { MessageSecurity, PopulationTransport } from '../src/config/schema.ts';

export type { MessageSecurity } from '../src/config/schema.ts';

/** What the composition root hands every adapter. */
export interface AdapterDeps {
  log: Logger;
  /** This upstream's timeout and circuit breaker; every call goes through it. */
  policy: UpstreamPolicy;
  /** The gateway's signing key and certificate, and the check of this system's certificates. */
  signing: UpstreamSigning;
}

/** Options every adapter gets from its `upstreams.<id>` config section. */
export interface AdapterOptions {
  url: string;
  maxResponseBytes: number;
  /** Seconds suggested to callers in Retry-After when the system is failing. */
  retryAfterSeconds: number;
  /** The gateway's account, for systems that need a login; unset means the sandbox's account. */
  credentials?: { username: string; password: string } | undefined;
  /** The agency code the gateway calls as (Sơn La: H52), for systems that want one per session. */
  gatewayAgency: string;
  /**
   * The message security profile to speak (`upstreams.<id>.messageSecurity`, else the module's
   * default). The composition root always sets it, already checked against the module's
   * `messageSecurity.supported`; unset (tests) means the module's default.
   */
  messageSecurity?: MessageSecurity | undefined;
  /** The population database only: how it is reached and the codes its operator assigned. */
  population?: { transport: PopulationTransport; integrationCode?: string | undefined; serviceCode?: string | undefined } | undefined;
}

/** The message security profiles a module speaks, and the one the real system uses. */
export interface MessageSecuritySupport {
  supported: readonly MessageSecurity[];
  default: MessageSecurity;
}

export interface SimulatorDeps {
  faults: FaultBoard;
  log: Logger;
  /** The system's certificates (own, revoked, expired) and the check of the gateway's. */
  signing: SimulatorSigning;
  /** The URL the simulator is reached at, once it listens (an OpenID provider names itself in every token). */
  selfUrl?: () => string;
}

/** Builds a simulator: a real HTTP handler speaking the system's wire protocol. */
export type SimulatorFactory = (deps: SimulatorDeps) => RequestListener;

/**
 * One national system: how to build its client and its sandbox stand-in. Registered once, in
 * adapters/index.ts.
 */
export interface AdapterModule<Ops> {
  id: SystemId;
  /** Human name, shown by the sandbox and GET /v1/upstreams. */
  name: string;
  protocol: string;
  /** A GET on the simulator (and the real system) that answers 200 when the system is up. */
  healthPath: string;
  /**
   * The message security profiles the adapter speaks and its default. With any profile but `none`
   * the system signs its answers with a certificate the gateway checks, and production requires
   * `upstreams.<id>.certificateName`, the name that certificate must carry. Absent: the protocol
   * secures itself (OpenID Connect's ID tokens are checked against the issuer's published keys)
   * and `upstreams.<id>.messageSecurity` is refused.
   */
  messageSecurity?: MessageSecuritySupport;
  /** The sandbox's account, used when `upstreams.<id>.credentials` is unset; refused in production. */
  sandboxAccount?: { username: string; password: string };
  create(deps: AdapterDeps, options: AdapterOptions): Adapter<Ops>;
  /**
   * Loads the simulator's factory. Loaded on demand: a gateway wired to the real systems never
   * loads a simulator nor the sandbox's synthetic people.
   */
  simulator(): Promise<SimulatorFactory>;
}

/**
 * The profile an adapter is to speak: the one configured, else the module's default. A profile
 * the module does not speak is refused (ConfigError naming the setting; start-up exits with 2),
 * so an adapter never falls back silently to another one.
 */
export function messageSecurityFor(module: { id: SystemId; messageSecurity?: MessageSecuritySupport | undefined }, options: Pick<AdapterOptions, 'messageSecurity'>): MessageSecurity {
  const setting = `upstreams.${module.id}.messageSecurity`;
  if (!module.messageSecurity) throw new ConfigError([`${setting}: not applicable to ${module.id}`]);
  const profile = options.messageSecurity ?? module.messageSecurity.default;
  if (!module.messageSecurity.supported.includes(profile)) {
    throw new ConfigError([`${setting}: "${profile}" is not spoken by the ${module.id} adapter (supported: ${module.messageSecurity.supported.join(', ')})`]);
  }
  return profile;
}
