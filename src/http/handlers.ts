import type { RequestHandler } from 'express';
import { GatewayError } from '../errors/gateway-error.ts';

/** Request handlers by operationId; an operation without one answers 501 NOT_IMPLEMENTED. */
export type Handlers = Record<string, RequestHandler>;

export const notImplemented: RequestHandler = (_req, res) => {
  throw new GatewayError('NOT_IMPLEMENTED', { detail: `${String(res.locals.operation?.operationId)} is planned and not built yet` });
};
