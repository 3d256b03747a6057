import { execFileSync } from 'node:child_process';
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  NoteError,
  cosign,
  cosignedMessage,
  ecdsaKeyId,
  logNoteSigner,
  logNoteVerifier,
  parseWitnessKey,
  splitNote,
  verifyCosignature,
  witnessVkey,
} from './note.ts';

const dir = mkdtempSync(join(tmpdir(), 'note-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const checkpoint = 'example.gov.vn/lienthong\n42\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n';

// Published vectors of other implementations of c2sp.org/signed-note.
// golang.org/x/mod/sumdb/note: an Ed25519 (type 0x01) key and the note it signs.
const PETER_SEED = 'AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz'; // 0x01 || 32-byte seed
const PETER_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const PETER_NOTE = `${PETER_TEXT}\n— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n`;
// transparency-dev/formats: a cosignature/v1 (type 0x04) witness key.
const REMORA_VKEY = 'remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2';
// sigstore: a log's ECDSA P-256 key (0x02 || DER SPKI) and its key hash SHA-256(DER SPKI)[:4].
const PIXEL_KEY = 'AjBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABN+4x0Jk1yTwvLFI9A4NDdGZcX0aiWVdWM5XJVy0M4VWD3AvyW5Q6Hs9A0mcDkpUoYgn+KKPNzFC0H3nN3q6JQ8=';

function openssl(args: string[]): boolean {
  try {
    execFileSync('openssl', args, { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

describe('splitNote', () => {
  it('parses the published sumdb note and its signature matches an independent Ed25519 signature', () => {
    const { text, signatures } = splitNote(PETER_NOTE);
    expect(text).toBe(PETER_TEXT);
    expect(signatures).toHaveLength(1);
    const [sig] = signatures;
    expect(sig!.name).toBe('PeterNeumann');
    expect(sig!.keyId.toString('hex')).toBe('c74f20a3');
    expect(sig!.line).toBe(PETER_NOTE.slice(PETER_TEXT.length + 1));
    const seed = Buffer.from(PETER_SEED, 'base64').subarray(1);
    const pkcs8 = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]);
    const key = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
    expect(sign(null, Buffer.from(text), key).equals(sig!.signature)).toBe(true);
  });

  it('splits at the last blank line and keeps empty lines of the text', () => {
    const note = `a\n\nb\n\n— k AAAAAAE=\n— l AAAAAQI=\n`;
    const { text, signatures } = splitNote(note);
    expect(text).toBe('a\n\nb\n');
    expect(signatures.map((s) => s.name)).toEqual(['k', 'l']);
    expect(signatures[1]!.keyId.toString('hex')).toBe('00000001');
  });

  it.each([
    ['no final newline', 'a\n\n— k AAAAAAE='],
    ['no blank line', 'a\n— k AAAAAAE=\n'],
    ['no signature', 'a\n\n'],
    ['a control character', 'a\tb\n\n— k AAAAAAE=\n'],
    ['a carriage return', 'a\r\n\n— k AAAAAAE=\n'],
    ['a lone surrogate', 'a\ud800\n\n— k AAAAAAE=\n'],
    ['a hyphen instead of an em dash', 'a\n\n- k AAAAAAE=\n'],
    ['a key name with a plus', 'a\n\n— k+1 AAAAAAE=\n'],
    ['a key name with a Unicode space', 'a\n\n— k\u00a0x AAAAAAE=\n'],
    ['a signature of only a key ID', 'a\n\n— k AAAAAA==\n'],
    ['bad base64', 'a\n\n— k AAAA!AE=\n'],
    ['non-canonical base64', 'a\n\n— k AAAAAAF=\n'],
    ['too many signatures', `a\n\n${'— k AAAAAAE=\n'.repeat(65)}`],
  ])('refuses a note with %s', (_, note) => {
    expect(() => splitNote(note)).toThrow(NoteError);
  });
});

describe('log note signature (ECDSA, type 0x02)', () => {
  it('computes the key ID of a published ECDSA log key as SHA-256 of its DER SPKI', () => {
    const der = Buffer.from(PIXEL_KEY, 'base64').subarray(1);
    expect(ecdsaKeyId(createPublicKey({ key: der, format: 'der', type: 'spki' })).toString('hex')).toBe('91c16e30');
  });

  it('signs checkpoint text that openssl verifies and the verifier accepts', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const signer = logNoteSigner('example.gov.vn/lienthong', privateKey);
    const line = signer.sign(checkpoint);
    const note = `${checkpoint}\n${line}`;
    const { text, signatures } = splitNote(note);
    expect(text).toBe(checkpoint);
    const sig = signatures[0]!;
    expect(sig.name).toBe('example.gov.vn/lienthong');
    expect(sig.keyId.equals(signer.keyId)).toBe(true);

    const spki = publicKey.export({ type: 'spki', format: 'der' });
    const keyHash = execFileSync('openssl', ['dgst', '-sha256', '-binary'], { input: spki }).subarray(0, 4);
    expect(sig.keyId.equals(keyHash)).toBe(true);
    writeFileSync(join(dir, 'ec.pub.pem'), publicKey.export({ type: 'spki', format: 'pem' }));
    writeFileSync(join(dir, 'cp.txt'), checkpoint);
    writeFileSync(join(dir, 'cp.sig'), sig.signature);
    expect(openssl(['dgst', '-sha256', '-verify', join(dir, 'ec.pub.pem'), '-signature', join(dir, 'cp.sig'), join(dir, 'cp.txt')])).toBe(true);

    const verifier = logNoteVerifier('example.gov.vn/lienthong', publicKey);
    expect(verifier.verify(text, sig)).toBe(true);
    expect(verifier.verify(text.replace('42', '43'), sig)).toBe(false);
    expect(logNoteVerifier('other.example/log', publicKey).verify(text, sig)).toBe(false);
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
    expect(logNoteVerifier('example.gov.vn/lienthong', other).verify(text, sig)).toBe(false);
  });

  it('refuses non-EC keys and text without a final newline', () => {
    const ed = generateKeyPairSync('ed25519');
    expect(() => logNoteSigner('a', ed.privateKey)).toThrow(NoteError);
    expect(() => logNoteVerifier('a', ed.publicKey)).toThrow(NoteError);
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    expect(() => logNoteSigner('a', ec.privateKey).sign('no newline')).toThrow(NoteError);
    expect(() => logNoteSigner('has space', ec.privateKey)).toThrow(NoteError);
  });
});

describe('witness keys and cosignatures (cosignature/v1, type 0x04)', () => {
  it('parses a published cosignature/v1 vkey, checking its key ID', () => {
    const key = parseWitnessKey(REMORA_VKEY);
    expect(key.name).toBe('remora.n621.de');
    expect(key.keyId.toString('hex')).toBe('da77ade7');
    expect(witnessVkey(key.name, key.publicKey)).toBe(REMORA_VKEY);
    expect(() => parseWitnessKey(REMORA_VKEY.replace('da77ade7', 'da77ade8'))).toThrow(/does not match/);
    expect(() => parseWitnessKey(REMORA_VKEY.replace('remora', 'remorb'))).toThrow(/does not match/);
  });

  it('refuses vkeys of other types and malformed ones', () => {
    expect(() => parseWitnessKey('PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW')).toThrow(/0x01/);
    expect(() => parseWitnessKey('name+00000000')).toThrow(NoteError);
    expect(() => parseWitnessKey('name+0000000+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2')).toThrow(NoteError);
    expect(() => parseWitnessKey('name+00000000+BA==')).toThrow(NoteError);
  });

  it('cosigns so that openssl verifies the Ed25519 signature over the cosigned message', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const name = 'thanhtra.example.gov.vn/witness';
    const key = parseWitnessKey(witnessVkey(name, publicKey));
    const time = Math.floor(Date.now() / 1000);
    const line = cosign(checkpoint, name, privateKey, time);
    const { signatures } = splitNote(`${checkpoint}\n${line}`);
    const sig = signatures[0]!;
    expect(sig.keyId.equals(key.keyId)).toBe(true);
    expect(sig.signature).toHaveLength(72);
    expect(Number(sig.signature.readBigUInt64BE(0))).toBe(time);
    expect(cosignedMessage(checkpoint, time).toString()).toBe(`cosignature/v1\ntime ${time}\n${checkpoint}`);

    writeFileSync(join(dir, 'w.pub.pem'), publicKey.export({ type: 'spki', format: 'pem' }));
    writeFileSync(join(dir, 'msg'), cosignedMessage(checkpoint, time));
    writeFileSync(join(dir, 'msg.sig'), sig.signature.subarray(8));
    const verifyArgs = ['pkeyutl', '-verify', '-rawin', '-pubin', '-inkey', join(dir, 'w.pub.pem'), '-in', join(dir, 'msg'), '-sigfile', join(dir, 'msg.sig')];
    expect(openssl(verifyArgs)).toBe(true);
    writeFileSync(join(dir, 'msg'), cosignedMessage(checkpoint, time + 1));
    expect(openssl(verifyArgs)).toBe(false);

    expect(verifyCosignature(checkpoint, sig, key)).toEqual({ time });
    expect(verifyCosignature(checkpoint.replace('42', '43'), sig, key)).toBeUndefined();
    const tampered = Buffer.from(sig.signature);
    tampered.writeBigUInt64BE(BigInt(time + 1), 0);
    expect(verifyCosignature(checkpoint, { ...sig, signature: tampered }, key)).toBeUndefined();
    const stranger = parseWitnessKey(witnessVkey(name, generateKeyPairSync('ed25519').publicKey));
    expect(verifyCosignature(checkpoint, sig, stranger)).toBeUndefined();
  });
});
