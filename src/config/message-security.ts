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
    const problem = configured === undefined ? undefined : profileProblem(system, configured);
    if (problem) problems.push(problem);
  }
  return problems;
}

/** Why the system's adapter cannot speak `profile`, naming the setting, or undefined when it can. */
export function profileProblem(system: { id: string; messageSecurity?: MessageSecurityDeclaration['messageSecurity'] }, profile: MessageSecurity): string | undefined {
  const setting = `upstreams.${system.id}.messageSecurity`;
  if (!system.messageSecurity) return `${setting}: not applicable to ${system.id} (its protocol secures its own messages); remove the setting`;
  if (!system.messageSecurity.supported.includes(profile)) {
    return `${setting}: "${profile}" is not spoken by the ${system.id} adapter (supported: ${system.messageSecurity.supported.join(', ')})`;
  }
  return undefined;
}
