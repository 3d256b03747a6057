import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createKeyedDigest, createSubjectHasher } from './attestation.ts';
import { createDocumentLinks } from './document-links.ts';

describe('shared document links', () => {
  const key = randomBytes(32);
  const links = createDocumentLinks(key);
  const code = 'H52.101.114.KQ.G15.000031.2026.000001';

  it("accept a code's own token only", () => {
    const token = links.token(code);
    expect(token).toMatch(/^[0-9a-f]{64}$/);
    expect(links.verify(code, token)).toBe(true);
    expect(links.verify('H52.101.114.KQ.G15.000031.2026.000002', token)).toBe(false);
    expect(links.verify(code, links.token('H52.101.114.KQ.G15.000031.2026.000002'))).toBe(false);
    expect(links.verify(code, token.slice(0, 63))).toBe(false);
    expect(links.verify(code, `${token.slice(0, 63)}${token.at(-1) === '0' ? '1' : '0'}`)).toBe(false);
    expect(links.verify(code, '')).toBe(false);
  });

  it('are not made by another privacy key, and are not the subject hash or another digest', () => {
    expect(createDocumentLinks(randomBytes(32)).verify(code, links.token(code))).toBe(false);
    expect(createDocumentLinks(key).token(code)).toBe(links.token(code));
    expect(links.token(code)).not.toBe(createSubjectHasher(key)(code));
    expect(links.token(code)).not.toBe(createKeyedDigest(key, 'dossier-content')(code));
  });
});
