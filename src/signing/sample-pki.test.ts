import { execFileSync } from 'node:child_process';
import { X509Certificate, createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SAMPLE_FINGERPRINTS, sampleOrigin } from './sample-pki.ts';
import { sample, SAMPLE_DIR } from './material.ts';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

describe('the embedded sample PKI fingerprints', () => {
  it('are exactly the certificates in certs-sample/', () => {
    const actual = Object.fromEntries(
      readdirSync(SAMPLE_DIR)
        .filter((f) => f.endsWith('.pem') && !f.endsWith('.key.pem') && !f.endsWith('.pub.pem') && !f.endsWith('.crl.pem'))
        .sort()
        .map((file) => {
          const certificate = new X509Certificate(readFileSync(sample(file)));
          return [file, { certificate: sha256(certificate.raw), publicKey: sha256(certificate.publicKey.export({ type: 'spki', format: 'der' })) }];
        }),
    );
    // After `npm run certs:sample`, copy this table into src/signing/sample-pki.ts.
    expect(SAMPLE_FINGERPRINTS, JSON.stringify(actual, null, 2)).toEqual(actual);
  });

  it('recognise sample certificates, new certificates over sample keys, and nothing else', () => {
    expect(sampleOrigin(new X509Certificate(readFileSync(sample('root-ca.pem'))))).toBe('root-ca.pem');
    expect(sampleOrigin(new X509Certificate(readFileSync(sample('gateway.pem'))))).toBe('gateway.pem');
    const dir = mkdtempSync(join(tmpdir(), 'lienthong-sample-'));
    try {
      const selfSigned = (args: string[]) =>
        new X509Certificate(execFileSync('openssl', ['req', '-x509', '-days', '30', '-subj', '/CN=lienthong.sonla.gov.vn', ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] }));
      expect(sampleOrigin(selfSigned(['-key', sample('gateway.key.pem')]))).toBe('gateway.pem');
      expect(sampleOrigin(selfSigned(['-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem')]))).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
