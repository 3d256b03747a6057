import { GatewayError } from '../src/errors/gateway-error.ts';

/**
 * Refuses a request whose identifier cannot name anybody (a bad check digit, a year of birth to
 * come...), before any national system is called: 400 INVALID_IDENTIFIER naming the field.
 */
export function refuseIdentifier(field: string, reason: string): never {
  throw new GatewayError('INVALID_IDENTIFIER', { detail: `${field.split('.').pop()} ${reason}`, errors: [{ field, message: reason }] });
}
