import { ConfigError } from '../src/config/load.ts';
import { profileProblem } from '../src/config/message-security.ts';
import type { MessageSecurity } from '../src/config/schema.ts';
import type { AdapterOptions, MessageSecuritySupport } from './module.ts';

/**
 * The profile an adapter is to speak: the one configured, else the module's default. A profile
 * the module does not speak is refused (ConfigError naming the setting; start-up exits with 2),
 * so an adapter never falls back silently to another one.
 */
export function messageSecurityFor(module: { id: string; messageSecurity?: MessageSecuritySupport | undefined }, options: Pick<AdapterOptions, 'messageSecurity'>): MessageSecurity {
  const profile = options.messageSecurity ?? module.messageSecurity?.default ?? 'none';
  const problem = profileProblem(module, profile);
  if (problem) throw new ConfigError([problem]);
  return profile;
}
