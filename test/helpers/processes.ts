import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { BIN } from './cli.ts';

export interface Started {
  child: ChildProcess;
  /** The first match of `ready` in the process's standard output (empty when readiness was polled). */
  match: RegExpExecArray | string[];
  /** Everything the process wrote, standard output then error, as it came. */
  output(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Starts `lienthong <args>` as its own process (as an operator would run it) and resolves once
 * its standard output matches `ready` (e.g. the "gateway listening" log line), or once `ready.url`
 * answers 200 (for a process whose logs are quieter than info).
 */
export function startLienthong(args: string[], env: Record<string, string>, ready: RegExp | { url: string }, timeoutMs = 60_000, nodeArgs: string[] = []): Promise<Started> {
  const child = spawn(process.execPath, [...nodeArgs, BIN, ...args], { env: { ...process.env, LOG_LEVEL: 'info', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (graceMs = 15_000) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const force = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.kill('SIGTERM');
    await exited;
    clearTimeout(force);
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop(0);
      reject(new Error(`lienthong ${args.join(' ')} did not become ready in ${timeoutMs} ms\n${out}\n${err}`));
    }, timeoutMs);
    let matched = false;
    if (!(ready instanceof RegExp)) {
      const poll = async () => {
        while (!matched && child.exitCode === null) {
          if (await fetch(ready.url).then((r) => r.ok, () => false)) {
            matched = true;
            clearTimeout(timer);
            return resolve({ child, match: [], output: () => out + err, stop });
          }
          await new Promise((r) => setTimeout(r, 100));
        }
      };
      void poll();
    }
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (matched || !(ready instanceof RegExp)) return;
      const m = ready.exec(out);
      if (m) {
        matched = true;
        clearTimeout(timer);
        resolve({ child, match: m, output: () => out + err, stop });
      }
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (!matched) reject(new Error(`lienthong ${args.join(' ')} exited with ${code} before it was ready\n${out}\n${err}`));
    });
  });
}

/** A free loopback port (bound, then released for a process started a moment later). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface SandboxProcess extends Started {
  controlUrl: string;
  tsaUrl: string;
  /** Each simulator's base URL, by system id. */
  urls: Record<string, string>;
  /** UPSTREAM_<ID>_URL for each system, to point a gateway process at these simulators. */
  upstreamEnv: Record<string, string>;
}

/** `lienthong sandbox` in its own process, on free loopback ports. */
export async function startSandboxProcess(): Promise<SandboxProcess> {
  const sandbox = await startLienthong(['sandbox', '--config', 'config/sandbox.yaml'], { SANDBOX_PORT: '0', SANDBOX_HOST: '127.0.0.1' }, /"control":"(http:[^"]+)"/);
  const controlUrl = sandbox.match[1]!;
  const control = (await (await fetch(controlUrl)).json()) as { systems: { id: string; url: string }[]; tsa: string };
  return {
    ...sandbox,
    controlUrl,
    tsaUrl: control.tsa,
    urls: Object.fromEntries(control.systems.map((s) => [s.id, s.url.replace(/\/+$/, '')])),
    upstreamEnv: Object.fromEntries(control.systems.map((s) => [`UPSTREAM_${s.id.toUpperCase().replaceAll('-', '_')}_URL`, s.url])),
  };
}
