import type { Outcome } from './exchanges.ts';
import type { Logger } from './logger.ts';

/** A national system's id, as the registry of adapter modules names it (adapters/index.ts). */
export type SystemId = string;

/** What every call into an adapter carries: who asks, why, and how to give up. */
export interface CallContext {
  requestId: string;
  /** The exchange this call belongs to; returned to the caller as X-Exchange-Id. */
  exchangeId: string;
  signal: AbortSignal;
  /** When the caller stops waiting (Date.now() milliseconds); upstream calls and their retries end by then. */
  deadline?: number | undefined;
  log: Logger;
  /** Calling client and its agency code. */
  clientId: string;
  agency: string;
  /** X-Purpose and X-User-Id, on operations that touch personal data. */
  purpose?: string | undefined;
  userId?: string | undefined;
  /** Called by the upstream policy when a call really goes out (after local validation). */
  exchangeStarted?: ((upstream: SystemId) => void) | undefined;
  /** Called by the upstream policy when a call ends, whatever the outcome, for the exchange log. */
  recordCall?: ((call: { upstream: SystemId; outcome: Outcome; code: string | null; latencyMs: number }) => void) | undefined;
}

export interface Health {
  status: 'up' | 'down';
  latencyMs: number;
  detail?: string;
}

/** A connected national system: its operations and a health probe. */
export interface Adapter<Ops> {
  readonly id: SystemId;
  readonly ops: Ops;
  health(ctx: CallContext): Promise<Health>;
  close(): Promise<void>;
}
