import { compareDer } from '../../src/signing/cms.ts';

/*
 * A strict-DER checker for the tests: what the gateway writes (CMS signatures, timestamps, sample
 * certificates) must be DER, byte for byte, or another verifier may read it otherwise. The gateway
 * itself never needs it: what it reads goes through pkijs/asn1js and is verified by signature.
 */

const MUST_BE_PRIMITIVE = new Set([1, 2, 3, 4, 5, 6, 12, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30]);

/**
 * The first reason `bytes` is not strict DER, or undefined: indefinite or non-minimal lengths,
 * constructed strings, non-minimal INTEGERs, BOOLEANs other than 00/FF, unsorted SETs, times
 * with fractions ending in zero, stray bytes. (DEFAULT values and context-tagged SET OFs cannot
 * be judged without the schema.)
 */
export function derViolation(bytes: Uint8Array): string | undefined {
  const walk = (start: number, end: number, depth: number): string | undefined => {
    let at = start;
    while (at < end) {
      const from = at;
      const id = bytes[at++]!;
      const constructed = (id & 0x20) !== 0;
      let tag = id & 0x1f;
      if (tag === 0x1f) {
        tag = 0;
        let b: number;
        do {
          if (at >= end) return `truncated tag at ${from}`;
          b = bytes[at++]!;
          tag = tag * 128 + (b & 0x7f);
        } while (b & 0x80);
      }
      if (at >= end) return `truncated length at ${from}`;
      let length = bytes[at++]!;
      if (length === 0x80) return `indefinite length at ${from}`;
      if (length > 0x80) {
        const count = length & 0x7f;
        if (count > 4 || at + count > end) return `bad length at ${from}`;
        if (bytes[at] === 0) return `length with a leading zero at ${from}`;
        length = 0;
        for (let i = 0; i < count; i++) length = length * 256 + bytes[at++]!;
        if (length < 0x80) return `long-form length ${length} at ${from}`;
      }
      const body = at;
      at += length;
      if (at > end) return `value at ${from} runs past its container`;
      const universal = (id & 0xc0) === 0;
      if (universal && constructed && MUST_BE_PRIMITIVE.has(tag)) return `constructed universal tag ${tag} at ${from}`;
      if (universal && !constructed) {
        const v = bytes.subarray(body, at);
        if (tag === 1 && (v.length !== 1 || (v[0] !== 0 && v[0] !== 0xff))) return `BOOLEAN not 00/FF at ${from}`;
        if ((tag === 2 || tag === 10) && (v.length === 0 || (v.length > 1 && ((v[0] === 0 && v[1]! < 0x80) || (v[0] === 0xff && v[1]! >= 0x80))))) return `non-minimal INTEGER at ${from}`;
        if (tag === 5 && v.length !== 0) return `NULL with content at ${from}`;
        if (tag === 3 && (v.length === 0 || v[0]! > 7 || (v.length === 1 && v[0] !== 0) || (v.length > 1 && (v[v.length - 1]! & ((1 << v[0]!) - 1)) !== 0))) return `bad BIT STRING padding at ${from}`;
        if (tag === 23 && !/^\d{12}Z$/.test(Buffer.from(v).toString('latin1'))) return `UTCTime not YYMMDDHHMMSSZ at ${from}`;
        if (tag === 24 && !/^\d{14}(\.\d*[1-9])?Z$/.test(Buffer.from(v).toString('latin1'))) return `GeneralizedTime not DER at ${from}`;
      }
      if (constructed) {
        if (depth > 64) return 'nested too deep';
        const inner = walk(body, at, depth + 1);
        if (inner) return inner;
        if (universal && tag === 17) {
          const elements = splitElements(bytes.subarray(body, at));
          for (let i = 1; i < elements.length; i++) if (compareDer(elements[i - 1]!, elements[i]!) > 0) return `SET not sorted at ${from}`;
        }
      }
    }
    return undefined;
  };
  if (bytes.length === 0) return 'empty';
  const first = splitElements(bytes);
  if (first.length !== 1) return 'not exactly one value';
  return walk(0, bytes.length, 0);
}

/** The consecutive TLVs in `bytes` (definite lengths only; for sorting checks after `walk` validated them). */
function splitElements(bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let at = 0;
  while (at < bytes.length) {
    const from = at;
    if ((bytes[at++]! & 0x1f) === 0x1f) while (bytes[at++]! & 0x80);
    let length = bytes[at++] ?? 0;
    if (length > 0x80) {
      const count = length & 0x7f;
      length = 0;
      for (let i = 0; i < count; i++) length = length * 256 + (bytes[at++] ?? 0);
    } else if (length === 0x80) return [bytes];
    at += length;
    out.push(bytes.subarray(from, Math.min(at, bytes.length)));
  }
  return out;
}
