import { createHash, type X509Certificate } from 'node:crypto';

/**
 * SHA-256 of every certificate in certs-sample/ and of its public key (SubjectPublicKeyInfo,
 * DER). Production refuses these without reading certs-sample/, which the image does not hold;
 * comparing keys as well refuses a new certificate issued over a published sample key.
 * sample-pki.test.ts fails when the sample PKI is regenerated and this table is not.
 */
export const SAMPLE_FINGERPRINTS: Readonly<Record<string, { certificate: string; publicKey: string }>> = {
  'business-registry-expired.pem': { certificate: '2f66dfa6b144281a2899560f6bae3e64a601b4490151c75a044e0860d49e8a4b', publicKey: '111376eb05436a41e3468af01212321be46669a5f1668f39dfe4ad14a3b23809' },
  'business-registry-impostor.pem': { certificate: '9d4f6f991870742e798ae5405b5f5afc1d3f416f9e4ffdf9ea8e0147e78f84d0', publicKey: 'f80f080b90ca6a1064a604d1ec78ff7d9144baefd0466edb6522d33fc335b34c' },
  'business-registry-revoked.pem': { certificate: '52c420d0b0513618d4fb287c8ada6d2614e2cb8301a8954f77ae40ccfda7a575', publicKey: '08eae64ca52713aabee5dc1b6b9b2f7f6059eac0415619b8ddff5d81525f326b' },
  'business-registry.pem': { certificate: '8b96777c3f340198038d2d8b0c333cb17975f8410e8fa9ee84cc2cf52076c341', publicKey: '8dd7b758a071226cd95202a86889eec802aa908d33f2e7d88233a7e3805892a9' },
  'dvcqg-expired.pem': { certificate: '3f91e0bb0a7eb01beccf35833f4a291f496ebb5323e215068eecbf3a6c8ee523', publicKey: '37387050377830d801652e12cc06b1897c25476ca771a155e11559b598ee6f19' },
  'dvcqg-impostor.pem': { certificate: 'b75dbfa556c6b3412fd216fd3c68c78c03d13bc514d2919bcc729967a68158fc', publicKey: '3f7d41b188d275d7cdaaf29905ab9aebe443181a7c1ce7281f851b7db8b565db' },
  'dvcqg-revoked.pem': { certificate: 'fecd03b4bc0a4fce344bef2e6a0d6644b0af35053e8e35df19d5bd109f062cb7', publicKey: 'd725e52e7b9363b81633e234e5e3c720d1f1ce300763ad089090c6f3f74fbe20' },
  'dvcqg.pem': { certificate: '95aedacd28e18f55cfb5f173fb23f78a7e856751c5711522a1e56f042b5789ac', publicKey: '3d795f9bc26c736cabb2cb7442f1dc415da801d59ea38a7ad4f1f29484697630' },
  'gateway-ec.pem': { certificate: 'b2b3b1e713884ab261728bc3c0e2d14d9a76ecbc78c915d08e2a7fadb365b532', publicKey: '1c46d2fb7abd56340a98442fd4bdef41b5b21f55632c8e3f89d31dc31bde0104' },
  'gateway.pem': { certificate: 'cbeff287c7c2a42af94695e8f5d227ff807faf8b6672920b9a1979bf7a8df0ae', publicKey: 'd75ca9a3055df5c04ec29fb814ed89d1a84f578dce2a79a9fbf6b3e79f98fe4f' },
  'impostor-ca.pem': { certificate: 'cbce3ad9505bfa149e5dcd2e7c5df61513ea2469ee7ce90f0adfc38a13892ecc', publicKey: '6e12fe52f2e96cafc2706622c7883b7e79506ed3d46c95137c61746e55c70abb' },
  'issuing-ca.pem': { certificate: '172fba69592a484b9f2278935d352c1b2ab5245f22f955d2ee2d70559e19ac5b', publicKey: 'c8d87605ab29fa7e13be104d8affac7c25ebad11494b0284a2f034ddca669e3e' },
  'log-signer.pem': { certificate: 'ead3fa7c43f080b9f94e52c86fc7b3ffe1a91baeed56c18ca98ef3d4dba3c42f', publicKey: '6c7ff517381c42b4c5700dcfedafc548f23de82d764b7df781289274b8d93c3c' },
  'population-expired.pem': { certificate: '51160d5baeaa1b4b843efda5fdf71b96848ecc959a86018cb71e8c2554d26e8b', publicKey: 'ffd066ddf94a07779e2b10fc3c4248424ee8b3db5029f1baf265a53c4de3c4ce' },
  'population-impostor.pem': { certificate: '715ce82ed7cb9737bbeefddd7955d4bc50f9327c79289208c44b8e0a36d6764e', publicKey: '56099ce3eaf7a466db17228e7b94023ca36ebf050afb876c279af922064e300c' },
  'population-revoked.pem': { certificate: 'e44b1e5df54e54fc58c42a20a4861c8a84ebd19fd4381e4f83e90dc06555b6b3', publicKey: 'b1b2f8c72c8a780f217c6d33ea9bf7c86f1bda8da8a45eed98d6bbb6a53eef94' },
  'population.pem': { certificate: 'd1794523bb6da622968e6899e129aff9e9045be6e00bcf99d2131d11a6bab142', publicKey: '38523fbf5b6d02d1d3b0d3bd7b80b1ad99a87b3e5eb6bd21744418931ce3b904' },
  'portal-client.pem': { certificate: '30a59a87949639a7319e98fe3b2a57ebc0f0f8687c48767d837040d71fda7a27', publicKey: '75a59d9d193470f08514e2109d776237dac6106f456f90929684fdda322d07f6' },
  'root-ca.pem': { certificate: '9bf872d0b4a4b62e44e7ade6c924f730a037fa4c7b530bf54fcc8778966dec6c', publicKey: '0d885e580bc292e2bcc67e1be6a5cddb180c7879904f7d1ae4ba1bfccfbfb53c' },
  'social-insurance-expired.pem': { certificate: 'ff0c159e57749a5e0df7c1ce6a17a26a43592785b497058f837b664d847ce8cb', publicKey: 'db00c9e790a583b59b09837d29d419a0a8cf174ab5f37cf9f48f830a153024aa' },
  'social-insurance-impostor.pem': { certificate: 'e916d9df012fd772e68315c16ce78e24d84b58983730cab19b4f685820e0dc0d', publicKey: 'd2c51a2ce982e6be14f8e62c0e5f8eabfd014ae75aaa4ccb80704087ff133025' },
  'social-insurance-revoked.pem': { certificate: '48d1c7cc862142ac7308550e38aa267683f92c138d63e2d971c8be8ca9eb4b6c', publicKey: '77b805c14ce6c2a521dde04d0ab77f670e7547ee68e3dd7a8086eb37ceee702e' },
  'social-insurance.pem': { certificate: '48311802dc2d7706a675fdda0c820cce863eb272b6e55d58ac022b406ba5115b', publicKey: 'cb1d8ac623d8428a67ba06281cd97bfdc48dd20c256085868b6753365abe5cea' },
  'tax-expired.pem': { certificate: '3a5db3d522b7b88ce071c126bdefa25fca58c1b1cdbec2c19f84f9dcdfabdb33', publicKey: '867a47edff43f04bdeb60c8ba91c0450dcc9bee2985fe5429ca2a7dd6eba9820' },
  'tax-impostor.pem': { certificate: '575dce3bba6ffade8fd0b4d361af76d0e60f9c356b38bc54cd2fa050fec20567', publicKey: '09069b15f3f3998bb4d88c4490cf46f053ae8cf341e0bb45b1d44cde436ff527' },
  'tax-revoked.pem': { certificate: '0c243002b19ce7295d871328aaaffa477401d3c7a4ea1faeb6da3f2dea9d1842', publicKey: '430972ba792250e9988c9aff38b1dd268b74fb64f9d01504877e27dcb22b6644' },
  'tax.pem': { certificate: 'b74138edffd11e3b7d4e4c57e8500fdef15086bdac33ce12eeb1af4be0b98052', publicKey: '2a4d92272f3bb486e61b9aa1ce3d972f6535eef4da3f159c8a5fae54969e4e5c' },
  'tsa.pem': { certificate: '2ac8ae44ea1a22397e608375a76ff770da257c0e0df2967a0213d045701aee2b', publicKey: '273b2767249b104d26d2b8dea839a739bb133f277f56d517f3d9f8078797d95e' },
};

const certificates = new Map(Object.entries(SAMPLE_FINGERPRINTS).map(([file, f]) => [f.certificate, file]));
const publicKeys = new Map(Object.entries(SAMPLE_FINGERPRINTS).map(([file, f]) => [f.publicKey, file]));

/** The certs-sample/ file this certificate (or its key) comes from, if it is from the sample PKI. */
export function sampleOrigin(certificate: X509Certificate): string | undefined {
  const fingerprint = createHash('sha256').update(certificate.raw).digest('hex');
  const key = createHash('sha256').update(certificate.publicKey.export({ type: 'spki', format: 'der' })).digest('hex');
  return certificates.get(fingerprint) ?? publicKeys.get(key);
}
