import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listen, type Listening } from '../../src/http/listen.ts';
import { createLogger } from '../../src/logging.ts';
import { createMetrics } from '../../src/metrics.ts';
import { createPolicy } from '../../src/resilience/policy.ts';
import { FaultBoard } from '../../src/sandbox/faults.ts';
import { people } from '../../src/sandbox/personas.ts';
import { sample } from '../../src/signing/material.ts';
import { simulatorDeps, testContext, testSigning } from '../contract/test-kit.ts';
import { createPopulationClient } from './client.ts';
import { populationMessageSecurity } from './security.ts';
import { createPopulationSimulator, type ReceivedRequest } from './simulator/server.ts';

// The gateway's WS-Security signatures, checked by tools that share no code with it: OpenSSL for
// the token's chain, xmlsec1 (libxml2) for the signature.

function run(command: string, args: string[]): { status: number | null; output: string } {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  if ((result.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
    throw new Error(`${command} is not installed: install it with \`apt-get install -y ${command === 'xmlsec1' ? 'xmlsec1' : 'openssl'}\` (CI installs it)`);
  }
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/** The BinarySecurityToken the signature's SecurityTokenReference names, as a PEM certificate. */
function signerPem(xml: string): string {
  const uri = /<wsse:SecurityTokenReference>\s*<wsse:Reference URI="#([^"]+)"/.exec(xml)?.[1];
  expect(uri, 'the signature names its token').toBeDefined();
  const token = new RegExp(`<wsse:BinarySecurityToken[^>]*wsu:Id="${uri}"[^>]*>([^<]+)</wsse:BinarySecurityToken>`).exec(xml)?.[1];
  expect(token, 'the named token is in the message').toBeDefined();
  // Base64 in XML may be wrapped; PEM wants its own 64-column lines and no stray newline.
  const base64 = token!.replace(/\s+/g, '');
  return `-----BEGIN CERTIFICATE-----\n${base64.match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`;
}

describe('population: the signed request, checked with OpenSSL and xmlsec1', () => {
  const received: ReceivedRequest[] = [];
  let server: Listening;
  let dir: string;
  beforeAll(async () => {
    server = await listen(createPopulationSimulator(simulatorDeps('population', new FaultBoard()), { onRequest: (r) => received.push(r) }), '127.0.0.1', 0);
    dir = mkdtempSync(join(tmpdir(), 'population-xmlsec-'));
  });
  afterAll(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('verifies with xmlsec1 against the token, whose chain OpenSSL accepts, and fails once the Body changes', async () => {
    const log = createLogger({ level: 'silent' });
    const policy = createPolicy({ log, metrics: createMetrics({ defaultMetrics: false }) }, 'population', {
      timeoutMs: 5000,
      retryAfterSeconds: 3,
      breaker: { errorThresholdPercentage: 50, volumeThreshold: 1000, resetTimeoutMs: 1000, rollingCountTimeoutMs: 10_000 },
    });
    const client = createPopulationClient(
      { policy },
      { url: server.url, maxResponseBytes: 1_048_576, retryAfterSeconds: 3, integrationCode: 'LIENTHONG-H52', serviceCode: '037', ...populationMessageSecurity(testSigning('population')) },
    );
    const person = people.find((p) => p.dateOfDeath === null)!;
    try {
      expect(await client.exists(testContext(), { idNumber: person.idNumber, fullName: person.fullName, dateOfBirth: person.dateOfBirth })).toBe(true);
    } finally {
      policy.shutdown();
      await client.close();
    }
    const xml = received[0]!.xml;
    const message = join(dir, 'request.xml');
    const token = join(dir, 'token.pem');
    writeFileSync(message, xml);
    writeFileSync(token, signerPem(xml));

    const chain = run('openssl', ['verify', '-CAfile', sample('root-ca.pem'), '-untrusted', sample('issuing-ca.pem'), token]);
    expect(chain.output).toContain(': OK');
    expect(chain.status).toBe(0);

    const xmlsec = (file: string) => run('xmlsec1', ['--verify', '--pubkey-cert-pem', token, '--id-attr:Id', 'Body', '--id-attr:Id', 'Timestamp', file]);
    const good = xmlsec(message);
    expect(good.output).toMatch(/^OK$/m);
    expect(good.output).toContain('SignedInfo References (ok/all): 2/2');
    expect(good.status).toBe(0);

    // One byte inside the Body's text: the SoDinhDanh's last digit.
    const digits = `<qldc:SoDinhDanh>${person.idNumber}</qldc:SoDinhDanh>`;
    expect(xml.indexOf(digits)).toBeGreaterThan(xml.indexOf('<soap:Body'));
    const last = person.idNumber.at(-1) === '9' ? '8' : String(Number(person.idNumber.at(-1)) + 1);
    const tampered = join(dir, 'tampered.xml');
    writeFileSync(tampered, xml.replace(digits, `<qldc:SoDinhDanh>${person.idNumber.slice(0, -1)}${last}</qldc:SoDinhDanh>`));
    const bad = xmlsec(tampered);
    expect(bad.status).not.toBe(0);
    expect(bad.output).toContain('SignedInfo References (ok/all): 1/2');
  });
});
