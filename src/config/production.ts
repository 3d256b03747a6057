import type { X509Certificate } from 'node:crypto';
import { logSignerProfileProblems } from '../signing/log-signer.ts';
import { sampleOrigin } from '../signing/sample-pki.ts';
import { messageSecurityOf, signsAnswers, type MessageSecurityDeclaration } from './message-security.ts';
import type { Config, UpstreamConfig } from './schema.ts';

/**
 * What a national system needs configured before a production gateway may call it. With a
 * message security profile that signs answers (any but `none`), the name of the certificate they
 * are signed with must be pinned.
 */
export interface UpstreamRequirements extends MessageSecurityDeclaration {
  /** The sandbox's account, used outside production when `upstreams.<id>.credentials` is unset. */
  sandboxAccount?: { username: string; password: string } | undefined;
  /** What production requires of the module's own settings in its section. */
  config?: { productionProblems?: ((section: UpstreamConfig & Record<string, unknown>, setting: string) => string[]) | undefined } | undefined;
  /** A system a province may run without: see AdapterModule.optional. */
  optional?: boolean | undefined;
}

/**
 * Whether a system is left unconnected: an optional one without a URL in production. Outside
 * production the sandbox stands in for every system without a URL.
 */
export function notConnected(config: Config, system: { id: UpstreamRequirements['id']; optional?: boolean | undefined }): boolean {
  return config.env.production && system.optional === true && !config.upstreams[system.id].url;
}

const REQUIRED = 'required when NODE_ENV=production';

/**
 * The settings a production gateway must not run without, each named: every upstream's URL, over
 * TLS (with the profile `none` TLS is all that protects the messages, and a URL in clear would
 * also send the gateway's account in clear), the pinned certificate name of every system whose
 * profile signs its answers (otherwise any certificate under the national root, another
 * ministry's, would be believed), the gateway's own account where a login is needed, and at least
 * one CRL. Empty outside production.
 */
export function productionProblems(config: Config, systems: readonly UpstreamRequirements[]): string[] {
  if (!config.env.production) return [];
  const problems: string[] = [];
  for (const system of systems) {
    if (notConnected(config, system)) continue;
    const upstream = config.upstreams[system.id];
    const setting = `upstreams.${system.id}`;
    if (!upstream.url) problems.push(`${setting}.url: ${REQUIRED} (the sandbox is for development only)`);
    else if (new URL(upstream.url).protocol !== 'https:') problems.push(`${setting}.url: an https:// URL is ${REQUIRED} (without TLS the messages and the gateway's account travel in clear)`);
    const profile = messageSecurityOf(config, system);
    if (signsAnswers(profile) && !upstream.certificateName) {
      problems.push(`${setting}.certificateName: ${REQUIRED} with messageSecurity ${profile} (the common name of the system's signing certificate; without it any certificate under the trusted roots is believed)`);
    }
    if (system.sandboxAccount) {
      if (!upstream.credentials) problems.push(`${setting}.credentials: ${REQUIRED} (the gateway's own account; the sandbox account is for development only)`);
      // The sandbox's password is published: whatever the user name, it is no secret.
      else if (upstream.credentials.password === system.sandboxAccount.password) {
        problems.push(`${setting}.credentials: the sandbox account's password is refused when NODE_ENV=production`);
      }
    }
    problems.push(...(system.config?.productionProblems?.(upstream, setting) ?? []));
  }
  if (!config.audit.signer) {
    problems.push(`audit.signer: ${REQUIRED} (the log-signing certificate and key that sign checkpoints, not the TLS or message-signing ones)`);
  }
  if (!config.documents.seal) {
    problems.push(`documents.seal: ${REQUIRED} (the agency certificate and key that seal deposited results; the sample seal is for development only)`);
  }
  if (!config.documents.publicBaseUrl) {
    problems.push(`documents.publicBaseUrl: ${REQUIRED} (the address the national portal downloads reused documents and results from; the listening address is no address of the portal's)`);
  }
  if (!config.documents.tsaUrl && !config.audit.tsaUrl) {
    problems.push(`documents.tsaUrl: ${REQUIRED}, or audit.tsaUrl (sealed results carry an RFC 3161 signature timestamp)`);
  }
  if (!config.audit.inspectorate) {
    problems.push(`audit.inspectorate.publicKeyFile: ${REQUIRED} (the inspectorate's RSA public key acting officers' identifiers are sealed to; the sample key is for development only)`);
  }
  if (!config.trust.crls?.length) problems.push(`trust.crls: at least one CRL is ${REQUIRED} (without one, revoked certificates are believed)`);
  // Outside production the HTTPS listener falls back to the sample gateway certificate.
  const tls = config.server.tls;
  if (tls.enabled) {
    if (!tls.certificateFile) problems.push(`server.tls.certificateFile: ${REQUIRED} when server.tls.enabled (the sample certificate is for development only)`);
    if (!tls.keyFile) problems.push(`server.tls.keyFile: ${REQUIRED} when server.tls.enabled`);
  }
  return problems;
}

/**
 * Why a production gateway must not sign its exchange log with `signer`: a sample certificate, the
 * certificate (or key) it also uses for TLS or message signing, or a certificate whose profile is
 * not a signing one (key usage without digitalSignature/nonRepudiation, TLS extended key usage).
 * An auditor pins the log signer: sharing it with another role would let that role's key sign a
 * history. Empty outside production.
 */
export function logSignerProblems(config: Config, signer: X509Certificate, others: readonly { setting: string; certificate: X509Certificate }[]): string[] {
  if (!config.env.production) return [];
  const problems: string[] = [];
  const origin = sampleOrigin(signer);
  if (origin) problems.push(`audit.signer: the certificate is from the sample PKI (certs-sample/${origin}), refused when NODE_ENV=production`);
  const key = (c: X509Certificate) => c.publicKey.export({ type: 'spki', format: 'der' });
  for (const other of others) {
    if (other.certificate.fingerprint256 === signer.fingerprint256) problems.push(`audit.signer: the same certificate as ${other.setting}: the exchange log needs a signing certificate of its own`);
    else if (key(other.certificate).equals(key(signer))) problems.push(`audit.signer: the same key as ${other.setting}: the exchange log needs a key of its own`);
  }
  for (const problem of logSignerProfileProblems(signer)) problems.push(`audit.signer: ${problem}`);
  return problems;
}
