import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { adapterModules } from '../../adapters/index.ts';
import { SYSTEM_IDS, type SystemId } from '../config/schema.ts';

export const FAULT_MODES = ['down', 'latency', 'error', 'timeout', 'malformed', 'unsigned', 'bad-signature', 'revoked-cert', 'expired-cert', 'attack'] as const;
export type FaultMode = (typeof FAULT_MODES)[number];

/**
 * What a hostile (compromised or impersonated) national system sends under the `attack` mode:
 * - `xxe`: an XML answer whose DTD declares an external entity (a local file) and uses it;
 * - `entity-expansion`: an XML answer whose DTD nests entities ("billion laughs");
 * - `signature-wrapping`: the signed element moved aside, an unsigned twin where it is read;
 * - `alg-none`: a JWS with `alg: none` and the system's own certificate in `x5c`;
 * - `unknown-key`: a correct signature by a key of a look-alike PKI (the system's name, another root);
 * - `oversized`: an endless answer body, far beyond any size limit;
 * - `slow-body`: the status line and headers at once, then a byte now and then, forever;
 * - `wrong-content-type`: a correctly signed answer labelled as HTML.
 */
export const ATTACK_VARIANTS = ['xxe', 'entity-expansion', 'signature-wrapping', 'alg-none', 'unknown-key', 'oversized', 'slow-body', 'wrong-content-type'] as const;
export type AttackVariant = (typeof ATTACK_VARIANTS)[number];

/** The attacks that make sense for each system's protocol, as its module declares them. */
export const ATTACKS_BY_SYSTEM: Readonly<Record<SystemId, readonly AttackVariant[]>> = Object.fromEntries(
  adapterModules.map((module) => [module.id, module.sandbox.attacks]),
) as Record<SystemId, readonly AttackVariant[]>;

export const faultSchema = z
  .object({
    system: z.enum(SYSTEM_IDS),
    mode: z.enum(FAULT_MODES),
    /** Latency to add, for `latency` (default 1000 ms). */
    ms: z.number().int().min(0).max(600_000).optional(),
    /** Share of requests affected, 0–1 (default 1: every request). */
    rate: z.number().min(0).max(1).optional(),
    /** For `attack` (and only for it): what the hostile system sends. */
    variant: z.enum(ATTACK_VARIANTS).optional(),
  })
  .strict()
  .superRefine((fault, ctx) => {
    if (fault.mode !== 'attack') {
      if (fault.variant !== undefined) ctx.addIssue({ code: 'custom', path: ['variant'], message: 'is only for mode "attack"' });
      return;
    }
    if (fault.variant === undefined) ctx.addIssue({ code: 'custom', path: ['variant'], message: `is required for mode "attack": one of ${ATTACK_VARIANTS.join(', ')}` });
    else if (!ATTACKS_BY_SYSTEM[fault.system].includes(fault.variant)) {
      ctx.addIssue({ code: 'custom', path: ['variant'], message: `${fault.system} supports ${ATTACKS_BY_SYSTEM[fault.system].join(', ') || 'no attack'}` });
    }
  });

export type Fault = z.infer<typeof faultSchema>;

/** An attack carried in the answer itself (its XML, signature or labels), not in how it is sent. */
const isMessageAttack = (fault: Fault) => fault.mode === 'attack' && fault.variant !== 'oversized' && fault.variant !== 'slow-body';

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

/** How often, and how much, the `slow-body` attack writes. */
const TRICKLE_MS = 200;
const OVERSIZED_CHUNK = Buffer.alloc(64 * 1024, 0x41);
/** Where the `oversized` attack stops if nobody hangs up first (far beyond any configured limit). */
const OVERSIZED_MAX_BYTES = 1024 * 1024 * 1024;

/** Writes `chunk` until the client goes away, every `everyMs` (or as fast as the socket drains), at most `maxBytes`. */
function writeForever(res: ServerResponse, chunk: Buffer, everyMs: number, maxBytes: number): void {
  let written = 0;
  let timer: NodeJS.Timeout | undefined;
  const stop = () => clearTimeout(timer);
  res.once('close', stop);
  const next = () => {
    if (res.destroyed || written >= maxBytes) return void res.end();
    written += chunk.length;
    const drained = res.write(chunk);
    if (everyMs > 0) timer = setTimeout(next, everyMs);
    else if (drained) setImmediate(next);
    else res.once('drain', next);
  };
  next();
}

/**
 * The `oversized` and `slow-body` attacks, in the content type the client expects, so that only
 * the size or the pace gives them away. No content-length: the client must count.
 */
function applyTransportAttack(variant: AttackVariant, req: IncomingMessage, res: ServerResponse, responses: FaultResponses): boolean {
  if (variant !== 'oversized' && variant !== 'slow-body') return false;
  req.resume();
  const { contentType } = responses.malformed();
  res.writeHead(200, { 'content-type': contentType });
  res.flushHeaders();
  if (variant === 'oversized') writeForever(res, OVERSIZED_CHUNK, 0, OVERSIZED_MAX_BYTES);
  else writeForever(res, Buffer.from(' '), TRICKLE_MS, Number.POSITIVE_INFINITY);
  return true;
}

/**
 * Applies transport-level faults before the simulator handles a request. Returns true when the
 * request was consumed by the fault. `unsigned`, `bad-signature`, `revoked-cert` and
 * `expired-cert` are left to the simulator's signing step: use `messageFault` to draw them; so are
 * the attacks in the system's own protocol (all but `oversized` and `slow-body`): see `attackFault`.
 */
export async function applyFault(
  board: FaultBoard,
  system: SystemId,
  req: IncomingMessage,
  res: ServerResponse,
  responses: FaultResponses,
): Promise<boolean> {
  const set = board.get(system);
  // Attacks in the answer itself are the simulator's to make (messageFault draws them).
  if (set && isMessageAttack(set)) return false;
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
    case 'attack':
      return applyTransportAttack(fault.variant!, req, res, responses);
    default:
      return false;
  }
}

const MESSAGE_MODES = new Set<FaultMode>(['unsigned', 'bad-signature', 'revoked-cert', 'expired-cert']);

/**
 * The message-level fault (signature, certificate, or an attack in the system's own protocol) to
 * apply to this answer, if any, after the rate draw.
 */
export function messageFault(board: FaultBoard, system: SystemId): Fault | undefined {
  const fault = board.get(system);
  return fault && (MESSAGE_MODES.has(fault.mode) || isMessageAttack(fault)) ? board.draw(system) : undefined;
}

/** The attack variant of a fault drawn by `messageFault`, if it is one. */
export const attackOf = (fault: Fault | undefined): AttackVariant | undefined => (fault?.mode === 'attack' ? fault.variant : undefined);

/** The content type of the `wrong-content-type` attack: a correctly signed answer, labelled as a web page. */
export const HOSTILE_CONTENT_TYPE = 'text/html; charset=utf-8';

/**
 * An XML answer made hostile: a DTD after the XML declaration, and the text of the first
 * `<element>` replaced by a reference to its entity. `xxe` declares an external entity (a local
 * file); `entity-expansion` nests ten entities ten times each (a billion "lol"s once expanded).
 */
export function hostileXml(xml: string, variant: 'xxe' | 'entity-expansion', element: string): string {
  const declaration = /^\s*<\?xml[^>]*\?>/.exec(xml)?.[0] ?? '';
  const rest = xml.slice(declaration.length);
  const root = /<([A-Za-z_][\w.:-]*)/.exec(rest)?.[1] ?? 'root';
  let dtd: string;
  if (variant === 'xxe') {
    dtd = `<!DOCTYPE ${root} [<!ENTITY e SYSTEM "file:///etc/passwd">]>`;
  } else {
    const levels = ['<!ENTITY e0 "lol">'];
    for (let i = 1; i <= 9; i++) levels.push(`<!ENTITY e${i} "${`&e${i - 1};`.repeat(10)}">`);
    levels.push(`<!ENTITY e "${'&e9;'.repeat(10)}">`);
    dtd = `<!DOCTYPE ${root} [${levels.join('')}]>`;
  }
  const field = new RegExp(`(<(?:[\\w.-]+:)?${element}(?:\\s[^>]*)?>)[^<]*(</)`);
  return declaration + dtd + rest.replace(field, '$1&e;$2');
}
