import type { GatewayError } from '../src/errors/gateway-error.ts';

/** Thrown by an adapter's mapping when a well-formed answer carries a value it cannot map. */
export class MappingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MappingError';
  }
}

/**
 * Runs a mapping, turning what it refuses into the adapter's bad-response error (the system sent
 * something we cannot use); any other error passes through unchanged.
 */
export function mapped<T>(map: () => T, badResponse: (detail: string, cause: MappingError) => GatewayError): T {
  try {
    return map();
  } catch (err) {
    if (err instanceof MappingError) throw badResponse(err.message, err);
    throw err;
  }
}
