/**
 * Merkle tree hashing and proofs of RFC 9162 (Certificate Transparency 2.0), §2.1, over SHA-256.
 *
 * Vocabulary used throughout:
 * - A tree of size n holds the leaf hashes D[0:n]; MTH(D[a:b]) is the Merkle Tree Hash of the
 *   list D[a:b] exactly as §2.1.1 defines it (split at the largest power of two below its size).
 * - A *node* (level L, index i) is the perfect subtree over leaves [i·2^L, (i+1)·2^L).
 *   Level 0 nodes are the leaf hashes. Once the tree has grown past (i+1)·2^L the node never
 *   changes, so a store can persist it in a `(level, index) → hash` table as leaves are appended
 *   ({@link MerkleAccumulator.append} / {@link appendLeaf} say which nodes became complete).
 * - Every proof element is the MTH of a range whose start is aligned to the range's size rounded
 *   up to a power of two, so {@link rangeRoot} rebuilds it from at most ~log2(n) persisted nodes,
 *   including right-edge ranges of older (smaller) tree sizes. Proof generation therefore never
 *   needs all leaves in memory: it asks a {@link GetNode} function for those nodes only.
 * - Sizes and indices are JavaScript numbers; they must be safe integers (< 2^53).
 */
import { createHash, hash as sha256Once } from 'node:crypto';

export const HASH_SIZE = 32;

/** Position of a perfect subtree: leaves [index·2^level, (index+1)·2^level). */
export interface NodeId {
  readonly level: number;
  readonly index: number;
}

/** A perfect subtree and its hash (a row of the persisted node table). */
export interface MerkleNode extends NodeId {
  readonly hash: Buffer;
}

/**
 * Returns the hash of a complete perfect subtree; level 0 is the leaf hash of leaf `index`.
 * Only nodes lying entirely inside the tree size being proven are ever requested.
 * Throw if the node is unknown: a proof must not be built from a guess.
 */
export type GetNode = (level: number, index: number) => Buffer;

/** Returns MTH(D[start:end]); used to adapt stores that answer by leaf range. */
export type GetRangeRoot = (start: number, end: number) => Buffer;

/** Immutable view of a compact range [0, size): the right-edge perfect subtree hashes, largest (leftmost) first. */
export interface FrontierState {
  readonly size: number;
  readonly frontier: readonly Buffer[];
}

/** Serialised accumulator: what to persist to resume after a restart. */
export interface AccumulatorJSON {
  size: number;
  /** Hex SHA-256 hashes of the frontier subtrees, largest (leftmost) first; one per set bit of `size`. */
  hashes: string[];
}

// ---------------------------------------------------------------------------------------------
// Hashing (§2.1.1)

const LEAF_PREFIX = Buffer.from([0x00]);
/** Reused input buffer for one-shot hashing; safe because hashing here is synchronous. */
const nodeScratch = Buffer.alloc(1 + 2 * HASH_SIZE);
nodeScratch[0] = 0x01;
const LEAF_SCRATCH_MAX = 1024;
const leafScratch = Buffer.alloc(1 + LEAF_SCRATCH_MAX);
const EMPTY_ROOT = createHash('sha256').digest();

function sha256(data: Uint8Array): Buffer {
  return sha256Once('sha256', data, 'buffer');
}

/** MTH of the empty tree: SHA-256 of the empty string. */
export function emptyRoot(): Buffer {
  return Buffer.from(EMPTY_ROOT);
}

/** SHA-256(0x00 || data). */
export function leafHash(data: Uint8Array): Buffer {
  if (data.length <= LEAF_SCRATCH_MAX) {
    leafScratch.set(data, 1);
    return sha256(leafScratch.subarray(0, 1 + data.length));
  }
  return createHash('sha256').update(LEAF_PREFIX).update(data).digest();
}

/** SHA-256(0x01 || left || right). Both inputs must be 32-byte hashes. */
export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  if (left.length !== HASH_SIZE || right.length !== HASH_SIZE) {
    throw new RangeError(`nodeHash expects two ${HASH_SIZE}-byte hashes`);
  }
  nodeScratch.set(left, 1);
  nodeScratch.set(right, 1 + HASH_SIZE);
  return sha256(nodeScratch);
}

/** MTH(D[0:n]) of §2.1.1 over already-hashed leaves; the empty list gives {@link emptyRoot}. O(n) hashes, O(log n) stack. */
export function rootHash(leafHashes: readonly Buffer[]): Buffer {
  if (leafHashes.length === 0) return emptyRoot();
  return mthOfArrayRange(leafHashes, 0, leafHashes.length);
}

function mthOfArrayRange(leaves: readonly Buffer[], start: number, end: number): Buffer {
  const n = end - start;
  if (n === 1) return leaves[start]!;
  const k = largestPowerOfTwoBelow(n);
  return nodeHash(mthOfArrayRange(leaves, start, start + k), mthOfArrayRange(leaves, start + k, end));
}

// ---------------------------------------------------------------------------------------------
// Integer helpers (exact for every safe integer; no 32-bit shifts)

function assertSize(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${name} must be a non-negative safe integer, got ${value}`);
}

function isSize(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0;
}

/** Largest power of two ≤ n, for n ≥ 1. */
function powerOfTwoAtMost(n: number): number {
  let p = 2 ** Math.floor(Math.log2(n));
  while (p > n) p /= 2;
  while (p * 2 <= n) p *= 2;
  return p;
}

/** k of §2.1.1: the largest power of two < n, for n ≥ 2. */
function largestPowerOfTwoBelow(n: number): number {
  return powerOfTwoAtMost(n - 1);
}

function isPowerOfTwo(n: number): boolean {
  return n >= 1 && powerOfTwoAtMost(n) === n;
}

/** log2 of a power of two. */
function exponent(p: number): number {
  let level = 0;
  for (let q = 1; q < p; q *= 2) level++;
  return level;
}

function popcount(n: number): number {
  let count = 0;
  for (let v = n; v > 0; v = Math.floor(v / 2)) count += v % 2;
  return count;
}

function checkHash(value: unknown, what: string): Buffer {
  if (!Buffer.isBuffer(value) || value.length !== HASH_SIZE) throw new Error(`${what} is not a ${HASH_SIZE}-byte hash`);
  return value;
}

// ---------------------------------------------------------------------------------------------
// Incremental accumulator (compact range [0, n))

/** Appends in place; `frontier` is the right-edge subtree list of a tree of `size` leaves. Returns the completed nodes. */
function appendInPlace(frontier: Buffer[], size: number, leaf: Buffer): MerkleNode[] {
  const nodes: MerkleNode[] = [{ level: 0, index: size, hash: leaf }];
  let hash = leaf;
  let index = size;
  let level = 0;
  // The node at `level` with an odd index closes a pair with its left sibling, the last frontier entry.
  while (index % 2 === 1) {
    hash = nodeHash(frontier.pop()!, hash);
    index = (index - 1) / 2;
    level++;
    nodes.push({ level, index, hash });
  }
  frontier.push(hash === leaf ? Buffer.from(leaf) : hash);
  return nodes;
}

function frontierRoot(frontier: readonly Buffer[]): Buffer {
  if (frontier.length === 0) return emptyRoot();
  let root = frontier[frontier.length - 1]!;
  for (let i = frontier.length - 2; i >= 0; i--) root = nodeHash(frontier[i]!, root);
  return root;
}

/**
 * Pure form of {@link MerkleAccumulator.append}: the state after appending `leaf` and the perfect
 * subtrees that the append completed (level 0 = the leaf itself, then each newly closed parent),
 * i.e. the rows to insert into a `(level, index) → hash` table. The input state is not modified.
 */
export function appendLeaf(state: FrontierState, leaf: Buffer): { state: FrontierState; nodes: MerkleNode[] } {
  checkFrontier(state.size, state.frontier);
  checkHash(leaf, 'leaf');
  const frontier = [...state.frontier];
  const nodes = appendInPlace(frontier, state.size, leaf);
  return { state: { size: state.size + 1, frontier }, nodes };
}

/** Nodes making up the frontier of a tree of `size` leaves, left to right (one per set bit of `size`). */
export function frontierNodeIds(size: number): NodeId[] {
  assertSize('size', size);
  const ids: NodeId[] = [];
  let offset = 0;
  let remaining = size;
  while (remaining > 0) {
    const p = powerOfTwoAtMost(remaining);
    ids.push({ level: exponent(p), index: offset / p });
    offset += p;
    remaining -= p;
  }
  return ids;
}

function checkFrontier(size: number, frontier: readonly Buffer[]): void {
  assertSize('size', size);
  if (frontier.length !== popcount(size)) throw new RangeError(`a tree of ${size} leaves has ${popcount(size)} frontier hashes, got ${frontier.length}`);
  frontier.forEach((h, i) => checkHash(h, `frontier[${i}]`));
}

/**
 * Append-only Merkle accumulator (a compact range over [0, size)). It keeps one hash per set bit
 * of `size`: appending N leaves costs < 2N hashes in total (amortised ~1 node hash per leaf) and
 * `root()` costs at most log2(size) hashes.
 */
export class MerkleAccumulator {
  #size: number;
  #frontier: Buffer[];

  constructor(state: FrontierState = { size: 0, frontier: [] }) {
    checkFrontier(state.size, state.frontier);
    this.#size = state.size;
    this.#frontier = state.frontier.map((h) => Buffer.from(h));
  }

  /** Number of leaves appended so far. */
  get size(): number {
    return this.#size;
  }

  /**
   * Appends one leaf hash (see {@link leafHash}) and returns the perfect subtrees this completed,
   * level 0 first. Persist them to serve proofs with {@link inclusionProof} / {@link consistencyProof}.
   */
  append(leaf: Buffer): MerkleNode[] {
    checkHash(leaf, 'leaf');
    if (this.#size >= Number.MAX_SAFE_INTEGER) throw new RangeError('tree size limit reached');
    const nodes = appendInPlace(this.#frontier, this.#size, leaf);
    this.#size++;
    return nodes;
  }

  /** Hashes `data` as a leaf and appends it. */
  appendData(data: Uint8Array): MerkleNode[] {
    return this.append(leafHash(data));
  }

  /** MTH of the leaves appended so far; {@link emptyRoot} while empty. */
  root(): Buffer {
    return frontierRoot(this.#frontier);
  }

  /** Snapshot of the state (copies), usable with {@link appendLeaf} or the constructor. */
  state(): FrontierState {
    return { size: this.#size, frontier: this.#frontier.map((h) => Buffer.from(h)) };
  }

  clone(): MerkleAccumulator {
    return new MerkleAccumulator(this.state());
  }

  toJSON(): AccumulatorJSON {
    return { size: this.#size, hashes: this.#frontier.map((h) => h.toString('hex')) };
  }

  /** Restores {@link toJSON} output (also accepts it after a JSON.stringify/parse round trip). */
  static fromJSON(json: unknown): MerkleAccumulator {
    if (typeof json !== 'object' || json === null) throw new TypeError('accumulator JSON must be an object');
    const { size, hashes } = json as Record<string, unknown>;
    if (typeof size !== 'number' || !isSize(size)) throw new TypeError('accumulator JSON: size must be a non-negative safe integer');
    if (!Array.isArray(hashes)) throw new TypeError('accumulator JSON: hashes must be an array');
    const frontier = hashes.map((h, i) => {
      if (typeof h !== 'string' || !/^[0-9a-fA-F]{64}$/.test(h)) throw new TypeError(`accumulator JSON: hashes[${i}] is not a 64-digit hex hash`);
      return Buffer.from(h, 'hex');
    });
    return new MerkleAccumulator({ size, frontier });
  }

  /** Rebuilds the accumulator for `size` leaves from persisted nodes (e.g. when the saved state is lost or stale). */
  static fromNodes(size: number, getNode: GetNode): MerkleAccumulator {
    const frontier = frontierNodeIds(size).map(({ level, index }) => fetchNode(getNode, level, index));
    return new MerkleAccumulator({ size, frontier });
  }
}

// ---------------------------------------------------------------------------------------------
// Node sources

function fetchNode(getNode: GetNode, level: number, index: number): Buffer {
  return checkHash(getNode(level, index), `node (level ${level}, index ${index})`);
}

/** In-memory source over leaf hashes: each node is hashed from its leaves (fine for tests and small trees). */
export function nodeGetterFromLeaves(leafHashes: readonly Buffer[]): GetNode {
  return (level, index) => {
    const width = 2 ** level;
    const start = index * width;
    const end = start + width;
    if (!Number.isSafeInteger(end) || end > leafHashes.length) throw new RangeError(`node (level ${level}, index ${index}) lies beyond ${leafHashes.length} leaves`);
    return mthOfArrayRange(leafHashes, start, end);
  };
}

/** Adapts a store that answers MTH(D[start:end]) for perfect, aligned ranges. */
export function nodeGetterFromRangeRoot(getRangeRoot: GetRangeRoot): GetNode {
  return (level, index) => {
    const width = 2 ** level;
    return getRangeRoot(index * width, (index + 1) * width);
  };
}

/** Map-backed source over fetched rows (e.g. the result of one query for {@link inclusionProofNodeIds}); throws on a missing node. */
export function nodeGetterFromNodes(nodes: Iterable<MerkleNode>): GetNode {
  const byKey = new Map<string, Buffer>();
  for (const node of nodes) byKey.set(`${node.level}:${node.index}`, node.hash);
  return (level, index) => {
    const hash = byKey.get(`${level}:${index}`);
    if (!hash) throw new Error(`node (level ${level}, index ${index}) not available`);
    return hash;
  };
}

// ---------------------------------------------------------------------------------------------
// Arbitrary ranges

/** Folds the perfect nodes whose composition gives MTH(D[start:end]) (visited left to right) with `combine`, following §2.1.1's split. */
function walkRange<T>(start: number, end: number, leafOf: (level: number, index: number) => T, combine: (left: T, right: T) => T): T {
  const n = end - start;
  if (isPowerOfTwo(n) && start % n === 0) return leafOf(exponent(n), start / n);
  const k = largestPowerOfTwoBelow(n);
  return combine(walkRange(start, start + k, leafOf, combine), walkRange(start + k, end, leafOf, combine));
}

function assertRange(start: number, end: number): void {
  assertSize('start', start);
  assertSize('end', end);
  if (start > end) throw new RangeError(`range start ${start} is after end ${end}`);
}

/**
 * MTH(D[start:end]) built from perfect nodes. Ranges whose start is a multiple of their size rounded
 * up to a power of two — every range a proof needs, and every prefix [0, n) — take at most
 * ~log2(end − start) + 1 nodes; other ranges fall back to smaller nodes (up to end − start of them)
 * because their internal hashes are not nodes of the big tree. The empty range gives {@link emptyRoot}.
 */
export function rangeRoot(start: number, end: number, getNode: GetNode): Buffer {
  assertRange(start, end);
  if (start === end) return emptyRoot();
  return walkRange<Buffer>(start, end, (level, index) => fetchNode(getNode, level, index), nodeHash);
}

/** The nodes {@link rangeRoot} reads for [start, end), left to right. */
export function rangeNodeIds(start: number, end: number): NodeId[] {
  assertRange(start, end);
  if (start === end) return [];
  const ids: NodeId[] = [];
  walkRange<void>(
    start,
    end,
    (level, index) => void ids.push({ level, index }),
    () => undefined,
  );
  return ids;
}

function uniqueNodeIds(ranges: readonly (readonly [number, number])[]): NodeId[] {
  const seen = new Set<string>();
  const ids: NodeId[] = [];
  for (const [start, end] of ranges) {
    for (const id of rangeNodeIds(start, end)) {
      const key = `${id.level}:${id.index}`;
      if (!seen.has(key)) {
        seen.add(key);
        ids.push(id);
      }
    }
  }
  return ids;
}

// ---------------------------------------------------------------------------------------------
// Inclusion proofs (§2.1.3)

/** Leaf ranges whose MTH form PATH(index, D[0:treeSize]) of §2.1.3.1, in proof order (bottom-up). */
function inclusionProofRanges(index: number, treeSize: number): [number, number][] {
  assertSize('index', index);
  assertSize('treeSize', treeSize);
  if (index >= treeSize) throw new RangeError(`leaf index ${index} is outside a tree of ${treeSize} leaves`);
  const topDown: [number, number][] = [];
  let start = 0;
  let end = treeSize;
  while (end - start > 1) {
    const k = largestPowerOfTwoBelow(end - start);
    if (index < start + k) {
      topDown.push([start + k, end]);
      end = start + k;
    } else {
      topDown.push([start, start + k]);
      start += k;
    }
  }
  return topDown.reverse();
}

/** Nodes needed for {@link inclusionProof}, so an asynchronous store can fetch them in one query. */
export function inclusionProofNodeIds(index: number, treeSize: number): NodeId[] {
  return uniqueNodeIds(inclusionProofRanges(index, treeSize));
}

/** Inclusion proof (audit path) of §2.1.3.1 for leaf `index` in the tree of the first `treeSize` leaves. */
export function inclusionProof(index: number, treeSize: number, getNode: GetNode): Buffer[] {
  return inclusionProofRanges(index, treeSize).map(([start, end]) => rangeRoot(start, end, getNode));
}

/** {@link inclusionProof} over in-memory leaf hashes; `treeSize` defaults to all of them. */
export function inclusionProofFromLeaves(index: number, leafHashes: readonly Buffer[], treeSize = leafHashes.length): Buffer[] {
  assertSize('treeSize', treeSize);
  if (treeSize > leafHashes.length) throw new RangeError(`tree size ${treeSize} exceeds the ${leafHashes.length} leaves given`);
  return inclusionProof(index, treeSize, nodeGetterFromLeaves(leafHashes));
}

function isHash(value: unknown): value is Buffer {
  return Buffer.isBuffer(value) && value.length === HASH_SIZE;
}

/**
 * Verifies an inclusion proof with the algorithm of §2.1.3.2. Never throws; malformed input is `false`.
 * Note that the proof binds the tree size only through `root`: always take `treeSize` and `root`
 * from the same (signed) tree head.
 */
export function verifyInclusion(leaf: Buffer, index: number, treeSize: number, proof: readonly Buffer[], root: Buffer): boolean {
  if (!isSize(index) || !isSize(treeSize) || index >= treeSize) return false;
  if (!isHash(leaf) || !isHash(root) || !Array.isArray(proof) || !proof.every(isHash)) return false;
  let fn = index;
  let sn = treeSize - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn /= 2;
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && r.equals(root);
}

// ---------------------------------------------------------------------------------------------
// Consistency proofs (§2.1.4)

/** Leaf ranges whose MTH form PROOF(first, D[0:second]) of §2.1.4.1, in proof order. */
function consistencyProofRanges(first: number, second: number): [number, number][] {
  assertSize('first', first);
  assertSize('second', second);
  if (first > second) throw new RangeError(`first tree size ${first} exceeds second tree size ${second}`);
  // Empty proofs for first = second (SUBPROOF(m, D[m], true)) and, by convention, for the empty first tree.
  if (first === 0 || first === second) return [];
  const topDown: [number, number][] = [];
  let m = first;
  let start = 0;
  let end = second;
  let wholeOldTree = true; // the b flag of SUBPROOF
  while (m !== end - start) {
    const k = largestPowerOfTwoBelow(end - start);
    if (m <= k) {
      topDown.push([start + k, end]);
      end = start + k;
    } else {
      topDown.push([start, start + k]);
      start += k;
      m -= k;
      wholeOldTree = false;
    }
  }
  if (!wholeOldTree) topDown.push([start, end]);
  return topDown.reverse();
}

/** Nodes needed for {@link consistencyProof}, so an asynchronous store can fetch them in one query. */
export function consistencyProofNodeIds(first: number, second: number): NodeId[] {
  return uniqueNodeIds(consistencyProofRanges(first, second));
}

/** Consistency proof of §2.1.4.1 between the trees of the first `first` and `second` leaves (empty if first is 0 or equals second). */
export function consistencyProof(first: number, second: number, getNode: GetNode): Buffer[] {
  return consistencyProofRanges(first, second).map(([start, end]) => rangeRoot(start, end, getNode));
}

/** {@link consistencyProof} over in-memory leaf hashes (second ≤ leafHashes.length). */
export function consistencyProofFromLeaves(first: number, second: number, leafHashes: readonly Buffer[]): Buffer[] {
  assertSize('second', second);
  if (second > leafHashes.length) throw new RangeError(`tree size ${second} exceeds the ${leafHashes.length} leaves given`);
  return consistencyProof(first, second, nodeGetterFromLeaves(leafHashes));
}

/**
 * Verifies a consistency proof with the algorithm of §2.1.4.2 (for 0 < first < second). Never throws.
 * Edge cases outside that algorithm: first = second needs an empty proof and equal roots; first = 0
 * needs an empty proof and `firstRoot` equal to {@link emptyRoot}. As with inclusion, sizes are bound
 * only through the roots, so take each size with its root from the same tree head.
 */
export function verifyConsistency(first: number, second: number, firstRoot: Buffer, secondRoot: Buffer, proof: readonly Buffer[]): boolean {
  if (!isSize(first) || !isSize(second) || first > second) return false;
  if (!isHash(firstRoot) || !isHash(secondRoot) || !Array.isArray(proof) || !proof.every(isHash)) return false;
  if (first === second) return proof.length === 0 && firstRoot.equals(secondRoot);
  if (first === 0) return proof.length === 0 && firstRoot.equals(EMPTY_ROOT);
  // 1. An empty path fails.
  if (proof.length === 0) return false;
  // 2. If first is an exact power of two, first_hash is the starting node.
  const path = isPowerOfTwo(first) ? [firstRoot, ...proof] : proof;
  // 3.
  let fn = first - 1;
  let sn = second - 1;
  // 4.
  while (fn % 2 === 1) {
    fn = (fn - 1) / 2;
    sn = Math.floor(sn / 2);
  }
  // 5.
  let fr = path[0]!;
  let sr = path[0]!;
  // 6.
  for (let i = 1; i < path.length; i++) {
    const c = path[i]!;
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn /= 2;
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  // 7.
  return fr.equals(firstRoot) && sr.equals(secondRoot) && sn === 0;
}
