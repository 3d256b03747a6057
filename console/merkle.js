// @ts-check
/**
 * Merkle-tree proof checks of RFC 9162 (§2.1.3.2 inclusion, §2.1.4.2 consistency), done in the
 * browser with WebCrypto so an auditor does not have to take the gateway's word for a proof. The
 * same module runs under Node (globalThis.crypto.subtle), where it is tested against proofs made by
 * src/audit/merkle.ts. Every check answers `{ ok: true }` or `{ ok: false, reason }`, `reason` a
 * code the console translates (see i18n.js, `merkle.*`); none throws on bad input.
 */

/** @typedef {{ ok: true } | { ok: false, reason: string, detail?: Record<string, string | number> }} Verdict */

const HASH_SIZE = 32;

/**
 * SHA-256 of the concatenation of the parts.
 * @param {...Uint8Array} parts
 * @returns {Promise<Uint8Array>}
 */
export async function sha256(...parts) {
  let length = 0;
  for (const p of parts) length += p.length;
  const joined = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    joined.set(p, at);
    at += p.length;
  }
  return new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', joined));
}

const LEAF_PREFIX = Uint8Array.of(0);
const NODE_PREFIX = Uint8Array.of(1);

/**
 * The leaf hash of RFC 9162 §2.1.1: SHA-256(0x00 || leaf as UTF-8).
 * @param {string} leaf the exact text that was hashed into the tree
 */
export function leafHash(leaf) {
  return sha256(LEAF_PREFIX, new TextEncoder().encode(leaf));
}

/**
 * An interior node: SHA-256(0x01 || left || right).
 * @param {Uint8Array} left
 * @param {Uint8Array} right
 */
export function nodeHash(left, right) {
  return sha256(NODE_PREFIX, left, right);
}

/**
 * Decodes standard base64 into bytes; null when it is not base64 of exactly 32 bytes.
 * @param {unknown} text
 * @returns {Uint8Array | null}
 */
export function decodeHash(text) {
  if (typeof text !== 'string' || !/^[A-Za-z0-9+/]{43}=$/.test(text)) return null;
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes.length === HASH_SIZE ? bytes : null;
}

/**
 * Base64 of bytes.
 * @param {Uint8Array} bytes
 */
export function encodeHash(bytes) {
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

/**
 * @param {Uint8Array} a
 * @param {Uint8Array} b
 */
function equal(a, b) {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/** @param {unknown} n */
function isSize(n) {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

/**
 * Decodes every hash of a path; the position of the first bad one otherwise.
 * @param {unknown} path
 * @returns {{ hashes: Uint8Array[] } | { bad: number }}
 */
function decodePath(path) {
  if (!Array.isArray(path)) return { bad: -1 };
  /** @type {Uint8Array[]} */
  const hashes = [];
  for (let i = 0; i < path.length; i++) {
    const h = decodeHash(path[i]);
    if (!h) return { bad: i };
    hashes.push(h);
  }
  return { hashes };
}

/**
 * Checks that `leaf` (the exact text of the entry) is the leaf whose hash the gateway gave.
 * @param {string} leaf
 * @param {string} expectedLeafHash base64
 * @returns {Promise<Verdict>}
 */
export async function verifyLeaf(leaf, expectedLeafHash) {
  const expected = decodeHash(expectedLeafHash);
  if (!expected) return { ok: false, reason: 'bad-hash', detail: { what: 'leafHash' } };
  if (typeof leaf !== 'string') return { ok: false, reason: 'leaf-missing' };
  const computed = await leafHash(leaf);
  if (!equal(computed, expected)) return { ok: false, reason: 'leaf-mismatch', detail: { computed: encodeHash(computed), expected: expectedLeafHash } };
  return { ok: true };
}

/**
 * RFC 9162 §2.1.3.2: recomputes the root from a leaf hash and its audit path and compares it with
 * `root`, the root of a signed checkpoint of size `treeSize` (take both from the same checkpoint:
 * the proof binds the size only through the root).
 * @param {string} leafHashB64
 * @param {number} index
 * @param {number} treeSize
 * @param {unknown} auditPath base64 hashes
 * @param {string} rootB64
 * @returns {Promise<Verdict>}
 */
export async function verifyInclusion(leafHashB64, index, treeSize, auditPath, rootB64) {
  if (!isSize(index) || !isSize(treeSize)) return { ok: false, reason: 'bad-size' };
  if (index >= treeSize) return { ok: false, reason: 'index-outside', detail: { index, treeSize } };
  const leaf = decodeHash(leafHashB64);
  if (!leaf) return { ok: false, reason: 'bad-hash', detail: { what: 'leafHash' } };
  const root = decodeHash(rootB64);
  if (!root) return { ok: false, reason: 'bad-hash', detail: { what: 'rootHash' } };
  const decoded = decodePath(auditPath);
  if ('bad' in decoded) return { ok: false, reason: 'bad-hash', detail: { what: `auditPath[${decoded.bad}]` } };
  let fn = index;
  let sn = treeSize - 1;
  let r = leaf;
  for (const p of decoded.hashes) {
    if (sn === 0) return { ok: false, reason: 'path-too-long' };
    if (fn % 2 === 1 || fn === sn) {
      r = await nodeHash(p, r);
      while (fn % 2 === 0 && fn !== 0) {
        fn /= 2;
        sn = Math.floor(sn / 2);
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0) return { ok: false, reason: 'path-too-short' };
  if (!equal(r, root)) return { ok: false, reason: 'root-mismatch', detail: { computed: encodeHash(r), expected: rootB64 } };
  return { ok: true };
}

/** @param {number} n */
function isPowerOfTwo(n) {
  return n > 0 && Number.isInteger(Math.log2(n)) && 2 ** Math.log2(n) === n;
}

/**
 * RFC 9162 §2.1.4.2: checks that the tree of size `second` (root `secondRootB64`) contains the
 * tree of size `first` (root `firstRootB64`) unchanged. Outside that algorithm's range: equal sizes
 * need an empty proof and equal roots.
 * @param {number} first
 * @param {number} second
 * @param {string} firstRootB64
 * @param {string} secondRootB64
 * @param {unknown} proof base64 hashes
 * @returns {Promise<Verdict>}
 */
export async function verifyConsistency(first, second, firstRootB64, secondRootB64, proof) {
  if (!isSize(first) || !isSize(second) || first === 0) return { ok: false, reason: 'bad-size' };
  if (first > second) return { ok: false, reason: 'first-after-second', detail: { first, second } };
  const firstRoot = decodeHash(firstRootB64);
  if (!firstRoot) return { ok: false, reason: 'bad-hash', detail: { what: 'firstRoot' } };
  const secondRoot = decodeHash(secondRootB64);
  if (!secondRoot) return { ok: false, reason: 'bad-hash', detail: { what: 'secondRoot' } };
  const decoded = decodePath(proof);
  if ('bad' in decoded) return { ok: false, reason: 'bad-hash', detail: { what: `proof[${decoded.bad}]` } };
  if (first === second) {
    if (decoded.hashes.length !== 0) return { ok: false, reason: 'path-too-long' };
    return equal(firstRoot, secondRoot) ? { ok: true } : { ok: false, reason: 'root-mismatch', detail: { computed: firstRootB64, expected: secondRootB64 } };
  }
  // 1. An empty path fails.
  if (decoded.hashes.length === 0) return { ok: false, reason: 'path-too-short' };
  // 2. A first tree of 2^k leaves is a node of the second tree itself: the path starts with it.
  const path = isPowerOfTwo(first) ? [firstRoot, ...decoded.hashes] : decoded.hashes;
  // 3, 4.
  let fn = first - 1;
  let sn = second - 1;
  while (fn % 2 === 1) {
    fn = (fn - 1) / 2;
    sn = Math.floor(sn / 2);
  }
  // 5.
  let fr = path[0];
  let sr = path[0];
  // 6.
  for (let i = 1; i < path.length; i++) {
    const c = path[i];
    if (sn === 0) return { ok: false, reason: 'path-too-long' };
    if (fn % 2 === 1 || fn === sn) {
      fr = await nodeHash(c, fr);
      sr = await nodeHash(c, sr);
      while (fn % 2 === 0 && fn !== 0) {
        fn /= 2;
        sn = Math.floor(sn / 2);
      }
    } else {
      sr = await nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  // 7.
  if (sn !== 0) return { ok: false, reason: 'path-too-short' };
  if (!equal(fr, firstRoot)) return { ok: false, reason: 'first-root-mismatch', detail: { computed: encodeHash(fr), expected: firstRootB64 } };
  if (!equal(sr, secondRoot)) return { ok: false, reason: 'root-mismatch', detail: { computed: encodeHash(sr), expected: secondRootB64 } };
  return { ok: true };
}
