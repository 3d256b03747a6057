import type { RequestListener } from 'node:http';
import type { z } from 'zod';
import type { Adapter } from '../src/core/ports.ts';
import type { Handlers } from '../src/http/handlers.ts';
import type { Logger } from '../src/logging.ts';
import type { UpstreamPolicy } from '../src/resilience/policy.ts';
import type { AttackVariant, FaultBoard } from '../src/sandbox/faults.ts';
import type { SimulatorSigning } from '../src/sandbox/signing.ts';
import type { UpstreamSigning } from '../src/signing/material.ts';
import type { MessageSecurity, UpstreamConfig } from '../src/config/schema.ts';

// Types only, and constants: the registry (index.ts) and the modules' own index.ts files are read
// by the configuration schema, so nothing here may load the gateway's heavier modules.

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
  /**
   * The whole `upstreams.<id>` section as the configuration parsed it, with the settings of the
   * module's own `config` extension; unset (tests) means their defaults.
   */
  section?: Readonly<Record<string, unknown>> | undefined;
}

/** Builds the adapter; loaded on demand, so that the registry stays light. */
export type AdapterFactory<Ops> = (deps: AdapterDeps, options: AdapterOptions) => Adapter<Ops>;

/**
 * Settings of a system beyond those every upstream has (url, timeouts, breaker...): zod fields
 * added to its `upstreams.<id>` section, checks across them (issues with a path under the section),
 * and what production requires of them.
 */
export interface SystemConfig {
  shape: z.ZodRawShape;
  refine?: (section: UpstreamConfig & Record<string, unknown>, ctx: z.RefinementCtx) => void;
  /** Problems that stop a production start, each naming its setting under `setting` (upstreams.<id>). */
  productionProblems?: (section: UpstreamConfig & Record<string, unknown>, setting: string) => string[];
}

/** What the sandbox needs of a system. */
export interface SandboxDeclaration {
  /**
   * The simulator's port, as an offset from `sandbox.port` (the control server). 1–6 are the first
   * six systems, 7 the TSA, 8 the sandbox witness and 9 `lienthong audit witness`'s default (README.md
   * documents them); later systems take 10 on.
   */
  port: number;
  /**
   * The algorithm of the system's sample certificates (`npm run certs:sample` issues
   * certs-sample/<id>.pem and its revoked, expired and look-alike twins); absent: the system signs
   * nothing with a certificate of its own.
   */
  certificate?: 'rsa' | 'ec';
  /** The `attack` fault variants that make sense for the system's protocol. */
  attacks: readonly AttackVariant[];
}

/** Attacks every system that signs its answers can suffer, whatever its protocol. */
export const SIGNED_ANSWER_ATTACKS = ['oversized', 'slow-body', 'wrong-content-type', 'unknown-key'] as const satisfies readonly AttackVariant[];

/** A use case a system's module registers itself: its HTTP handlers by operationId, over the built adapter's operations. */
// Declared as a method, so that a module's factory for its own operations still fits a loop over every module.
export type RouteFactory<Ops> = { build(ops: Ops, deps: RouteDeps): Handlers }['build'];

/** What a module's own routes get from the composition root. */
export interface RouteDeps {
  log: Logger;
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
export interface AdapterModule<Ops, Id extends string = string> {
  id: Id;
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
  /** Settings of its own in `upstreams.<id>`, beside those every system has. */
  config?: SystemConfig;
  sandbox: SandboxDeclaration;
  /**
   * Dossier delivery: the outbox hands accepted dossiers to this system, in at most `calls`
   * calls per delivery (the outbox lease must outlast them, checked when the configuration loads).
   */
  deliversDossiers?: { calls: number };
  /** National sign-on: the levels of assurance asked for when `sso.acrValues` is unset. */
  signOn?: { acrValues: readonly [string, ...string[]] };
  /** Loads the adapter's factory (the client and its protocol stack). */
  adapter(): Promise<AdapterFactory<Ops>>;
  /**
   * Loads the module's own routes, for a use case no other module serves (the operations named
   * in openapi/gateway.yaml); absent: the system serves use cases composed in src/gateway.
   */
  routes?(): Promise<RouteFactory<Ops>>;
  /**
   * A province may run without it (a system serving only its own routes): in production, with no
   * `upstreams.<id>.url`, the system is not connected, nothing of it is required, and its
   * operations answer 503 UPSTREAM_UNAVAILABLE. Outside production the sandbox stands in, as for
   * every system.
   */
  optional?: boolean;
  /**
   * Loads the simulator's factory. Loaded on demand: a gateway wired to the real systems never
   * loads a simulator nor the sandbox's synthetic people.
   */
  simulator(): Promise<SimulatorFactory>;
}
