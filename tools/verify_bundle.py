#!/usr/bin/env python3
"""Checks the Merkle mathematics of a Lien thong exchange-log export bundle, independently.

    python3 tools/verify_bundle.py BUNDLE     (the .tar.gz, a .tar, or the unpacked folder)
    python3 tools/verify_bundle.py --self-test

Written from RFC 9162 (2.1.1 tree hash, 2.1.3.2 inclusion, 2.1.4.2 consistency) with the Python
standard library only. It recomputes every leaf hash, the roots of the checkpoints from the
entries (when the bundle starts at index 0), every inclusion proof against the bundle checkpoint
and every consistency proof between consecutive checkpoints, with the roots of the checkpoint
texts (never the roots a proof claims). It does NOT check signatures or timestamps: use openssl
as the bundle's README shows. Exit 0 with a summary; exit 1 naming the first failure.
"""
import argparse, base64, binascii, hashlib, json, os, sys, tarfile


class Failure(Exception):
    pass


def leaf_hash(data):
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def mth(hashes, lo, hi, memo):
    """MTH(D[lo:hi]) from the leaf hashes, split at the largest power of two below n (2.1.1)."""
    n = hi - lo
    if n <= 1:
        return hashes[lo] if n else hashlib.sha256(b"").digest()
    if (lo, hi) not in memo:
        k = 1
        while k * 2 < n:
            k *= 2
        memo[(lo, hi)] = node_hash(mth(hashes, lo, lo + k, memo), mth(hashes, lo + k, hi, memo))
    return memo[(lo, hi)]


def verify_inclusion(leaf, index, size, path, root):
    """RFC 9162 2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def verify_consistency(first, second, first_root, second_root, path):
    """RFC 9162 2.1.4.2, for 0 < first < second."""
    if not 0 < first < second or not path:
        return False
    if first & (first - 1) == 0:
        path = [first_root] + path
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == first_root and sr == second_root and sn == 0


def b64hash(value, where):
    try:
        raw = base64.b64decode(value, validate=True) if isinstance(value, str) else b""
    except binascii.Error:
        raw = b""
    if len(raw) != 32 or base64.b64encode(raw).decode() != value:
        raise Failure(f"{where} is not base64 of a 32-byte SHA-256 hash")
    return raw


def b64hashes(value, where):
    if not isinstance(value, list):
        raise Failure(f"{where} is not a list of hashes")
    return [b64hash(h, where) for h in value]


def number(text):
    """A decimal tree size or index as written (no sign, no leading zero), else None."""
    ok = text.isascii() and text.isdigit() and (text == "0" or not text.startswith("0"))
    return int(text) if ok else None


def read_bundle(path):
    """The bundle's files by path, without the single top-level folder."""
    files = {}
    if os.path.isdir(path):
        for folder, _, names in os.walk(path):
            for name in names:
                with open(os.path.join(folder, name), "rb") as f:
                    files[os.path.relpath(os.path.join(folder, name), path).replace(os.sep, "/")] = f.read()
    else:
        try:
            with tarfile.open(path, "r:*") as tar:
                files = {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}
        except (OSError, tarfile.TarError, EOFError) as err:
            raise Failure(f"bundle: cannot read {path}: {err}")
    if "manifest.json" not in files and len({n.split("/", 1)[0] for n in files}) == 1 and all("/" in n for n in files):
        files = {name.split("/", 1)[1]: data for name, data in files.items()}
    return files


def json_lines(files, name):
    if name not in files:
        raise Failure(f"bundle: {name} is missing")
    text = files[name].decode("utf-8", "replace")
    if text and not text.endswith("\n"):
        raise Failure(f"bundle: {name} is cut off (no final newline)")
    rows = []
    for line_no, line in enumerate(text.split("\n")[:-1], 1):
        try:
            rows.append(json.loads(line))
        except ValueError:
            raise Failure(f"bundle: line {line_no} of {name} is not JSON")
    return rows


def parse_checkpoint(data, size):
    """C2SP checkpoint text: origin, tree size, base64 root hash, each line ending in a newline."""
    lines = data.decode("utf-8", "replace").split("\n")
    if len(lines) < 4 or lines[-1] != "" or "" in lines[:-1]:
        raise Failure(f"checkpoint {size}: the text is not origin, size and root hash on lines of their own ending in a newline")
    if number(lines[1]) != size:
        raise Failure(f"checkpoint {size}: the text says tree size {lines[1]!r}")
    return lines[0], b64hash(lines[2], f"checkpoint {size}: the root hash")


def verify(files):
    if "manifest.json" not in files:
        raise Failure("bundle: manifest.json is missing: is this a lienthong audit bundle?")
    try:
        manifest = json.loads(files["manifest.json"])
        start, end, anchor = manifest["from"], manifest["to"], manifest["treeSize"]
        listed = sorted({c["treeSize"] for c in manifest["checkpoints"]})
    except (ValueError, KeyError, TypeError):
        raise Failure("bundle: manifest.json is not a bundle manifest (from, to, treeSize, checkpoints)")
    if not str(manifest.get("format")).startswith("lienthong-audit-bundle/"):
        raise Failure(f"bundle: manifest.json has format {manifest.get('format')!r}")
    if not all(type(n) is int and n > 0 for n in [end, anchor] + listed) or type(start) is not int or not 0 <= start < end <= anchor:
        raise Failure("bundle: manifest.json has an impossible range")
    names = sorted((n[12:-4] for n in files if n.startswith("checkpoints/") and n.endswith(".txt")), key=lambda n: (len(n), n))
    if [number(n) for n in names] != listed:
        raise Failure(f"bundle: manifest.json lists checkpoints {listed}, the bundle holds checkpoints/{{{','.join(names)}}}.txt")
    if listed[-1] != anchor:
        raise Failure(f"checkpoint {anchor}: manifest.json names it, but it is not the bundle's largest checkpoint")

    roots, origins = {}, set()
    for size in listed:
        origin, roots[size] = parse_checkpoint(files[f"checkpoints/{size}.txt"], size)
        origins.add(origin)
    if len(origins) != 1 or manifest.get("origin") not in origins:
        raise Failure(f"bundle: the checkpoints and manifest.json name different origins: {sorted(origins)}")
    if manifest.get("rootHash") != base64.b64encode(roots[anchor]).decode():
        raise Failure(f"checkpoint {anchor}: manifest.json gives another root hash than the checkpoint text")

    proofs = {(p.get("first"), p.get("second")): p for p in json_lines(files, "proofs/consistency.jsonl")
              if isinstance(p, dict) and type(p.get("first")) is int and type(p.get("second")) is int}
    for first, second in zip(listed, listed[1:]):
        where = f"checkpoint {second}"
        if (first, second) not in proofs:
            raise Failure(f"{where}: no consistency proof from checkpoint {first}")
        path = b64hashes(proofs[(first, second)].get("proof"), f"{where}: the consistency proof")
        if not verify_consistency(first, second, roots[first], roots[second], path):
            raise Failure(f"{where}: the consistency proof from checkpoint {first} does not verify against the two checkpoint texts")

    entries, hashes = json_lines(files, "entries.jsonl"), []
    for position, entry in enumerate(entries):
        index, where = start + position, f"entry {start + position}"
        if not isinstance(entry, dict) or not isinstance(entry.get("leaf"), str):
            raise Failure(f"{where}: line {position + 1} of entries.jsonl is not an entry with a leaf")
        found = entry.get("index")
        if found != index:
            later = any(isinstance(e, dict) and e.get("index") == index for e in entries[position + 1:])
            what = "missing" if type(found) is int and found > index and not later else "out of order"
            raise Failure(f"{where}: {what} (line {position + 1} holds entry {found})")
        if index >= end:
            raise Failure(f"{where}: beyond the range {start}..{end - 1} of manifest.json")
        try:
            hashes.append(leaf_hash(entry["leaf"].encode("utf-8")))
        except UnicodeEncodeError:
            raise Failure(f"{where}: the leaf is not valid Unicode text")
        if hashes[-1] != b64hash(entry.get("leafHash"), f"{where}: leafHash"):
            raise Failure(f"{where}: the leaf hash does not match SHA-256(0x00 || leaf): the leaf was changed")
    if len(entries) < end - start:
        raise Failure(f"entry {start + len(entries)}: missing (entries.jsonl ends there; manifest.json says the bundle runs to {end - 1})")

    inclusion = json_lines(files, "proofs/inclusion.jsonl")
    by_index = {p.get("index"): p for p in inclusion if isinstance(p, dict) and type(p.get("index")) is int}
    if len(by_index) != len(inclusion) or set(by_index) != set(range(start, end)):
        raise Failure("bundle: proofs/inclusion.jsonl does not hold exactly one proof per entry")
    for index in range(start, end):
        proof, leaf, where = by_index[index], hashes[index - start], f"entry {index}"
        if proof.get("treeSize") != anchor:
            raise Failure(f"{where}: the inclusion proof is not for checkpoint {anchor}")
        if b64hash(proof.get("leafHash"), f"{where}: the proof's leafHash") != leaf:
            raise Failure(f"{where}: the inclusion proof is for another leaf")
        if not verify_inclusion(leaf, index, anchor, b64hashes(proof.get("auditPath"), f"{where}: the audit path"), roots[anchor]):
            raise Failure(f"{where}: the inclusion proof does not lead to the root of checkpoint {anchor}")

    recomputed, memo = [size for size in listed if start == 0 and size <= end], {}
    for size in recomputed:
        if mth(hashes, 0, size, memo) != roots[size]:
            raise Failure(f"checkpoint {size}: its root is not the tree hash of entries 0..{size - 1}")
    how = "recomputed from the entries" if anchor in recomputed else "reached by the inclusion proofs"
    return (
        f"bundle OK (Merkle checks, RFC 9162): entries {start}..{end - 1} ({end - start}) of {origins.pop()} "
        f"in checkpoint {anchor} (root {manifest['rootHash']}, {how}); {len(listed)} checkpoint(s), "
        f"{len(recomputed)} recomputed from the entries, {len(listed) - 1} consistency proof(s), {end - start} inclusion proof(s)"
    )


def self_test():
    """Known answers: the empty tree and the RFC 6962 reference vectors (certificate-transparency)."""
    h = lambda text: [bytes.fromhex(x) for x in text.split()]
    leaves = h("00 10 2021 3031 40414243 5051525354555657 606162636465666768696a6b6c6d6e6f")
    hashes = [leaf_hash(d) for d in [b""] + leaves]
    roots = h("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d "
              "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125 aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77 "
              "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7 4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4 "
              "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c "
              "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")
    path0 = h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7 5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e "
              "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")
    path5 = h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0 "
              "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")
    consistency = {
        (1, 8): path0,
        (6, 8): h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0 "
                  "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        (2, 5): h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
    }
    failed = [f"root of {n} leaves" for n in range(9) if mth(hashes, 0, n, {}) != roots[n]]
    for i, path in [(0, path0), (5, path5)]:
        if not verify_inclusion(hashes[i], i, 8, path, roots[8]) or verify_inclusion(hashes[i], i, 8, path, roots[7]):
            failed.append(f"inclusion of leaf {i} in 8")
    # The first two steps of leaf 0's path in 8 are its whole path in 4: valid there, not as a proof for size 8.
    if not verify_inclusion(hashes[0], 0, 4, path0[:2], roots[4]) or verify_inclusion(hashes[0], 0, 8, path0[:2], roots[4]):
        failed.append("inclusion of leaf 0 in 4")
    for (m, n), path in consistency.items():
        good = verify_consistency(m, n, roots[m], roots[n], path)
        if not good or verify_consistency(m, n, roots[m], roots[n - 1], path) or verify_consistency(m, n, roots[m - 1], roots[n], path):
            failed.append(f"consistency {m} -> {n}")
    if failed:
        raise Failure("self-test: wrong answer for " + ", ".join(failed))
    return "self-test OK: empty tree e3b0c442..., 8 reference roots, 3 inclusion and 3 consistency proofs (wrong roots and sizes refused)"


def main():
    parser = argparse.ArgumentParser(description="Independent RFC 9162 check of a lienthong audit export bundle (no signature checks).")
    parser.add_argument("bundle", nargs="?", help="the .tar.gz (or .tar) bundle, or its unpacked folder")
    parser.add_argument("--self-test", action="store_true", help="check the hashing against known answers and exit")
    args = parser.parse_args()
    if not args.self_test and not args.bundle:
        parser.error("give a bundle, or --self-test")
    try:
        print(self_test() if args.self_test else verify(read_bundle(args.bundle)))
    except Failure as failure:
        print(f"FAILED: {failure}", file=sys.stderr)
        return 1
    except (ValueError, TypeError, KeyError, AttributeError) as err:
        print(f"FAILED: bundle: malformed ({type(err).__name__}: {err})", file=sys.stderr)
        return 1
    if not args.self_test:
        print("note: signatures (.p7s) and timestamps (.tsr) are NOT checked here; check them with openssl as the bundle README shows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
