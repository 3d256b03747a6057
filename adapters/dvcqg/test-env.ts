import { create } from './adapter.ts';
import type { IncomingHttpHeaders } from 'node:http';
import { afterEach } from 'vitest';
import { listen } from '../../src/http/listen.ts';
import { createLogger } from '../../src/logging.ts';
import { createMetrics } from '../../src/metrics.ts';
import { createPolicy } from '../../src/resilience/policy.ts';
import { FaultBoard } from '../../src/sandbox/faults.ts';
import type { UpstreamSigning } from '../../src/signing/material.ts';
import { simulatorDeps, testSigning } from '../contract/test-kit.ts';
import { LOGIN_PATH, SERVICE_PATH } from './client.ts';
import { createDvcqgSimulator, type DvcqgSimulatorOptions } from './simulator/server.ts';

const log = createLogger({ level: 'silent' });
const opened: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((env) => env.close()));
});

export interface PortalEnvOptions {
  simulator?: Omit<DvcqgSimulatorOptions, 'onRequest'>;
  signing?: UpstreamSigning;
  credentials?: { username: string; password: string };
  gatewayAgency?: string;
  volumeThreshold?: number;
  /** Both ends speak it; `none` (the real portal's) when left out. */
  messageSecurity?: 'none' | 'rfc9421';
}

/**
 * The national portal's simulator on a real socket, what reached it (bodies as handled, headers
 * as received), and the adapter wired to it; closed after each test.
 */
export async function portalEnv(options: PortalEnvOptions = {}) {
  const faults = new FaultBoard();
  const requests: { path: string; body: Record<string, unknown> }[] = [];
  const received: { path: string; headers: IncomingHttpHeaders }[] = [];
  const simulator = createDvcqgSimulator(simulatorDeps('dvcqg', faults), {
    messageSecurity: options.messageSecurity,
    ...options.simulator,
    onRequest: ({ path, body }) => requests.push({ path, body: body as Record<string, unknown> }),
  });
  const server = await listen((req, res) => (received.push({ path: req.url ?? '', headers: req.headers }), simulator(req, res)), '127.0.0.1', 0);
  const policy = createPolicy({ log, metrics: createMetrics({ defaultMetrics: false }) }, 'dvcqg', {
    timeoutMs: 2000,
    retryAfterSeconds: 3,
    breaker: { errorThresholdPercentage: 50, volumeThreshold: options.volumeThreshold ?? 1000, resetTimeoutMs: 10_000, rollingCountTimeoutMs: 10_000 },
  });
  const adapter = create(
    { log, policy, signing: options.signing ?? testSigning('dvcqg') },
    { url: server.url, maxResponseBytes: 1_048_576, retryAfterSeconds: 3, gatewayAgency: options.gatewayAgency ?? 'H52', credentials: options.credentials, messageSecurity: options.messageSecurity },
  );
  const env = {
    faults,
    simulator,
    policy,
    adapter,
    ops: adapter.ops,
    requests,
    received,
    logins: () => requests.filter((r) => r.path === LOGIN_PATH).length,
    serviceCalls: () => requests.filter((r) => r.path === SERVICE_PATH),
    close: async () => {
      policy.shutdown();
      await adapter.close();
      await server.close();
    },
  };
  opened.push(env);
  return env;
}
