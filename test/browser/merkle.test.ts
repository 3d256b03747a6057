import { describe, expect, it } from 'vitest';
import { consistencyProofFromLeaves, inclusionProofFromLeaves, leafHash, rootHash } from '../../src/audit/merkle.ts';

/** The console's proof checks (console/merkle.js), typed here: the module is plain JavaScript for the browser. */
type Verdict = { ok: true } | { ok: false; reason: string; detail?: Record<string, string | number> };
interface ConsoleMerkle {
  verifyLeaf(leaf: string, leafHash: string): Promise<Verdict>;
  verifyInclusion(leafHash: string, index: number, treeSize: number, auditPath: unknown, root: string): Promise<Verdict>;
  verifyConsistency(first: number, second: number, firstRoot: string, secondRoot: string, proof: unknown): Promise<Verdict>;
}
const modulePath = '../../console/merkle.js';
const merkle = (await import(modulePath)) as ConsoleMerkle;

const b64 = (b: Buffer) => b.toString('base64');
const leaves = Array.from({ length: 37 }, (_, i) => `{"entry":${i},"note":"mục ${i}"}`);
const hashes = leaves.map((l) => leafHash(Buffer.from(l, 'utf8')));

/** One bit of one base64 hash flipped. */
function flip(hash: string, byte = 0): string {
  const bytes = Buffer.from(hash, 'base64');
  bytes[byte]! ^= 0x01;
  return bytes.toString('base64');
}

describe('the console checks inclusion proofs made by the gateway', () => {
  it('accepts every leaf of trees of every size up to 37', async () => {
    for (let size = 1; size <= leaves.length; size++) {
      const root = b64(rootHash(hashes.slice(0, size)));
      for (let index = 0; index < size; index++) {
        const path = inclusionProofFromLeaves(index, hashes, size).map(b64);
        expect(await merkle.verifyInclusion(b64(hashes[index]!), index, size, path, root), `${index} in ${size}`).toEqual({ ok: true });
      }
    }
  });

  it('hashes a leaf as SHA-256(0x00 || UTF-8) and refuses a changed one', async () => {
    expect(await merkle.verifyLeaf(leaves[3]!, b64(hashes[3]!))).toEqual({ ok: true });
    expect(await merkle.verifyLeaf(leaves[3]!.replace('mục', 'muc'), b64(hashes[3]!))).toMatchObject({ ok: false, reason: 'leaf-mismatch' });
    expect(await merkle.verifyLeaf(leaves[3]!, 'not base64')).toMatchObject({ ok: false, reason: 'bad-hash' });
  });

  it('refuses tampered proofs', async () => {
    const size = 37;
    const index = 21;
    const root = b64(rootHash(hashes.slice(0, size)));
    const path = inclusionProofFromLeaves(index, hashes, size).map(b64);
    const leaf = b64(hashes[index]!);
    for (let i = 0; i < path.length; i++) {
      const tampered = path.with(i, flip(path[i]!, 31));
      expect(await merkle.verifyInclusion(leaf, index, size, tampered, root)).toMatchObject({ ok: false, reason: 'root-mismatch' });
    }
    expect(await merkle.verifyInclusion(flip(leaf), index, size, path, root)).toMatchObject({ ok: false, reason: 'root-mismatch' });
    expect(await merkle.verifyInclusion(leaf, index, size, path, flip(root))).toMatchObject({ ok: false, reason: 'root-mismatch' });
    // Another leaf's position, a shorter or longer path. (The size is bound only through the root: the
    // console always takes both from one checkpoint.)
    expect(await merkle.verifyInclusion(leaf, index + 1, size, path, root)).toMatchObject({ ok: false });
    expect(await merkle.verifyInclusion(leaf, index, size, path.slice(1), root)).toMatchObject({ ok: false, reason: 'path-too-short' });
    expect(await merkle.verifyInclusion(leaf, index, size, [...path, path[0]!], root)).toMatchObject({ ok: false, reason: 'path-too-long' });
    expect(await merkle.verifyInclusion(leaf, size, size, path, root)).toMatchObject({ ok: false, reason: 'index-outside' });
    expect(await merkle.verifyInclusion(leaf, index, size, [...path.slice(0, 2), 'AAAA'], root)).toMatchObject({ ok: false, reason: 'bad-hash', detail: { what: 'auditPath[2]' } });
    expect(await merkle.verifyInclusion(leaf, index, size, 'nope', root)).toMatchObject({ ok: false, reason: 'bad-hash' });
  });
});

describe('the console checks consistency proofs made by the gateway', () => {
  it('accepts every pair of sizes up to 37', async () => {
    for (let second = 1; second <= leaves.length; second++) {
      const secondRoot = b64(rootHash(hashes.slice(0, second)));
      for (let first = 1; first <= second; first++) {
        const proof = consistencyProofFromLeaves(first, second, hashes).map(b64);
        const firstRoot = b64(rootHash(hashes.slice(0, first)));
        expect(await merkle.verifyConsistency(first, second, firstRoot, secondRoot, proof), `${first} → ${second}`).toEqual({ ok: true });
      }
    }
  });

  it('refuses a rewritten history and tampered proofs', async () => {
    const first = 13;
    const second = 37;
    const proof = consistencyProofFromLeaves(first, second, hashes).map(b64);
    const firstRoot = b64(rootHash(hashes.slice(0, first)));
    const secondRoot = b64(rootHash(hashes.slice(0, second)));
    // A log whose 5th entry was changed after the first checkpoint was saved.
    const rewritten = hashes.with(4, leafHash(Buffer.from('{"entry":4,"note":"sửa"}')));
    const rewrittenProof = consistencyProofFromLeaves(first, second, rewritten).map(b64);
    expect(await merkle.verifyConsistency(first, second, firstRoot, b64(rootHash(rewritten.slice(0, second))), rewrittenProof)).toMatchObject({ ok: false, reason: 'first-root-mismatch' });
    for (let i = 0; i < proof.length; i++) {
      expect(await merkle.verifyConsistency(first, second, firstRoot, secondRoot, proof.with(i, flip(proof[i]!, 7)))).toMatchObject({ ok: false });
    }
    expect(await merkle.verifyConsistency(first, second, flip(firstRoot), secondRoot, proof)).toMatchObject({ ok: false });
    expect(await merkle.verifyConsistency(first, second, firstRoot, flip(secondRoot), proof)).toMatchObject({ ok: false, reason: 'root-mismatch' });
    expect(await merkle.verifyConsistency(first, second, firstRoot, secondRoot, [])).toMatchObject({ ok: false, reason: 'path-too-short' });
    expect(await merkle.verifyConsistency(first, second, firstRoot, secondRoot, proof.slice(1))).toMatchObject({ ok: false });
    expect(await merkle.verifyConsistency(first + 1, second, firstRoot, secondRoot, proof)).toMatchObject({ ok: false });
    expect(await merkle.verifyConsistency(second, first, secondRoot, firstRoot, proof)).toMatchObject({ ok: false, reason: 'first-after-second' });
    // Equal sizes: an empty proof and the same root.
    expect(await merkle.verifyConsistency(second, second, secondRoot, secondRoot, [])).toEqual({ ok: true });
    expect(await merkle.verifyConsistency(second, second, firstRoot, secondRoot, [])).toMatchObject({ ok: false, reason: 'root-mismatch' });
    // A power-of-two first tree (its root starts the path).
    const p8 = consistencyProofFromLeaves(8, second, hashes).map(b64);
    expect(await merkle.verifyConsistency(8, second, b64(rootHash(hashes.slice(0, 8))), secondRoot, p8)).toEqual({ ok: true });
    expect(await merkle.verifyConsistency(8, second, flip(b64(rootHash(hashes.slice(0, 8)))), secondRoot, p8)).toMatchObject({ ok: false });
  });
});
