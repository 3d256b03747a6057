import { X509Certificate, createPrivateKey, verify as verifySignature, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type Forge from 'node-forge';
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
  thisUpdate: Date;
  /** When a newer CRL must be in place; past it, every certificate the CA issued is refused. */
  nextUpdate: Date | undefined;
  revoked: number;
}

const status = (crl: Crl): CrlStatus => ({ issuer: commonName(crl.issuer) ?? crl.issuer.subject, thisUpdate: crl.thisUpdate, nextUpdate: crl.nextUpdate, revoked: crl.revoked.size });

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
  const revoked = new Set((crl.revokedCertificates ?? []).map((r) => serialKey(Buffer.from(r.userCertificate.valueBlock.valueHexView).toString('hex'))));
  return { issuer, revoked, thisUpdate: crl.thisUpdate.value, nextUpdate: crl.nextUpdate?.value };
}

export function createTrustStore(options: TrustOptions): TrustStore {
  const roots = options.roots;
  if (roots.length === 0) throw new Error('the trust store needs at least one root');
  const intermediates = options.intermediates ?? [];
  let crls = (options.crls ?? []).map((c) => parseCrl(c, [...roots, ...intermediates]));
  const cache = new Map<string, { until: number; error?: GatewayError }>();

  const issuerOf = (cert: X509Certificate, pool: X509Certificate[]) =>
    pool.find((candidate) => candidate.subject === cert.issuer && candidate.ca && cert.checkIssued(candidate) && cert.verify(candidate.publicKey));

  function check(leaf: X509Certificate, options: VerifyOptions): void {
    const at = options.at ?? new Date();
    const pool = [...(options.chain ?? []), ...intermediates];
    const path: X509Certificate[] = [leaf];
    let current = leaf;
    for (let depth = 0; ; depth++) {
      const root = issuerOf(current, roots as X509Certificate[]);
      if (root) {
        path.push(root);
        break;
      }
      const next = depth < 4 ? issuerOf(current, pool) : undefined;
      if (!next || path.includes(next)) throw failure('UPSTREAM_CERT_UNTRUSTED', `no path from "${commonName(leaf)}" to a trusted root`);
      path.push(next);
      current = next;
    }
    for (const cert of path) {
      if (at < new Date(cert.validFrom) || at > new Date(cert.validTo)) {
        throw failure('UPSTREAM_CERT_EXPIRED', `certificate "${commonName(cert)}" is valid ${cert.validFrom} to ${cert.validTo}`);
      }
    }
    for (const [i, cert] of path.slice(0, -1).entries()) {
      const crl = crls.find((c) => c.issuer.subject === path[i + 1]!.subject);
      if (crl?.revoked.has(serialKey(cert.serialNumber))) throw failure('UPSTREAM_CERT_REVOKED', `certificate "${commonName(cert)}" (serial ${cert.serialNumber}) is revoked`);
      if (crl?.nextUpdate && crl.nextUpdate < at) throw failure('UPSTREAM_CERT_UNTRUSTED', `the CRL of "${commonName(crl.issuer)}" is out of date`);
    }
    if (options.expectedName !== undefined && commonName(leaf) !== options.expectedName) {
      throw failure('UPSTREAM_CERT_UNTRUSTED', `certificate is for "${commonName(leaf)}", expected "${options.expectedName}"`);
    }
  }

  return {
    roots,
    intermediates,
    verify(leaf, options = {}) {
      // Chain building costs a few signature checks: remember the answer for a few minutes.
      const key = `${leaf.fingerprint256}|${options.expectedName ?? ''}|${(options.chain ?? []).map((c) => c.fingerprint256).join(',')}`;
      const now = Date.now();
      const hit = options.at ? undefined : cache.get(key);
      if (hit && hit.until > now) {
        if (hit.error) throw hit.error;
        return;
      }
      try {
        check(leaf, options);
        if (!options.at) cache.set(key, { until: Math.min(now + 300_000, new Date(leaf.validTo).getTime()) });
      } catch (err) {
        if (err instanceof GatewayError && !options.at) cache.set(key, { until: now + 60_000, error: err });
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
      // Answers remembered under the previous CRL may no longer hold.
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
