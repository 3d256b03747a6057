import type { IncomingMessage, ServerResponse } from 'node:http';
import { adapterModules } from '../../adapters/index.ts';
import type { SystemId } from '../config/schema.ts';
import { listen, type Listening } from '../http/listen.ts';
import type { Logger } from '../logging.ts';
import { FaultBoard, faultSchema } from './faults.ts';
import { personasSummary } from './personas.ts';
import { simulatorSigning } from './signing.ts';
import { createTsaServer } from './tsa-server.ts';
import { sample } from '../signing/material.ts';
import { loadPemCredentials } from '../signing/trust-store.ts';

export interface Sandbox {
  /** The control server: GET /, GET /personas, POST and DELETE /faults. */
  controlUrl: string;
  /** The sandbox's RFC 3161 time-stamping authority (certs-sample/tsa.pem). */
  tsaUrl: string;
  urls: Partial<Record<SystemId, string>>;
  faults: FaultBoard;
  close(): Promise<void>;
}

export interface SandboxOptions {
  host: string;
  /** Control server port; each simulator takes it plus its module's offset (`sandbox.port`). 0: any free ports. */
  port: number;
}

/**
 * Offsets from the control port of the sandbox's own servers: the TSA and the inspectorate's
 * witness (README.md documents them), and the port `lienthong audit witness` listens on by default
 * (8099), so that one runs beside the sandbox. Simulators take the offsets their modules declare.
 */
export const RESERVED_PORT_OFFSETS = { tsa: 7, witness: 8, standaloneWitness: 9 } as const;

/** Why the registered modules' port offsets cannot all be used (shared, reserved or not positive), if they cannot. */
export function portOffsetProblems(modules: readonly { id: string; sandbox: { port: number } }[]): string[] {
  const problems: string[] = [];
  const taken = new Map<number, string>(Object.entries(RESERVED_PORT_OFFSETS).map(([name, offset]) => [offset, { tsa: 'the sandbox TSA', witness: 'the sandbox witness', standaloneWitness: 'the default port of `lienthong audit witness`' }[name as keyof typeof RESERVED_PORT_OFFSETS]]));
  for (const module of modules) {
    const offset = module.sandbox.port;
    if (!Number.isInteger(offset) || offset < 1) problems.push(`${module.id}: sandbox port offset ${offset} is not a positive whole number`);
    else if (taken.has(offset)) problems.push(`${module.id}: sandbox port offset ${offset} is already taken by ${taken.get(offset)}`);
    else taken.set(offset, module.id);
  }
  return problems;
}

const MAX_BODY = 16 * 1024;

function readJson(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        reject(new Error('body too large'));
        req.destroy();
      } else chunks.push(chunk);
    });
    req.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch {
        reject(new Error('body is not JSON'));
      }
    });
    req.on('error', reject);
  });
}

function json(res: ServerResponse, status: number, body: unknown, type = 'application/json'): void {
  const text = JSON.stringify(body, null, 2);
  res.writeHead(status, { 'content-type': `${type}; charset=utf-8`, 'content-length': Buffer.byteLength(text) }).end(text);
}

function problem(res: ServerResponse, status: number, title: string, detail: string): void {
  json(res, status, { type: 'about:blank', title, status, detail }, 'application/problem+json');
}

/** Starts every simulator as its own HTTP server, and the control server beside them. */
export async function startSandbox(deps: { log: Logger }, options: SandboxOptions): Promise<Sandbox> {
  const faults = new FaultBoard();
  const started: Listening[] = [];
  const urls: Partial<Record<SystemId, string>> = {};
  const systems: { id: SystemId; name: string; protocol: string; url: string; health: string }[] = [];
  const clashes = portOffsetProblems(adapterModules);
  if (clashes.length > 0) throw new Error(`sandbox ports: ${clashes.join('; ')}`);
  try {
    for (const module of adapterModules) {
      // Each module declares its port's offset: the first six systems have kept theirs (8091–8096 by default).
      const port = options.port === 0 ? 0 : options.port + module.sandbox.port;
      let selfUrl = '';
      const createSimulator = await module.simulator();
      const simulator = createSimulator({ faults, log: deps.log.child({ simulator: module.id }), signing: simulatorSigning(module.id), selfUrl: () => selfUrl });
      const server = await listen(simulator, options.host, port);
      selfUrl = server.url;
      started.push(server);
      urls[module.id] = server.url;
      systems.push({ id: module.id, name: module.name, protocol: module.protocol, url: server.url, health: server.url + module.healthPath });
    }

    // The TSA listens after the first six simulators (8091–8096 by default): 8090 + 7.
    const tsa = await listen(
      createTsaServer({ credentials: loadPemCredentials(sample('tsa.pem'), sample('tsa.key.pem')) }),
      options.host,
      options.port === 0 ? 0 : options.port + RESERVED_PORT_OFFSETS.tsa,
    );
    started.push(tsa);

    const control = await listen(
      (req, res) => {
        void handle(req, res).catch((err: unknown) => {
          deps.log.error({ err }, 'sandbox control failed');
          if (!res.headersSent) problem(res, 500, 'Internal error', 'the control server failed');
        });
      },
      options.host,
      options.port,
    );
    started.push(control);

    async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
      const url = new URL(req.url ?? '/', 'http://sandbox');
      if (url.pathname === '/' && req.method === 'GET') {
        return json(res, 200, {
          systems: systems.map((s) => ({ ...s, fault: faults.get(s.id) ?? null })),
          tsa: tsa.url,
          personas: `${control.url}/personas`,
          faults: `${control.url}/faults`,
        });
      }
      if (url.pathname === '/personas' && req.method === 'GET') return json(res, 200, personasSummary());
      if (url.pathname === '/faults') {
        if (req.method === 'GET') return json(res, 200, { faults: faults.list() });
        if (req.method === 'POST') {
          let body: unknown;
          try {
            body = await readJson(req);
          } catch (err) {
            return problem(res, 400, 'Bad request', (err as Error).message);
          }
          const parsed = faultSchema.safeParse(body);
          if (!parsed.success) {
            const issue = parsed.error.issues[0]!;
            return problem(res, 400, 'Bad request', `${issue.path.join('.') || 'body'}: ${issue.message}`);
          }
          if (!urls[parsed.data.system]) return problem(res, 400, 'Bad request', `system: ${parsed.data.system} has no simulator in this sandbox`);
          faults.set(parsed.data);
          deps.log.info({ fault: parsed.data }, 'sandbox fault set');
          return json(res, 200, { faults: faults.list() });
        }
        if (req.method === 'DELETE') {
          const system = url.searchParams.get('system');
          if (system && !(system in urls)) return problem(res, 400, 'Bad request', `system: unknown system ${system}`);
          faults.clear((system as SystemId | null) ?? undefined);
          deps.log.info({ system: system ?? 'all' }, 'sandbox faults cleared');
          return json(res, 200, { faults: faults.list() });
        }
        res.setHeader('allow', 'GET, POST, DELETE');
        return problem(res, 405, 'Method not allowed', `${req.method} is not allowed on /faults`);
      }
      return problem(res, 404, 'Not found', `no ${url.pathname} on the sandbox control server`);
    }

    return {
      controlUrl: control.url,
      tsaUrl: tsa.url,
      urls,
      faults,
      close: async () => {
        await Promise.all(started.map((s) => s.close(0)));
      },
    };
  } catch (err) {
    await Promise.all(started.map((s) => s.close(0)));
    throw err;
  }
}
