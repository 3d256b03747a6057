import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SystemId } from '../index.ts';
import type { AdapterFactory, AdapterModule } from '../module.ts';
import type { Adapter, CallContext } from '../../src/core/ports.ts';
import { listen, type Listening } from '../../src/http/listen.ts';
import { createLogger } from '../../src/logging.ts';
import { createMetrics } from '../../src/metrics.ts';
import { createPolicy, type UpstreamPolicy } from '../../src/resilience/policy.ts';
import { FaultBoard } from '../../src/sandbox/faults.ts';
import { failure, simulatorDeps, testContext, testSigning } from './test-kit.ts';

/** How the suite exercises one adapter: one call that finds its subject, one that finds none. */
export interface ContractSubject<Ops> {
  module: AdapterModule<Ops, SystemId>;
  known(ops: Ops, ctx: CallContext): Promise<unknown>;
  unknown(ops: Ops, ctx: CallContext): Promise<unknown>;
  /** Checks the known subject's answer in domain terms. */
  expectKnown(answer: unknown): void;
}

const TIMEOUT_MS = 400;
const RESET_MS = 600;

/**
 * The contract every adapter and its simulator must pass, over real sockets: answers, business
 * errors that do not trip the breaker, each sandbox fault mapped to its error, the breaker opening
 * and recovering, health, and callers hanging up.
 */
export function adapterContract<Ops>(subject: ContractSubject<Ops>): void {
  describe(`adapter contract: ${subject.module.id}`, () => {
    const log = createLogger({ level: 'silent' });
    const faults = new FaultBoard();
    let simulator: Listening;
    let policy: UpstreamPolicy;
    let adapter: Adapter<Ops>;
    let create: AdapterFactory<Ops>;

    beforeAll(async () => {
      create = await subject.module.adapter();
      simulator = await listen((await subject.module.simulator())(simulatorDeps(subject.module.id, faults)), '127.0.0.1', 0);
    });
    afterAll(async () => {
      await simulator.close();
    });

    const build = (breaker: Partial<{ volumeThreshold: number; errorThresholdPercentage: number }> = {}) => {
      policy = createPolicy({ log, metrics: createMetrics({ defaultMetrics: false }) }, subject.module.id, {
        timeoutMs: TIMEOUT_MS,
        retryAfterSeconds: 3,
        breaker: { errorThresholdPercentage: 50, volumeThreshold: 1000, resetTimeoutMs: RESET_MS, rollingCountTimeoutMs: 10_000, ...breaker },
      });
      adapter = create({ log, policy, signing: testSigning(subject.module.id) }, { url: simulator.url, maxResponseBytes: 1_048_576, retryAfterSeconds: 3, gatewayAgency: 'H52' });
    };
    afterEach(async () => {
      faults.clear();
      policy?.shutdown();
      await adapter?.close();
    });

    it('answers for a known subject', async () => {
      build();
      subject.expectKnown(await subject.known(adapter.ops, testContext()));
    });

    it('reports an unknown subject as SUBJECT_NOT_FOUND without tripping the breaker', async () => {
      build({ volumeThreshold: 2 });
      for (let i = 0; i < 5; i++) expect((await failure(subject.unknown(adapter.ops, testContext()))).code).toBe('SUBJECT_NOT_FOUND');
      expect(policy.state()).toBe('closed');
    });

    it('maps a server error to UPSTREAM_UNAVAILABLE with Retry-After', async () => {
      build();
      faults.set({ system: subject.module.id, mode: 'error' });
      expect(await failure(subject.known(adapter.ops, testContext()))).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', status: 503, retryAfter: 3 });
    });

    it('maps a dropped connection to UPSTREAM_UNAVAILABLE', async () => {
      build();
      faults.set({ system: subject.module.id, mode: 'down' });
      expect(await failure(subject.known(adapter.ops, testContext()))).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', status: 503 });
    });

    it('gives up on a silent upstream with UPSTREAM_TIMEOUT', async () => {
      build();
      faults.set({ system: subject.module.id, mode: 'timeout' });
      expect(await failure(subject.known(adapter.ops, testContext()))).toMatchObject({ code: 'UPSTREAM_TIMEOUT', status: 503, retryAfter: 3 });
    });

    it('refuses a malformed answer with UPSTREAM_BAD_RESPONSE', async () => {
      build();
      faults.set({ system: subject.module.id, mode: 'malformed' });
      expect(await failure(subject.known(adapter.ops, testContext()))).toMatchObject({ code: 'UPSTREAM_BAD_RESPONSE', status: 502 });
    });

    it('still answers when latency stays under the timeout, and ignores a fault drawn at rate 0', async () => {
      build();
      faults.set({ system: subject.module.id, mode: 'latency', ms: TIMEOUT_MS / 4 });
      subject.expectKnown(await subject.known(adapter.ops, testContext()));
      faults.set({ system: subject.module.id, mode: 'down', rate: 0 });
      subject.expectKnown(await subject.known(adapter.ops, testContext()));
    });

    it('opens the breaker after repeated failures, fails fast, then recovers', async () => {
      build({ volumeThreshold: 3 });
      faults.set({ system: subject.module.id, mode: 'error' });
      for (let i = 0; i < 3; i++) await failure(subject.known(adapter.ops, testContext()));
      expect(policy.state()).toBe('open');
      const rejected = await failure(subject.known(adapter.ops, testContext()));
      expect(rejected).toMatchObject({ code: 'UPSTREAM_CIRCUIT_OPEN', status: 503 });
      expect(rejected.retryAfter).toBeGreaterThanOrEqual(1);
      faults.clear();
      await new Promise((resolve) => setTimeout(resolve, RESET_MS + 100));
      subject.expectKnown(await subject.known(adapter.ops, testContext()));
      expect(policy.state()).toBe('closed');
    });

    it('reports health up, and down when the system is down', async () => {
      build();
      expect((await adapter.health(testContext())).status).toBe('up');
      faults.set({ system: subject.module.id, mode: 'down' });
      expect((await adapter.health(testContext())).status).toBe('down');
    });

    it('stops waiting when the caller hangs up, without counting it against the upstream', async () => {
      build({ volumeThreshold: 1 });
      faults.set({ system: subject.module.id, mode: 'timeout' });
      const controller = new AbortController();
      const call = subject.known(adapter.ops, testContext({ signal: controller.signal }));
      setTimeout(() => controller.abort(), 50);
      await expect(call).rejects.toThrow();
      expect(policy.state()).toBe('closed');
    });
  });
}
