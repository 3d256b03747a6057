import { describe, expect, it } from 'vitest';
import { fixtureReader } from '../contract/test-kit.ts';
import { buildXml, decodeReferences, parseXml, screenXml, XmlRefusedError } from './safe-xml.ts';

const fixture = fixtureReader(import.meta.url);

describe('safe XML', () => {
  it('refuses billion laughs, external entities and external DTDs before any parser runs', () => {
    for (const name of ['hostile-billion-laughs.xml', 'hostile-xxe-file.xml', 'hostile-external-dtd.xml']) {
      const started = performance.now();
      expect(() => screenXml(fixture(name)), name).toThrow(XmlRefusedError);
      expect(() => parseXml(fixture(name)), name).toThrow(/document type declaration/);
      expect(performance.now() - started).toBeLessThan(200);
    }
  });

  it('refuses a DOCTYPE in any spelling or position, and stray entity declarations', () => {
    const variants = [
      '<!doctype a [<!ENTITY x "y">]><a>&x;</a>',
      '<?xml version="1.0"?>\n<!-- harmless --> <!DocType a SYSTEM "file:///etc/hostname"><a/>',
      '<a><!DOCTYPE b></a>',
      '<a><!ENTITY x "y"></a>',
    ];
    for (const xml of variants) expect(() => parseXml(xml), xml).toThrow(XmlRefusedError);
  });

  it('never expands an entity reference, declared or not', () => {
    // Without the DOCTYPE check the parser would see these references; they must not pass as text.
    expect(() => parseXml('<a>&lol9;</a>')).toThrow(/undeclared entity/);
    expect(() => parseXml('<a><b>&xxe;</b></a>')).toThrow(/undeclared entity/);
    expect(() => parseXml('<a>AT&T</a>')).toThrow(XmlRefusedError);
    expect(() => parseXml('<a>&#0;</a>')).toThrow(XmlRefusedError);
  });

  it('decodes only the five predefined entities and character references', () => {
    expect(decodeReferences('&lt;&gt;&amp;&quot;&apos; &#7897; &#x1EA1;')).toBe('<>&"\' ộ ạ');
    expect(decodeReferences('&amp;lt;')).toBe('&lt;');
    expect(() => decodeReferences('&constructor;')).toThrow(/undeclared entity/);
    expect(() => decodeReferences('&nbsp;')).toThrow(/undeclared entity/);
  });

  it('keeps every value a string, leading zeros included, and ignores attributes', () => {
    expect(parseXml('<?xml version="1.0" encoding="utf-8"?><a><b>0100109106</b><c>1e5</c><d x="1">true</d><e/><f>  014089001234 </f></a>')).toEqual({
      a: { b: '0100109106', c: '1e5', d: 'true', e: '', f: '014089001234' },
    });
  });

  it('turns repeated elements into arrays, so schemas expecting one refuse them', () => {
    expect(parseXml('<a><b>1</b><b>2</b></a>')).toEqual({ a: { b: ['1', '2'] } });
  });

  it('refuses names that would pollute prototypes, and nesting without end', () => {
    expect(() => parseXml('<a><__proto__><polluted>yes</polluted></__proto__></a>')).toThrow(XmlRefusedError);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const deep = '<a>'.repeat(5000) + 'x' + '</a>'.repeat(5000);
    expect(() => parseXml(deep)).toThrow(XmlRefusedError);
  });

  it('refuses documents that are not well-formed', () => {
    for (const xml of ['<a><b>x</b>', '<a>', 'plain text', '', '<a></b>', '<a/><b/>']) expect(() => parseXml(xml), xml).toThrow(XmlRefusedError);
  });

  it('escapes every text value it writes, so no value can add markup', () => {
    const hostile = '</MaDonVi><!DOCTYPE x [<!ENTITY e "boom">]><MaDonVi>&e;';
    const xml = buildXml({ YeuCauTraCuu: { MaYeuCau: '1', MaDonVi: hostile, MaSoThue: '0100109106' } });
    expect(xml).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?><YeuCauTraCuu>/);
    expect(xml).not.toContain('<!DOCTYPE');
    expect(parseXml(xml)).toEqual({ YeuCauTraCuu: { MaYeuCau: '1', MaDonVi: hostile, MaSoThue: '0100109106' } });
  });
});
