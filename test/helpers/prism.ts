import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CONTRACT_PATH } from '../../src/http/contract.ts';
import { freePort } from './processes.ts';

const PRISM = fileURLToPath(new URL('../../node_modules/.bin/prism', import.meta.url));

export interface PrismProxy {
  url: string;
  /** What Prism printed, for a failing test's message. */
  output(): string;
  close(): Promise<void>;
}

/**
 * Stoplight Prism as a validating proxy in front of `upstream`: every request and answer is
 * checked against openapi/gateway.yaml, and with --errors a violation becomes Prism's own answer
 * (422 for a request, 500 `…/prism/errors#VIOLATIONS` for a response) instead of passing.
 */
export async function startPrism(upstream: string, document: string = CONTRACT_PATH): Promise<PrismProxy> {
  const port = await freePort();
  const child: ChildProcess = spawn(PRISM, ['proxy', document, upstream, '--errors', '--host', '127.0.0.1', '--port', String(port), '--cors', 'false'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString('utf8')));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString('utf8')));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 60_000;
  while (!output.includes('Prism is listening')) {
    if (child.exitCode !== null) throw new Error(`prism exited (${child.exitCode}):\n${output}`);
    if (Date.now() > deadline) {
      child.kill();
      throw new Error(`prism did not start within 60 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url: `http://127.0.0.1:${port}`,
    output: () => output,
    close: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** True when the answer is Prism's, not the gateway's: a violation of the contract. */
export function isPrismError(body: string, headers: Headers): boolean {
  return headers.has('sl-violations') || body.includes('stoplight.io/prism/errors');
}
