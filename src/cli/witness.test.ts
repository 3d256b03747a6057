import { spawn } from 'node:child_process';
import { createPrivateKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { checkpointText } from '../audit/integrator.ts';
import { leafHash, rootHash } from '../audit/merkle.ts';
import { logNoteSigner, parseWitnessKey, splitNote, verifyCosignature } from '../audit/note.ts';
import { witnessStateFile } from '../audit/witness.ts';
import { sample } from '../signing/material.ts';

const dir = mkdtempSync(join(tmpdir(), 'witness-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ORIGIN = 'lienthong.sonla.gov.vn/exchange-log';
const NAME = 'thanhtra.sonla.gov.vn/witness-sandbox';

describe('lienthong audit witness', () => {
  it('prints its verifier key, cosigns a checkpoint signed by the pinned log signer and saves it', async () => {
    const state = join(dir, 'state');
    const child = spawn(
      process.execPath,
      ['bin/lienthong.js', 'audit', 'witness', '--key', sample('witness.key.pem'), '--name', NAME, '--log', `${ORIGIN}=${sample('log-signer.pem')}`, '--state', state, '--listen', '127.0.0.1:0'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    try {
      const lines = createInterface({ input: child.stdout });
      const printed: string[] = [];
      for await (const line of lines) {
        printed.push(line);
        if (line.startsWith('verifier key:')) break;
      }
      const url = /listening on (\S+)\/add-checkpoint/.exec(printed[0] ?? '')?.[1];
      const vkey = printed[1]!.replace('verifier key: ', '');
      expect(vkey).toBe(readFileSync(sample('witness.vkey'), 'utf8').trim());

      const text = checkpointText(ORIGIN, 3, rootHash([0, 1, 2].map((i) => leafHash(Buffer.from(String(i))))));
      const note = `${text}\n${logNoteSigner(ORIGIN, createPrivateKey(readFileSync(sample('log-signer.key.pem')))).sign(text)}`;
      const res = await fetch(`${url}/add-checkpoint`, { method: 'POST', body: `old 0\n\n${note}` });
      expect(res.status).toBe(200);
      const answer = await res.text();
      expect(verifyCosignature(text, splitNote(`${text}\n${answer}`).signatures[0]!, parseWitnessKey(vkey))).toBeDefined();
      expect(readFileSync(witnessStateFile(state, ORIGIN), 'utf8')).toBe(`${note}${answer}`);

      // A checkpoint signed by another key (the gateway's TLS key) is refused.
      const other = `${text}\n${logNoteSigner(ORIGIN, createPrivateKey(readFileSync(sample('gateway-ec.key.pem')))).sign(text)}`;
      expect((await fetch(`${url}/add-checkpoint`, { method: 'POST', body: `old 3\n\n${other}` })).status).toBe(403);
    } finally {
      child.kill('SIGTERM');
    }
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(0);
  });

  it('refuses to start without its options or with a key that is not Ed25519', async () => {
    const run = (args: string[]) =>
      new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, ['bin/lienthong.js', 'audit', 'witness', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
        let stderr = '';
        child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        child.once('exit', (code) => resolve({ code, stderr }));
      });
    const missing = await run(['--key', sample('witness.key.pem')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/needs --key, --name, --log/);
    const rsa = await run(['--key', sample('gateway.key.pem'), '--name', NAME, '--log', `${ORIGIN}=${sample('log-signer.pem')}`, '--state', join(dir, 's2')]);
    expect(rsa.code).toBe(2);
    expect(rsa.stderr).toMatch(/Ed25519/);
  });
});
