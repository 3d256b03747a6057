import { X509Certificate, createPrivateKey, verify as verifySignature, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type Forge from 'node-forge';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { GatewayError } from '../errors/gateway-error.ts';

/** Every certificate in a PEM text (or one DER certificate). */
export function parseCertificates(data: string | Buffer): X509Certificate[] {
  const text = typeof data === 'string' ? data : data.toString('latin1');
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
  if (blocks) return blocks.map((b) => new X509Certificate(b));
  return [new X509Certificate(typeof data === 'string' ? Buffer.from(data, 'latin1') : data)];
}

export function readCertificates(path: string): X509Certificate[] {
  return parseCertificates(readFileSync(path));
}

/** A key and its certificate chain (leaf first) from PEM files or a PKCS#12 file. */
export interface Credentials {
  key: KeyObject;
  certificate: X509Certificate;
  /** Intermediates after the leaf, root excluded. */
  chain: X509Certificate[];
}

export function loadPemCredentials(certificateFile: string, keyFile: string): Credentials {
  const [certificate, ...chain] = readCertificates(certificateFile);
  if (!certificate) throw new Error(`${certificateFile} holds no certificate`);
  const key = createPrivateKey(readFileSync(keyFile));
  return { key, certificate, chain };
}

/** PKCS#12 (.p12/.pfx): read once at start with node-forge, never on the request path. */
export function loadPkcs12Credentials(file: string, password: string): Credentials {
  // Required here, not at load: only installations that configure a PKCS#12 file pay for node-forge.
  const forge = createRequire(import.meta.url)('node-forge') as typeof Forge;
  const p12 = forge.pkcs12.pkcs12FromAsn1(forge.asn1.fromDer(readFileSync(file).toString('binary')), password);
  const keyBag = p12.getBags({ bagType: forge.pki.oids.pkcs8ShroudedKeyBag! })[forge.pki.oids.pkcs8ShroudedKeyBag!]?.[0];
  const certBags = p12.getBags({ bagType: forge.pki.oids.certBag! })[forge.pki.oids.certBag!] ?? [];
  if (!keyBag?.key || certBags.length === 0) throw new Error(`${file} holds no key and certificate`);
  const certs = certBags.map((b) => new X509Certificate(forge.pki.certificateToPem(b.cert!)));
  const key = createPrivateKey(forge.pki.privateKeyToPem(keyBag.key));
  const leafIndex = certs.findIndex((c) => c.checkPrivateKey(key));
  if (leafIndex < 0) throw new Error(`${file}: no certificate matches the key`);
  const certificate = certs[leafIndex]!;
  return { key, certificate, chain: certs.filter((c, i) => i !== leafIndex && !isSelfSigned(c)) };
}

function isSelfSigned(cert: X509Certificate): boolean {
  return cert.subject === cert.issuer && cert.verify(cert.publicKey);
}

/** The common name of a certificate's subject. */
export function commonName(cert: X509Certificate): string | undefined {
  return /(?:^|\n)CN=([^\n]+)/.exec(cert.subject)?.[1];
}

function serialKey(hex: string): string {
  return hex.replace(/^0+/, '').toUpperCase();
}

interface Crl {
  issuer: X509Certificate;
  revoked: Set<string>;
  thisUpdate: Date;
  nextUpdate: Date | undefined;
}

/** What a CRL in the trust store says about itself. */
export interface CrlStatus {
  /** The common name of the CA that signed it. */
  issuer: string;
  /** The CA's full subject name (as X509Certificate#subject writes it), to match a certificate's issuer. */
  issuerSubject: string;
  thisUpdate: Date;
  /** When a newer CRL must be in place; past it, every certificate the CA issued is refused. */
  nextUpdate: Date | undefined;
  revoked: number;
}

const status = (crl: Crl): CrlStatus => ({ issuer: commonName(crl.issuer) ?? crl.issuer.subject, issuerSubject: crl.issuer.subject, thisUpdate: crl.thisUpdate, nextUpdate: crl.nextUpdate, revoked: crl.revoked.size });

export interface TrustOptions {
  roots: X509Certificate[];
  intermediates?: X509Certificate[];
  /** DER or PEM CRLs, each signed by one of the roots or intermediates. */
  crls?: (string | Buffer)[];
}

export interface VerifyOptions {
  /** Certificates the peer sent with its signature (x5c, BinarySecurityToken chain). */
  chain?: X509Certificate[];
  /** The common name the peer must have (the pinned upstream). */
  expectedName?: string;
  at?: Date;
}

/**
 * Decides whether a certificate may be believed: a path to a configured root, every certificate
 * within its dates, none revoked by a CRL, and the pinned name. Failures are GatewayErrors with
 * their own codes, so callers answer 502 with the reason.
 */
export interface TrustStore {
  readonly roots: readonly X509Certificate[];
  readonly intermediates: readonly X509Certificate[];
  verify(leaf: X509Certificate, options?: VerifyOptions): void;
  /** The CRLs in use, one per issuing CA. */
  crls(): CrlStatus[];
  /**
   * Puts a newer CRL in place of its CA's current one (or beside the others, for a CA that had
   * none). Throws, changing nothing, when the CRL is not signed by a trusted CA or is older than
   * the one in use (a replayed CRL would bring revoked certificates back).
   */
  replaceCrl(data: string | Buffer): CrlStatus;
}

function failure(code: 'UPSTREAM_CERT_UNTRUSTED' | 'UPSTREAM_CERT_EXPIRED' | 'UPSTREAM_CERT_REVOKED', detail: string): GatewayError {
  return new GatewayError(code, { detail, upstreamFailure: true });
}

/**
 * What path validation needs from a certificate beyond what node:crypto's X509Certificate says,
 * read once per certificate with pkijs' parser.
 */
interface CertInfo {
  /** basicConstraints cA. */
  ca: boolean;
  pathLen: number | undefined;
  /** keyUsage keyCertSign and cRLSign; undefined when the certificate has no keyUsage extension. */
  keyCertSign: boolean | undefined;
  crlSign: boolean | undefined;
  /** Names of each form the certificate carries (subject DN, its emailAddress attributes, subjectAltName). */
  names: Name[];
  constraints: { permitted: Name[]; excluded: Name[] } | undefined;
  /**
   * Why the certificate cannot be used whatever its place in a path: a critical extension this
   * validator does not process (RFC 5280 §6.1.4 (o)), or an extension it processes that does not parse.
   */
  unusable: string | undefined;
}

/** A name or a name-constraint base: 1 rfc822Name, 2 dNSName, 4 directoryName, 7 iPAddress; other forms keep only their type. */
type Name = { type: 1 | 2; value: string } | { type: 4; value: string[] } | { type: 7; value: Uint8Array } | { type: 0 | 3 | 5 | 6 | 8; value: undefined };

const OID = { keyUsage: '2.5.29.15', subjectAltName: '2.5.29.17', basicConstraints: '2.5.29.19', nameConstraints: '2.5.29.30', email: '1.2.840.113549.1.9.1' };
/** Extensions that may be critical: the ones checked here, and ones whose meaning does not restrict path validity. */
const KNOWN_CRITICAL = new Set([OID.keyUsage, OID.subjectAltName, OID.basicConstraints, OID.nameConstraints, '2.5.29.37', '2.5.29.32', '2.5.29.14', '2.5.29.35']);

/** RFC 5280 §7.1 (simplified to RFC 4518's main effects): case and runs of spaces do not matter in string attributes. */
function rdnStrings(name: pkijs.RelativeDistinguishedNames): { rdns: string[]; emails: string[] } {
  const emails: string[] = [];
  const rdns = (name.toSchema() as asn1js.Sequence).valueBlock.value.map((set) =>
    (set as asn1js.Set).valueBlock.value
      .map((attr) => {
        const [type, value] = (attr as asn1js.Sequence).valueBlock.value as [asn1js.ObjectIdentifier, asn1js.BaseBlock];
        const oid = type.valueBlock.toString();
        const text = (value as { valueBlock: { value?: unknown } }).valueBlock.value;
        const normal = typeof text === 'string' ? text.trim().replace(/\s+/g, ' ').toLowerCase() : Buffer.from(value.toBER(false)).toString('hex');
        if (oid === OID.email && typeof text === 'string') emails.push(normal);
        return `${oid}=${normal}`;
      })
      .sort()
      .join('+'),
  );
  return { rdns, emails };
}

function generalName(name: pkijs.GeneralName): Name {
  switch (name.type) {
    case 1:
    case 2:
      return { type: name.type, value: String(name.value).toLowerCase() };
    case 4:
      return { type: 4, value: rdnStrings(name.value as pkijs.RelativeDistinguishedNames).rdns };
    case 7:
      return { type: 7, value: new Uint8Array((name.value as asn1js.OctetString).valueBlock.valueHexView) };
    default:
      return { type: name.type as 0 | 3 | 5 | 6 | 8, value: undefined };
  }
}

const infos = new WeakMap<X509Certificate, CertInfo>();

function certInfo(cert: X509Certificate): CertInfo {
  const known = infos.get(cert);
  if (known) return known;
  const info = readCertInfo(cert);
  infos.set(cert, info);
  return info;
}

function readCertInfo(cert: X509Certificate): CertInfo {
  let parsed: pkijs.Certificate;
  try {
    parsed = pkijs.Certificate.fromBER(new Uint8Array(cert.raw));
  } catch {
    return { ca: false, pathLen: undefined, keyCertSign: undefined, crlSign: undefined, names: [], constraints: undefined, unusable: 'its structure cannot be read' };
  }
  const subject = rdnStrings(parsed.subject);
  const info: CertInfo = {
    ca: false,
    pathLen: undefined,
    keyCertSign: undefined,
    crlSign: undefined,
    names: [...(subject.rdns.length ? [{ type: 4 as const, value: subject.rdns }] : []), ...subject.emails.map((value) => ({ type: 1 as const, value }))],
    constraints: undefined,
    unusable: undefined,
  };
  for (const extension of parsed.extensions ?? []) {
    if (extension.critical && !KNOWN_CRITICAL.has(extension.extnID)) info.unusable ??= `it has a critical extension ${extension.extnID} that is not understood`;
    const value = extension.parsedValue as unknown;
    // pkijs answers an extension it cannot parse with an empty value flagged parsingError: an empty name-constraints value would constrain nothing.
    if ((value as { parsingError?: string } | null)?.parsingError || (value === null && KNOWN_CRITICAL.has(extension.extnID))) {
      info.unusable ??= `its extension ${extension.extnID} cannot be read`;
      continue;
    }
    if (extension.extnID === OID.basicConstraints && value instanceof pkijs.BasicConstraints) {
      info.ca = value.cA === true;
      // A pathLenConstraint too large for a JavaScript number constrains nothing.
      if (value.pathLenConstraint !== undefined) info.pathLen = typeof value.pathLenConstraint === 'number' ? value.pathLenConstraint : undefined;
    } else if (extension.extnID === OID.keyUsage) {
      const bits = asn1js.fromBER(extension.extnValue.valueBlock.valueHexView).result;
      const first = bits instanceof asn1js.BitString ? (bits.valueBlock.valueHexView[0] ?? 0) : 0;
      info.keyCertSign = (first & 0x04) !== 0;
      info.crlSign = (first & 0x02) !== 0;
    } else if (extension.extnID === OID.subjectAltName && value instanceof pkijs.AltName) {
      info.names.push(...value.altNames.map(generalName));
    } else if (extension.extnID === OID.nameConstraints && value instanceof pkijs.NameConstraints) {
      info.constraints = {
        permitted: (value.permittedSubtrees ?? []).map((s) => generalName(s.base)),
        excluded: (value.excludedSubtrees ?? []).map((s) => generalName(s.base)),
      };
    }
  }
  return info;
}

function withinDomain(name: string, base: string): boolean {
  if (base === '') return true;
  if (base.startsWith('.')) return name.endsWith(base);
  return name === base || name.endsWith(`.${base}`);
}

/** RFC 5280 §4.2.1.10: is a name within a constraint's subtree (both of the same form)? */
function within(name: Name, base: Name): boolean {
  if (name.type === 4 && base.type === 4) return base.value.every((rdn, i) => name.value[i] === rdn);
  if (name.type === 2 && base.type === 2) return withinDomain(name.value, base.value);
  if (name.type === 1 && base.type === 1) {
    if (base.value.includes('@')) return name.value === base.value;
    const host = name.value.slice(name.value.lastIndexOf('@') + 1);
    return base.value.startsWith('.') ? host.endsWith(base.value) : host === base.value;
  }
  if (name.type === 7 && base.type === 7) {
    const length = name.value.length;
    if (base.value.length !== 2 * length) return false;
    return name.value.every((byte, i) => (byte & base.value[length + i]!) === (base.value[i]! & base.value[length + i]!));
  }
  return false;
}

const FORMS: Record<number, string> = { 1: 'email address', 2: 'DNS name', 4: 'directory name', 7: 'IP address' };

function describe(name: Name): string {
  if (name.type === 4) return name.value.join(', ');
  if (name.type === 7) {
    const half = name.value.length === 8 || name.value.length === 32 ? name.value.length / 2 : name.value.length;
    const address = (bytes: Uint8Array) => (bytes.length === 4 ? [...bytes].join('.') : Buffer.from(bytes).toString('hex'));
    return half === name.value.length ? address(name.value) : `${address(name.value.subarray(0, half))}/${address(name.value.subarray(half))}`;
  }
  return name.value ?? `name of type ${name.type}`;
}

/** Why a certificate's names break a CA's name constraints, or undefined when they do not. */
function nameViolation(names: Name[], constraints: NonNullable<CertInfo['constraints']>): string | undefined {
  for (const name of names) {
    const permitted = constraints.permitted.filter((base) => base.type === name.type);
    const excluded = constraints.excluded.filter((base) => base.type === name.type);
    if (!FORMS[name.type] && (permitted.length || excluded.length)) return `a name of type ${name.type} meets a constraint this gateway cannot evaluate`;
    if (permitted.length && !permitted.some((base) => within(name, base))) return `${FORMS[name.type]} "${describe(name)}" is outside the permitted subtrees`;
    const hit = excluded.find((base) => within(name, base));
    if (hit) return `${FORMS[name.type]} "${describe(name)}" is within the excluded subtree "${describe(hit)}"`;
  }
  return undefined;
}

/**
 * The RFC 5280 §6.1 checks on a path built leaf first, the trusted root last. Signatures and
 * name chaining were checked while building it; dates and revocation are checked by the caller.
 * Returns why the path is invalid, or undefined.
 *
 * - Every certificate above the leaf must be a CA (basicConstraints cA) and, when it has a
 *   keyUsage extension, allow keyCertSign.
 * - pathLenConstraint: the number of non-self-issued intermediates below a CA may not exceed it
 *   (the root's own constraint counts too).
 * - Name constraints of every CA (the root's included) bind the subject DN, emailAddress
 *   attributes and subjectAltName of every certificate below it, self-issued intermediates
 *   aside; a constraint on a name form not evaluated here refuses any certificate with a name of
 *   that form, as §6.1.4 (g) requires.
 * - A critical extension that is not understood makes the certificate unusable. Certificate
 *   policies are not processed (no policy is required of a path), which is why a critical
 *   certificatePolicies passes while critical policyConstraints or policyMappings are refused.
 */
function pathViolation(path: X509Certificate[]): string | undefined {
  const infosDown = path.map(certInfo).reverse(); // root first
  const certsDown = [...path].reverse();
  let maxPathLength = infosDown[0]!.pathLen ?? Infinity;
  const constraints: { ca: string; value: NonNullable<CertInfo['constraints']> }[] = [];
  for (const [i, info] of infosDown.entries()) {
    const cert = certsDown[i]!;
    const name = commonName(cert) ?? cert.subject;
    const isRoot = i === 0;
    const isLeaf = i === infosDown.length - 1;
    if (info.unusable) return `certificate "${name}" cannot be used: ${info.unusable}`;
    const selfIssued = !isRoot && cert.subject === cert.issuer;
    if (!isRoot && (!selfIssued || isLeaf)) {
      for (const c of constraints) {
        const why = nameViolation(info.names, c.value);
        if (why) return `certificate "${name}" breaks the name constraints of "${c.ca}": ${why}`;
      }
    }
    if (isLeaf) break;
    if (!info.ca) return `certificate "${name}" issues certificates but is not a CA (basicConstraints cA is not set)`;
    if (info.keyCertSign === false) return `certificate "${name}" issues certificates but its keyUsage lacks keyCertSign`;
    if (!isRoot) {
      if (!selfIssued) {
        if (maxPathLength <= 0) return `certificate "${name}" exceeds the path length constraint of a CA above it`;
        maxPathLength--;
      }
      if (info.pathLen !== undefined) maxPathLength = Math.min(maxPathLength, info.pathLen);
    }
    if (info.constraints) constraints.push({ ca: name, value: info.constraints });
  }
  return undefined;
}

function parseCrl(data: string | Buffer, issuers: X509Certificate[]): Crl {
  const text = typeof data === 'string' ? data : data.toString('latin1');
  const pem = /-----BEGIN X509 CRL-----([\s\S]+?)-----END X509 CRL-----/.exec(text);
  const der = pem ? Buffer.from(pem[1]!.replace(/\s+/g, ''), 'base64') : Buffer.isBuffer(data) ? data : Buffer.from(data, 'latin1');
  const crl = pkijs.CertificateRevocationList.fromBER(new Uint8Array(der));
  const tbs = Buffer.from(crl.tbsView);
  const signature = Buffer.from(crl.signatureValue.valueBlock.valueHexView);
  // The CRL counts only if one of our CAs signed it.
  const issuer = issuers.find((ca) => {
    try {
      return verifySignature('sha256', tbs, ca.publicKey, signature);
    } catch {
      return false;
    }
  });
  if (!issuer) throw new Error('a CRL is not signed by any trusted CA');
  if (certInfo(issuer).crlSign === false) throw new Error(`a CRL is signed by "${commonName(issuer)}", whose keyUsage lacks cRLSign`);
  const revoked = new Set((crl.revokedCertificates ?? []).map((r) => serialKey(Buffer.from(r.userCertificate.valueBlock.valueHexView).toString('hex'))));
  return { issuer, revoked, thisUpdate: crl.thisUpdate.value, nextUpdate: crl.nextUpdate?.value };
}

/** Intermediates a path may hold between the leaf and the root. */
const MAX_INTERMEDIATES = 4;
/** Signature checks one path search may spend. */
const MAX_SIGNATURE_CHECKS = 32;
/** Remembered answers at most; the oldest go first. */
const CACHE_ENTRIES = 10_000;

/**
 * Path validation is done here rather than by pkijs' CertificateChainValidationEngine: that engine
 * is asynchronous (WebCrypto) while every caller verifies synchronously on the request path; it
 * checks basicConstraints cA, keyCertSign, dates, name chaining and name constraints, but not
 * pathLenConstraint, and when given CRLs it demands cRLSign of every intermediate rather than of
 * the CRL's issuer. Here pkijs only parses the extensions, node:crypto checks the signatures, and
 * pathViolation holds the RFC 5280 rules.
 */
export function createTrustStore(options: TrustOptions): TrustStore {
  const roots = options.roots;
  if (roots.length === 0) throw new Error('the trust store needs at least one root');
  const intermediates = options.intermediates ?? [];
  let crls = (options.crls ?? []).map((c) => parseCrl(c, [...roots, ...intermediates]));
  /** Changes with every CRL put in place, so that no answer given under an older CRL set is reused. */
  const cache = new Map<string, { until: number; error?: GatewayError }>();

  /**
   * Every path from the leaf to a root, shortest first at each step, built as they are asked for.
   * Name chaining and the signature make a candidate the issuer (whether it may issue is
   * pathViolation's question). A peer could send many certificates that all sign one another:
   * `budget` bounds the signature checks one verification may spend on that.
   */
  function* paths(path: X509Certificate[], pool: X509Certificate[], budget: { signatures: number }): Generator<X509Certificate[]> {
    const current = path[path.length - 1]!;
    const issued = (candidate: X509Certificate) => candidate.subject === current.issuer && budget.signatures-- > 0 && current.verify(candidate.publicKey);
    for (const root of roots) if (issued(root)) yield [...path, root];
    if (path.length > MAX_INTERMEDIATES) return;
    for (const next of pool) if (!path.includes(next) && !roots.includes(next) && issued(next)) yield* paths([...path, next], pool, budget);
  }

  /** Checks one path; returns until when its answer holds, or throws why it is refused. */
  function checkPath(path: X509Certificate[], at: Date): number {
    let until = Infinity;
    for (const cert of path) {
      if (at < new Date(cert.validFrom) || at > new Date(cert.validTo)) {
        throw failure('UPSTREAM_CERT_EXPIRED', `certificate "${commonName(cert)}" is valid ${cert.validFrom} to ${cert.validTo}`);
      }
      until = Math.min(until, new Date(cert.validTo).getTime());
    }
    const violation = pathViolation(path);
    if (violation) throw failure('UPSTREAM_CERT_UNTRUSTED', violation);
    for (const [i, cert] of path.slice(0, -1).entries()) {
      const crl = crls.find((c) => c.issuer.subject === path[i + 1]!.subject);
      if (crl?.revoked.has(serialKey(cert.serialNumber))) throw failure('UPSTREAM_CERT_REVOKED', `certificate "${commonName(cert)}" (serial ${cert.serialNumber}) is revoked`);
      if (crl?.nextUpdate && crl.nextUpdate < at) throw failure('UPSTREAM_CERT_UNTRUSTED', `the CRL of "${commonName(crl.issuer)}" is out of date`);
      if (crl?.nextUpdate) until = Math.min(until, crl.nextUpdate.getTime());
    }
    return until;
  }

  function check(leaf: X509Certificate, options: VerifyOptions): number {
    const at = options.at ?? new Date();
    // The first valid path wins; when none is, the first path's reason is the answer.
    let first: unknown;
    let until: number | undefined;
    for (const path of paths([leaf], [...(options.chain ?? []), ...intermediates], { signatures: MAX_SIGNATURE_CHECKS })) {
      try {
        until = checkPath(path, at);
        break;
      } catch (err) {
        first ??= err;
      }
    }
    if (until === undefined) throw first ?? failure('UPSTREAM_CERT_UNTRUSTED', `no path from "${commonName(leaf)}" to a trusted root`);
    if (options.expectedName !== undefined && commonName(leaf) !== options.expectedName) {
      throw failure('UPSTREAM_CERT_UNTRUSTED', `certificate is for "${commonName(leaf)}", expected "${options.expectedName}"`);
    }
    return until;
  }

  function remember(key: string, entry: { until: number; error?: GatewayError }): void {
    if (cache.size >= CACHE_ENTRIES) cache.delete(cache.keys().next().value!);
    cache.set(key, entry);
  }

  return {
    roots,
    intermediates,
    verify(leaf, options = {}) {
      // A question about another time (an archived signature) is asked once: not cached, so it
      // never pushes the request path's answers out.
      if (options.at) {
        check(leaf, options);
        return;
      }
      // Path building costs a few signature checks: remember the answer for a few minutes, for
      // this leaf, sent chain and pinned name (a new CRL empties the cache).
      const key = [leaf.fingerprint256, options.expectedName ?? '', (options.chain ?? []).map((c) => c.fingerprint256).join(',')].join('|');
      const now = Date.now();
      const hit = cache.get(key);
      if (hit && hit.until > now) {
        if (hit.error) throw hit.error;
        return;
      }
      try {
        // An answer about now holds until a certificate on the path or a CRL it relied on expires.
        const until = check(leaf, options);
        remember(key, { until: Math.min(now + 300_000, until) });
      } catch (err) {
        if (err instanceof GatewayError) remember(key, { until: now + 60_000, error: err });
        throw err;
      }
    },
    crls: () => crls.map(status),
    replaceCrl(data) {
      const next = parseCrl(data, [...roots, ...intermediates]);
      const current = crls.find((c) => c.issuer === next.issuer);
      if (current && next.thisUpdate < current.thisUpdate) {
        throw new Error(`the CRL of "${commonName(next.issuer)}" (issued ${next.thisUpdate.toISOString()}) is older than the one in use (${current.thisUpdate.toISOString()})`);
      }
      crls = [...crls.filter((c) => c !== current), next];
      cache.clear();
      return status(next);
    },
  };
}

/** Completes a chain from known intermediates when the credentials carry only the leaf. */
export function withChain(credentials: Credentials, intermediates: readonly X509Certificate[]): Credentials {
  if (credentials.chain.length > 0) return credentials;
  const chain: X509Certificate[] = [];
  let current = credentials.certificate;
  for (let i = 0; i < 4; i++) {
    const issuer = intermediates.find((c) => c.subject === current.issuer && current.checkIssued(c) && current.verify(c.publicKey) && !chain.includes(c));
    if (!issuer) break;
    chain.push(issuer);
    current = issuer;
  }
  return { ...credentials, chain };
}
