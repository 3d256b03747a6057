/**
 * Makes the sample PKI in certs-sample/ (npm run certs:sample). Sample material only: the gateway
 * refuses these certificates when NODE_ENV=production.
 *
 * On a folder that already holds the sample CAs it only adds the files that are missing, issued
 * by the existing CAs (so the certificates already in use stay as they are); `--regenerate`, or an
 * empty folder, makes a whole new set.
 */
import { X509Certificate, createHash, generateKeyPairSync, randomBytes, webcrypto } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as asn1js from 'asn1js';
import forge from 'node-forge';
import * as pkijs from 'pkijs';
import { adapterModules } from '../adapters/index.ts';
import { LOG_SIGNING_EKU_OID, LOG_SIGNING_POLICY_OID } from '../src/signing/log-signer.ts';

const OUT = process.argv[2] ?? 'certs-sample';
const crypto = new pkijs.CryptoEngine({ name: 'node', crypto: webcrypto as unknown as Crypto });
pkijs.setEngine('node', crypto);

type Algo = 'rsa' | 'ec';
interface Issued {
  name: string;
  cert: pkijs.Certificate;
  keys: CryptoKeyPair;
  der: ArrayBuffer;
}

const DAY = 86_400_000;
const NOW = new Date();

async function keyPair(algo: Algo): Promise<CryptoKeyPair> {
  const params =
    algo === 'rsa'
      ? { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' }
      : { name: 'ECDSA', namedCurve: 'P-256' };
  return (await webcrypto.subtle.generateKey(params, true, ['sign', 'verify'])) as CryptoKeyPair;
}

/** C, O and CN, each its own RDN (pkijs would put them all in one multi-valued RDN). */
function name(cn: string, org = 'Liên thông sandbox (NOT FOR PRODUCTION)'): pkijs.RelativeDistinguishedNames {
  const rdn = (type: string, value: asn1js.BaseBlock) => new asn1js.Set({ value: [new pkijs.AttributeTypeAndValue({ type, value: value as never }).toSchema()] });
  const der = new asn1js.Sequence({
    value: [rdn('2.5.4.6', new asn1js.PrintableString({ value: 'VN' })), rdn('2.5.4.10', new asn1js.Utf8String({ value: org })), rdn('2.5.4.3', new asn1js.Utf8String({ value: cn }))],
  }).toBER(false);
  return pkijs.RelativeDistinguishedNames.fromBER(der);
}

/** A positive serial in minimal DER: the top bit cleared, and never a leading zero byte. */
function serial(): asn1js.Integer {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) || 0x01;
  return new asn1js.Integer({ valueHex: bytes });
}

async function keyId(keys: CryptoKeyPair): Promise<ArrayBuffer> {
  const spki = new Uint8Array(await webcrypto.subtle.exportKey('spki', keys.publicKey));
  const info = pkijs.PublicKeyInfo.fromBER(spki);
  return new Uint8Array(createHash('sha1').update(new Uint8Array(info.subjectPublicKey.valueBlock.valueHexView)).digest()).buffer;
}

function ext(extnID: string, critical: boolean, value: { toSchema(): asn1js.BaseBlock }): pkijs.Extension {
  return new pkijs.Extension({ extnID, critical, extnValue: value.toSchema().toBER(false) });
}

/** keyUsage bits: 0 digitalSignature, 1 nonRepudiation, 5 keyCertSign, 6 cRLSign. */
function keyUsage(bits: number[]): pkijs.Extension {
  let value = 0;
  for (const b of bits) value |= 0x80 >> b;
  const byte = new Uint8Array([value]);
  // DER: the unused bits are the trailing zero bits of the last byte.
  let unusedBits = 0;
  while (unusedBits < 7 && !(value & (1 << unusedBits))) unusedBits++;
  return new pkijs.Extension({ extnID: '2.5.29.15', critical: true, extnValue: new asn1js.BitString({ valueHex: byte.buffer, unusedBits }).toBER(false) });
}

interface Profile {
  cn: string;
  /** The subject's O (the sandbox organisation unless given). */
  org?: string;
  algo: Algo;
  ca?: { pathLen?: number };
  eku?: string[];
  ekuCritical?: boolean;
  policies?: string[];
  dns?: string[];
  ips?: string[];
  notBefore?: Date;
  notAfter?: Date;
}

async function issue(fileName: string, profile: Profile, issuer?: Issued): Promise<Issued> {
  const keys = await keyPair(profile.algo);
  const cert = new pkijs.Certificate();
  cert.version = 2;
  cert.serialNumber = serial();
  cert.subject = name(profile.cn, profile.org);
  cert.issuer = issuer ? issuer.cert.subject : cert.subject;
  cert.notBefore.value = profile.notBefore ?? new Date(NOW.getTime() - DAY);
  cert.notAfter.value = profile.notAfter ?? new Date(NOW.getTime() + (profile.ca ? 7300 : 3650) * DAY);
  await cert.subjectPublicKeyInfo.importKey(keys.publicKey, crypto);
  const extensions: pkijs.Extension[] = [];
  if (profile.ca) {
    extensions.push(ext('2.5.29.19', true, new pkijs.BasicConstraints({ cA: true, ...(profile.ca.pathLen !== undefined ? { pathLenConstraint: profile.ca.pathLen } : {}) })));
    extensions.push(keyUsage([5, 6]));
  } else {
    extensions.push(ext('2.5.29.19', true, new pkijs.BasicConstraints({ cA: false })));
    extensions.push(keyUsage([0, 1]));
  }
  if (profile.eku) extensions.push(ext('2.5.29.37', profile.ekuCritical ?? false, new pkijs.ExtKeyUsage({ keyPurposes: profile.eku })));
  if (profile.policies) {
    const policies = profile.policies.map((policyIdentifier) => new pkijs.PolicyInformation({ policyIdentifier }));
    extensions.push(ext('2.5.29.32', false, new pkijs.CertificatePolicies({ certificatePolicies: policies })));
  }
  const altNames = [
    ...(profile.dns ?? []).map((value) => new pkijs.GeneralName({ type: 2, value })),
    ...(profile.ips ?? []).map((ip) => new pkijs.GeneralName({ type: 7, value: new asn1js.OctetString({ valueHex: new Uint8Array(ip.split('.').map(Number)).buffer }) })),
  ];
  if (altNames.length) extensions.push(ext('2.5.29.17', false, new pkijs.GeneralNames({ names: altNames })));
  extensions.push(new pkijs.Extension({ extnID: '2.5.29.14', critical: false, extnValue: new asn1js.OctetString({ valueHex: await keyId(keys) }).toBER(false) }));
  if (issuer) {
    extensions.push(ext('2.5.29.35', false, new pkijs.AuthorityKeyIdentifier({ keyIdentifier: new asn1js.OctetString({ valueHex: await keyId(issuer.keys) }) })));
  }
  cert.extensions = extensions;
  await signRsa(cert, (issuer ?? { keys }).keys.privateKey);
  const der = cert.toSchema(false).toBER(false);
  const issued = { name: fileName, cert, keys, der };
  await write(issued);
  return issued;
}

/**
 * Signs with the (RSA) issuer, writing sha256WithRSAEncryption with its NULL parameters as
 * RFC 4055 asks: pkijs leaves them out, and tools that re-encode the outer algorithm (node-forge
 * in PKCS#12) then see it differ from the signed one.
 */
async function signRsa(target: pkijs.Certificate | pkijs.CertificateRevocationList, key: CryptoKey): Promise<void> {
  const algorithm = () => new pkijs.AlgorithmIdentifier({ algorithmId: '1.2.840.113549.1.1.11', algorithmParams: new asn1js.Null() });
  target.signature = algorithm();
  target.signatureAlgorithm = algorithm();
  const tbs = (target as unknown as { encodeTBS(): asn1js.Sequence }).encodeTBS().toBER(false);
  target.tbsView = new Uint8Array(tbs);
  const signature = await webcrypto.subtle.sign('RSASSA-PKCS1-v1_5', key, tbs);
  target.signatureValue = new asn1js.BitString({ valueHex: signature });
}

function pem(label: string, der: ArrayBuffer | Uint8Array): string {
  const b64 = Buffer.from(der instanceof Uint8Array ? der : new Uint8Array(der)).toString('base64');
  return `-----BEGIN ${label}-----\n${b64.match(/.{1,64}/g)!.join('\n')}\n-----END ${label}-----\n`;
}

async function write(issued: Issued): Promise<void> {
  writeFileSync(join(OUT, `${issued.name}.pem`), pem('CERTIFICATE', issued.der));
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', issued.keys.privateKey);
  writeFileSync(join(OUT, `${issued.name}.key.pem`), pem('PRIVATE KEY', pkcs8), { mode: 0o600 });
}

async function crl(issuer: Issued, revoked: Issued[]): Promise<void> {
  const list = new pkijs.CertificateRevocationList();
  list.version = 1;
  list.issuer = issuer.cert.subject;
  list.thisUpdate = new pkijs.Time({ type: 0, value: new Date(NOW.getTime() - DAY) });
  list.nextUpdate = new pkijs.Time({ type: 0, value: new Date(NOW.getTime() + 3650 * DAY) });
  list.revokedCertificates = revoked.map(
    (r) => new pkijs.RevokedCertificate({ userCertificate: r.cert.serialNumber, revocationDate: new pkijs.Time({ type: 0, value: new Date(NOW.getTime() - DAY / 2) }) }),
  );
  list.crlExtensions = new pkijs.Extensions({
    extensions: [
      new pkijs.Extension({ extnID: '2.5.29.20', critical: false, extnValue: new asn1js.Integer({ value: 1 }).toBER(false) }),
      ext('2.5.29.35', false, new pkijs.AuthorityKeyIdentifier({ keyIdentifier: new asn1js.OctetString({ valueHex: await keyId(issuer.keys) }) })),
    ],
  });
  await signRsa(list, issuer.keys.privateKey);
  writeFileSync(join(OUT, 'issuing-ca.crl.pem'), pem('X509 CRL', list.toSchema(false).toBER(false)));
}

/** PKCS#12 of the portal client (RSA) for mutual TLS, password "sandbox". */
async function pkcs12(issued: Issued, chain: Issued[]): Promise<void> {
  const key = forge.pki.privateKeyFromPem(pem('PRIVATE KEY', await webcrypto.subtle.exportKey('pkcs8', issued.keys.privateKey)));
  const certs = [issued, ...chain].map((c) => forge.pki.certificateFromPem(pem('CERTIFICATE', c.der)));
  const p12 = forge.pkcs12.toPkcs12Asn1(key, certs, 'sandbox', { algorithm: '3des', friendlyName: issued.name });
  writeFileSync(join(OUT, `${issued.name}.p12`), Buffer.from(forge.asn1.toDer(p12).getBytes(), 'binary'));
}

/** The national systems with sample certificates, and the algorithm each signs with (from its module). */
export const SYSTEMS: [string, Algo][] = adapterModules.flatMap((module) => (module.sandbox.certificate ? [[module.id, module.sandbox.certificate] as [string, Algo]] : []));

const TLS_NAMES = { dns: ['localhost'], ips: ['127.0.0.1'] };

/** A system's certificate (the subject the gateway pins), and its revoked and expired twins; returns the revoked one. */
async function systemCertificates(system: string, algo: Algo, issuing: Issued): Promise<Issued> {
  const cn = `${system}.sandbox.lienthong.vn`;
  await issue(system, { cn, algo, eku: ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2'], ...TLS_NAMES }, issuing);
  const revoked = await issue(`${system}-revoked`, { cn, algo }, issuing);
  await issue(`${system}-expired`, { cn, algo, notBefore: new Date(NOW.getTime() - 400 * DAY), notAfter: new Date(NOW.getTime() - 30 * DAY) }, issuing);
  return revoked;
}

/** The system's look-alike: its own subject, issued by the look-alike CA. */
const impostor = (system: string, algo: Algo, ca: Issued) => issue(`${system}-impostor`, { cn: `${system}.sandbox.lienthong.vn`, algo }, ca);

/**
 * Writes each system's fingerprint table beside its module (adapters/<id>/sample-pki.json), which
 * production reads to refuse sample certificates; only for the repository's own certs-sample/.
 */
function writeFingerprints(): void {
  const repository = fileURLToPath(new URL('../', import.meta.url));
  if (resolve(OUT) !== resolve(repository, 'certs-sample')) return;
  const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
  for (const [system] of SYSTEMS) {
    const table = Object.fromEntries(
      ['', '-expired', '-impostor', '-revoked'].map((suffix) => {
        const certificate = new X509Certificate(readFileSync(join(OUT, `${system}${suffix}.pem`)));
        return [`${system}${suffix}.pem`, { certificate: sha256(certificate.raw), publicKey: sha256(certificate.publicKey.export({ type: 'spki', format: 'der' })) }];
      }),
    );
    writeFileSync(join(repository, 'adapters', system, 'sample-pki.json'), `${JSON.stringify(table, null, 2)}\n`);
  }
}

/**
 * A look-alike PKI for the sandbox's `unknown-key` attack: a self-signed CA named like the issuing
 * CA, and for each system a certificate with the system's own subject, which chains to no trusted root.
 */
async function impostors(): Promise<void> {
  const ca = await issue('impostor-ca', { cn: 'Liên thông Sample Issuing CA', algo: 'rsa', ca: { pathLen: 0 } });
  for (const [system, algo] of SYSTEMS) await impostor(system, algo, ca);
}

/** An existing CA of the set, read back from its files to issue more certificates. */
async function existing(fileName: string): Promise<Issued> {
  const certPem = readFileSync(join(OUT, `${fileName}.pem`));
  const der = new Uint8Array(new X509Certificate(certPem).raw).buffer;
  const cert = pkijs.Certificate.fromBER(der);
  const algorithm = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  const pkcs8 = Buffer.from(readFileSync(join(OUT, `${fileName}.key.pem`), 'utf8').replace(/-----[^-]+-----|\s/g, ''), 'base64');
  const privateKey = await webcrypto.subtle.importKey('pkcs8', pkcs8, algorithm, true, ['sign']);
  const spki = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' });
  const publicKey = await webcrypto.subtle.importKey('spki', spki, algorithm, true, ['verify']);
  return { name: fileName, cert, keys: { privateKey, publicKey }, der };
}

const missing = (file: string) => !existsSync(join(OUT, file));

/** emailProtection: what NSS (pdfsig, Firefox) requires of a document signer; documentSigning (RFC 9336) names the purpose. */
const DOCUMENT_SIGNING_EKU = ['1.3.6.1.5.5.7.3.4', '1.3.6.1.5.5.7.3.36'];

/**
 * The agency's document seal (RSA-2048): signs deposited results (PAdES in PDFs, detached CMS
 * otherwise). keyUsage digitalSignature + nonRepudiation, no TLS extended key usage.
 */
async function documentSeal(issuing: Issued, all: boolean): Promise<void> {
  if (!all && !missing('document-seal.pem') && !missing('document-seal.key.pem')) return;
  await issue('document-seal', { cn: 'UBND tỉnh Sơn La - con dấu số (sandbox)', org: 'UBND tỉnh Sơn La (NOT FOR PRODUCTION)', algo: 'rsa', eku: DOCUMENT_SIGNING_EKU }, issuing);
}

/**
 * What the exchange log and its auditors use: the log's signing certificate (P-256, not a TLS
 * certificate, carrying the log-signing policy and extended key usage), a witness's Ed25519 key
 * (the sandbox's inspectorate witness) and the inspectorate's RSA key officer identifiers are
 * encrypted to. Only the missing files are made unless `all`.
 */
async function auditMaterial(issuing: Issued, all: boolean): Promise<void> {
  if (all || missing('log-signer.pem') || missing('log-signer.key.pem')) {
    await issue('log-signer', { cn: 'Liên thông exchange-log signer (sandbox)', algo: 'ec', eku: [LOG_SIGNING_EKU_OID], policies: [LOG_SIGNING_POLICY_OID] }, issuing);
  }
  if (all || missing('witness.key.pem') || missing('witness.vkey')) {
    const witnessName = 'thanhtra.sonla.gov.vn/witness-sandbox';
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
    const keyData = Buffer.concat([Buffer.from([0x04]), raw]);
    const keyId = createHash('sha256').update(Buffer.concat([Buffer.from(`${witnessName}\n`), keyData])).digest().subarray(0, 4);
    writeFileSync(join(OUT, 'witness.key.pem'), privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
    writeFileSync(join(OUT, 'witness.vkey'), `${witnessName}+${keyId.toString('hex')}+${keyData.toString('base64')}\n`);
  }
  if (all || missing('inspectorate.key.pem') || missing('inspectorate.pub.pem')) {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(join(OUT, 'inspectorate.key.pem'), privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
    writeFileSync(join(OUT, 'inspectorate.pub.pem'), publicKey.export({ format: 'pem', type: 'spki' }));
  }
}

async function main(): Promise<void> {
  mkdirSync(OUT, { recursive: true });
  if (process.argv.includes('--impostors-only')) {
    await impostors();
    console.log(`look-alike certificates written to ${OUT}/`);
    return;
  }
  const cas = ['root-ca.pem', 'root-ca.key.pem', 'issuing-ca.pem', 'issuing-ca.key.pem'];
  if (!process.argv.includes('--regenerate') && cas.every((file) => !missing(file))) {
    const issuing = await existing('issuing-ca');
    await auditMaterial(issuing, false);
    await documentSeal(issuing, false);
    // A system added to the registry: its certificates, its look-alike, and a CRL that revokes its revoked twin too.
    const added = SYSTEMS.filter(([system]) => ['', '-revoked', '-expired', '-impostor'].some((suffix) => missing(`${system}${suffix}.pem`)));
    for (const [system, algo] of added) {
      await systemCertificates(system, algo, issuing);
      await impostor(system, algo, await existing('impostor-ca'));
    }
    if (added.length > 0) {
      const revoked = SYSTEMS.map(([system]) => ({ cert: pkijs.Certificate.fromBER(new Uint8Array(new X509Certificate(readFileSync(join(OUT, `${system}-revoked.pem`))).raw)) }) as Issued);
      await crl(issuing, revoked);
    }
    writeFingerprints();
    console.log(`missing sample files added to ${OUT}/ (--regenerate makes a whole new set)`);
    return;
  }
  const root = await issue('root-ca', { cn: 'Liên thông Sample National Root CA', algo: 'rsa', ca: {} });
  const issuing = await issue('issuing-ca', { cn: 'Liên thông Sample Issuing CA', algo: 'rsa', ca: { pathLen: 0 } }, root);
  await issue('tsa', { cn: 'Liên thông Sample Time-Stamping Authority', algo: 'rsa', eku: ['1.3.6.1.5.5.7.3.8'], ekuCritical: true }, issuing);
  const tls = TLS_NAMES;
  await issue('gateway', { cn: 'lienthong-gateway.sandbox.sonla.gov.vn', algo: 'rsa', eku: ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2'], ...tls }, issuing);
  await issue('gateway-ec', { cn: 'lienthong-gateway.sandbox.sonla.gov.vn', algo: 'ec', eku: ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2'], ...tls }, issuing);
  const portal = await issue('portal-client', { cn: 'sandbox-portal', algo: 'rsa', eku: ['1.3.6.1.5.5.7.3.2'] }, issuing);
  await pkcs12(portal, [issuing, root]);
  const revoked: Issued[] = [];
  for (const [system, algo] of SYSTEMS) revoked.push(await systemCertificates(system, algo, issuing));
  await crl(issuing, revoked);
  await impostors();
  await auditMaterial(issuing, true);
  await documentSeal(issuing, true);
  writeFingerprints();
  console.log(`sample PKI written to ${OUT}/`);
}

await main();
