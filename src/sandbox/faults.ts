import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { SYSTEM_IDS, type SystemId } from '../config/schema.ts';

export const FAULT_MODES = ['down', 'latency', 'error', 'timeout', 'malformed', 'unsigned', 'bad-signature', 'revoked-cert', 'expired-cert'] as const;
export type FaultMode = (typeof FAULT_MODES)[number];

export const faultSchema = z
  .object({
    system: z.enum(SYSTEM_IDS),
    mode: z.enum(FAULT_MODES),
    /** Latency to add, for `latency` (default 1000 ms). */
    ms: z.number().int().min(0).max(600_000).optional(),
    /** Share of requests affected, 0–1 (default 1: every request). */
    rate: z.number().min(0).max(1).optional(),
  })
  .strict();

export type Fault = z.infer<typeof faultSchema>;

/** The faults the sandbox control server has set, one per system at most. */
export class FaultBoard {
  private readonly faults = new Map<SystemId, Fault>();

  set(fault: Fault): void {
    this.faults.set(fault.system, fault);
  }

  clear(system?: SystemId): void {
    if (system) this.faults.delete(system);
    else this.faults.clear();
  }

  get(system: SystemId): Fault | undefined {
    return this.faults.get(system);
  }

  list(): Fault[] {
    return [...this.faults.values()];
  }

  /** The fault to apply to this request, if any, after the rate draw. */
  draw(system: SystemId, random: () => number = Math.random): Fault | undefined {
    const fault = this.faults.get(system);
    if (!fault) return undefined;
    return random() < (fault.rate ?? 1) ? fault : undefined;
  }
}

/** How a simulator answers the transport-level faults in its own wire format. */
export interface FaultResponses {
  /** A server error in the system's own format (status and body). */
  error(): { status: number; contentType: string; body: string };
  /** An answer the client cannot parse. */
  malformed(): { status: number; contentType: string; body: string };
}

/**
 * Applies transport-level faults before the simulator handles a request. Returns true when the
 * request was consumed by the fault. `unsigned`, `bad-signature`, `revoked-cert` and
 * `expired-cert` are left to the simulator's signing step: use `messageFault` to draw them.
 */
export async function applyFault(
  board: FaultBoard,
  system: SystemId,
  req: IncomingMessage,
  res: ServerResponse,
  responses: FaultResponses,
): Promise<boolean> {
  const fault = board.draw(system);
  if (!fault) return false;
  switch (fault.mode) {
    case 'down':
      // As close to a dead host as one process can be: the connection is dropped unanswered.
      req.socket.destroy();
      return true;
    case 'timeout':
      // Never answer; the socket is released when the client gives up or the server closes.
      return true;
    case 'latency':
      await new Promise((resolve) => setTimeout(resolve, fault.ms ?? 1000));
      return false;
    case 'error': {
      const { status, contentType, body } = responses.error();
      res.writeHead(status, { 'content-type': contentType }).end(body);
      return true;
    }
    case 'malformed': {
      const { status, contentType, body } = responses.malformed();
      res.writeHead(status, { 'content-type': contentType }).end(body);
      return true;
    }
    default:
      return false;
  }
}

const MESSAGE_MODES = new Set<FaultMode>(['unsigned', 'bad-signature', 'revoked-cert', 'expired-cert']);

/** The message-level fault (signature or certificate) to apply to this answer, if any, after the rate draw. */
export function messageFault(board: FaultBoard, system: SystemId): Fault | undefined {
  const fault = board.get(system);
  return fault && MESSAGE_MODES.has(fault.mode) ? board.draw(system) : undefined;
}
