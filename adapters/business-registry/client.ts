import { GatewayError } from '../../src/errors/gateway-error.ts';
import type { BusinessRegistry } from '../../src/core/enterprises.ts';
import type { CallContext, Health } from '../../src/core/ports.ts';
import type { UpstreamPolicy } from '../../src/resilience/policy.ts';
import type { UpstreamHttp } from '../../src/resilience/upstream-http.ts';
import { interpretAnswer } from './errors.ts';
import { MappingError, toEnterprise } from './mapping.ts';

export const ENTERPRISE_PATH = '/api/v1/doanh-nghiep/';

export interface BusinessRegistryClient extends BusinessRegistry {
  health(ctx: CallContext): Promise<Health>;
}

export function createBusinessRegistryClient(
  deps: { http: UpstreamHttp; policy: UpstreamPolicy },
  options: { retryAfterSeconds: number },
): BusinessRegistryClient {
  const { http, policy } = deps;

  const headers = (ctx: CallContext) => ({
    accept: 'application/json',
    'x-ma-don-vi': ctx.agency,
    'x-ma-yeu-cau': ctx.exchangeId,
    'x-request-id': ctx.requestId,
  });

  return {
    getEnterprise: (ctx, code) =>
      policy.execute(ctx, async (signal) => {
        const response = await http.send({ method: 'GET', path: ENTERPRISE_PATH + encodeURIComponent(code.code), headers: headers(ctx), signal });
        const wire = interpretAnswer(response, code.code, options.retryAfterSeconds);
        try {
          return toEnterprise(wire, new Date());
        } catch (err) {
          if (err instanceof MappingError) {
            throw new GatewayError('UPSTREAM_BAD_RESPONSE', { detail: `business registry: ${err.message}`, upstreamFailure: true, cause: err });
          }
          throw err;
        }
      }),

    async health(ctx) {
      const started = performance.now();
      try {
        const response = await http.send({ method: 'GET', path: '/api/v1/trang-thai', headers: headers(ctx), signal: AbortSignal.any([ctx.signal, AbortSignal.timeout(2000)]) });
        const latencyMs = Math.round(performance.now() - started);
        return response.status === 200 ? { status: 'up', latencyMs } : { status: 'down', latencyMs, detail: `HTTP ${response.status}` };
      } catch (err) {
        return { status: 'down', latencyMs: Math.round(performance.now() - started), detail: (err as Error).message };
      }
    },
  };
}
