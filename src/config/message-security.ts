import type { Config, MessageSecurity, SystemId } from './schema.ts';

/** The message security profiles a national system's adapter speaks, as its module declares them. */
export interface MessageSecurityDeclaration {
  id: SystemId;
  /** Absent: the protocol secures its own messages (OpenID Connect) and the setting does not apply. */
  messageSecurity?: { supported: readonly MessageSecurity[]; default: MessageSecurity } | undefined;
}

/** The profile an upstream speaks: `upstreams.<id>.messageSecurity`, else what the real system does. */
export function messageSecurityOf(config: Config, system: MessageSecurityDeclaration): MessageSecurity | undefined {
  if (!system.messageSecurity) return undefined;
  return config.upstreams[system.id].messageSecurity ?? system.messageSecurity.default;
}

/** Whether a profile's answers carry a signature made with the system's certificate. */
export const signsAnswers = (profile: MessageSecurity | undefined): boolean => profile !== undefined && profile !== 'none';

/**
 * A configured profile the adapter does not speak, each named by its setting. In every
 * environment: a gateway that silently spoke another profile than the one configured would
 * either be refused by the system or believe answers it should have checked.
 */
export function messageSecurityProblems(config: Config, systems: readonly MessageSecurityDeclaration[]): string[] {
  const problems: string[] = [];
  for (const system of systems) {
    const configured = config.upstreams[system.id].messageSecurity;
    if (configured === undefined) continue;
    const setting = `upstreams.${system.id}.messageSecurity`;
    if (!system.messageSecurity) {
      problems.push(`${setting}: not applicable to ${system.id} (its protocol secures its own messages); remove the setting`);
    } else if (!system.messageSecurity.supported.includes(configured)) {
      problems.push(`${setting}: "${configured}" is not spoken by the ${system.id} adapter (supported: ${system.messageSecurity.supported.join(', ')})`);
    }
  }
  return problems;
}
