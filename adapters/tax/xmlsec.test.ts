import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listen, type Listening } from '../../src/http/listen.ts';
import { FaultBoard } from '../../src/sandbox/faults.ts';
import { sample } from '../../src/signing/material.ts';
import { signEnveloped } from '../../src/signing/xml-signature.ts';
import { simulatorDeps, testSigning } from '../contract/test-kit.ts';
import { LOOKUP_PATH, lookupRequestXml } from './inferred.ts';
import { createTaxSimulator } from './simulator/server.ts';

// The enveloped signatures, checked by a tool that shares no code with the gateway: xmlsec1
// (libxml2) finds the certificates in X509Data and builds their chain to the sample root itself.

function xmlsec1(file: string): { status: number | null; output: string } {
  const result = spawnSync('xmlsec1', ['--verify', '--trusted-pem', sample('root-ca.pem'), '--untrusted-pem', sample('issuing-ca.pem'), file], { encoding: 'utf8' });
  if ((result.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
    throw new Error('xmlsec1 is not installed: install it with `apt-get install -y xmlsec1` (CI installs it)');
  }
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

describe('tax: enveloped signatures, checked with xmlsec1', () => {
  let server: Listening;
  let dir: string;
  beforeAll(async () => {
    server = await listen(createTaxSimulator(simulatorDeps('tax', new FaultBoard())), '127.0.0.1', 0);
    dir = mkdtempSync(join(tmpdir(), 'tax-xmlsec-'));
  });
  afterAll(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const check = (name: string, xml: string, content: string, changed: string) => {
    const file = join(dir, `${name}.xml`);
    writeFileSync(file, xml);
    const good = xmlsec1(file);
    expect(good.output, name).toMatch(/^OK$/m);
    expect(good.status, name).toBe(0);
    expect(xml).toContain(content);
    const tampered = join(dir, `${name}-tampered.xml`);
    writeFileSync(tampered, xml.replace(content, changed));
    const bad = xmlsec1(tampered);
    expect(bad.status, `${name} tampered`).not.toBe(0);
    expect(bad.output).toContain('SignedInfo References (ok/all): 0/1');
  };

  it('verifies a tax answer against the sample root, and fails once one byte of it changes', async () => {
    const request = signEnveloped(lookupRequestXml({ MaYeuCau: 'xmlsec-1', MaDonVi: 'H52.101.114', MaSoThue: '5500123457' }), testSigning('tax').credentials);
    const response = await fetch(server.url + LOOKUP_PATH, { method: 'POST', headers: { 'content-type': 'application/xml; charset=utf-8' }, body: request });
    expect(response.status).toBe(200);
    const answer = await response.text();
    expect(answer).toContain('<ds:X509Certificate>');
    check('answer', answer, '<MaSoThue>5500123457</MaSoThue>', '<MaSoThue>5500123458</MaSoThue>');
    check('request', request, '<MaDonVi>H52.101.114</MaDonVi>', '<MaDonVi>H52.101.115</MaDonVi>');
  });
});
