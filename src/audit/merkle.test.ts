import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  MerkleAccumulator,
  appendLeaf,
  consistencyProof,
  consistencyProofFromLeaves,
  consistencyProofNodeIds,
  emptyRoot,
  frontierNodeIds,
  inclusionProof,
  inclusionProofFromLeaves,
  inclusionProofNodeIds,
  leafHash,
  nodeGetterFromLeaves,
  nodeGetterFromNodes,
  nodeGetterFromRangeRoot,
  nodeHash,
  rangeNodeIds,
  rangeRoot,
  rootHash,
  verifyConsistency,
  verifyInclusion,
  type GetNode,
  type MerkleNode,
  type NodeId,
} from './merkle.ts';

// ---------------------------------------------------------------------------------------------
// Independent reference: RFC 9162 §2.1 written as literally as possible (slices, Buffer.concat).

const sha = (...parts: Uint8Array[]): Buffer => createHash('sha256').update(Buffer.concat(parts)).digest();
const naiveLeaf = (data: Uint8Array): Buffer => sha(Buffer.from([0x00]), data);
const naiveNode = (l: Buffer, r: Buffer): Buffer => sha(Buffer.from([0x01]), l, r);

function kOf(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function naiveMth(d: readonly Buffer[]): Buffer {
  if (d.length === 0) return sha();
  if (d.length === 1) return d[0]!;
  const k = kOf(d.length);
  return naiveNode(naiveMth(d.slice(0, k)), naiveMth(d.slice(k)));
}

/** PATH(m, D[n]) of §2.1.3.1. */
function naivePath(m: number, d: readonly Buffer[]): Buffer[] {
  if (d.length <= 1) return [];
  const k = kOf(d.length);
  return m < k ? [...naivePath(m, d.slice(0, k)), naiveMth(d.slice(k))] : [...naivePath(m - k, d.slice(k)), naiveMth(d.slice(0, k))];
}

/** SUBPROOF(m, D[n], b) of §2.1.4.1. */
function naiveSubproof(m: number, d: readonly Buffer[], b: boolean): Buffer[] {
  if (m === d.length) return b ? [] : [naiveMth(d)];
  const k = kOf(d.length);
  return m <= k ? [...naiveSubproof(m, d.slice(0, k), b), naiveMth(d.slice(k))] : [...naiveSubproof(m - k, d.slice(k), false), naiveMth(d.slice(0, k))];
}

/**
 * Shape of PATH(m, D[n]) — which side each sibling sits on — without hashing. A proof verifies
 * for another size with the same root exactly when the shapes agree (the proof binds the size only through the root).
 */
function pathShape(m: number, n: number): string {
  if (n <= 1) return '';
  const k = kOf(n);
  return m < k ? `${pathShape(m, k)}R` : `${pathShape(m - k, n - k)}L`;
}

/** Shape of PROOF(m, D[n]): S = explicit starting node, L = left sibling (both roots), R = right sibling (second root only). */
function consistencyShape(m: number, n: number, b = true): string {
  if (m === n) return b ? '' : 'S';
  const k = kOf(n);
  return m <= k ? `${consistencyShape(m, k, b)}R` : `${consistencyShape(m - k, n - k, false)}L`;
}

const hex = (b: Buffer): string => b.toString('hex');
const hexes = (bs: readonly Buffer[]): string[] => bs.map(hex);
const flip = (b: Buffer, bit = 0): Buffer => {
  const c = Buffer.from(b);
  c[bit >> 3]! ^= 1 << (bit & 7);
  return c;
};

function makeLeaves(n: number, seed: number): Buffer[] {
  return Array.from({ length: n }, (_, i) => naiveLeaf(Buffer.from(`${seed}/${i}`)));
}

/** A node table filled from the accumulator's output, as a database would keep it; records reads. */
function buildStore(leaves: readonly Buffer[]) {
  const acc = new MerkleAccumulator();
  const table = new Map<string, Buffer>();
  const emitted: MerkleNode[] = [];
  const prefixRoots: Buffer[] = [acc.root()];
  for (const leaf of leaves) {
    for (const node of acc.append(leaf)) {
      const key = `${node.level}:${node.index}`;
      expect(table.has(key)).toBe(false);
      table.set(key, node.hash);
      emitted.push(node);
    }
    prefixRoots.push(acc.root());
  }
  const reads: NodeId[] = [];
  const getNode: GetNode = (level, index) => {
    reads.push({ level, index });
    const hash = table.get(`${level}:${index}`);
    if (!hash) throw new Error(`missing node ${level}:${index}`);
    return hash;
  };
  return { acc, table, emitted, prefixRoots, getNode, reads };
}

const sizeArb = fc.oneof(
  { arbitrary: fc.integer({ min: 1, max: 300 }), weight: 12 },
  { arbitrary: fc.constantFrom(511, 512, 513, 1000, 1023, 1024, 1025, 2047), weight: 1 },
);
const seedArb = fc.integer({ min: 0, max: 1_000_000 });

// ---------------------------------------------------------------------------------------------
// Reference vectors (RFC 6962 / CT reference implementation test data)

const CT_INPUTS = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map((h) => Buffer.from(h, 'hex'));
const CT_LEAVES = CT_INPUTS.map(leafHash);
const CT_ROOTS = [
  'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];
const CT_INCLUSION: [number, number, string[]][] = [
  [0, 1, []],
  [0, 8, ['96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7', '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4']],
  [5, 8, ['bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b', 'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0', 'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7']],
  [2, 3, ['fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125']],
  [1, 5, ['6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d', '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', 'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b']],
];
const CT_CONSISTENCY: [number, number, string[]][] = [
  [1, 1, []],
  [1, 8, ['96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7', '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4']],
  [6, 8, ['0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a', 'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0', 'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7']],
  [2, 5, ['5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', 'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b']],
  [2, 8, ['5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4']],
];

describe('RFC 6962 / 9162 reference vectors', () => {
  it('empty tree root is SHA-256 of the empty string', () => {
    expect(hex(emptyRoot())).toBe(CT_ROOTS[0]);
    expect(hex(rootHash([]))).toBe(CT_ROOTS[0]);
    expect(hex(new MerkleAccumulator().root())).toBe(CT_ROOTS[0]);
  });

  it('roots of the CT test data for sizes 1..8 (rootHash, accumulator, naive MTH)', () => {
    const acc = new MerkleAccumulator();
    for (let n = 1; n <= 8; n++) {
      acc.appendData(CT_INPUTS[n - 1]!);
      expect(hex(rootHash(CT_LEAVES.slice(0, n))), `size ${n}`).toBe(CT_ROOTS[n]);
      expect(hex(acc.root()), `size ${n}`).toBe(CT_ROOTS[n]);
      expect(hex(naiveMth(CT_INPUTS.slice(0, n).map(naiveLeaf))), `size ${n}`).toBe(CT_ROOTS[n]);
    }
  });

  it.each(CT_INCLUSION)('inclusion proof for leaf %i in tree size %i', (index, size, expected) => {
    const proof = inclusionProofFromLeaves(index, CT_LEAVES, size);
    expect(hexes(proof)).toEqual(expected);
    expect(verifyInclusion(CT_LEAVES[index]!, index, size, proof, Buffer.from(CT_ROOTS[size]!, 'hex'))).toBe(true);
  });

  it.each(CT_CONSISTENCY)('consistency proof between sizes %i and %i', (first, second, expected) => {
    const proof = consistencyProofFromLeaves(first, second, CT_LEAVES);
    expect(hexes(proof)).toEqual(expected);
    expect(verifyConsistency(first, second, Buffer.from(CT_ROOTS[first]!, 'hex'), Buffer.from(CT_ROOTS[second]!, 'hex'), proof)).toBe(true);
  });
});

describe('hashing', () => {
  it('leafHash and nodeHash use the 0x00 / 0x01 domain prefixes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), (data) => {
        expect(leafHash(data).equals(naiveLeaf(data))).toBe(true);
        expect(leafHash(data).equals(sha(data))).toBe(false);
      }),
    );
    const [a, b] = [naiveLeaf(Buffer.from('a')), naiveLeaf(Buffer.from('b'))];
    expect(nodeHash(a, b).equals(naiveNode(a, b))).toBe(true);
    expect(nodeHash(a, b).equals(nodeHash(b, a))).toBe(false);
    expect(() => nodeHash(a, Buffer.alloc(31))).toThrow(RangeError);
  });

  it('returns fresh buffers (the internal scratch space never leaks)', () => {
    const first = leafHash(Buffer.from('x'));
    const copy = Buffer.from(first);
    leafHash(Buffer.from('y'));
    nodeHash(first, first);
    expect(first.equals(copy)).toBe(true);
    const e = emptyRoot();
    e.fill(0);
    expect(hex(emptyRoot())).toBe(CT_ROOTS[0]);
  });
});

describe('every proof for every small tree (exhaustive, sizes 0..40)', () => {
  const leaves = makeLeaves(40, 7);
  const { getNode, prefixRoots } = buildStore(leaves);

  it('matches the naive PATH / PROOF and verifies', () => {
    for (let n = 0; n <= 40; n++) {
      const d = leaves.slice(0, n);
      const root = naiveMth(d);
      expect(prefixRoots[n]!.equals(root)).toBe(true);
      expect(rootHash(d).equals(root)).toBe(true);
      for (let i = 0; i < n; i++) {
        const proof = inclusionProof(i, n, getNode);
        expect(hexes(proof)).toEqual(hexes(naivePath(i, d)));
        expect(verifyInclusion(leaves[i]!, i, n, proof, root)).toBe(true);
      }
      for (let m = 1; m <= n; m++) {
        const proof = consistencyProof(m, n, getNode);
        expect(hexes(proof)).toEqual(hexes(naiveSubproof(m, d, true)));
        expect(verifyConsistency(m, n, prefixRoots[m]!, root, proof)).toBe(true);
      }
    }
  });
});

describe('accumulator (property-based)', () => {
  it('root equals the naive MTH at the final and at random intermediate sizes', () => {
    fc.assert(
      fc.property(sizeArb, seedArb, fc.array(fc.nat(), { maxLength: 5 }), (n, seed, cuts) => {
        const leaves = makeLeaves(n, seed);
        const sizes = new Set([n, ...cuts.map((c) => c % (n + 1))]);
        const acc = new MerkleAccumulator();
        for (let i = 0; i <= n; i++) {
          if (sizes.has(i)) {
            expect(acc.size).toBe(i);
            expect(hex(acc.root())).toBe(hex(naiveMth(leaves.slice(0, i))));
          }
          if (i < n) acc.append(leaves[i]!);
        }
        expect(hex(rootHash(leaves))).toBe(hex(acc.root()));
      }),
      { numRuns: 60 },
    );
  });

  it('emits exactly every complete perfect subtree once, each with the right hash', () => {
    fc.assert(
      fc.property(sizeArb, seedArb, (n, seed) => {
        const leaves = makeLeaves(n, seed);
        const { emitted } = buildStore(leaves); // buildStore also rejects a node emitted twice
        let expected = 0;
        for (let w = 1; w <= n; w *= 2) expected += Math.floor(n / w);
        expect(emitted.length).toBe(expected);
        const popcount = n.toString(2).replaceAll('0', '').length;
        expect(emitted.length).toBe(2 * n - popcount);
        const sample = n > 300 ? emitted.filter((_, i) => i % 37 === 0) : emitted;
        for (const node of sample) {
          const width = 2 ** node.level;
          expect(hex(node.hash)).toBe(hex(naiveMth(leaves.slice(node.index * width, (node.index + 1) * width))));
        }
      }),
      { numRuns: 60 },
    );
  });

  it('survives a JSON round trip and resumes with identical roots and nodes', () => {
    fc.assert(
      fc.property(sizeArb, seedArb, fc.nat(), (n, seed, cutSeed) => {
        const leaves = makeLeaves(n, seed);
        const cut = cutSeed % (n + 1);
        const straight = new MerkleAccumulator();
        const straightNodes = leaves.flatMap((l) => straight.append(l));

        const before = new MerkleAccumulator();
        const nodes = leaves.slice(0, cut).flatMap((l) => before.append(l));
        const saved = JSON.stringify(before);
        expect((JSON.parse(saved) as { hashes: string[] }).hashes.length).toBe(frontierNodeIds(cut).length);
        const resumed = MerkleAccumulator.fromJSON(JSON.parse(saved));
        expect(resumed.size).toBe(cut);
        expect(hex(resumed.root())).toBe(hex(before.root()));
        nodes.push(...leaves.slice(cut).flatMap((l) => resumed.append(l)));
        expect(hex(resumed.root())).toBe(hex(straight.root()));
        expect(nodes.map((x) => `${x.level}:${x.index}:${hex(x.hash)}`)).toEqual(straightNodes.map((x) => `${x.level}:${x.index}:${hex(x.hash)}`));

        // The frontier can also be rebuilt from the persisted node table.
        const rebuilt = MerkleAccumulator.fromNodes(cut, nodeGetterFromNodes(straightNodes));
        expect(rebuilt.toJSON()).toEqual(before.toJSON());
      }),
      { numRuns: 60 },
    );
  });

  it('appendLeaf is pure and agrees with the class', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 200 }), seedArb, (n, seed) => {
        const leaves = makeLeaves(n, seed);
        const acc = new MerkleAccumulator();
        let state = acc.state();
        for (const leaf of leaves) {
          const snapshot = JSON.stringify(new MerkleAccumulator(state));
          const next = appendLeaf(state, leaf);
          expect(JSON.stringify(new MerkleAccumulator(state))).toBe(snapshot);
          expect(next.nodes).toEqual(acc.append(leaf));
          state = next.state;
        }
        expect(new MerkleAccumulator(state).toJSON()).toEqual(acc.toJSON());
      }),
      { numRuns: 30 },
    );
  });

  it('does not alias the caller leaf buffer', () => {
    const leaf = naiveLeaf(Buffer.from('only'));
    const acc = new MerkleAccumulator();
    acc.append(leaf);
    leaf.fill(0);
    expect(hex(acc.root())).toBe(hex(naiveLeaf(Buffer.from('only'))));
  });

  it('rejects malformed serialised state', () => {
    const good = new MerkleAccumulator();
    for (const l of makeLeaves(5, 1)) good.append(l);
    const json = good.toJSON(); // size 5 → two hashes
    expect(() => MerkleAccumulator.fromJSON({ ...json, hashes: json.hashes.slice(1) })).toThrow(RangeError);
    expect(() => MerkleAccumulator.fromJSON({ ...json, size: 7 })).toThrow(RangeError);
    expect(() => MerkleAccumulator.fromJSON({ ...json, size: 4 })).toThrow(RangeError);
    expect(() => MerkleAccumulator.fromJSON({ ...json, size: -1 })).toThrow(TypeError);
    expect(() => MerkleAccumulator.fromJSON({ ...json, size: 1.5 })).toThrow(TypeError);
    expect(() => MerkleAccumulator.fromJSON({ ...json, hashes: ['zz', json.hashes[1]] })).toThrow(TypeError);
    expect(() => MerkleAccumulator.fromJSON(null)).toThrow(TypeError);
    expect(() => new MerkleAccumulator().append(Buffer.alloc(31))).toThrow();
    expect(MerkleAccumulator.fromJSON(json).toJSON()).toEqual(json);
  });
});

describe('inclusion proofs (property-based)', () => {
  it('verify for every leaf (served from the node table, also for older tree sizes) and fail when anything is altered', () => {
    fc.assert(
      fc.property(sizeArb, fc.integer({ min: 0, max: 40 }), seedArb, fc.nat(), (n, extra, seed, pick) => {
        const leaves = makeLeaves(n + extra, seed); // the store has grown past n: the right edge of size n is not perfect
        const { getNode, prefixRoots, reads } = buildStore(leaves);
        const root = prefixRoots[n]!;
        expect(hex(root)).toBe(hex(naiveMth(leaves.slice(0, n))));

        for (let i = 0; i < n; i++) {
          const proof = inclusionProof(i, n, getNode);
          expect(verifyInclusion(leaves[i]!, i, n, proof, root)).toBe(true);
        }

        const i = pick % n;
        reads.length = 0;
        const proof = inclusionProof(i, n, getNode);
        const byKey = (ids: readonly NodeId[]) => [...new Set(ids.map((x) => `${x.level}:${x.index}`))].sort();
        expect(byKey(reads)).toEqual(byKey(inclusionProofNodeIds(i, n)));
        expect(reads.length).toBeLessThanOrEqual(2 * Math.ceil(Math.log2(n + 1)) + 1);
        expect(hexes(proof)).toEqual(hexes(naivePath(i, leaves.slice(0, n))));
        expect(hexes(inclusionProofFromLeaves(i, leaves, n))).toEqual(hexes(proof));
        const leaf = leaves[i]!;

        // leaf
        expect(verifyInclusion(flip(leaf, pick % 256), i, n, proof, root)).toBe(false);
        if (n > 1) expect(verifyInclusion(leaves[(i + 1) % n]!, i, n, proof, root)).toBe(false);
        // index
        for (let j = 0; j < n + 2; j++) if (j !== i) expect(verifyInclusion(leaf, j, n, proof, root), `index ${j}`).toBe(false);
        // size, root unchanged: passes only if the path has the same shape for that size
        for (let m = Math.max(1, i - 3); m <= n + 20; m++) {
          if (m === n) continue;
          const expected = i < m && pathShape(i, m) === pathShape(i, n);
          expect(verifyInclusion(leaf, i, m, proof, root), `size ${m}`).toBe(expected);
        }
        // size with its matching root (a different tree head)
        for (let m = i + 1; m < Math.min(prefixRoots.length, n + 20); m++) {
          if (m === n) continue;
          expect(verifyInclusion(leaf, i, m, proof, prefixRoots[m]!), `tree head ${m}`).toBe(false);
        }
        // each proof element, and the proof's length and order
        proof.forEach((_, k) => {
          const altered = proof.map((p, x) => (x === k ? flip(p, (pick + k) % 256) : p));
          expect(verifyInclusion(leaf, i, n, altered, root)).toBe(false);
        });
        if (proof.length > 0) {
          expect(verifyInclusion(leaf, i, n, proof.slice(0, -1), root)).toBe(false);
          expect(verifyInclusion(leaf, i, n, proof.slice(1), root)).toBe(false);
        }
        expect(verifyInclusion(leaf, i, n, [...proof, leaf], root)).toBe(false);
        if (proof.length > 1) expect(verifyInclusion(leaf, i, n, [...proof].reverse(), root)).toBe(false);
        // root
        expect(verifyInclusion(leaf, i, n, proof, flip(root, pick % 256))).toBe(false);
      }),
      { numRuns: 80 },
    );
  });
});

describe('consistency proofs (property-based)', () => {
  const pairArb = sizeArb
    .filter((n) => n >= 2)
    .chain((n) => fc.tuple(fc.integer({ min: 1, max: n - 1 }), fc.constant(n), fc.integer({ min: 0, max: 40 }), seedArb, fc.nat()));

  it('verify for random 0 < m < n (served from the node table) and fail when anything is altered', () => {
    fc.assert(
      fc.property(pairArb, ([m, n, extra, seed, pick]) => {
        const leaves = makeLeaves(n + extra, seed);
        const { getNode, prefixRoots, reads } = buildStore(leaves);
        const [r1, r2] = [prefixRoots[m]!, prefixRoots[n]!];

        reads.length = 0;
        const proof = consistencyProof(m, n, getNode);
        const byKey = (ids: readonly NodeId[]) => [...new Set(ids.map((x) => `${x.level}:${x.index}`))].sort();
        expect(byKey(reads)).toEqual(byKey(consistencyProofNodeIds(m, n)));
        expect(hexes(proof)).toEqual(hexes(naiveSubproof(m, leaves.slice(0, n), true)));
        expect(hexes(consistencyProofFromLeaves(m, n, leaves))).toEqual(hexes(proof));
        expect(verifyConsistency(m, n, r1, r2, proof)).toBe(true);

        // each element, length, order
        proof.forEach((_, k) => {
          const altered = proof.map((p, x) => (x === k ? flip(p, (pick + k) % 256) : p));
          expect(verifyConsistency(m, n, r1, r2, altered), `element ${k}`).toBe(false);
        });
        expect(verifyConsistency(m, n, r1, r2, proof.slice(0, -1))).toBe(false);
        expect(verifyConsistency(m, n, r1, r2, proof.slice(1))).toBe(false);
        expect(verifyConsistency(m, n, r1, r2, [...proof, r1])).toBe(false);
        if (proof.length > 1 && hex(proof[0]!) !== hex(proof.at(-1)!)) expect(verifyConsistency(m, n, r1, r2, [...proof].reverse())).toBe(false);
        // roots
        expect(verifyConsistency(m, n, flip(r1, pick % 256), r2, proof)).toBe(false);
        expect(verifyConsistency(m, n, r1, flip(r2, pick % 256), proof)).toBe(false);
        expect(verifyConsistency(m, n, r2, r1, proof)).toBe(false);
        // sizes, roots unchanged: passes only where the proof has the same shape
        const shape = consistencyShape(m, n);
        for (let m2 = Math.max(0, m - 25); m2 <= Math.min(n, m + 25); m2++) {
          if (m2 === m) continue;
          const expected = m2 > 0 && m2 < n && consistencyShape(m2, n) === shape;
          expect(verifyConsistency(m2, n, r1, r2, proof), `first ${m2}`).toBe(expected);
        }
        for (let n2 = m; n2 <= n + 25; n2++) {
          if (n2 === n) continue;
          const expected = n2 > m && consistencyShape(m, n2) === shape;
          expect(verifyConsistency(m, n2, r1, r2, proof), `second ${n2}`).toBe(expected);
        }
        // sizes with their matching roots (other tree heads)
        for (let m2 = Math.max(1, m - 10); m2 < Math.min(n, m + 10); m2++) {
          if (m2 !== m) expect(verifyConsistency(m2, n, prefixRoots[m2]!, r2, proof), `head ${m2}`).toBe(false);
        }
        for (let n2 = m + 1; n2 < Math.min(prefixRoots.length, n + 10); n2++) {
          if (n2 !== n) expect(verifyConsistency(m, n2, r1, prefixRoots[n2]!, proof), `head ${n2}`).toBe(false);
        }
      }),
      { numRuns: 80 },
    );
  });

  it('handles the edge sizes outside §2.1.4.2 (first = second, empty first tree)', () => {
    const leaves = makeLeaves(9, 3);
    const { getNode, prefixRoots } = buildStore(leaves);
    expect(consistencyProof(9, 9, getNode)).toEqual([]);
    expect(verifyConsistency(9, 9, prefixRoots[9]!, prefixRoots[9]!, [])).toBe(true);
    expect(verifyConsistency(9, 9, prefixRoots[9]!, prefixRoots[8]!, [])).toBe(false);
    expect(verifyConsistency(9, 9, prefixRoots[9]!, prefixRoots[9]!, [prefixRoots[9]!])).toBe(false);
    expect(consistencyProof(0, 9, getNode)).toEqual([]);
    expect(verifyConsistency(0, 9, emptyRoot(), prefixRoots[9]!, [])).toBe(true);
    expect(verifyConsistency(0, 9, prefixRoots[1]!, prefixRoots[9]!, [])).toBe(false);
    expect(verifyConsistency(0, 9, emptyRoot(), prefixRoots[9]!, [prefixRoots[9]!])).toBe(false);
    expect(verifyConsistency(3, 9, prefixRoots[3]!, prefixRoots[9]!, [])).toBe(false);
    expect(verifyConsistency(9, 3, prefixRoots[9]!, prefixRoots[3]!, consistencyProof(3, 9, getNode))).toBe(false);
    expect(() => consistencyProof(5, 4, getNode)).toThrow(RangeError);
    expect(() => consistencyProofFromLeaves(3, 10, leaves)).toThrow(RangeError);
  });
});

describe('rangeRoot over persisted nodes (property-based)', () => {
  it('equals the naive MTH of any range; aligned ranges read at most one node per set bit', () => {
    fc.assert(
      fc.property(sizeArb, seedArb, fc.nat(), fc.nat(), (n, seed, a, b) => {
        const leaves = makeLeaves(n, seed);
        const { getNode, reads } = buildStore(leaves);
        const [start, end] = [a % (n + 1), b % (n + 1)].sort((x, y) => x - y) as [number, number];
        reads.length = 0;
        expect(hex(rangeRoot(start, end, getNode))).toBe(hex(naiveMth(leaves.slice(start, end))));
        expect(reads).toEqual(rangeNodeIds(start, end));
        for (const { level, index } of reads) {
          expect(index * 2 ** level).toBeGreaterThanOrEqual(start);
          expect((index + 1) * 2 ** level).toBeLessThanOrEqual(end);
        }

        // Aligned: start is a multiple of the size rounded up to a power of two (prefixes, proof ranges).
        const size = Math.max(1, end - start);
        let p = 1;
        while (p < size) p *= 2;
        const alignedStart = Math.floor(start / p) * p;
        const alignedEnd = Math.min(n, alignedStart + size);
        reads.length = 0;
        expect(hex(rangeRoot(alignedStart, alignedEnd, getNode))).toBe(hex(naiveMth(leaves.slice(alignedStart, alignedEnd))));
        expect(reads.length).toBeLessThanOrEqual((alignedEnd - alignedStart).toString(2).replaceAll('0', '').length);
      }),
      { numRuns: 120 },
    );
  });

  it('adapters: from leaves, from a range-root store, from fetched rows', () => {
    const leaves = makeLeaves(77, 5);
    const { emitted } = buildStore(leaves);
    const fromRange = nodeGetterFromRangeRoot((s, e) => naiveMth(leaves.slice(s, e)));
    const fromLeaves = nodeGetterFromLeaves(leaves);
    const ids = inclusionProofNodeIds(45, 70);
    const rows = emitted.filter((x) => ids.some((id) => id.level === x.level && id.index === x.index));
    const fromRows = nodeGetterFromNodes(rows);
    const expected = hexes(naivePath(45, leaves.slice(0, 70)));
    for (const g of [fromRange, fromLeaves, fromRows]) expect(hexes(inclusionProof(45, 70, g))).toEqual(expected);
    expect(() => inclusionProof(44, 70, fromRows)).toThrow(/not available/);
    expect(() => fromLeaves(3, 10)).toThrow(RangeError);
    expect(() => rangeRoot(0, 3, () => Buffer.alloc(20))).toThrow(/32-byte/);
    expect(hex(rangeRoot(4, 4, fromLeaves))).toBe(CT_ROOTS[0]);
    expect(() => rangeRoot(5, 4, fromLeaves)).toThrow(RangeError);
  });
});

describe('argument checking', () => {
  const leaves = makeLeaves(6, 2);
  const root = rootHash(leaves);
  const proof = inclusionProofFromLeaves(2, leaves);

  it('proof generation throws RangeError on impossible requests', () => {
    expect(() => inclusionProofFromLeaves(6, leaves)).toThrow(RangeError);
    expect(() => inclusionProofFromLeaves(-1, leaves)).toThrow(RangeError);
    expect(() => inclusionProofFromLeaves(1.5, leaves)).toThrow(RangeError);
    expect(() => inclusionProofFromLeaves(1, leaves, 7)).toThrow(RangeError);
    expect(() => inclusionProofNodeIds(0, 0)).toThrow(RangeError);
    expect(() => frontierNodeIds(-1)).toThrow(RangeError);
  });

  it('verification returns false (never throws) on malformed input', () => {
    expect(verifyInclusion(leaves[2]!, 2, 6, proof, root)).toBe(true);
    expect(verifyInclusion(leaves[2]!, 2, 0, proof, root)).toBe(false);
    expect(verifyInclusion(leaves[2]!, Number.NaN, 6, proof, root)).toBe(false);
    expect(verifyInclusion(leaves[2]!, 2, 2 ** 60, proof, root)).toBe(false);
    expect(verifyInclusion(leaves[2]!.subarray(1), 2, 6, proof, root)).toBe(false);
    expect(verifyInclusion(leaves[2]!, 2, 6, [...proof.slice(0, -1), Buffer.alloc(31)], root)).toBe(false);
    expect(verifyInclusion(leaves[2]!, 2, 6, proof, Buffer.alloc(0))).toBe(false);
    expect(verifyConsistency(-1, 6, root, root, [])).toBe(false);
    expect(verifyConsistency(2, 6, root.subarray(2), root, [root])).toBe(false);
  });

  it('a single-leaf tree: empty path, root = leaf hash', () => {
    expect(inclusionProofFromLeaves(0, leaves, 1)).toEqual([]);
    expect(verifyInclusion(leaves[0]!, 0, 1, [], leaves[0]!)).toBe(true);
    expect(verifyInclusion(leaves[0]!, 0, 1, [leaves[1]!], nodeHash(leaves[0]!, leaves[1]!))).toBe(false);
  });

  it('documents RFC behaviour: the tree size is bound by the root, not by the proof', () => {
    const d = makeLeaves(8, 11);
    const r8 = rootHash(d);
    const p = inclusionProofFromLeaves(3, d);
    // PATH(3, D[7]) has the same shape as PATH(3, D[8]), so only the root tells the sizes apart:
    expect(verifyInclusion(d[3]!, 3, 7, p, r8)).toBe(true);
    expect(verifyInclusion(d[3]!, 3, 7, p, rootHash(d.slice(0, 7)))).toBe(false);
  });
});

describe('trees beyond 2^32 leaves (no 32-bit arithmetic)', () => {
  // A tree whose leaves are all equal has one node hash per level, so huge trees are cheap to model exactly.
  const levels = [naiveLeaf(Buffer.from('same'))];
  for (let l = 1; l <= 53; l++) levels.push(naiveNode(levels[l - 1]!, levels[l - 1]!));
  const getNode: GetNode = (level, index) => {
    expect(Number.isSafeInteger(index)).toBe(true);
    return levels[level]!;
  };

  it.each([
    [2 ** 32 + 5, 2 ** 33 + 3],
    [2 ** 40 - 1, 2 ** 40 + 12_345],
    [2 ** 52 + 1, 2 ** 52 + 7],
    [3, Number.MAX_SAFE_INTEGER],
  ])('proofs for sizes %d → %d', (m, n) => {
    const rootM = rangeRoot(0, m, getNode);
    const rootN = rangeRoot(0, n, getNode);
    expect(MerkleAccumulator.fromNodes(n, getNode).root().equals(rootN)).toBe(true);
    for (const i of [0, m - 1, Math.floor(n / 3), n - 1]) {
      const proof = inclusionProof(i, n, getNode);
      expect(verifyInclusion(levels[0]!, i, n, proof, rootN)).toBe(true);
      expect(verifyInclusion(levels[0]!, i, n, proof, flip(rootN))).toBe(false);
    }
    const cons = consistencyProof(m, n, getNode);
    expect(verifyConsistency(m, n, rootM, rootN, cons)).toBe(true);
    expect(verifyConsistency(m, n, rootM, flip(rootN), cons)).toBe(false);
  });

  it('an accumulator restored at a size above 2^32 keeps appending correctly', () => {
    const size = 2 ** 33 - 1; // 33 frontier subtrees
    const acc = MerkleAccumulator.fromNodes(size, getNode);
    const nodes = acc.append(levels[0]!);
    expect(nodes.map((x) => [x.level, x.index])).toEqual(Array.from({ length: 34 }, (_, l) => [l, Math.floor(size / 2 ** l)]));
    expect(acc.root().equals(levels[33]!)).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------
// Scale check: prints timings, asserts only correctness. 100,000 leaves by default; BENCH=1 runs 1,000,000.

// eslint-disable-next-line no-restricted-properties -- test-only switch for the long run, not gateway configuration
const BENCH = process.env.BENCH === '1';

describe('scale', () => {
  const N = BENCH ? 1_000_000 : 100_000;

  it(`builds a ${N.toLocaleString('en')}-leaf accumulator and recomputes its root`, () => {
    const entry = Buffer.alloc(8);
    const leaves = new Array<Buffer>(N);
    let t = performance.now();
    for (let i = 0; i < N; i++) {
      entry.writeUInt32BE(i, 4);
      leaves[i] = leafHash(entry);
    }
    const tLeaves = performance.now() - t;

    // Persist internal nodes per level (level 0 is `leaves`), as a node table would.
    const table: Buffer[][] = [];
    const acc = new MerkleAccumulator();
    t = performance.now();
    let internal = 0;
    for (let i = 0; i < N; i++) {
      for (const node of acc.append(leaves[i]!)) {
        if (node.level > 0) {
          (table[node.level] ??= [])[node.index] = node.hash;
          internal++;
        }
      }
    }
    const root = acc.root();
    const tAppend = performance.now() - t;

    t = performance.now();
    const recomputed = rootHash(leaves);
    const tRecompute = performance.now() - t;
    expect(recomputed.equals(root)).toBe(true);

    const getNode: GetNode = (level, index) => (level === 0 ? leaves[index] : table[level]?.[index]) ?? Buffer.alloc(0);
    const old = Math.floor(N * 0.7) + 3;
    const oldRoot = rangeRoot(0, old, getNode);
    const proofs = 1000;
    t = performance.now();
    for (let k = 0; k < proofs; k++) {
      const i = (k * 7919) % N;
      expect(verifyInclusion(leaves[i]!, i, N, inclusionProof(i, N, getNode), root)).toBe(true);
      const j = i % old;
      expect(verifyInclusion(leaves[j]!, j, old, inclusionProof(j, old, getNode), oldRoot)).toBe(true);
    }
    expect(verifyConsistency(old, N, oldRoot, root, consistencyProof(old, N, getNode))).toBe(true);
    const tProofs = performance.now() - t;

    const ms = (x: number) => `${x.toFixed(0)} ms`;
    console.log(
      [
        `merkle scale check, ${N.toLocaleString('en')} leaves:`,
        `  leaf hashing            ${ms(tLeaves)}`,
        `  accumulator appends     ${ms(tAppend)} (incl. storing the ${internal.toLocaleString('en')} internal nodes emitted)`,
        `  build total             ${ms(tLeaves + tAppend)}`,
        `  full root recomputation ${ms(tRecompute)} (rootHash over all leaf hashes)`,
        `  ${2 * proofs} inclusion proofs (sizes ${N} and ${old}) + 1 consistency proof, generated from the node table and verified: ${ms(tProofs)}`,
      ].join('\n'),
    );
  }, 120_000);
});
