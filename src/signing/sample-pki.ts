import { createHash, type X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { adapterModules } from '../../adapters/index.ts';

type Fingerprints = Record<string, { certificate: string; publicKey: string }>;

/**
 * SHA-256 of every certificate in certs-sample/ and of its public key (SubjectPublicKeyInfo,
 * DER). Production refuses these without reading certs-sample/, which the image does not hold;
 * comparing keys as well refuses a new certificate issued over a published sample key. The
 * gateway's own, the CAs' and the audit certificates are listed here; each national system's
 * (`<id>.pem` and its revoked, expired and look-alike twins) are in its module's folder,
 * adapters/<id>/sample-pki.json, which `npm run certs:sample` writes as it issues them.
 * sample-pki.test.ts fails when the sample PKI is regenerated and these tables are not.
 */
const GATEWAY_FINGERPRINTS: Fingerprints = {
  'document-seal.pem': { certificate: '5e9403cc4bc35a772f0b6c3693da6c3bb77b743b58ef3d5b014cb255675bada8', publicKey: '4512a207b04366291ff8c0882ec613d6e04a0e4f03c6e7e5ca3f8e725f55534f' },
  'gateway-ec.pem': { certificate: 'b2b3b1e713884ab261728bc3c0e2d14d9a76ecbc78c915d08e2a7fadb365b532', publicKey: '1c46d2fb7abd56340a98442fd4bdef41b5b21f55632c8e3f89d31dc31bde0104' },
  'gateway.pem': { certificate: 'cbeff287c7c2a42af94695e8f5d227ff807faf8b6672920b9a1979bf7a8df0ae', publicKey: 'd75ca9a3055df5c04ec29fb814ed89d1a84f578dce2a79a9fbf6b3e79f98fe4f' },
  'impostor-ca.pem': { certificate: 'cbce3ad9505bfa149e5dcd2e7c5df61513ea2469ee7ce90f0adfc38a13892ecc', publicKey: '6e12fe52f2e96cafc2706622c7883b7e79506ed3d46c95137c61746e55c70abb' },
  'issuing-ca.pem': { certificate: '172fba69592a484b9f2278935d352c1b2ab5245f22f955d2ee2d70559e19ac5b', publicKey: 'c8d87605ab29fa7e13be104d8affac7c25ebad11494b0284a2f034ddca669e3e' },
  'log-signer.pem': { certificate: 'ead3fa7c43f080b9f94e52c86fc7b3ffe1a91baeed56c18ca98ef3d4dba3c42f', publicKey: '6c7ff517381c42b4c5700dcfedafc548f23de82d764b7df781289274b8d93c3c' },
  'portal-client.pem': { certificate: '30a59a87949639a7319e98fe3b2a57ebc0f0f8687c48767d837040d71fda7a27', publicKey: '75a59d9d193470f08514e2109d776237dac6106f456f90929684fdda322d07f6' },
  'root-ca.pem': { certificate: '9bf872d0b4a4b62e44e7ade6c924f730a037fa4c7b530bf54fcc8778966dec6c', publicKey: '0d885e580bc292e2bcc67e1be6a5cddb180c7879904f7d1ae4ba1bfccfbfb53c' },
  'tsa.pem': { certificate: '2ac8ae44ea1a22397e608375a76ff770da257c0e0df2967a0213d045701aee2b', publicKey: '273b2767249b104d26d2b8dea839a739bb133f277f56d517f3d9f8078797d95e' },
};

/**
 * A system's table, beside its module. A system with sample certificates and no table would have
 * them believed in production: that is an installation that cannot start, never a silent pass.
 */
function systemFingerprints(id: string): Fingerprints {
  const file = new URL(`../../adapters/${id}/sample-pki.json`, import.meta.url);
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Fingerprints;
  } catch (err) {
    throw new Error(`adapters/${id}/sample-pki.json, the fingerprints of the system's sample certificates that production refuses, cannot be read (npm run certs:sample writes it): ${(err as Error).message}`);
  }
}

export const SAMPLE_FINGERPRINTS: Readonly<Fingerprints> = Object.assign(
  {},
  GATEWAY_FINGERPRINTS,
  ...adapterModules.filter((module) => module.sandbox.certificate).map((module) => systemFingerprints(module.id)),
);

const certificates = new Map(Object.entries(SAMPLE_FINGERPRINTS).map(([file, f]) => [f.certificate, file]));
const publicKeys = new Map(Object.entries(SAMPLE_FINGERPRINTS).map(([file, f]) => [f.publicKey, file]));

/** The certs-sample/ file this certificate (or its key) comes from, if it is from the sample PKI. */
export function sampleOrigin(certificate: X509Certificate): string | undefined {
  const fingerprint = createHash('sha256').update(certificate.raw).digest('hex');
  const key = createHash('sha256').update(certificate.publicKey.export({ type: 'spki', format: 'der' })).digest('hex');
  return certificates.get(fingerprint) ?? publicKeys.get(key);
}
