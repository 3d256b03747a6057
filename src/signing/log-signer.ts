import type { KeyObject, X509Certificate } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { signDetached } from './cms.ts';
import { loadPemCredentials, withChain } from './trust-store.ts';

/**
 * The exchange log's own signing identity: a certificate that signs checkpoints and nothing
 * else, told apart from TLS and message-signing certificates by a dedicated certificate policy
 * (and extended key usage). Auditors pin it by certificate or SHA-256 fingerprint.
 */

/** The arc both OIDs live under: 2.25 + a UUID (aef52f6a-0f17-4933-a4ee-de27e10fa8f7) in decimal. */
const ARC = '2.25.232558745673023418921375301000624056567';
/** certificatePolicies: "this certificate signs exchange-log checkpoints". */
export const LOG_SIGNING_POLICY_OID = `${ARC}.1`;
/** extendedKeyUsage: exchange-log checkpoint signing. */
export const LOG_SIGNING_EKU_OID = `${ARC}.2`;

export interface LogSigner {
  certificate: X509Certificate;
  /** Intermediates after the leaf, root excluded. */
  chain: X509Certificate[];
  privateKey: KeyObject;
  /** A detached CMS signature over `body` (checkpoint text). */
  sign(body: Uint8Array): Promise<Buffer>;
}

/** Reads the log signer's PEM certificate (chain after the leaf allowed, completed from `intermediates`) and key. */
export function loadLogSigner(files: { certificateFile: string; keyFile: string }, intermediates: readonly X509Certificate[] = []): LogSigner {
  const credentials = loadPemCredentials(files.certificateFile, files.keyFile);
  if (!credentials.certificate.checkPrivateKey(credentials.key)) throw new Error(`${files.keyFile}: the key does not belong to the certificate ${files.certificateFile}`);
  const complete = withChain(credentials, intermediates);
  return { certificate: complete.certificate, chain: complete.chain, privateKey: complete.key, sign: (body) => signDetached(body, complete) };
}

/** The key usage bits, extended key usages and certificate policies a certificate carries. */
export interface CertificateProfile {
  /** Named keyUsage bits set; undefined when the extension is absent. */
  keyUsage: string[] | undefined;
  /** extendedKeyUsage OIDs; undefined when the extension is absent. */
  extKeyUsage: string[] | undefined;
  /** certificatePolicies OIDs (empty when the extension is absent). */
  policies: string[];
}

const KEY_USAGE_BITS = ['digitalSignature', 'nonRepudiation', 'keyEncipherment', 'dataEncipherment', 'keyAgreement', 'keyCertSign', 'cRLSign', 'encipherOnly', 'decipherOnly'];

/**
 * How asn1js prints an OID after decoding it: arcs too large for a number (the 128-bit UUID arc)
 * come back as their hex encoding in braces, so the OIDs above are compared in that form.
 */
function decodedForm(oid: string): string {
  const der = new asn1js.ObjectIdentifier({ value: oid }).toBER(false);
  return (asn1js.fromBER(der).result as asn1js.ObjectIdentifier).getValue();
}
const KNOWN_OIDS = new Map([LOG_SIGNING_POLICY_OID, LOG_SIGNING_EKU_OID].map((oid) => [decodedForm(oid), oid]));
const known = (oid: string) => KNOWN_OIDS.get(oid) ?? oid;

export function certificateProfile(certificate: X509Certificate): CertificateProfile {
  const cert = pkijs.Certificate.fromBER(new Uint8Array(certificate.raw));
  const profile: CertificateProfile = { keyUsage: undefined, extKeyUsage: undefined, policies: [] };
  for (const extension of cert.extensions ?? []) {
    if (extension.extnID === '2.5.29.15') {
      const bits = extension.parsedValue as asn1js.BitString;
      const bytes = new Uint8Array(bits.valueBlock.valueHexView);
      profile.keyUsage = KEY_USAGE_BITS.filter((_, i) => ((bytes[i >> 3] ?? 0) & (0x80 >> (i & 7))) !== 0);
    } else if (extension.extnID === '2.5.29.37') {
      profile.extKeyUsage = (extension.parsedValue as pkijs.ExtKeyUsage).keyPurposes.map(known);
    } else if (extension.extnID === '2.5.29.32') {
      profile.policies = (extension.parsedValue as pkijs.CertificatePolicies).certificatePolicies.map((p) => known(p.policyIdentifier));
    }
  }
  return profile;
}

/** TLS server and client authentication: a log signer carries neither. */
const TLS_EKUS: Readonly<Record<string, string>> = { '1.3.6.1.5.5.7.3.1': 'serverAuth', '1.3.6.1.5.5.7.3.2': 'clientAuth', '2.5.29.37.0': 'anyExtendedKeyUsage' };

/** Why `certificate` cannot be a log signer (empty when it can). */
export function logSignerProfileProblems(certificate: X509Certificate): string[] {
  const problems: string[] = [];
  let profile: CertificateProfile;
  try {
    profile = certificateProfile(certificate);
  } catch (err) {
    return [`its extensions do not parse: ${(err as Error).message}`];
  }
  const usage = profile.keyUsage;
  if (!usage || !usage.includes('digitalSignature') || !usage.includes('nonRepudiation')) {
    problems.push(`its key usage (${usage?.join(', ') || 'none'}) must include digitalSignature and nonRepudiation`);
  }
  const tls = (profile.extKeyUsage ?? []).filter((oid) => TLS_EKUS[oid]).map((oid) => TLS_EKUS[oid]!);
  if (tls.length > 0) problems.push(`it is a TLS certificate (extended key usage ${tls.join(', ')}): the log needs a signing certificate of its own`);
  if (certificate.ca) problems.push('it is a CA certificate');
  if (!profile.policies.includes(LOG_SIGNING_POLICY_OID)) problems.push(`it does not carry the log-signing certificate policy ${LOG_SIGNING_POLICY_OID}, which auditors require of the checkpoints' signer`);
  return problems;
}

/** Why the certificate that signed a checkpoint is not a log signer (no log-signing policy), or undefined. */
export function notALogSigner(signer: X509Certificate): string | undefined {
  if (certificateProfile(signer).policies.includes(LOG_SIGNING_POLICY_OID)) return undefined;
  return `signed by "${signer.subject.replaceAll('\n', ', ')}", which is not a log-signing certificate (no certificate policy ${LOG_SIGNING_POLICY_OID})`;
}
