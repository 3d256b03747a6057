import type { components } from '../../generated/gateway.ts';
import type { Handlers } from '../handlers.ts';

export type UpstreamStatus = components['schemas']['Upstream'];

export function upstreamHandlers(deps: { upstreams(): UpstreamStatus[] }): Handlers {
  return {
    listUpstreams: (_req, res) => {
      res.json({ items: deps.upstreams() });
    },
  };
}
