/**
 * Signed notes (c2sp.org/signed-note) as the exchange log and its witnesses use them:
 * - the log signs its checkpoint text with its EC P-256 log-signing key (signature type 0x02:
 *   key ID = SHA-256(DER SPKI)[:4], signature = ASN.1 DER ECDSA over SHA-256 of the note text),
 *   under the key name = the log's origin;
 * - witnesses add cosignatures (c2sp.org/tlog-cosignature, cosignature/v1: Ed25519, type 0x04,
 *   key ID = SHA-256(name || "\n" || 0x04 || public key)[:4], signature = u64 time || Ed25519
 *   signature over "cosignature/v1\ntime <t>\n" || note text).
 */
import { KeyObject, X509Certificate, createHash, createPublicKey, sign, verify } from 'node:crypto';

export interface NoteSignature {
  name: string;
  keyId: Buffer;
  signature: Buffer;
  /** The whole signature line, including its final newline. */
  line: string;
}

export class NoteError extends Error {
  override name = 'NoteError';
}

/** Signature type identifiers of c2sp.org/signed-note. */
export const SIG_TYPE_COSIGNATURE_V1 = 0x04;

/** More signature lines than any note of this log can legitimately carry. */
export const MAX_NOTE_SIGNATURES = 64;
const EM_DASH = '\u2014';
// Control characters other than newline.
// eslint-disable-next-line no-control-regex
const FORBIDDEN_CHARS = /[\u0000-\u0009\u000b-\u001f]/;
const SPACES = /[\s+\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/;

function hasLoneSurrogate(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = s.charCodeAt(i + 1);
      if (!(next >= 0xdc00 && next <= 0xdfff)) return true;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      return true;
    }
  }
  return false;
}

/** A key name: non-empty, no Unicode spaces, no '+'. */
export function isKeyName(name: string): boolean {
  return name.length > 0 && !SPACES.test(name) && !FORBIDDEN_CHARS.test(name) && !hasLoneSurrogate(name);
}

function strictBase64(s: string): Buffer | undefined {
  if (s.length === 0 || s.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(s)) return undefined;
  const bytes = Buffer.from(s, 'base64');
  return bytes.toString('base64') === s ? bytes : undefined;
}

/** Checks the text rules shared by every note: valid UTF-8 (no lone surrogates), no control characters but newline. */
function checkNoteChars(note: string): void {
  if (FORBIDDEN_CHARS.test(note)) throw new NoteError('the note contains a control character');
  if (hasLoneSurrogate(note)) throw new NoteError('the note is not valid UTF-8');
}

/** Parses one signature line without its newline: "— <name> <base64(key ID || signature)>". */
function parseSignatureLine(body: string): NoteSignature {
  if (!body.startsWith(`${EM_DASH} `)) throw new NoteError('a signature line does not start with "— "');
  const rest = body.slice(2);
  const space = rest.indexOf(' ');
  if (space < 0) throw new NoteError('a signature line has no signature');
  const name = rest.slice(0, space);
  if (!isKeyName(name)) throw new NoteError(`invalid key name ${JSON.stringify(name)}`);
  const bytes = strictBase64(rest.slice(space + 1));
  if (!bytes || bytes.length < 5) throw new NoteError(`the signature of ${name} is not base64 of a key ID and a signature`);
  return { name, keyId: bytes.subarray(0, 4), signature: bytes.subarray(4), line: `${body}\n` };
}

/** Splits a signed note at its last blank line; validates the note rules (UTF-8, no control chars, key names). */
export function splitNote(note: string): { text: string; signatures: NoteSignature[] } {
  if (typeof note !== 'string') throw new NoteError('the note is not text');
  checkNoteChars(note);
  if (!note.endsWith('\n')) throw new NoteError('the note does not end with a newline');
  const blank = note.lastIndexOf('\n\n');
  if (blank < 0) throw new NoteError('the note has no blank line before its signatures');
  const text = note.slice(0, blank + 1);
  const lines = note.slice(blank + 2, -1).split('\n');
  if (lines.length === 1 && lines[0] === '') throw new NoteError('the note has no signatures');
  if (lines.length > MAX_NOTE_SIGNATURES) throw new NoteError(`the note has more than ${MAX_NOTE_SIGNATURES} signatures`);
  return { text, signatures: lines.map(parseSignatureLine) };
}

function signatureLine(name: string, keyId: Buffer, signature: Buffer): string {
  return `${EM_DASH} ${name} ${Buffer.concat([keyId, signature]).toString('base64')}\n`;
}

function checkText(text: string): void {
  checkNoteChars(text);
  if (!text.endsWith('\n')) throw new NoteError('the note text does not end with a newline');
}

function ecPublicKey(key: KeyObject | X509Certificate): KeyObject {
  const pub = key instanceof X509Certificate ? key.publicKey : key.type === 'private' ? createPublicKey(key) : key;
  if (pub.asymmetricKeyType !== 'ec') throw new NoteError('the log note key is not an EC key');
  const curve = pub.asymmetricKeyDetails?.namedCurve;
  if (curve !== 'prime256v1' && curve !== 'secp384r1' && curve !== 'secp521r1') throw new NoteError(`the log note key uses an unsupported curve ${curve ?? '?'}`);
  return pub;
}

/** Key ID of an ECDSA note key (type 0x02): SHA-256 of the DER SubjectPublicKeyInfo, first four bytes. */
export function ecdsaKeyId(publicKey: KeyObject): Buffer {
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest().subarray(0, 4);
}

/** The log's note signature (ECDSA P-256, type 0x02) over checkpoint text; key name = origin. */
export function logNoteSigner(origin: string, privateKey: KeyObject): { keyId: Buffer; sign(text: string): string } {
  if (!isKeyName(origin)) throw new NoteError(`the origin ${JSON.stringify(origin)} is not a valid key name`);
  if (privateKey.type !== 'private') throw new NoteError('the log note signer needs a private key');
  const keyId = ecdsaKeyId(ecPublicKey(privateKey));
  return {
    keyId,
    sign(text: string): string {
      checkText(text);
      return signatureLine(origin, keyId, sign('sha256', Buffer.from(text, 'utf8'), { key: privateKey, dsaEncoding: 'der' }));
    },
  };
}

export function logNoteVerifier(origin: string, key: KeyObject | X509Certificate): { name: string; keyId: Buffer; verify(text: string, sig: NoteSignature): boolean } {
  const publicKey = ecPublicKey(key);
  const keyId = ecdsaKeyId(publicKey);
  return {
    name: origin,
    keyId,
    verify(text: string, sig: NoteSignature): boolean {
      if (sig.name !== origin || !sig.keyId.equals(keyId)) return false;
      try {
        return verify('sha256', Buffer.from(text, 'utf8'), { key: publicKey, dsaEncoding: 'der' }, sig.signature);
      } catch {
        return false;
      }
    },
  };
}

export interface WitnessKey {
  name: string;
  keyId: Buffer;
  publicKey: KeyObject;
}

function ed25519Raw(publicKey: KeyObject): Buffer {
  const pub = publicKey.type === 'private' ? createPublicKey(publicKey) : publicKey;
  if (pub.asymmetricKeyType !== 'ed25519') throw new NoteError('a witness key must be an Ed25519 key');
  const jwk = pub.export({ format: 'jwk' });
  return Buffer.from(jwk.x ?? '', 'base64url');
}

/** Key ID of a cosignature/v1 key: SHA-256(name || "\n" || 0x04 || 32-byte public key)[:4]. */
export function cosignatureKeyId(name: string, raw: Buffer): Buffer {
  return createHash('sha256').update(Buffer.concat([Buffer.from(`${name}\n`, 'utf8'), Buffer.from([SIG_TYPE_COSIGNATURE_V1]), raw])).digest().subarray(0, 4);
}

/** Parses a C2SP vkey `<name>+<8 hex key ID>+<base64(0x04 || 32-byte Ed25519 public key)>` and checks its key ID. */
export function parseWitnessKey(vkey: string): WitnessKey {
  const trimmed = vkey.trim();
  const parts = trimmed.split('+');
  // The base64 part may itself contain '+': the name and key ID are the first two fields.
  if (parts.length < 3) throw new NoteError('a witness vkey is <name>+<key ID>+<base64 key>');
  const [name = '', hexId = ''] = parts;
  const encoded = parts.slice(2).join('+');
  if (!isKeyName(name)) throw new NoteError(`invalid witness name ${JSON.stringify(name)}`);
  if (!/^[0-9a-f]{8}$/.test(hexId)) throw new NoteError('the witness key ID is not 8 lowercase hex digits');
  const bytes = strictBase64(encoded);
  if (!bytes || bytes.length !== 33) throw new NoteError('the witness key is not base64 of a type byte and 32 bytes');
  if (bytes[0] !== SIG_TYPE_COSIGNATURE_V1) throw new NoteError(`the witness key type is 0x${(bytes[0] ?? 0).toString(16).padStart(2, '0')}, not 0x04 (cosignature/v1)`);
  const raw = bytes.subarray(1);
  const keyId = cosignatureKeyId(name, raw);
  if (keyId.toString('hex') !== hexId) throw new NoteError(`the witness key ID ${hexId} does not match its key (${keyId.toString('hex')})`);
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' });
  } catch {
    throw new NoteError('the witness key is not an Ed25519 public key');
  }
  return { name, keyId, publicKey };
}

export function witnessVkey(name: string, publicKey: KeyObject): string {
  if (!isKeyName(name)) throw new NoteError(`invalid witness name ${JSON.stringify(name)}`);
  const raw = ed25519Raw(publicKey);
  return `${name}+${cosignatureKeyId(name, raw).toString('hex')}+${Buffer.concat([Buffer.from([SIG_TYPE_COSIGNATURE_V1]), raw]).toString('base64')}`;
}

/** The cosignature/v1 signed message. */
export function cosignedMessage(text: string, time: number): Buffer {
  return Buffer.from(`cosignature/v1\ntime ${time}\n${text}`, 'utf8');
}

function checkTime(time: number): void {
  if (!Number.isSafeInteger(time) || time < 0) throw new NoteError('a cosignature time is a non-negative whole number of seconds');
}

/** A cosignature/v1 line over the note text at `time` (POSIX seconds). */
export function cosign(text: string, name: string, privateKey: KeyObject, time: number): string {
  checkText(text);
  checkTime(time);
  if (privateKey.type !== 'private' || privateKey.asymmetricKeyType !== 'ed25519') throw new NoteError('a witness signs with an Ed25519 private key');
  if (!isKeyName(name)) throw new NoteError(`invalid witness name ${JSON.stringify(name)}`);
  const keyId = cosignatureKeyId(name, ed25519Raw(privateKey));
  const ts = Buffer.alloc(8);
  ts.writeBigUInt64BE(BigInt(time));
  const signature = sign(null, cosignedMessage(text, time), privateKey);
  return signatureLine(name, keyId, Buffer.concat([ts, signature]));
}

/** Verifies a cosignature/v1 signature by `key`; undefined when it is not that key's or does not verify. */
export function verifyCosignature(text: string, sig: NoteSignature, key: WitnessKey): { time: number } | undefined {
  if (sig.name !== key.name || !sig.keyId.equals(key.keyId) || sig.signature.length !== 72) return undefined;
  const big = sig.signature.readBigUInt64BE(0);
  if (big > BigInt(Number.MAX_SAFE_INTEGER)) return undefined;
  const time = Number(big);
  try {
    return verify(null, cosignedMessage(text, time), key.publicKey, sig.signature.subarray(8)) ? { time } : undefined;
  } catch {
    return undefined;
  }
}

export interface ParsedCheckpoint {
  origin: string;
  treeSize: number;
  rootHash: Buffer;
}

/** Parses C2SP checkpoint text (c2sp.org/tlog-checkpoint): origin, decimal size, base64 SHA-256 root, optional extension lines. */
export function parseCheckpointText(text: string): ParsedCheckpoint {
  if (!text.endsWith('\n')) throw new NoteError('the checkpoint does not end with a newline');
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3) throw new NoteError('a checkpoint has an origin, a size and a root hash line');
  const [origin = '', size = '', root = ''] = lines;
  if (origin.length === 0) throw new NoteError('the checkpoint origin line is empty');
  if (!/^(0|[1-9][0-9]{0,15})$/.test(size) || !Number.isSafeInteger(Number(size))) throw new NoteError('the checkpoint size is not a decimal number without leading zeros');
  const rootHash = strictBase64(root);
  if (!rootHash || rootHash.length !== 32) throw new NoteError('the checkpoint root hash is not base64 of 32 bytes');
  if (lines.slice(3).some((line) => line.length === 0)) throw new NoteError('a checkpoint extension line is empty');
  return { origin, treeSize: Number(size), rootHash };
}
